// docs/accounts.md, on top of docs/contract.md §2.3 and §7: every account and standards route
// answers hostile bodies with the contract's JSON 400, 413 or 415 — never a 5xx, an HTML page
// or a hang — and the user they were aimed at keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, bearer, call, loggedIn, post, tokensFor, withMfa } from "./lib.mjs";

const PUBLIC = [
  "/login/",
  "/logout/",
  "/registration/",
  "/registration/verify-email/",
  "/registration/resend-email/",
  "/password/reset/",
  "/password/reset/confirm/",
  "/password/reset/confirm/MQ/abc-def/",
  "/token/revoke/",
  "/mfa/verify/",
];
const PROTECTED = [
  ["PUT", "/user/"],
  ["PATCH", "/user/"],
  ["POST", "/user/delete/"],
  ["POST", "/password/change/"],
  ["POST", "/sessions/revoke-others/"],
  ["POST", "/sessions/nope/revoke/"],
  ["POST", "/mfa/totp/activate/"],
  ["POST", "/mfa/recovery-codes/"],
];
// With MFA on: the forms that read a code.
const MFA_PROTECTED = [
  ["POST", "/mfa/totp/deactivate/"],
  ["POST", "/mfa/recovery-codes/regenerate/"],
];
const FIELDS = [
  "email",
  "password",
  "username",
  "password1",
  "password2",
  "key",
  "uid",
  "token",
  "refresh",
  "old_password",
  "new_password1",
  "new_password2",
  "first_name",
  "last_name",
  "code",
  "ephemeral_token",
  "activation_token",
];

/** Hostile bodies: [what, body, content type]. */
function bodies() {
  const everyField = (value) => JSON.stringify(Object.fromEntries(FIELDS.map((name) => [name, value])));
  return [
    ["oversized JSON", `{"email":"${"a".repeat(1_048_577)}"}`, "application/json"],
    ["malformed JSON", '{"email":', "application/json"],
    ["deeply nested JSON", `${"[".repeat(10_000)}${"]".repeat(10_000)}`, "application/json"],
    ["a JSON array", "[1,2,3]", "application/json"],
    ["a lone surrogate", '{"email":"\\ud800"}', "application/json"],
    ["numbers everywhere", everyField(12345), "application/json"],
    ["nulls everywhere", everyField(null), "application/json"],
    ["objects everywhere", everyField({ $gt: "" }), "application/json"],
    ["arrays everywhere", everyField(["a", "b"]), "application/json"],
    ["100 000 characters everywhere", everyField("x".repeat(100_000)), "application/json"],
    ["NUL characters everywhere", everyField("a\u0000b"), "application/json"],
    ["an unknown content type", "email=x", "text/xml"],
    ["a broken multipart body", "--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=x"],
    ["a form of repeated fields", `${"email=a&".repeat(5_000)}password=b`, "application/x-www-form-urlencoded"],
  ];
}

async function expectSafe(reply, label) {
  assert.ok(reply.status < 500, `${label}: ${reply.status} ${reply.text.slice(0, 300)}`);
  if (reply.status !== 200 || reply.text !== "") {
    assert.equal(reply.headers.get("content-type"), "application/json", label);
    assert.doesNotThrow(() => JSON.parse(reply.text), label);
  }
}

test("public account routes answer hostile bodies with the contract's JSON errors", async () => {
  for (const path of PUBLIC) {
    for (const [what, body, type] of bodies()) {
      await expectSafe(await call(MAIN, "POST", path, { body, type }), `POST ${path} with ${what}`);
    }
  }
});

test("authenticated account routes answer hostile bodies with the contract's JSON errors", async () => {
  const { user, access } = await loggedIn();
  for (const [method, path] of PROTECTED) {
    for (const [what, body, type] of bodies()) {
      const reply = await call(MAIN, method, path, { body, type, headers: bearer(access) });
      await expectSafe(reply, `${method} ${path} with ${what}`);
    }
  }
  // Nothing of the user changed: the password still logs in (sessions may have been revoked).
  assert.equal((await post(MAIN, "/token/", { email: user.email, password: user.password })).status, 200);
  await tokensFor(MAIN, user);
});

test("MFA routes of a user with MFA on answer hostile bodies with JSON errors, and MFA stays on", async () => {
  const { user, access } = await withMfa();
  for (const [method, path] of MFA_PROTECTED) {
    for (const [what, body, type] of bodies()) {
      const reply = await call(MAIN, method, path, { body, type, headers: bearer(access) });
      await expectSafe(reply, `${method} ${path} with ${what}`);
    }
  }
  const status = await call(MAIN, "GET", "/mfa/status/", { headers: bearer(access) });
  assert.equal(status.body.mfa_enabled, true);
  const login = await post(MAIN, "/token/", { email: user.email, password: user.password });
  assert.equal(login.body.mfa_required, true);
});

test("an oversized body is 413 on every account route", async () => {
  const big = `{"email":"${"a".repeat(1_048_577)}"}`;
  for (const path of PUBLIC) {
    const reply = await call(MAIN, "POST", path, { body: big, type: "application/json" });
    assert.equal(reply.status, 413, path);
    assert.deepEqual(reply.body, { detail: "Request body too large." });
  }
});
