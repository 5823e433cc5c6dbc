// `make bench`: the worker in its own workerd against the Django seed under gunicorn, same
// client (wrk), same machine, loopback only; then micro-benchmarks of the wasm build in workerd,
// cold start and size. Prints the tables and writes them into BENCHMARKS.md between the
// `bench:begin` and `bench:end` markers (and as JSON into target/bench/results.json).
//
// Environment: BENCH_SECONDS (per wrk run, default 10), BENCH_RUNS (repetitions, default 3).
// Expects `make worker`, the micro-benchmark wasm and the seed's virtualenv (the Makefile
// target builds all three).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem, release } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import {
  miniflareOptions,
  quietEnv,
  root,
  startWorker,
  stateOptions,
  testKeyJwk,
  wranglerConfig,
} from "../tests/e2e/worker.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
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

function wrk(url, { method = "GET", body, headers = {} }, connections) {
  const script = path.join(scratch, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  const lines = [`wrk.method = ${JSON.stringify(method)}`];
  if (body !== undefined) lines.push(`wrk.body = ${JSON.stringify(body)}`);
  for (const [name, value] of Object.entries(headers)) {
    lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  }
  writeFileSync(script, `${lines.join("\n")}\n`);
  const threads = Math.min(2, connections);
  const args = [
    ...["-t", String(threads), "-c", String(connections), "-d", `${SECONDS}s`, "--timeout", "60s"],
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

// ---------------------------------------------------------------- the two services

const USER = { email: "bench@example.com", username: "bench", password: "x7#Lq9!vRt2m" };

const { compatibility_date: compatibilityDate } = await wranglerConfig();

/**
 * The worker's variables for the benchmark, with a fresh signing key: the seed's refresh
 * behaviour (no rotation), so that one refresh token can be replayed; and no login throttling,
 * which the seed does not have either (eight logins of one account in flight would otherwise
 * hold more than its five reserved failures).
 */
const benchVars = () => ({
  ROTATE_REFRESH_TOKENS: "false",
  LOGIN_THROTTLE_ACCOUNT_FAILURES: "1000000",
  LOGIN_THROTTLE_CLIENT_FAILURES: "1000000",
  JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]),
});

/** The worker in one workerd of its own, its D1 and KV kept in the scratch folder for the twin. */
async function startBenchWorker() {
  const worker = await startWorker({ vars: benchVars(), alone: true, state: path.join(scratch, "worker") });
  const workerd = descendants(process.pid).filter((p) => stat(p)?.comm === "workerd");
  if (workerd.length !== 1) throw new Error(`expected one workerd process, found ${workerd.length}`);
  await json(`${worker.url}/api/register/`, "POST", { ...USER, password2: USER.password });
  return { name: "worker", url: worker.url, pids: () => workerd, dispose: worker.stop };
}

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

// The platform's share of a request: bench/storage-twin.mjs makes the same storage calls as
// the endpoint and nothing else, on the same local D1 and KV (see there).
async function startTwin() {
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(root, "bench/storage-twin.mjs"),
    compatibilityDate,
    ...(await stateOptions(path.join(scratch, "worker"))),
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).href.replace(/\/$/, "");
  const workerd = descendants(process.pid).filter((p) => stat(p)?.comm === "workerd");
  return { name: "storage twin", url, pids: () => workerd, dispose: () => mf.dispose() };
}

// ---------------------------------------------------------------- the HTTP benchmark

const ENDPOINTS = [
  {
    name: "POST /token/",
    request: () => ({ method: "POST", path: "/api/token/", body: { email: USER.email, password: USER.password } }),
  },
  {
    name: "POST /token/refresh/",
    request: (t) => ({ method: "POST", path: "/api/token/refresh/", body: { refresh: t.refresh } }),
  },
  {
    name: "GET /dashboard/",
    request: (t) => ({ method: "GET", path: "/api/dashboard/", headers: { authorization: `Bearer ${t.access}` } }),
  },
];

