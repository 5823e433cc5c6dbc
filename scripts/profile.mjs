// Where the isolate's CPU goes on one hot route: a V8 CPU profile of the built worker (one
// workerd through Miniflare, as `make bench` runs it) under sequential requests, its samples
// grouped into the worker's wasm, the JavaScript glue wasm-bindgen and worker-build generate
// (index.js), the runtime's own JavaScript (cloudflare-internal: the D1 and KV clients) and
// native code. `make worker` strips wasm function names: the wasm share is one line.
//
//   node scripts/profile.mjs [dashboard|refresh|verify] [requests]
//
// Sampling profiles measure wall time while the isolate runs JavaScript or wasm: run it on a
// quiet machine. The shares, not the absolute times, are the result (profiling slows V8).
// PROFILE_TOP=20 also lists the 20 functions with the most samples.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Miniflare } from "miniflare";
import WebSocket from "ws";
import { d1Migrate, freePort, miniflareOptions, testKeyJwk } from "../tests/e2e/worker.mjs";

const [route = "dashboard", count = "2000"] = process.argv.slice(2);
const N = Number(count);
const state = mkdtempSync(path.join(tmpdir(), "edge-auth-profile-"));
await d1Migrate(state);
const vars = {
  ROTATE_REFRESH_TOKENS: "false",
  JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]),
  PBKDF2_ITERATIONS: "1000",
};
const port = await freePort();
const options = await miniflareOptions({ vars, persistRoot: path.join(state, "v3") });
const mf = new Miniflare({ ...options, inspectorPort: port, unsafeInspectorProxy: true });
try {
  const url = (await mf.ready).href.replace(/\/$/, "");
  const post = (p, body, headers = {}) =>
    fetch(url + p, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const user = { email: "profile@example.com", username: "profile", password: "x7#Lq9!vRt2m" };
  await post("/api/register/", { ...user, password2: user.password });
  const tokens = await (await post("/api/token/", { email: user.email, password: user.password })).json();
  const requests = {
    dashboard: () => fetch(`${url}/api/dashboard/`, { headers: { authorization: `Bearer ${tokens.access}` } }),
    refresh: () => post("/api/token/refresh/", { refresh: tokens.refresh }),
    verify: () => post("/api/token/verify/", { token: tokens.access }),
  };
  const send = requests[route];
  if (!send) throw new Error(`unknown route ${route}: dashboard, refresh or verify`);
  for (let i = 0; i < 300; i++) await (await send()).arrayBuffer();

  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const socket = new WebSocket(targets.find((t) => t.webSocketDebuggerUrl).webSocketDebuggerUrl);
  await new Promise((resolve) => socket.once("open", resolve));
  let id = 0;
  const pending = new Map();
  socket.on("message", (message) => {
    const reply = JSON.parse(message);
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 50 });
  await call("Profiler.start");
  for (let i = 0; i < N; i++) {
    const reply = await send();
    if (reply.status !== 200) throw new Error(`${route} answered ${reply.status}`);
    await reply.arrayBuffer();
  }
  const { profile } = (await call("Profiler.stop")).result;
  socket.close();

  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const groups = new Map();
  const functions = new Map();
  profile.samples.forEach((sample, i) => {
    const { url: source, functionName } = nodes.get(sample).callFrame;
    const name = `${path.basename(source)} ${functionName}`;
    functions.set(name, (functions.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
    const group = source.startsWith("wasm://")
      ? "the worker's wasm"
      : source.endsWith("index.js")
        ? "wasm-bindgen / worker-build glue (index.js)"
        : source.startsWith("cloudflare-internal")
          ? "runtime JavaScript (D1 and KV clients)"
          : ["(idle)", "(program)", "(garbage collector)"].includes(functionName)
            ? functionName
            : "native (runtime, wasm-to-js, builtins)";
    groups.set(group, (groups.get(group) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  groups.delete("(idle)");
  const busy = [...groups.values()].reduce((a, b) => a + b, 0);
  console.log(`${route}: ${N} requests, ${(busy / N / 1000).toFixed(3)} ms of profiled isolate time each`);
  for (const [group, us] of [...groups].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${group}`);
  }
  functions.delete(" (idle)");
  const top = [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 0));
  for (const [name, us] of top) console.log(`  ${((us / busy) * 100).toFixed(1).padStart(5)} %    ${name}`);
} finally {
  await mf.dispose();
  rmSync(state, { recursive: true, force: true });
}
