// docs/accounts.md §5: TOTP and recovery codes with dj-rest-auth 7.2's `mfa` routes and
// messages, and the stricter rules (single-use ephemeral tokens, no code accepted twice, failed
// codes throttled as failed logins). The codes are computed here (lib.mjs `totp`, node's HMAC).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  MAIN_STATE,
  THROTTLE,
  bearer,
  call,
  decode,
  expectReply,
  beginActivation,
  loggedIn,
  withMfa,
  post,
  totp,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const INVALID_CODE = { code: ["Invalid code."] };
const INVALID_TOKEN = { ephemeral_token: ["Invalid or expired token."] };
const RECOVERY_CODE = /^[0-9a-f]{4}-[0-9a-f]{4}$/;

/** The ephemeral token of a password login (on `/token/` unless said otherwise). */
async function firstStep(base, user, path = "/token/") {
  const reply = await post(base, path, { email: user.email, password: user.password });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["ephemeral_token", "mfa_required"]);
  return reply.body.ephemeral_token;
}

test("GET /mfa/totp/activate/ answers a new secret, its otpauth URI, an SVG QR code and an activation token", async () => {
  const { user, access } = await loggedIn();
  const reply = await call(MAIN, "GET", "/mfa/totp/activate/", { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  const { secret, totp_url, qr_code_data_uri, activation_token } = reply.body;
  assert.deepEqual(Object.keys(reply.body), ["secret", "totp_url", "qr_code_data_uri", "activation_token"]);
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(totp_url, `otpauth://totp/${user.email.replace("@", "%40")}?secret=${secret}`);
  const svg = Buffer.from(qr_code_data_uri.replace(/^data:image\/svg\+xml;base64,/, ""), "base64").toString();
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+".*<\/svg>$/s);
  assert.match(activation_token, /^[\w-]+:[\w-]+:[\w-]+$/);
  // Each call a new secret; nothing is stored until the activation is confirmed.
  assert.notEqual((await beginActivation(MAIN, access)).secret, secret);
  expectReply(await call(MAIN, "GET", "/mfa/status/", { headers: bearer(access) }), 200, {
    mfa_enabled: false,
    created_at: null,
    last_used_at: null,
  });
});

test("activation with a current code turns MFA on and shows ten recovery codes once", async () => {
  const { access, codes } = await withMfa();
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, RECOVERY_CODE);
  assert.equal(new Set(codes).size, 10);
  const status = await call(MAIN, "GET", "/mfa/status/", { headers: bearer(access) });
  assert.equal(status.status, 200);
  assert.deepEqual(Object.keys(status.body), ["mfa_enabled", "created_at", "last_used_at"]);
  assert.equal(status.body.mfa_enabled, true);
  assert.match(status.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(status.body.last_used_at, null);
  expectReply(await post(MAIN, "/mfa/recovery-codes/", {}, { headers: bearer(access) }), 200, { remaining: 10 });
});

test("activation refuses missing fields, a forged token, another user's token and a wrong code as dj-rest-auth does", async () => {
  const ann = await loggedIn();
  const bob = await loggedIn();
  const { secret, activation_token } = await beginActivation(MAIN, ann.access);
  const activate = (body, access = ann.access) => post(MAIN, "/mfa/totp/activate/", body, { headers: bearer(access) });
  expectReply(await activate({}), 400, {
    activation_token: ["This field is required."],
    code: ["This field is required."],
  });
  const code = totp(secret);
  expectReply(await activate({ activation_token: `${activation_token}x`, code }), 400, {
    activation_token: ["Invalid or expired activation token."],
  });
  expectReply(await activate({ activation_token, code }, bob.access), 400, {
    activation_token: ["Invalid activation token for this user."],
  });
  const wrong = code === "000000" ? "000001" : "000000";
  expectReply(await activate({ activation_token, code: wrong }), 400, {
    code: ["Invalid code. Please check your authenticator app and try again."],
  });
  expectReply(await call(MAIN, "GET", "/mfa/status/", { headers: bearer(ann.access) }), 200, {
    mfa_enabled: false,
    created_at: null,
    last_used_at: null,
  });
});

test("activating again is refused before the form is read", async () => {
  const { access } = await withMfa();
  expectReply(await post(MAIN, "/mfa/totp/activate/", {}, { headers: bearer(access) }), 400, {
    detail: "MFA is already enabled. Deactivate it before activating again.",
  });
});

test("a password login of a user with MFA answers an ephemeral token and no tokens, on /token/ and /login/", async () => {
  const { user } = await withMfa();
  for (const path of ["/token/", "/login/", "/api/token"]) {
    const reply = await post(MAIN, path, { email: user.email, password: user.password });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get("cache-control"), "no-store");
    assert.deepEqual(Object.keys(reply.body), ["ephemeral_token", "mfa_required"]);
    assert.equal(reply.body.mfa_required, true);
    // Opaque: 256 random bits, no user id in it.
    assert.match(reply.body.ephemeral_token, /^[\w-]{43}$/);
  }
  // A wrong password is refused as ever.
  expectReply(await post(MAIN, "/token/", { email: user.email, password: "wrong" }), 401, {
    detail: "No active account found with the given credentials",
  });
});

test("/mfa/verify/ with a current code logs in as dj-rest-auth's login, once per ephemeral token", async () => {
  const { user, secret, at, access } = await withMfa();
  const token = await firstStep(MAIN, user);
  const reply = await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: totp(secret, at) });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["access", "refresh", "user"]);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  assert.equal(decode(reply.body.access).payload.user_id, decode(access).payload.user_id);
  assert.equal(reply.body.user.email, user.email);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: reply.body.refresh })).status, 200);
  // The token is spent, even with a code not used yet.
  expectReply(
    await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: totp(secret, at + 30) }),
    400,
    INVALID_TOKEN,
  );
  const status = (await call(MAIN, "GET", "/mfa/status/", { headers: bearer(reply.body.access) })).body;
  assert.match(status.last_used_at, /Z$/);
});