async function measure(service, endpoint, connections, tokens) {
  tokens ??= await json(`${service.url}/api/token/`, "POST", { email: USER.email, password: USER.password });
  const { method, path: route, body, headers = {} } = endpoint.request(tokens);
  const options = { method, headers: { ...headers } };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  const pids = service.pids();
  const before = cpuMs(pids);
  const result = wrk(service.url + route, options, connections);
  result.cpuPerRequest = result.requests ? (cpuMs(pids) - before) / result.requests : NaN;
  return result;
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

async function coldStart() {
  // Cloudflare's own measure: a CPU profile of the startup phase (module evaluation: wasm
  // compile and instantiate), from `wrangler check startup` on the built worker.
  const profiles = [];
  for (let i = 0; i < 5; i++) {
    const file = path.join(scratch, `startup-${i}.cpuprofile`);
    execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["check", "startup", "--outfile", file], {
      cwd: root,
      env: quietEnv,
      stdio: "ignore",
    });
    const profile = JSON.parse(readFileSync(file, "utf8"));
    profiles.push((profile.endTime - profile.startTime) / 1000);
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
  return { startupProfileMs: profiles, workerdOursMs: ours, workerdEmptyMs: baseline };
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

function report(http, micro, openssl, cold, size, machine) {
  const lines = [];
  lines.push(
    `Measured ${machine.date} on ${machine.cpu} (${machine.cores} vCPU), ${machine.memory} GiB, Linux ${machine.kernel}; Node.js ${process.versions.node}, workerd (Miniflare ${machine.miniflare}), ${machine.openssl}.`,
  );
  lines.push(
    `Command: \`make bench\` (BENCH_SECONDS=${SECONDS}, BENCH_RUNS=${RUNS}). Load average before: ${machine.loadBefore}, after: ${machine.loadAfter}.`,
  );
  lines.push("");
  lines.push("### HTTP: the worker in one workerd against the Django seed under gunicorn (2 sync workers)");
  lines.push("");
  lines.push(
    "Medians of the runs; spread = (max − min) / median over the runs of that row. CPU = user + system time of the server's processes (workerd: the one process, with local D1 and KV inside it; Django: gunicorn's master and workers) divided by the requests served.",
  );
  lines.push("");
  lines.push("| endpoint | c | service | req/s | p50 ms | p99 ms | CPU ms/req | spread of req/s | socket errors |");
  lines.push("|---|---|---|---|---|---|---|---|---|");
  const rowsOf = (endpoint, c, service) =>
    http.filter((r) => r.endpoint === endpoint && r.c === c && r.service === service);
  const cpuOf = (endpoint, c, service) => median(rowsOf(endpoint, c, service).map((r) => r.cpuPerRequest));
  for (const endpoint of ENDPOINTS) {
    for (const c of [1, 8]) {
      for (const service of ["worker", "storage twin", "Django seed"]) {
        const runs = rowsOf(endpoint.name, c, service);
        if (runs.length === 0) continue;
        const m = (k) => median(runs.map((r) => r[k]));
        lines.push(
          `| ${endpoint.name} | ${c} | ${service} | ${f1(m("rps"))} | ${f2(m("p50"))} | ${f2(m("p99"))} | ${f2(m("cpuPerRequest"))} | ${f1(spread(runs.map((r) => r.rps)))} % | ${runs.reduce((sum, r) => sum + r.socketErrors, 0)} |`,
        );
      }
    }
  }
  lines.push("");
  lines.push(
    "CPU per request, worker against Django. *workerd total* is all of the worker's workerd process; *storage twin* is a JavaScript worker making the same D1/KV calls on the same local storage, nothing else (HTTP handling by workerd plus the local D1/KV simulators, which run inside the process here and on other machines in production); *worker's own* is the difference: routing, JSON, token checks and signing in wasm.",
  );
  lines.push("");
  lines.push(
    "| endpoint | c | workerd total | storage twin | worker's own | Django seed | own / Django | total / Django |",
  );
  lines.push("|---|---|---|---|---|---|---|---|");
  for (const endpoint of ENDPOINTS) {
    for (const c of [1, 8]) {
      const total = cpuOf(endpoint.name, c, "worker");
      const django = cpuOf(endpoint.name, c, "Django seed");
      const twin = endpoint === ENDPOINTS[0] ? NaN : cpuOf(endpoint.name, c, "storage twin");
      const own = total - twin;
      const cell = (n) => (Number.isNaN(n) ? "–" : f2(n));
      lines.push(
        `| ${endpoint.name} | ${c} | ${f2(total)} | ${cell(twin)} | ${cell(own)} | ${f2(django)} | ${Number.isNaN(own) ? "–" : f2(own / django)} | ${f2(total / django)} |`,
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
  log("micro-benchmarks (wasm in workerd, OpenSSL)");
  const micro = await wasmMicro();
  const openssl = opensslPbkdf2();
  machine.openssl = openssl.native.openssl;
  log("size");
  const size = sizes();
  log("cold start");
  const cold = await coldStart();
  log("starting the worker (Miniflare) and the Django seed (gunicorn)");
  const services = [await startBenchWorker(), await startSeed()];
  cleanups.push(...services.map((service) => service.dispose));
  const http = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const endpoint of ENDPOINTS) {
      for (const c of [1, 8]) {
        for (const service of services) {
          log(`run ${run}/${RUNS}: ${service.name} ${endpoint.name} c=${c}`);
          http.push({
            run,
            endpoint: endpoint.name,
            c,
            service: service.name,
            ...(await measure(service, endpoint, c)),
          });
        }
      }
    }
  }
  await services[0].dispose();
  const twin = await startTwin();
  cleanups.push(twin.dispose);
  for (let run = 1; run <= RUNS; run++) {
    for (const endpoint of ENDPOINTS.slice(1)) {
      for (const c of [1, 8]) {
        log(`run ${run}/${RUNS}: ${twin.name} ${endpoint.name} c=${c}`);
        http.push({
          run,
          endpoint: endpoint.name,
          c,
          service: twin.name,
          ...(await measure(twin, endpoint, c, { access: "-", refresh: "-" })),
        });
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
