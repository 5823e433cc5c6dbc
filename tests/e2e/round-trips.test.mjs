// The hot routes make one storage round trip before they answer, or none: the worker counts
// its D1 and KV calls and, with STORAGE_ROUND_TRIPS_HEADER=true (the MAIN and SEED workers),
// tells them in `Storage-Round-Trips`. Work no answer waits for runs after it (waitUntil).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, SEED, post, call, expectReply, loggedIn, bearer, BLACKLISTED } from "./lib.mjs";

const trips = (reply) => reply.headers.get("storage-round-trips");

test("the dashboard reads D1 once and KV never", async () => {
  const login = await loggedIn();
  const reply = await call(MAIN, "GET", "/dashboard/", { headers: bearer(login.access) });
  assert.equal(reply.status, 200);
  assert.equal(trips(reply), "d1=1, kv=0");
});

test("a refresh with rotation is one D1 batch and reads no KV", async () => {
  const login = await loggedIn();
  const reply = await post(MAIN, "/token/refresh/", { refresh: login.refresh });
  assert.equal(reply.status, 200);
  assert.equal(trips(reply), "d1=1, kv=0");
});

test("a refresh without rotation is one D1 read and reads no KV", async () => {
  const login = await loggedIn(SEED);
  const reply = await post(SEED, "/token/refresh/", { refresh: login.refresh });
  assert.equal(reply.status, 200);
  assert.equal(trips(reply), "d1=1, kv=0");
});

test("verifying an access token touches no storage; a refresh token costs one KV read", async () => {
  const login = await loggedIn();
  const access = await post(MAIN, "/token/verify/", { token: login.access });
  assert.equal(access.status, 200);
  assert.equal(trips(access), "d1=0, kv=0");
  const refresh = await post(MAIN, "/token/verify/", { token: login.refresh });
  assert.equal(refresh.status, 200);
  assert.equal(trips(refresh), "d1=0, kv=1");
});

test("a login is one D1 batch for the account and one for the new session", async () => {
  const login = await loggedIn();
  const reply = await post(MAIN, "/token/", { email: login.user.email, password: login.user.password });
  assert.equal(reply.status, 200);
  assert.equal(trips(reply), "d1=2, kv=0");
});

test("the use of a rotated token reaches the denylist after the answer", async () => {
  const login = await loggedIn();
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: login.refresh })).status, 200);
  // Written in waitUntil: allowed to land moments after the refresh answered.
  let reply;
  for (let attempt = 0; attempt < 20; attempt++) {
    reply = await post(MAIN, "/token/verify/", { token: login.refresh });
    if (reply.status !== 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expectReply(reply, 401, BLACKLISTED);
});
