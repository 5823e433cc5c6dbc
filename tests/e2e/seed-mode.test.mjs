// docs/contract.md §4.3 and §5 with ROTATE_REFRESH_TOKENS=false: the Django seed's refresh behaviour.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SEED, SEED_STATE, post, call, expectReply, loggedIn, decode, bearer, BLACKLISTED } from "./lib.mjs";
import { d1 } from "./worker.mjs";

const refresh = (token) => post(SEED, "/token/refresh/", { refresh: token });

test("a refresh answers only an access token", async () => {
  const login = await loggedIn(SEED);
  const reply = await refresh(login.refresh);
  assert.equal(reply.status, 200);
  assert.deepEqual(Object.keys(reply.body), ["access"]);
  assert.equal(decode(reply.body.access).payload.token_type, "access");
  assert.equal((await call(SEED, "GET", "/dashboard/", { headers: bearer(reply.body.access) })).status, 200);
});

test("the same refresh token stays usable", async () => {
  const login = await loggedIn(SEED);
  for (let i = 0; i < 3; i++) assert.equal((await refresh(login.refresh)).status, 200);
  const replies = await Promise.all(Array.from({ length: 5 }, () => refresh(login.refresh)));
  assert.deepEqual(
    replies.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
});

test("blacklist and logout everywhere still revoke", async () => {
  const login = await loggedIn(SEED);
  expectReply(await post(SEED, "/token/blacklist/", { refresh: login.refresh }), 200, {});
  expectReply(await refresh(login.refresh), 401, BLACKLISTED);
  const other = await loggedIn(SEED);
  expectReply(await call(SEED, "POST", "/token/blacklist/all/", { headers: bearer(other.access) }), 200, {});
  expectReply(await refresh(other.refresh), 401, BLACKLISTED);
});

test("an inactive user's refresh is refused", async () => {
  const login = await loggedIn(SEED);
  await d1(SEED_STATE, `UPDATE users SET is_active = 0 WHERE id = ${decode(login.refresh).payload.user_id}`);
  expectReply(await refresh(login.refresh), 401, {
    detail: "No active account found for the given token.",
    code: "no_active_account",
  });
});
