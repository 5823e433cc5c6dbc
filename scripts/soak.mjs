// `make soak`: a bounded soak test of the real worker under wrangler dev on 127.0.0.1.
//
// SOAK_SECONDS (default 60) of mixed traffic from SOAK_USERS (default 8) concurrent virtual
// users: register, login, dashboard GET/POST, verify, refresh (also two at once with one
// token), logout, logout everywhere. Every answer's status is checked; any 5xx, connection
// error or unexpected status fails the run. Afterwards D1 is checked: every refresh token
// handed out is recorded, and no refresh token was rotated twice.
import { randomBytes } from "node:crypto";
import { startWorker, testKeyJwk, d1 } from "../tests/e2e/worker.mjs";

const seconds = Number(process.env.SOAK_SECONDS ?? 60);
const users = Number(process.env.SOAK_USERS ?? 8);
const PASSWORD = "x7#Lq9!vRt2m";

const worker = await startWorker({ vars: { JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]) } });
const latencies = new Map(); // endpoint -> [ms]
const statuses = new Map(); // "endpoint status" -> count
const failures = [];
const issuedRefresh = new Set();
const rotatedFrom = new Map(); // presented jti -> number of 200 answers
const jtiOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url")).jti;

async function request(endpoint, method, path, { json, token, expect }) {
  const headers = { "cf-connecting-ip": "127.0.0.1" };
  if (json !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const started = performance.now();
  let status;
  let body;
  try {
    const response = await fetch(worker.url + path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    status = response.status;
    const text = await response.text();
    body = text ? JSON.parse(text) : undefined;
  } catch (error) {
    failures.push(`${endpoint}: connection error ${error.cause?.code ?? error.message}`);
    return { status: 0 };
  }
  const elapsed = performance.now() - started;
  if (!latencies.has(endpoint)) latencies.set(endpoint, []);
  latencies.get(endpoint).push(elapsed);
  statuses.set(`${endpoint} ${status}`, (statuses.get(`${endpoint} ${status}`) ?? 0) + 1);
  if (status >= 500 || (expect && !expect.includes(status))) {
    failures.push(`${endpoint}: status ${status} (expected ${expect}) ${JSON.stringify(body)}`);
  }
  return { status, body };
}

function remember(tokens) {
  issuedRefresh.add(jtiOf(tokens.refresh));
  return tokens;
}

async function login(email) {
  const reply = await request("POST /token/", "POST", "/token/", {
    json: { email, password: PASSWORD },
    expect: [200],
  });
  return reply.status === 200 ? remember(reply.body) : null;
}

async function refresh(tokens) {
  const reply = await request("POST /token/refresh/", "POST", "/token/refresh/", {
    json: { refresh: tokens.refresh },
    expect: [200],
  });
  if (reply.status !== 200) return null;
  const presented = jtiOf(tokens.refresh);
  rotatedFrom.set(presented, (rotatedFrom.get(presented) ?? 0) + 1);
  return remember(reply.body);
}

async function virtualUser(index, deadline) {
  const email = `soak.${index}.${randomBytes(6).toString("hex")}@example.com`;
  await request("POST /register/", "POST", "/register/", {
    json: { email, username: `soak${index}`, password: PASSWORD, password2: PASSWORD },
    expect: [201],
  });
  let tokens = await login(email);
  while (tokens && Date.now() < deadline) {
    const dice = Math.random();
    if (dice < 0.3) {
      await request("GET /dashboard/", "GET", "/dashboard/", { token: tokens.access, expect: [200] });
    } else if (dice < 0.45) {
      await request("POST /dashboard/", "POST", "/dashboard/", {
        token: tokens.access,
        json: { text: "soak" },
        expect: [200],
      });
    } else if (dice < 0.6) {
      await request("POST /token/verify/", "POST", "/token/verify/", { json: { token: tokens.access }, expect: [200] });
    } else if (dice < 0.8) {
      tokens = await refresh(tokens);
    } else if (dice < 0.88) {
      // Two refreshes with one token at once: exactly one may win.
      const [a, b] = await Promise.all([refresh(tokens), refresh(tokens)]);
      const winners = [a, b].filter(Boolean);
      if (winners.length !== 1) failures.push(`concurrent refresh: ${winners.length} winners`);
      tokens = winners[0] ?? null;
      // The loser's 401 was counted as a failure by refresh(); take it back.
      const loser = failures.findLastIndex((f) => f.startsWith("POST /token/refresh/: status 401"));
      if (winners.length === 1 && loser >= 0) failures.splice(loser, 1);
    } else if (dice < 0.94) {
      await request("POST /token/blacklist/", "POST", "/token/blacklist/", {
        json: { refresh: tokens.refresh },
        expect: [200],
      });
      tokens = await login(email);
    } else {
      await request("POST /token/blacklist/all/", "POST", "/token/blacklist/all/", {
        token: tokens.access,
        expect: [200],
      });
      await request("POST /token/refresh/ (revoked)", "POST", "/token/refresh/", {
        json: { refresh: tokens.refresh },
        expect: [401],
      });
      tokens = await login(email);
    }
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let exitCode = 0;
try {
  const started = Date.now();
  await Promise.all(Array.from({ length: users }, (_, i) => virtualUser(i, started + seconds * 1000)));
  const elapsed = (Date.now() - started) / 1000;

  // D1 consistency: every refresh token handed out is recorded; none was rotated twice.
  const recorded = new Set();
  const all = [...issuedRefresh];
  for (let i = 0; i < all.length; i += 200) {
    const list = all.slice(i, i + 200).map((j) => `'${j}'`);
    const rows = await d1(worker.state, `SELECT jti FROM refresh_tokens WHERE jti IN (${list.join(",")})`);
    for (const row of rows) recorded.add(row.jti);
  }
  const missing = all.filter((j) => !recorded.has(j));
  if (missing.length) failures.push(`${missing.length} issued refresh tokens not recorded in D1`);
  const twice = [...rotatedFrom].filter(([, n]) => n > 1);
  if (twice.length) failures.push(`${twice.length} refresh tokens rotated more than once`);
  const [{ n: successors }] = await d1(
    worker.state,
    "SELECT COUNT(*) AS n FROM refresh_tokens WHERE successor IS NOT NULL",
  );
  const [{ n: distinct }] = await d1(
    worker.state,
    "SELECT COUNT(DISTINCT successor) AS n FROM refresh_tokens WHERE successor IS NOT NULL",
  );
  if (successors !== distinct) failures.push("a successor token was issued for two tokens");

  const total = [...latencies.values()].reduce((n, xs) => n + xs.length, 0);
  console.log(
    `soak: ${total} requests in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(1)} req/s), ${users} concurrent users`,
  );
  console.log("| endpoint | requests | p50 ms | p90 ms | p99 ms | max ms |");
  console.log("|---|---|---|---|---|---|");
  for (const [endpoint, xs] of [...latencies].sort()) {
    const sorted = xs.sort((a, b) => a - b);
    const cells = [50, 90, 99].map((p) => percentile(sorted, p).toFixed(1));
    console.log(`| ${endpoint} | ${xs.length} | ${cells.join(" | ")} | ${sorted.at(-1).toFixed(1)} |`);
  }
  const counts = [...statuses].sort().map(([k, n]) => `${k}: ${n}`);
  console.log(`statuses: ${counts.join(", ")}`);
  console.log(
    `D1: ${all.length} refresh tokens issued, all recorded: ${missing.length === 0}; rotated twice: ${twice.length}`,
  );
  if (failures.length) {
    console.error(`soak FAILED (${failures.length}):\n${failures.slice(0, 20).join("\n")}`);
    exitCode = 1;
  } else {
    console.log("soak passed: no 5xx, no connection error, no unexpected status, D1 consistent");
  }
} finally {
  worker.stop();
}
process.exit(exitCode);