test("a TOTP code is accepted once: activation's own code and a used login code are refused", async () => {
  const { user, secret, at } = await withMfa();
  const token = await firstStep(MAIN, user, "/login/");
  expectReply(
    await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: totp(secret, at - 30) }),
    400,
    INVALID_CODE,
  );
  const code = totp(secret, at);
  assert.equal((await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code })).status, 200);
  const again = await firstStep(MAIN, user);
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: again, code }), 400, INVALID_CODE);
  // A wrong code leaves the token usable: the next step's code logs in.
  assert.equal((await post(MAIN, "/mfa/verify/", { ephemeral_token: again, code: totp(secret, at + 30) })).status, 200);
});

test("a recovery code logs in once, in any case and with spaces, and the count goes down", async () => {
  const { user, codes, access } = await withMfa();
  const token = await firstStep(MAIN, user);
  const reply = await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: ` ${codes[4].toUpperCase()} ` });
  assert.equal(reply.status, 200, reply.text);
  expectReply(await post(MAIN, "/mfa/recovery-codes/", {}, { headers: bearer(access) }), 200, { remaining: 9 });
  const again = await firstStep(MAIN, user);
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: again, code: codes[4] }), 400, INVALID_CODE);
  const events = (await call(MAIN, "GET", "/user/events/", { headers: bearer(access) })).body;
  assert.ok(events.some((e) => e.event === "recovery_code_used"));
  assert.ok(events.some((e) => e.event === "mfa_enabled"));
});

test("regeneration replaces every recovery code", async () => {
  const { user, codes, access } = await withMfa();
  const reply = await post(MAIN, "/mfa/recovery-codes/regenerate/", {}, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["codes"]);
  assert.equal(reply.body.codes.length, 10);
  const token = await firstStep(MAIN, user);
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: codes[0] }), 400, INVALID_CODE);
  assert.equal((await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: reply.body.codes[0] })).status, 200);
});

test("deactivation needs a current code, then a password login is one step again", async () => {
  const { user, secret, at, access } = await withMfa();
  const deactivate = (body) => post(MAIN, "/mfa/totp/deactivate/", body, { headers: bearer(access) });
  expectReply(await deactivate({}), 400, { code: ["This field is required."] });
  expectReply(await deactivate({ code: totp(secret, at - 30) }), 400, INVALID_CODE);
  expectReply(await deactivate({ code: totp(secret, at) }), 200, { detail: "TOTP has been deactivated." });
  expectReply(await call(MAIN, "GET", "/mfa/status/", { headers: bearer(access) }), 200, {
    mfa_enabled: false,
    created_at: null,
    last_used_at: null,
  });
  const login = await post(MAIN, "/token/", { email: user.email, password: user.password });
  assert.deepEqual(Object.keys(login.body), ["refresh", "access"]);
  for (const path of ["/mfa/totp/deactivate/", "/mfa/recovery-codes/regenerate/"]) {
    expectReply(await post(MAIN, path, { code: "123456" }, { headers: bearer(access) }), 400, {
      detail: "MFA is not enabled.",
    });
  }
  expectReply(await post(MAIN, "/mfa/recovery-codes/", {}, { headers: bearer(access) }), 200, { remaining: 0 });
});

