// The example consumer Worker (examples/consumer) protects its own route with edge-auth
// through a service binding; both run in one `wrangler dev`. Tokens come from the main test
// worker, which signs with the same test key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { CONSUMER, call, expectReply, loggedIn, decode, forge, now, bearer } from "./lib.mjs";

const INVALID = { detail: "Token is invalid or expired" };

test("a valid access token opens the consumer's protected route", async () => {
  const { access } = await loggedIn();
  const userId = decode(access).payload.user_id;
  expectReply(await call(CONSUMER, "GET", "/protected", { headers: bearer(access) }), 200, {
    message: `Hello, user ${userId}`,
    user_id: userId,
  });
});

test("no token is 401", async () => {
  const reply = await call(CONSUMER, "GET", "/protected");
  expectReply(reply, 401, { detail: "Authentication credentials were not provided." });
  assert.equal(reply.headers.get("www-authenticate"), 'Bearer realm="api"');
});

test("expired, forged and refresh tokens are 401", async () => {
  const { access, refresh } = await loggedIn();
  const { header, payload } = decode(access);
  const expired = forge(header, { ...payload, exp: now() - 1 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const forged = forge(header, payload, privateKey.export({ format: "jwk" }));
  for (const token of [expired, forged, refresh, "garbage"]) {
    expectReply(await call(CONSUMER, "GET", "/protected", { headers: bearer(token) }), 401, INVALID);
  }
});
