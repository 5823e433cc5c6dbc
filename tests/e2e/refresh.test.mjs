// docs/contract.md §4.3 and §5: POST /token/refresh/ with rotation on (the default).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  MAIN_STATE,
  post,
  expectReply,
  loggedIn,
  decode,
  now,
  forge,
  INVALID,
  BLACKLISTED,
  WRONG_TYPE,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const refresh = (token) => post(MAIN, "/token/refresh/", { refresh: token });

test("a valid refresh token answers a new access and refresh token, never cached", async () => {
  const login = await loggedIn();
  const reply = await refresh(login.refresh);
  assert.equal(reply.status, 200);
  assert.deepEqual(Object.keys(reply.body), ["access", "refresh"]);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  const access = decode(reply.body.access).payload;
  const rotated = decode(reply.body.refresh).payload;
  assert.equal(access.token_type, "access");
  assert.equal(access.exp - access.iat, 300);
  assert.ok(Math.abs(access.iat - now()) <= 5);
  assert.equal(rotated.token_type, "refresh");
  assert.equal(rotated.exp - rotated.iat, 86400);
  assert.equal(rotated.user_id, decode(login.refresh).payload.user_id);
  assert.notEqual(rotated.jti, decode(login.refresh).payload.jti);
});

test("a rotated refresh token is single use; its successor keeps working", async () => {
  const login = await loggedIn();
  const first = await refresh(login.refresh);
  assert.equal(first.status, 200);
  expectReply(await refresh(login.refresh), 401, BLACKLISTED);
  const second = await refresh(first.body.refresh);
  assert.equal(second.status, 200);
  assert.equal((await refresh(second.body.refresh)).status, 200);
});

test("of 20 concurrent refreshes with one token exactly one wins, and its token works", async () => {
  const login = await loggedIn();
  const replies = await Promise.all(Array.from({ length: 20 }, () => refresh(login.refresh)));
  const winners = replies.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, replies.map((r) => r.status).join(","));
  for (const loser of replies.filter((r) => r.status !== 200)) expectReply(loser, 401, BLACKLISTED);
  assert.equal((await refresh(winners[0].body.refresh)).status, 200);
});

test("reuse within the grace window leaves the family alone", async () => {
  const login = await loggedIn();
  const first = await refresh(login.refresh);
  expectReply(await refresh(login.refresh), 401, BLACKLISTED);
  assert.equal((await refresh(first.body.refresh)).status, 200);
});

test("reuse after the grace window revokes the whole family", async () => {
  const login = await loggedIn();
  const first = await refresh(login.refresh);
  // Wait out REFRESH_REUSE_GRACE_SECONDS (10 s, the default): both D1 and the KV copy must
  // judge the reuse as theft.
  await new Promise((resolve) => setTimeout(resolve, 11_500));
  expectReply(await refresh(login.refresh), 401, BLACKLISTED);
  expectReply(await refresh(first.body.refresh), 401, BLACKLISTED);
  // Another login of the same user is another family: untouched.
  const other = await post(MAIN, "/token/", { email: login.user.email, password: login.user.password });
  assert.equal((await refresh(other.body.refresh)).status, 200);
});

test("an access token is the wrong type", async () => {
  const login = await loggedIn();
  expectReply(await refresh(login.access), 401, WRONG_TYPE);
});

test("garbage, numbers, bad signatures, changed payloads and expired tokens are invalid", async () => {
  const login = await loggedIn();
  const [header, payload, signature] = login.refresh.split(".");
  const changed = Buffer.from(JSON.stringify({ ...decode(login.refresh).payload, user_id: 1 })).toString("base64url");
  const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);
  const expired = forge(
    { typ: "JWT", alg: "EdDSA", kid: decode(login.refresh).header.kid },
    { token_type: "refresh", exp: now() - 1, iat: now() - 100, jti: "e".repeat(32), user_id: 1 },
  );
  for (const token of [
    "garbage",
    12345,
    `${header}.${changed}.${signature}`,
    `${header}.${payload}.${flipped}`,
    expired,
  ]) {
    expectReply(await refresh(token), 401, INVALID);
  }
  // None of this consumed the real token.
  assert.equal((await refresh(login.refresh)).status, 200);
});

test("a token signed with the right key but expiring now is expired", async () => {
  const kid = decode((await loggedIn()).access).header.kid;
  const t = now();
  const token = forge(
    { typ: "JWT", alg: "EdDSA", kid },
    { token_type: "refresh", exp: t, iat: t - 10, jti: "f".repeat(32), user_id: 1 },
  );
  expectReply(await refresh(token), 401, INVALID);
});

test("a refresh for an inactive or deleted user is refused without consuming the token", async () => {
  const login = await loggedIn();
  const { user_id } = decode(login.refresh).payload;
  await d1(MAIN_STATE, `UPDATE users SET is_active = 0 WHERE id = ${user_id}`);
  const noAccount = { detail: "No active account found for the given token.", code: "no_active_account" };
  expectReply(await refresh(login.refresh), 401, noAccount);
  await d1(MAIN_STATE, `UPDATE users SET is_active = 1 WHERE id = ${user_id}`);
  assert.equal((await refresh(login.refresh)).status, 200);

  const deleted = await loggedIn();
  await d1(MAIN_STATE, `DELETE FROM users WHERE id = ${decode(deleted.refresh).payload.user_id}`);
  expectReply(await refresh(deleted.refresh), 401, noAccount);
});

test("the denylist is checked before the user", async () => {
  const login = await loggedIn();
  await refresh(login.refresh);
  await d1(MAIN_STATE, `UPDATE users SET is_active = 0 WHERE id = ${decode(login.refresh).payload.user_id}`);
  expectReply(await refresh(login.refresh), 401, BLACKLISTED);
});

test("a missing, blank or null refresh field is 400", async () => {
  expectReply(await post(MAIN, "/token/refresh/", {}), 400, { refresh: ["This field is required."] });
  expectReply(await post(MAIN, "/token/refresh/", { refresh: "" }), 400, { refresh: ["This field may not be blank."] });
  expectReply(await post(MAIN, "/token/refresh/", { refresh: null }), 400, {
    refresh: ["This field may not be null."],
  });
});

test("a valid refresh token the store never saw is adopted as a new login", async () => {
  const login = await loggedIn();
  const { kid } = decode(login.refresh).header;
  const { user_id } = decode(login.refresh).payload;
  const t = now();
  const minted = forge(
    { typ: "JWT", alg: "EdDSA", kid },
    { token_type: "refresh", exp: t + 600, iat: t, jti: "a1".repeat(16), user_id },
  );
  const reply = await refresh(minted);
  assert.equal(reply.status, 200, reply.text);
  expectReply(await refresh(minted), 401, BLACKLISTED);
});