test("/mfa/verify/ refuses missing fields, an overlong code and an unknown token", async () => {
  expectReply(await post(MAIN, "/mfa/verify/", {}), 400, {
    ephemeral_token: ["This field is required."],
    code: ["This field is required."],
  });
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: "x", code: "1234567890" }), 400, {
    code: ["Ensure this field has no more than 9 characters."],
  });
  expectReply(
    await post(MAIN, "/mfa/verify/", { ephemeral_token: "x".repeat(100_000), code: "123456" }),
    400,
    INVALID_TOKEN,
  );
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: ["x"], code: 123456 }), 400, {
    ephemeral_token: ["Not a valid string."],
  });
});

test("an expired or forged ephemeral token is refused", async () => {
  const { user, secret, at } = await withMfa();
  const token = await firstStep(MAIN, user);
  // Expire it as 300 s would.
  await d1(MAIN_STATE, "UPDATE mfa_challenges SET expires_at = expires_at - 300");
  expectReply(await post(MAIN, "/mfa/verify/", { ephemeral_token: token, code: totp(secret, at) }), 400, INVALID_TOKEN);
  const forged = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
  expectReply(
    await post(MAIN, "/mfa/verify/", { ephemeral_token: forged, code: totp(secret, at) }),
    400,
    INVALID_TOKEN,
  );
});

test("failed codes count against the account's login throttle", async () => {
  // The throttle worker allows two failures per account and window.
  const { user, secret, at } = await withMfa(THROTTLE);
  const token = await firstStep(THROTTLE, user);
  const right = totp(secret, at);
  const wrong = right === "123456" ? "654321" : "123456";
  for (let i = 0; i < 2; i++) {
    expectReply(await post(THROTTLE, "/mfa/verify/", { ephemeral_token: token, code: wrong }), 400, INVALID_CODE);
  }
  const throttled = await post(THROTTLE, "/mfa/verify/", { ephemeral_token: token, code: right });
  assert.equal(throttled.status, 429, throttled.text);
  assert.match(throttled.body.detail, /^Request was throttled\. Expected available in \d+ seconds?\.$/);
  assert.equal((await post(THROTTLE, "/token/", { email: user.email, password: user.password })).status, 429);
});

test("ten concurrent second steps with one ephemeral token: exactly one logs in", async () => {
  const { user, secret, at, codes } = await withMfa();
  const token = await firstStep(MAIN, user);
  const proofs = [totp(secret, at), totp(secret, at + 30), ...codes.slice(0, 8)];
  const replies = await Promise.all(proofs.map((code) => post(MAIN, "/mfa/verify/", { ephemeral_token: token, code })));
  // One logs in; each other is a refused code or, once the account's five failures are
  // reserved by attempts still in flight, the login throttle's 429.
  assert.equal(replies.filter((r) => r.status === 200).length, 1);
  for (const reply of replies.filter((r) => r.status !== 200)) {
    assert.ok([400, 429].includes(reply.status), reply.text);
    if (reply.status === 400)
      assert.ok(["Invalid code.", "Invalid or expired token."].includes(Object.values(reply.body)[0][0]), reply.text);
  }
});

test("the MFA routes need authentication, and /mfa/verify/ is public", async () => {
  for (const [method, path] of [
    ["GET", "/mfa/totp/activate/"],
    ["POST", "/mfa/totp/activate/"],
    ["POST", "/mfa/totp/deactivate/"],
    ["GET", "/mfa/status/"],
    ["POST", "/mfa/recovery-codes/"],
    ["POST", "/api/mfa/recovery-codes/regenerate"],
  ]) {
    expectReply(await call(MAIN, method, path), 401, { detail: "Authentication credentials were not provided." });
  }
  const { access } = await loggedIn();
  const options = await call(MAIN, "OPTIONS", "/mfa/totp/activate/", { headers: bearer(access) });
  assert.equal(options.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
  assert.equal((await call(MAIN, "GET", "/mfa/verify/")).status, 405);
});

test("deleting an account with MFA on leaves no MFA row", async () => {
  const { user, access } = await withMfa();
  await firstStep(MAIN, user);
  const pk = Number(decode(access).payload.user_id);
  const reply = await post(MAIN, "/user/delete/", { password: user.password }, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  for (const table of ["mfa_totp", "mfa_recovery_codes", "mfa_challenges"]) {
    const rows = await d1(MAIN_STATE, `SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ${pk}`);
    assert.equal(rows[0].n, 0, table);
  }
});

test("the store keeps no recovery code and no ephemeral token, only digests", async () => {
  const { user, codes, access } = await withMfa();
  const token = await firstStep(MAIN, user);
  const pk = Number(decode(access).payload.user_id);
  const stored = JSON.stringify([
    await d1(MAIN_STATE, `SELECT * FROM mfa_recovery_codes WHERE user_id = ${pk}`),
    await d1(MAIN_STATE, `SELECT * FROM mfa_challenges WHERE user_id = ${pk}`),
  ]);
  for (const secret of [...codes, token]) assert.ok(!stored.includes(secret));
});
