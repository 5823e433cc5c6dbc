// docs/contract.md §4.2: POST /token/ (login).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  MAIN_STATE,
  post,
  call,
  expectReply,
  newUser,
  uniqueEmail,
  decode,
  now,
  KEY,
  STRONG_PASSWORD,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const NO_ACCOUNT = { detail: "No active account found with the given credentials" };

test("a login answers refresh then access tokens, never cached", async () => {
  const user = await newUser();
  const reply = await post(MAIN, "/token/", { email: user.email, password: user.password });
  assert.equal(reply.status, 200);
  assert.deepEqual(Object.keys(reply.body), ["refresh", "access"]);
  assert.equal(reply.headers.get("cache-control"), "no-store");
});

test("login tokens carry the contract's header and claims, in order", async () => {
  const user = await newUser();
  const { access, refresh } = (await post(MAIN, "/token/", { email: user.email, password: user.password })).body;
  const before = now();
  for (const [token, type, lifetime] of [
    [access, "access", 300],
    [refresh, "refresh", 86400],
  ]) {
    const { header, payload } = decode(token);
    assert.deepEqual(Object.keys(header), ["typ", "alg", "kid"]);
    assert.equal(header.typ, "JWT");
    assert.equal(header.alg, "EdDSA");
    assert.equal(header.kid.length, 43);
    assert.deepEqual(Object.keys(payload), ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    assert.equal(payload.token_type, type);
    assert.equal(payload.exp - payload.iat, lifetime);
    assert.ok(Math.abs(payload.iat - before) <= 5);
    assert.match(payload.jti, /^[0-9a-f]{32}$/);
    assert.ok(Number.isInteger(payload.user_id) && payload.user_id > 0);
  }
  assert.notEqual(decode(access).payload.jti, decode(refresh).payload.jti);
  assert.equal(decode(access).payload.user_id, decode(refresh).payload.user_id);
  // docs/contract.md §3.1: the login's session, the first refresh token's jti.
  assert.equal(decode(access).payload.sid, decode(refresh).payload.jti);
  assert.equal(decode(refresh).payload.sid, decode(refresh).payload.jti);
});

test("the e-mail is looked up in any letter case and may be trimmed", async () => {
  const user = await newUser();
  const reply = await post(MAIN, "/token/", {
    email: `  ${user.email.toUpperCase()} `,
    password: ` ${user.password} `,
  });
  assert.equal(reply.status, 200);
});

test("a wrong password, an unknown e-mail and an inactive user get the same 401", async () => {
  const user = await newUser();
  const wrong = await post(MAIN, "/token/", { email: user.email, password: `${user.password}!` });
  expectReply(wrong, 401, NO_ACCOUNT);
  assert.equal(wrong.headers.get("www-authenticate"), 'Bearer realm="api"');
  expectReply(await post(MAIN, "/token/", { email: uniqueEmail("ghost"), password: STRONG_PASSWORD }), 401, NO_ACCOUNT);
  const inactive = await newUser();
  await d1(MAIN_STATE, `UPDATE users SET is_active = 0 WHERE email = '${inactive.email}'`);
  expectReply(await post(MAIN, "/token/", { email: inactive.email, password: inactive.password }), 401, NO_ACCOUNT);
});

test("an unknown e-mail costs the same hashing time as a wrong password", async () => {
  const user = await newUser();
  const time = async (email) => {
    const start = performance.now();
    await post(MAIN, "/token/", { email, password: "not the password" });
    return performance.now() - start;
  };
  // Warm up, then compare medians: both must hash (hundreds of ms at 600 000 iterations).
  const known = [];
  const unknown = [];
  for (let i = 0; i < 3; i++) {
    known.push(await time(user.email));
    unknown.push(await time(uniqueEmail("nobody")));
  }
  const median = (xs) => xs.sort((a, b) => a - b)[1];
  assert.ok(median(unknown) > median(known) * 0.5, `unknown ${median(unknown)} ms vs known ${median(known)} ms`);
});

test("username instead of email is the missing e-mail error", async () => {
  expectReply(await post(MAIN, "/token/", { username: "x", password: "y" }), 400, {
    email: ["This field is required."],
  });
});

test("missing, blank and null fields are 400", async () => {
  expectReply(await post(MAIN, "/token/", {}), 400, {
    email: ["This field is required."],
    password: ["This field is required."],
  });
  expectReply(await post(MAIN, "/token/", { email: "", password: null }), 400, {
    email: ["This field may not be blank."],
    password: ["This field may not be null."],
  });
});

test("the login e-mail is a plain string: no format check", async () => {
  expectReply(await post(MAIN, "/token/", { email: "not-an-email", password: "x" }), 401, NO_ACCOUNT);
  expectReply(await post(MAIN, "/token/", { email: 12345, password: "x" }), 401, NO_ACCOUNT);
  expectReply(await post(MAIN, "/token/", { email: false, password: "x" }), 400, { email: ["Not a valid string."] });
});

test("a password over 4096 characters is refused before any hashing", async () => {
  expectReply(await post(MAIN, "/token/", { email: "a@example.com", password: "p".repeat(4097) }), 400, {
    password: ["Ensure this field has no more than 4096 characters."],
  });
});

test("GET is not a login", async () => {
  expectReply(await call(MAIN, "GET", "/token/"), 405, { detail: 'Method "GET" not allowed.' });
});

test("tokens are signed by the configured key", async () => {
  const user = await newUser();
  const { access } = (await post(MAIN, "/token/", { email: user.email, password: user.password })).body;
  const jwks = (await call(MAIN, "GET", "/.well-known/jwks.json")).body;
  assert.equal(decode(access).header.kid, jwks.keys[0].kid);
  assert.equal(jwks.keys[0].x, KEY.x);
});
