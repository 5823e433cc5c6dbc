// docs/contract.md §1: the demo page at GET /, served at the root only, with a strict CSP.
// (It is driven in a real browser by `make test-browser`.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, NOKEY, call, expectReply } from "./lib.mjs";

test("GET / serves the demo page as HTML with its content security policy", async () => {
  const reply = await call(MAIN, "GET", "/");
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(reply.text, /^<!doctype html>/i);
  const csp = reply.headers.get("content-security-policy");
  assert.match(
    csp,
    /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self';/,
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
