// docs/contract.md §1: the demo page at GET /, served at the root only, with a strict CSP, and
// the TypeScript client it imports, a static asset (wrangler.toml [assets]).
// (It is driven in a real browser by `make test-browser`.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { MAIN, NOKEY, call, expectReply } from "./lib.mjs";
import { root, startWorker, testKeyJwk, wranglerConfig } from "./worker.mjs";

test("GET / serves the demo page as HTML with its content security policy", async () => {
  const reply = await call(MAIN, "GET", "/");
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(reply.text, /^<!doctype html>/i);
  const csp = reply.headers.get("content-security-policy");
  assert.match(
    csp,
    /^default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self';/,
  );
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(reply.headers.get("allow"), "GET");
  assert.equal(reply.headers.get("x-frame-options"), "DENY");
  assert.equal(reply.headers.get("vary"), "Accept, origin");
});

test("the demo page loads nothing from another origin", async () => {
  const { text } = await call(MAIN, "GET", "/");
  assert.doesNotMatch(text, /(src|href|action)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(text, /https?:\/\//i);
});

test("the page imports the client, a static asset served beside the API; no asset shadows a route", async () => {
  const { text } = await call(MAIN, "GET", "/");
  assert.match(text, /^import \{ ApiError, createClient \} from "\/sdk\/edge-auth\.mjs";$/m);
  const folder = path.join(root, (await wranglerConfig()).assets.directory);
  const assets = readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
  const paths = assets.map((file) => `/${path.relative(folder, file).split(path.sep).join("/")}`);
  assert.deepEqual(paths, ["/sdk/edge-auth.mjs"]);
  for (const [i, route] of paths.entries()) {
    const served = await call(MAIN, "GET", route);
    assert.equal(served.status, 200);
    assert.match(served.headers.get("content-type"), /^(text|application)\/javascript\b/);
    assert.equal(served.text, readFileSync(assets[i], "utf8"));
  }
  // The assets answer their paths before the worker sees them (any method): the worker alone,
  // without them, must have no route there.
  const alone = await startWorker({ vars: { JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]) }, alone: true });
  try {
    for (const route of paths.flatMap((route) => [route, `/api${route}`])) {
      for (const method of ["GET", "POST"]) {
        expectReply(await call(alone.url, method, route), 404, { detail: "Not found." });
      }
    }
  } finally {
    await alone.stop();
  }
});

test("the demo page and the OpenAPI document are not served under /api", async () => {
  for (const path of ["/api/", "/api/openapi.json", "/api/openapi.json/", "//"]) {
    expectReply(await call(MAIN, "GET", path), 404, { detail: "Not found." });
  }
});

test("the demo page and the OpenAPI document answer GET only", async () => {
  for (const path of ["/", "/openapi.json"]) {
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const reply = await call(MAIN, method, path);
      expectReply(reply, 405, { detail: `Method "${method}" not allowed.` });
      assert.equal(reply.headers.get("allow"), "GET");
    }
    assert.equal((await call(MAIN, "HEAD", path)).status, 405);
  }
});

test("the demo page and the OpenAPI document stay readable while the signing key is missing", async () => {
  assert.equal((await call(NOKEY, "GET", "/")).status, 200);
  const reply = await call(NOKEY, "GET", "/openapi.json/");
  assert.equal(reply.status, 200);
  assert.match(JSON.parse(reply.text).openapi, /^3\.1\./);
});
