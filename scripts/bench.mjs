// `make bench`: the worker against a TypeScript Worker of the same routes on the same runtime
// (bench/ts-peer), each in a workerd of its own, and the Django seed under gunicorn as a second
// reference; same client (wrk), same machine, loopback only. Then micro-benchmarks of the wasm
// build in workerd, cold start and size. Prints the tables and writes them into BENCHMARKS.md
// between the `bench:begin` and `bench:end` markers (and as JSON into target/bench/results.json).
//
// Environment: BENCH_SECONDS (per wrk run, default 10), BENCH_RUNS (repetitions, default 3).
// Expects `make worker`, the micro-benchmark wasm and the seed's virtualenv (the Makefile
// target builds all three).
import { spawn, execFileSync } from "node:child_process";
import { createPrivateKey, pbkdf2Sync, randomUUID, sign } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem, release } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import {
  d1Migrate,
  miniflareOptions,
  quietEnv,
  root,
  testKeyJwk,
  thumbprint,
  wranglerConfig,
} from "../tests/e2e/worker.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Unused refresh tokens per wrk thread beyond one per connection (see the rotation route). */
const SPARE_CHAINS = 16;
const out = path.join(root, "target/bench");
const scratch = mkdtempSync(path.join(tmpdir(), "edge-auth-bench-"));
const cleanups = [];
const log = (...a) => console.error("bench:", ...a);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Spread of repeated measurements: (max − min) / median, in percent. */
const spread = (xs) => (xs.length < 2 ? 0 : ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes and CPU time

const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const after = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    // Fields 4 (ppid), 14 (utime) and 15 (stime), counted from 1 with `comm` as field 2.
    return { comm, ppid: Number(after[1]), ticks: Number(after[11]) + Number(after[12]) };
  } catch {
    return null;
  }
}

