// docs/contract.md §4.4 POST /token/verify/ and §4.5 POST /token/blacklist/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, post, expectReply, loggedIn, decode, now, forge, INVALID, BLACKLISTED, WRONG_TYPE } from "./lib.mjs";

const verify = (token) => post(MAIN, "/token/verify/", { token });
const blacklist = (token) => post(MAIN, "/token/blacklist/", { refresh: token });
const refresh = (token) => post(MAIN, "/token/refresh/", { refresh: token });

test("verify answers {} for a valid access or refresh token", async () => {
  const login = await loggedIn();
  expectReply(await verify(login.access), 200, {});
  expectReply(await verify(login.refresh), 200, {});
});

test("verify refuses invalid and expired tokens", async () => {
  const login = await loggedIn();
  const kid = decode(login.access).header.kid;
  const expired = forge(
    { typ: "JWT", alg: "EdDSA", kid },
    { token_type: "access", exp: now() - 5, iat: now() - 305, jti: "b".repeat(32), user_id: 1 },
  );
  for (const token of ["nonsense", expired, `${login.access}x`]) {
    const reply = await verify(token);
    expectReply(reply, 401, INVALID);
    assert.equal(reply.headers.get("www-authenticate"), 'Bearer realm="api"');
  }
});

test("verify reports a used refresh token as blacklisted", async () => {
  const login = await loggedIn();
  assert.equal((await refresh(login.refresh)).status, 200);
  expectReply(await verify(login.refresh), 401, BLACKLISTED);
});

test("verify requires the token field", async () => {
  expectReply(await post(MAIN, "/token/verify/", {}), 400, { token: ["This field is required."] });
});

test("verify reports a token without type or id", async () => {
  const kid = decode((await loggedIn()).access).header.kid;
  const t = now();
  expectReply(await verify(forge({ typ: "JWT", alg: "EdDSA", kid }, { exp: t + 60, iat: t, user_id: 1 })), 401, {
    detail: "Token has no type",
    code: "token_not_valid",
  });
  expectReply(
    await verify(forge({ typ: "JWT", alg: "EdDSA", kid }, { token_type: "access", exp: t + 60, iat: t, user_id: 1 })),
    401,
    { detail: "Token has no id", code: "token_not_valid" },
  );
});

test("blacklist logs out the login: the token and its whole family", async () => {
  const login = await loggedIn();
  const rotated = (await refresh(login.refresh)).body.refresh;
  expectReply(await blacklist(rotated), 200, {});
  expectReply(await refresh(rotated), 401, BLACKLISTED);
  expectReply(await verify(rotated), 401, BLACKLISTED);
  // Access tokens stay valid until they expire.
  expectReply(await verify(login.access), 200, {});
});

test("blacklisting an already used token is 401 and still revokes its family", async () => {
  const login = await loggedIn();
  const rotated = (await refresh(login.refresh)).body.refresh;
  expectReply(await blacklist(login.refresh), 401, BLACKLISTED);
  expectReply(await refresh(rotated), 401, BLACKLISTED);
});

test("blacklisting twice is 401 the second time", async () => {
  const login = await loggedIn();
  expectReply(await blacklist(login.refresh), 200, {});
  expectReply(await blacklist(login.refresh), 401, BLACKLISTED);
});

test("blacklist leaves the user's other logins alone", async () => {
  const login = await loggedIn();
  const other = (await post(MAIN, "/token/", { email: login.user.email, password: login.user.password })).body;
  expectReply(await blacklist(login.refresh), 200, {});
  assert.equal((await refresh(other.refresh)).status, 200);
});

test("blacklist refuses access tokens, invalid tokens and a missing field", async () => {
  const login = await loggedIn();
  expectReply(await blacklist(login.access), 401, WRONG_TYPE);
  expectReply(await blacklist("x.y.z"), 401, INVALID);
  expectReply(await post(MAIN, "/token/blacklist/", {}), 400, { refresh: ["This field is required."] });
});