function descendants(pid) {
  const all = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const children = new Map();
  for (const p of all) {
    const s = stat(p);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  }
  const found = [];
  const walk = (p) => {
    for (const child of children.get(p) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const cpuMs = (pids) => pids.reduce((sum, p) => sum + (stat(p)?.ticks ?? 0), 0) * TICK_MS;

// ---------------------------------------------------------------- the load client

/**
 * One wrk run. `chains`: for refresh with rotation, the first refresh token of each connection,
 * one list per wrk thread; each answer's new refresh token is what that thread sends next, so
 * every request presents an unused token, as a client does.
 */
function wrk(url, { method = "GET", body, headers = {}, chains, seconds = SECONDS }, connections) {
  const script = path.join(scratch, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  const lines = [`wrk.method = ${JSON.stringify(method)}`];
  if (body !== undefined) lines.push(`wrk.body = ${JSON.stringify(body)}`);
  for (const [name, value] of Object.entries(headers)) {
    lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  }
  if (chains) {
    lines.push(
      `local chains = {${chains.map((chain) => `{${chain.map((t) => JSON.stringify(t)).join(",")}}`).join(",")}}`,
      "local next_chain = 1",
      "function setup(thread)",
      "  thread:set('queue', chains[next_chain])",
      "  next_chain = next_chain + 1",
      "end",
      "function request()",
      "  local token = table.remove(queue) or last",
      "  last = token",
      `  return wrk.format(nil, nil, nil, '{"refresh":"' .. token .. '"}')`,
      "end",
      "function response(status, headers, body)",
      `  local token = body:match('"refresh":"([^"]+)"')`,
      "  if token then queue[#queue + 1] = token end",
      "end",
    );
  }
  writeFileSync(script, `${lines.join("\n")}\n`);
  const args = [
    ...["-t", String(threadsFor(connections)), "-c", String(connections), "-d", `${seconds}s`, "--timeout", "60s"],
    ...["--latency", "-s", script, url],
  ];
  const text = execFileSync("wrk", args, { encoding: "utf8" });
  const ms = (value, unit) => Number(value) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[unit];
  const percentile = (p) => {
    const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return m ? ms(m[1], m[2]) : NaN;
  };
  const requests = Number(text.match(/(\d+) requests in/)[1]);
  const errors = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  if (errors) throw new Error(`${method} ${url}: ${errors} non-2xx answers\n${text}`);
  // Connections wrk saw closed or failing are counted and shown, not fatal: a run where the
  // server answered every request it received still measures it.
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests,
    socketErrors,
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50: percentile(50),
    p99: percentile(99),
  };
}

const threadsFor = (connections) => Math.min(2, connections);

async function json(url, method, body, headers = {}, retries = 2) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    // A kept-alive connection that the server closed meanwhile: ask again on a new one.
    if (retries > 0 && error.cause?.code === "UND_ERR_SOCKET") return json(url, method, body, headers, retries - 1);
    throw error;
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------- the services

const USER = { email: "bench@example.com", username: "bench", password: "x7#Lq9!vRt2m" };
// The user as the worker stores it: Django's hash, 600 000 iterations (PBKDF2_ITERATIONS).
const SALT = "benchSaltOf22Character";
const USER_HASH = `pbkdf2_sha256$600000$${SALT}$${pbkdf2Sync(USER.password, SALT, 600000, 32, "sha256").toString("base64")}`;

const { compatibility_date: compatibilityDate } = await wranglerConfig();

// One signing key for every service: a token of the worker verifies in the peer and back.
const KEY = testKeyJwk();
const KID = thumbprint(KEY);
const SIGNER = createPrivateKey({ key: KEY, format: "jwk" });

/**
 * Variables for the benchmark: the seed's refresh behaviour (no rotation; `rotate` for the
 * instances that rotate), and no login throttling, which the seed does not have either (eight
 * logins of one account in flight would otherwise hold more than its five reserved failures).
 */
const benchVars = (extra = {}) => ({
  ROTATE_REFRESH_TOKENS: "false",
  LOGIN_THROTTLE_ACCOUNT_FAILURES: "1000000",
  LOGIN_THROTTLE_CLIENT_FAILURES: "1000000",
  JWT_SIGNING_KEYS: JSON.stringify([KEY]),
  ...extra,
});

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const newJti = () => randomUUID().replaceAll("-", "");

/**
 * A token as the worker and the peer issue it (header, claims and their order, key), for user
 * 1, signed here: each run gets fresh ones without a login (a login costs a password hash).
 * A refresh token neither service has seen is recorded by the first refresh that presents it,
 * as the first of its own login.
 */
function mint(kind) {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = Math.max(kind === "access" ? 300 : 86400, SECONDS + 120);
  const jti = newJti();
  const claims = { token_type: kind, exp: now + lifetime, iat: now, jti, user_id: 1, sid: jti };
  const signed = `${b64({ typ: "JWT", alg: "EdDSA", kid: KID })}.${b64(claims)}`;
  return `${signed}.${sign(null, Buffer.from(signed), SIGNER).toString("base64url")}`;
}

const workerdPids = () => descendants(process.pid).filter((p) => stat(p)?.comm === "workerd");

/**
 * One module in one workerd of its own (Miniflare's API, the runtime wrangler brings), with
 * `vars`, the worker's D1 and KV bindings in a fresh state folder made by the migrations, and
 * the benchmark's user in its D1. Not `wrangler dev`, whose second workerd (the dev proxy)
 * would be measured instead.
 */
async function startInWorkerd(name, script, vars) {
  const state = path.join(scratch, name.replace(/\W+/g, "-"));
  mkdirSync(state, { recursive: true });
  await d1Migrate(state);
  const options = { ...(await miniflareOptions({ vars, persistRoot: path.join(state, "v3") })), ...script };
  const before = new Set(workerdPids());
  const mf = new Miniflare(options);
  const url = (await mf.ready).href.replace(/\/$/, "");
  const started = workerdPids().filter((p) => !before.has(p));
  if (started.length !== 1) throw new Error(`${name}: expected one new workerd process, found ${started.length}`);
  const db = await mf.getD1Database("DB");
  await db
    .prepare("INSERT INTO users (email, username, password) VALUES (?1, ?2, ?3)")
    .bind(USER.email, USER.username, USER_HASH)
    .run();
  return { name, url, pids: () => started, dispose: () => mf.dispose() };
}

/**
 * The TypeScript peer as Cloudflare would receive it: wrangler's bundle as modules (to run)
 * and as the upload (for `wrangler check startup`), and its size.
 */
function buildPeer() {
  const outdir = path.join(scratch, "ts-peer");
  const bundle = path.join(scratch, "ts-peer.bundle");
  const text = execFileSync(
    path.join(root, "node_modules/.bin/wrangler"),
    [
      "deploy",
      "--dry-run",
      "--outdir",
      outdir,
      "--outfile",
      bundle,
      "-c",
      path.join(root, "bench/ts-peer/wrangler.toml"),
    ],
    { cwd: root, encoding: "utf8", env: quietEnv },
  );
  return {
    script: { modulesRoot: outdir, scriptPath: path.join(outdir, "index.js") },
    bundle,
    upload: uploadOf(text),
  };
}

const uploadOf = (text) => text.match(/Total Upload: (.*)/)[1];

/** The worker and the peer, each with and without rotation; the peer also with WebCrypto's PBKDF2. */
async function startWorkers(peer) {
  const worker = { scriptPath: path.join(root, "build/index.js") };
  const started = async (name, script, vars) => {
    log(`starting ${name}`);
    const service = await startInWorkerd(name, script, vars);
    cleanups.push(service.dispose);
    return service;
  };
  const rotating = { ROTATE_REFRESH_TOKENS: "true" };
  return {
    worker: {
      plain: await started("worker", worker, benchVars()),
      rotating: await started("worker, rotating", worker, benchVars(rotating)),
    },
    peer: {
      plain: await started("TypeScript peer", peer, benchVars()),
      rotating: await started("TypeScript peer, rotating", peer, benchVars(rotating)),
      webcrypto: await started("TypeScript peer, WebCrypto", peer, benchVars({ PBKDF2_IMPL: "webcrypto" })),
    },
  };
}

// The platform's share of a request: bench/storage-twin.mjs makes the same storage calls as
// each endpoint and nothing else, on the same kind of local D1 and KV (see there).
const startTwin = () => startInWorkerd("storage twin", { scriptPath: path.join(root, "bench/storage-twin.mjs") }, {});

async function startSeed() {
  const python = path.join(out, "seed-venv/bin/python");
  const cwd = path.join(root, "bench/django-seed");
  const env = { ...process.env, SEED_DB: path.join(scratch, "seed.sqlite3"), PYTHONDONTWRITEBYTECODE: "1" };
  execFileSync(python, ["manage.py", "migrate", "-v", "0"], { cwd, env });
  const createUser = readFileSync(path.join(root, "bench/seed_user.py"), "utf8");
  execFileSync(python, ["manage.py", "shell", "-c", createUser], {
    cwd,
    env: { ...env, BENCH_USER: JSON.stringify(USER) },
  });
  const port = 18000 + (process.pid % 1000);
  const gunicorn = spawn(
    path.join(out, "seed-venv/bin/gunicorn"),
    ["seed.wsgi", "--workers", "2", "--bind", `127.0.0.1:${port}`, "--log-level", "warning"],
    {
      cwd,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const stopped = new Promise((resolve) => gunicorn.on("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(url);
      break;
    } catch (error) {
      if (i > 100) throw error;
      await sleep(100);
    }
  }
  return {
    name: "Django seed",
    url,
    pids: () => [gunicorn.pid, ...descendants(gunicorn.pid)],
    dispose: () => {
      gunicorn.kill("SIGTERM");
      return stopped;
    },
  };
}

// ---------------------------------------------------------------- the routes measured

const LOGIN = { method: "POST", path: "/api/token/", body: { email: USER.email, password: USER.password } };
// A login hashes a password for about a second: its runs last long enough for a few.
const LOGIN_SECONDS = Math.max(SECONDS, 10);
const loginRequest = () => ({ ...jsonRequest(LOGIN.path, LOGIN.body), seconds: LOGIN_SECONDS });
const WORKER = "worker";
const PEER = "TypeScript peer";
const TWIN = "storage twin";
const SEED = "Django seed";

/**
 * The worker against the peer. `instance`: which of each one's workerds serves it; `twin`: the
 * twin's path for the same storage calls; `twinOf`/`workerOf`: a route measured for the peer
 * only, compared with another route's worker and twin rows. `request(forTwin)`: fresh tokens
 * for each run.
 */
const ROUTES = [
  {
    name: "GET /dashboard/",
    instance: "plain",
    connections: [1, 8],
    twin: "/dashboard",
    request: () => ({ method: "GET", path: "/api/dashboard/", headers: { authorization: `Bearer ${mint("access")}` } }),
  },
  {
    name: "POST /token/refresh/, rotation",
    instance: "rotating",
    connections: [1, 8],
    twin: "/refresh-rotation",
    request: (forTwin, connections) => ({
      method: "POST",
      path: "/api/token/refresh/",
      headers: { "content-type": "application/json" },
      // One token per connection; the first thread gets one more, which wrk's check of the
      // script (one call of request() in that thread before the run) takes. Each thread also
      // holds SPARE_CHAINS unused tokens at the bottom of its queue: a connection the server
      // closes mid-request loses that chain's next token, and without a spare the thread would
      // replay a used one (and, past the grace window, revoke its family).
      chains: Array.from({ length: threadsFor(connections) }, (_, thread) =>
        Array.from({ length: SPARE_CHAINS + connections / threadsFor(connections) + (thread === 0 ? 1 : 0) }, () =>
          forTwin ? newJti() : mint("refresh"),
        ),
      ),
    }),
  },
  {
    name: "POST /token/refresh/, no rotation",
    instance: "plain",
    connections: [1, 8],
    twin: "/refresh",
    request: () => jsonRequest("/api/token/refresh/", { refresh: mint("refresh") }),
  },
  {
    name: "POST /token/verify/ (access token)",
    instance: "plain",
    connections: [1, 8],
    twin: "/verify",
    request: () => jsonRequest("/api/token/verify/", { token: mint("access") }),
  },
  // One isolate hashes one password at a time: more connections only queue.
  {
    name: "POST /token/",
    instance: "plain",
    connections: [1],
    twin: "/login",
    request: loginRequest,
  },
  {
    name: "POST /token/, peer with WebCrypto PBKDF2 (local only)",
    instance: "webcrypto",
    connections: [1],
    services: [PEER],
    workerOf: "POST /token/",
    twinOf: "POST /token/",
    request: loginRequest,
  },
];

function jsonRequest(route, body) {
  return { method: "POST", path: route, body: JSON.stringify(body), headers: { "content-type": "application/json" } };
}

/** The Django seed, with tokens of its own login (HS256 under its secret). */
const SEED_ENDPOINTS = [
  { name: "POST /token/", worker: "POST /token/", request: loginRequest },
  {
    name: "POST /token/refresh/",
    worker: "POST /token/refresh/, no rotation",
    request: (t) => jsonRequest("/api/token/refresh/", { refresh: t.refresh }),
  },
  {
    name: "GET /dashboard/",
    worker: "GET /dashboard/",
    request: (t) => ({ method: "GET", path: "/api/dashboard/", headers: { authorization: `Bearer ${t.access}` } }),
  },
];

async function measure(service, request, connections) {
  const pids = service.pids();
  const before = cpuMs(pids);
  const result = wrk(service.url + request.path, request, connections);
  result.cpuPerRequest = result.requests ? (cpuMs(pids) - before) / result.requests : NaN;
  return result;
}

// ---------------------------------------------------------------- the smoke check

const COMPARED_HEADERS = [
  "content-type",
  "allow",
  "www-authenticate",
  "cache-control",
  "retry-after",
  "vary",
  "access-control-allow-origin",
  "access-control-allow-methods",
  "x-frame-options",
  "x-content-type-options",
  "referrer-policy",
  "cross-origin-opener-policy",
];

async function send(service, { method = "POST", path: route, body, headers = {} }) {
  const response = await fetch(service.url + route, { method, headers, body });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: compared as text.
  }
  const picked = Object.fromEntries(COMPARED_HEADERS.map((name) => [name, response.headers.get(name)]));
  return { status: response.status, body: parsed, headers: picked };
}

/** The members of a body, for answers whose values differ by nature (tokens). */
const shape = (body) => (body && typeof body === "object" ? Object.keys(body) : body);

/**
 * Before anything is measured: the worker and the peer answer every benchmarked request with
 * the same status, the same members and the same headers, their main refusals with the same
 * status, body and headers, and each one's tokens are accepted by the other. Throws, listing
 * every difference, when they do not.
 */
async function smokeCheck(services, twin) {
  const problems = [];
  let compared = 0;
  const compare = async (label, instance, request, { exact = true, expect } = {}) => {
    compared++;
    const made = typeof request === "function" ? request : () => request;
    const ours = await send(services.worker[instance], made());
    const theirs = await send(services.peer[instance], made());
    const same = (a, b) => isDeepStrictEqual(exact ? a : shape(a), exact ? b : shape(b));
    if (ours.status !== theirs.status || (expect !== undefined && ours.status !== expect)) {
      problems.push(`${label}: status ${ours.status} (worker) against ${theirs.status} (peer)`);
    } else if (!same(ours.body, theirs.body)) {
      problems.push(`${label}: body ${JSON.stringify(ours.body)} against ${JSON.stringify(theirs.body)}`);
    } else if (!isDeepStrictEqual(ours.headers, theirs.headers)) {
      problems.push(`${label}: headers ${JSON.stringify(ours.headers)} against ${JSON.stringify(theirs.headers)}`);
    }
  };
  const bearer = (token, method = "GET") => ({
    method,
    path: "/api/dashboard/",
    headers: { authorization: `Bearer ${token}` },
  });
  const post = (route, body, headers = { "content-type": "application/json" }) => ({
    path: route,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers,
  });

  // What is measured, with the tokens the measurement uses.
  for (const route of ROUTES.filter((r) => !r.services)) {
    const request = () => {
      const made = route.request(false, 1);
      return made.chains ? post(made.path, { refresh: made.chains[0][0] }) : made;
    };
    await compare(route.name, route.instance, request, { exact: false, expect: 200 });
  }
  const viaWebCrypto = await send(services.peer.webcrypto, loginRequest());
  if (viaWebCrypto.status !== 200) problems.push(`login with WebCrypto's PBKDF2: status ${viaWebCrypto.status}`);
  for (const route of ROUTES.filter((r) => r.twin)) {
    const made = route.request(true, 1);
    const answer = await send(
      twin,
      made.chains ? post(route.twin, { refresh: made.chains[0][0] }) : { ...made, path: route.twin },
    );
    if (answer.status !== 200) problems.push(`storage twin ${route.twin}: status ${answer.status}`);
  }

  // Rotation: a used token is refused, within the grace window without consequence.
  const used = mint("refresh");
  await compare("refresh, rotation", "rotating", post("/api/token/refresh/", { refresh: used }), { exact: false });
  await compare("refresh of a used token", "rotating", post("/api/token/refresh/", { refresh: used }), { expect: 401 });

  // Each one's tokens in the other.
  for (const [from, to] of [
    ["worker", "peer"],
    ["peer", "worker"],
  ]) {
    const tokens = await json(services[from].plain.url + LOGIN.path, "POST", LOGIN.body);
    for (const [label, request] of [
      ["dashboard", bearer(tokens.access)],
      ["verify", post("/api/token/verify/", { token: tokens.access })],
      ["refresh", post("/api/token/refresh/", { refresh: tokens.refresh })],
    ]) {
      const answer = await send(services[to].plain, request);
      if (answer.status !== 200) problems.push(`a token of the ${from} at the ${to}'s ${label}: ${answer.status}`);
    }
  }

  // The main refusals, word for word.
  const access = mint("access");
  const refusals = [
    ["dashboard without credentials", { method: "GET", path: "/api/dashboard/" }],
    ["dashboard, Bearer alone", { method: "GET", path: "/api/dashboard/", headers: { authorization: "Bearer" } }],
    ["dashboard with a refresh token", bearer(mint("refresh"))],
    ["dashboard with garbage", bearer("x.y.z")],
    ["dashboard, PUT", bearer(access, "PUT")],
    [
      "dashboard from another origin",
      { ...bearer(access), headers: { ...bearer(access).headers, origin: "https://a.example" } },
    ],
    ["refresh, no field", post("/api/token/refresh/", {})],
    ["refresh, blank", post("/api/token/refresh/", { refresh: "  " })],
    ["refresh, null body", post("/api/token/refresh/", "null")],
    ["refresh, a list", post("/api/token/refresh/", "[1]")],
    ["refresh with an access token", post("/api/token/refresh/", { refresh: access })],
    ["refresh with garbage", post("/api/token/refresh/", { refresh: "x" })],
    [
      "refresh, form body",
      post("/api/token/refresh", "refresh=x", { "content-type": "application/x-www-form-urlencoded" }),
    ],
    ["verify with garbage", post("/token/verify/", { token: "x" })],
    ["login, no fields", post(LOGIN.path, {})],
    ["login, text/plain", post(LOGIN.path, "x", { "content-type": "text/plain" })],
    ["login, wrong password", post(LOGIN.path, { email: USER.email, password: "not the password" })],
    ["login, GET", { method: "GET", path: LOGIN.path }],
    ["unknown path", { method: "GET", path: "/api/nothing/" }],
    [
      "preflight",
      {
        method: "OPTIONS",
        path: "/api/token/",
        headers: { origin: "https://a.example", "access-control-request-method": "POST" },
      },
    ],
  ];
  for (const [label, request] of refusals) await compare(label, "plain", request);
  // Parse errors: the same status and the same fixed prefix; the parsers' words differ.
  const parse = post("/api/token/refresh/", "{");
  const [ours, theirs] = [await send(services.worker.plain, parse), await send(services.peer.plain, parse)];
  if (ours.status !== 400 || theirs.status !== 400 || !String(theirs.body.detail).startsWith("JSON parse error - ")) {
    problems.push(`JSON parse error: ${JSON.stringify(ours)} against ${JSON.stringify(theirs)}`);
  }
  if (problems.length > 0) {
    throw new Error(`the worker and the TypeScript peer answer differently:\n  ${problems.join("\n  ")}`);
  }
  log(`smoke check: the worker and the peer answered ${compared} requests alike, and each other's tokens`);
}

// ---------------------------------------------------------------- micro-benchmarks in workerd

// bench/micro-worker.mjs runs each operation `n` times inside one request; it is timed from
// outside, less the time of a request that runs it zero times.
async function wasmMicro() {
  const mf = new Miniflare({
    modulesRoot: scratch,
    modules: [
      {
        type: "ESModule",
        path: path.join(scratch, "micro.mjs"),
        contents: readFileSync(path.join(root, "bench/micro-worker.mjs")),
      },
      {
        type: "CompiledWasm",
        path: path.join(scratch, "bench.wasm"),
        contents: readFileSync(path.join(root, "target/wasm32-unknown-unknown/release/edge_auth_bench.wasm")),
      },
    ],
    compatibilityDate,
    host: "127.0.0.1",
    port: 0,
  });
  try {
    const url = await mf.ready;
    const call = async (name, n) => {
      const start = performance.now();
      const response = await fetch(new URL(`/${name}?n=${n}`, url));
      await response.text();
      return performance.now() - start;
    };
    const empty = [];
    for (let i = 0; i < 20; i++) empty.push(await call("bench_sign", 0));
    const overhead = median(empty);
    const ops = 2000;
    const perOp = async (name) => {
      await call(name, 200);
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push((((await call(name, ops)) - overhead) * 1000) / ops);
      return runs;
    };
    await call("bench_pbkdf2", 10000);
    const pbkdf2Ms = [];
    for (let i = 0; i < 5; i++) pbkdf2Ms.push((await call("bench_pbkdf2", 600000)) - overhead);
    return {
      requestOverheadMs: overhead,
      pbkdf2Ms,
      signUs: await perOp("bench_sign"),
      verifyUs: await perOp("bench_verify"),
      dalekVerifyUs: await perOp("bench_dalek_verify"),
      compactSignUs: await perOp("bench_compact_sign"),
      compactVerifyUs: await perOp("bench_compact_verify"),
    };
  } finally {
    await mf.dispose();
  }
}

function opensslPbkdf2() {
  const program = path.join(root, "bench/openssl_pbkdf2.py");
  const measure = (env) =>
    JSON.parse(execFileSync("python3", [program], { env: { ...process.env, ...env } }).toString());
  // OPENSSL_ia32cap: mask the SHA extensions (CPUID leaf 7 EBX bit 29) for a software-only run.
  return { native: measure({}), software: measure({ OPENSSL_ia32cap: ":~0x20000000" }) };
}

// ---------------------------------------------------------------- cold start and size

async function coldStart(peerBundle) {
  // Cloudflare's own measure: a CPU profile of the startup phase (module evaluation: wasm
  // compile and instantiate), from `wrangler check startup` on the built worker, and on the
  // TypeScript peer's upload.
  const startup = (extra) => {
    const file = path.join(scratch, "startup.cpuprofile");
    execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["check", "startup", "--outfile", file, ...extra], {
      cwd: root,
      env: quietEnv,
      stdio: "ignore",
    });
    const profile = JSON.parse(readFileSync(file, "utf8"));
    return (profile.endTime - profile.startTime) / 1000;
  };
  const profiles = [];
  const peerProfiles = [];
  for (let i = 0; i < 5; i++) {
    profiles.push(startup([]));
    peerProfiles.push(startup(["--worker", peerBundle]));
  }
  // workerd from start to ready (the module loaded, compiled and instantiated), then the first
  // answer (this worker reads its configuration and keys then), for this worker and for an
  // empty one; the differences are what this worker adds.
  const firstAnswer = async (options, route) => {
    const start = performance.now();
    const mf = new Miniflare(options);
    const url = await mf.ready;
    const ready = performance.now();
    const response = await fetch(new URL(route, url));
    await response.arrayBuffer();
    const answered = performance.now();
    await mf.dispose();
    return { ready: ready - start, first: answered - ready };
  };
  const empty = {
    modules: true,
    scriptPath: path.join(root, "bench/empty-worker.mjs"),
    host: "127.0.0.1",
    port: 0,
    compatibilityDate,
  };
  const ours = [];
  const baseline = [];
  for (let i = 0; i < 5; i++) {
    baseline.push(await firstAnswer(empty, "/"));
    ours.push(await firstAnswer(await miniflareOptions({ vars: benchVars() }), "/.well-known/jwks.json"));
  }
  return {
    startupProfileMs: profiles,
    peerStartupProfileMs: peerProfiles,
    workerdOursMs: ours,
    workerdEmptyMs: baseline,
  };
}

function sizes() {
  const wasm = readFileSync(path.join(root, "build/index_bg.wasm"));
  const upload = execFileSync(
    path.join(root, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", path.join(scratch, "dry")],
    {
      cwd: root,
      encoding: "utf8",
      env: quietEnv,
    },
  ).match(/Total Upload: (.*)/)[1];
  return { wasmRaw: wasm.length, wasmGzip: gzipSync(wasm, { level: 9 }).length, upload };
}

// ---------------------------------------------------------------- report

const f1 = (n) => n.toFixed(1);
const f2 = (n) => n.toFixed(2);
const int = (n) => Math.round(n).toLocaleString("en-US").replace(/,/g, " ");
const cell = (n, format = f2) => (Number.isFinite(n) ? format(n) : "–");

function report(http, micro, openssl, cold, size, machine) {
  const lines = [];
  lines.push(
    `Measured ${machine.date} on ${machine.cpu} (${machine.cores} vCPU), ${machine.memory} GiB, Linux ${machine.kernel}; Node.js ${process.versions.node}, workerd (Miniflare ${machine.miniflare}), ${machine.openssl}.`,
  );
  lines.push(
    `Command: \`make bench\` (BENCH_SECONDS=${SECONDS}, BENCH_RUNS=${RUNS}). Load average before: ${machine.loadBefore}, after: ${machine.loadAfter}.`,
  );
  const rowsOf = (route, c, service) => http.filter((r) => r.route === route && r.c === c && r.service === service);
  const of = (route, c, service, key) => {
    const runs = rowsOf(route, c, service);
    return runs.length ? median(runs.map((r) => r[key])) : NaN;
  };
  const serviceRow = (label, route, c, service) => {
    const runs = rowsOf(route, c, service);
    if (runs.length === 0) return;
    const m = (k) => median(runs.map((r) => r[k]));
    lines.push(
      `| ${label} | ${c} | ${service} | ${f1(m("rps"))} | ${f2(m("p50"))} | ${f2(m("p99"))} | ${f2(m("cpuPerRequest"))} | ${f1(spread(runs.map((r) => r.rps)))} % | ${runs.reduce((sum, r) => sum + r.socketErrors, 0)} |`,
    );
  };
  const header = "| route | c | service | req/s | p50 ms | p99 ms | CPU ms/req | spread of req/s | socket errors |";

  lines.push("");
  lines.push("### HTTP: the worker against the TypeScript peer, each in one workerd");
  lines.push("");
  lines.push(
    "Medians of the runs; spread = (max − min) / median over the runs of that row. CPU = user + system time of the service's one workerd process (its isolate, plus the local D1 and KV simulators inside it) divided by the requests served. The storage twin makes the same D1/KV calls as the route and nothing else.",
  );
  lines.push("");
  lines.push(header);
  lines.push("|---|---|---|---|---|---|---|---|---|");
  for (const route of ROUTES) {
    for (const c of route.connections) {
      for (const service of [WORKER, PEER, TWIN]) serviceRow(route.name, route.name, c, service);
    }
  }
  lines.push("");
  lines.push(
    "Worker against peer. *Own CPU* is each one's workerd CPU per request less the storage twin's for the same calls: routing, bodies, JSON, tokens, hashing. Ratios are worker / peer: below 1 the worker costs less, answers sooner; above 1 for req/s it serves more.",
  );
  lines.push("");
  lines.push(
    "| route | c | worker's own CPU ms/req | peer's own CPU ms/req | own CPU worker / peer | req/s worker / peer | p50 worker / peer | p99 worker / peer |",
  );
  lines.push("|---|---|---|---|---|---|---|---|");
  for (const route of ROUTES) {
    const workerRoute = route.workerOf ?? route.name;
    const twinRoute = route.twinOf ?? route.name;
    for (const c of route.connections) {
      const twin = of(twinRoute, c, TWIN, "cpuPerRequest");
      const ours = of(workerRoute, c, WORKER, "cpuPerRequest") - twin;
      const theirs = of(route.name, c, PEER, "cpuPerRequest") - twin;
      const ratio = (key) => of(workerRoute, c, WORKER, key) / of(route.name, c, PEER, key);
      lines.push(
        `| ${route.name} | ${c} | ${cell(ours)} | ${cell(theirs)} | **${cell(ours / theirs)}** | ${cell(ratio("rps"))} | ${cell(ratio("p50"))} | ${cell(ratio("p99"))} |`,
      );
    }
  }

  lines.push("");
  lines.push("### HTTP: the Django seed under gunicorn (2 sync workers), for reference");
  lines.push("");
  lines.push(
    "Same method; CPU is gunicorn's master and workers. The worker's and the peer's rows are those of the table above (refresh: without rotation, as the seed).",
  );
  lines.push("");
  lines.push(header);
  lines.push("|---|---|---|---|---|---|---|---|---|");
  for (const endpoint of SEED_ENDPOINTS) {
    for (const c of [1, 8]) serviceRow(endpoint.name, endpoint.name, c, SEED);
  }
  lines.push("");
  lines.push("| route | c | Django CPU ms/req | worker's own / Django | worker total / Django | peer's own / Django |");
  lines.push("|---|---|---|---|---|---|");
  for (const endpoint of SEED_ENDPOINTS) {
    for (const c of [1, 8]) {
      const django = of(endpoint.name, c, SEED, "cpuPerRequest");
      const twin = of(endpoint.worker, c, TWIN, "cpuPerRequest");
      const total = of(endpoint.worker, c, WORKER, "cpuPerRequest");
      const peer = of(endpoint.worker, c, PEER, "cpuPerRequest");
      lines.push(
        `| ${endpoint.name} | ${c} | ${cell(django)} | ${cell((total - twin) / django)} | ${cell(total / django)} | ${cell((peer - twin) / django)} |`,
      );
    }
  }
  const us = (ms) => (ms * 1000) / 600000;
  lines.push("");
  lines.push("### PBKDF2-HMAC-SHA256, 600 000 iterations (one password hash)");
  lines.push("");
  lines.push("| implementation | ms (median of 5) | µs per iteration | ratio to OpenSSL |");
  lines.push("|---|---|---|---|");
  const ossl = median(openssl.native.runs);
  for (const [name, runs] of [
    ["this worker's code, wasm in workerd", micro.pbkdf2Ms],
    ["OpenSSL (`hashlib.pbkdf2_hmac`), SHA extensions on", openssl.native.runs],
    ["OpenSSL, SHA extensions masked (`OPENSSL_ia32cap`)", openssl.software.runs],
  ]) {
    lines.push(`| ${name} | ${f1(median(runs))} | ${f2(us(median(runs)))} | ${f2(median(runs) / ossl)}× |`);
  }
  lines.push("");
  lines.push("### Ed25519 in wasm in workerd (µs per operation, median of 5 × 2 000)");
  lines.push("");
  lines.push("| operation | ed25519-dalek (used) | ed25519-compact |");
  lines.push("|---|---|---|");
  lines.push(
    `| sign a token's \`header.payload\` | ${f1(median(micro.signUs))} | ${f1(median(micro.compactSignUs))} |`,
  );
  lines.push(`| verify a signature | ${f1(median(micro.dalekVerifyUs))} | ${f1(median(micro.compactVerifyUs))} |`);
  lines.push(
    `| whole access-token check (\`tokens::verify\`: parse, signature, claims) | ${f1(median(micro.verifyUs))} | – |`,
  );
  lines.push("");
  lines.push("### Cold start and size");
  lines.push("");
  lines.push("| measure | value |");
  lines.push("|---|---|");
  lines.push(
    `| startup phase, \`wrangler check startup\` CPU profile (wasm compile + instantiate + module evaluation, median of 5) | ${f1(median(cold.startupProfileMs))} ms |`,
  );
  lines.push(
    `| the same for the TypeScript peer (module evaluation, median of 5) | ${f1(median(cold.peerStartupProfileMs))} ms |`,
  );
  const at = (runs, k) => median(runs.map((r) => r[k]));
  const [ours, empty] = [cold.workerdOursMs, cold.workerdEmptyMs];
  lines.push(
    `| workerd start to ready: this worker / an empty JavaScript worker (median of 5) | ${f1(at(ours, "ready"))} ms / ${f1(at(empty, "ready"))} ms |`,
  );
  lines.push(
    `| first answer after ready: this worker (\`GET /.well-known/jwks.json\`: configuration and keys read) / the empty worker | ${f2(at(ours, "first"))} ms / ${f2(at(empty, "first"))} ms |`,
  );
  lines.push(
    `| **cold start this worker adds** (differences of both: module load, compile, instantiate, first answer) | **${f1(at(ours, "ready") - at(empty, "ready") + at(ours, "first") - at(empty, "first"))} ms** |`,
  );
  lines.push(`| \`build/index_bg.wasm\` raw | ${int(size.wasmRaw)} B |`);
  lines.push(`| \`build/index_bg.wasm\` gzip -9 | ${int(size.wasmGzip)} B |`);
  lines.push(`| whole upload (\`wrangler deploy --dry-run\`) | ${size.upload} |`);
  lines.push(`| the TypeScript peer's whole upload (\`wrangler deploy --dry-run\`) | ${size.peerUpload} |`);
  return lines.join("\n");
}

async function main() {
  mkdirSync(out, { recursive: true });
  const machine = {
    date: new Date().toISOString().slice(0, 10),
    cpu: cpus()[0].model.trim(),
    cores: cpus().length,
    memory: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    miniflare: JSON.parse(readFileSync(path.join(root, "node_modules/miniflare/package.json"), "utf8")).version,
    loadBefore: loadavg().map(f2).join(" "),
  };
  // The services first, so that a peer that answers differently stops the run at once.
  const peer = buildPeer();
  const services = await startWorkers(peer.script);
  const twin = await startTwin();
  cleanups.push(twin.dispose);
  await smokeCheck(services, twin);
  log("micro-benchmarks (wasm in workerd, OpenSSL)");
  const micro = await wasmMicro();
  const openssl = opensslPbkdf2();
  machine.openssl = openssl.native.openssl;
  log("size");
  const size = { ...sizes(), peerUpload: peer.upload };
  log("cold start");
  const cold = await coldStart(peer.bundle);
  log("starting the Django seed (gunicorn)");
  const seed = await startSeed();
  cleanups.push(seed.dispose);
  const runSeconds = (request) => request.seconds ?? SECONDS;
  const roundSeconds =
    ROUTES.reduce(
      (sum, r) =>
        sum + r.connections.length * ((r.services?.length ?? 2) + (r.twin ? 1 : 0)) * runSeconds(r.request(true, 1)),
      0,
    ) + SEED_ENDPOINTS.reduce((sum, e) => sum + 2 * runSeconds(e.request({})), 0);
  log(`${RUNS} rounds of wrk runs, about ${Math.ceil((RUNS * roundSeconds) / 60)} minutes`);
  const http = [];
  const record = async (run, route, c, service, request) => {
    log(`run ${run}/${RUNS}: ${service.name} ${route} c=${c}`);
    http.push({ run, route, c, service: service.name, ...(await measure(service, request, c)) });
  };
  const byName = { [WORKER]: services.worker, [PEER]: services.peer };
  for (let run = 1; run <= RUNS; run++) {
    for (const route of ROUTES) {
      for (const c of route.connections) {
        for (const name of route.services ?? [WORKER, PEER]) {
          const service = { ...byName[name][route.instance], name };
          await record(run, route.name, c, service, route.request(false, c));
        }
        if (route.twin) await record(run, route.name, c, twin, { ...route.request(true, c), path: route.twin });
      }
    }
    for (const endpoint of SEED_ENDPOINTS) {
      for (const c of [1, 8]) {
        const tokens = await json(seed.url + LOGIN.path, "POST", LOGIN.body);
        await record(run, endpoint.name, c, seed, endpoint.request(tokens));
      }
    }
  }
  machine.loadAfter = loadavg().map(f2).join(" ");
  const table = report(http, micro, openssl, cold, size, machine);
  writeFileSync(path.join(out, "results.json"), JSON.stringify({ machine, http, micro, openssl, cold, size }, null, 2));
  const file = path.join(root, "BENCHMARKS.md");
  const text = readFileSync(file, "utf8");
  const begin = "<!-- bench:begin (written by make bench) -->";
  const end = "<!-- bench:end -->";
  if (text.includes(begin)) {
    writeFileSync(
      file,
      `${text.slice(0, text.indexOf(begin) + begin.length)}\n${table}\n${text.slice(text.indexOf(end))}`,
    );
  }
  console.log(table);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse())
    await Promise.resolve(cleanup()).catch((error) => log("cleanup:", error.message));
  rmSync(scratch, { recursive: true, force: true });
}
