// docs/accounts.md §3: reset links and e-mail verification keys are Django's own
// (`PasswordResetTokenGenerator` and `signing.dumps` under SECRET_KEY), so a Django app sharing
// the key issues links this service accepts. Django itself (the pinned test environment)
// computes them here, from the user's row as the worker stores it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  LIMITS,
  LIMITS_STATE,
  MAIN,
  MAIN_STATE,
  bearer,
  call,
  decode,
  expectReply,
  loggedIn,
  newUser,
  now,
  post,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const NEW_PASSWORD = "Fr3sh-pass-999!";

/** Django's answer for `mode` and `params`, with the worker's SECRET_KEY. */
async function django(mode, params) {
  const argument = JSON.stringify({ secret: process.env.E2E_SECRET_KEY, ...params });
  const { stdout } = await promisify(execFile)(process.env.E2E_PYTHON, [
    path.join(here, "django_tokens.py"),
    mode,
    argument,
  ]);
  return JSON.parse(stdout);
}

/** The user's row as the worker stores it. */
async function row(email, state) {
  const [user] = await d1(state, `SELECT id, password, last_login, email FROM users WHERE email = '${email}'`);
  return user;
}

/** Django's reset link parts for the user, made now. */
async function djangoLink(email, state = MAIN_STATE) {
  const user = await row(email, state);
  return django("make_token", {
    pk: user.id,
    password: user.password,
    last_login: user.last_login,
    email: user.email,
    now: now(),
  });
}

const confirm = (uid, token, password = NEW_PASSWORD, base = MAIN) =>
  post(base, "/password/reset/confirm/", { uid, token, new_password1: password, new_password2: password });

test("a reset link made by Django's generator resets the password here, once", async () => {
  const user = await newUser();
  const { uid, token } = await djangoLink(user.email);
  expectReply(await confirm(uid, token), 200, { detail: "Password has been reset with the new password." });
  assert.equal((await post(MAIN, "/login/", { email: user.email, password: NEW_PASSWORD })).status, 200);
  expectReply(await confirm(uid, token), 400, { token: ["Invalid value"] });
});

test("the link form of the confirm route takes the same body", async () => {
  const user = await newUser();
  const { uid, token } = await djangoLink(user.email);
  const reply = await post(MAIN, `/api/password/reset/confirm/${uid}/${token}/`, {
    uid,
    token,
    new_password1: NEW_PASSWORD,
    new_password2: NEW_PASSWORD,
  });
  expectReply(reply, 200, { detail: "Password has been reset with the new password." });
});

test("reset confirm checks the uid, then the token, then the new password", async () => {
  const user = await newUser();
  const { uid, token } = await djangoLink(user.email);
  expectReply(await confirm("!!", token), 400, { uid: ["Invalid value"] });
  // Ours: a well-formed uid of no user is refused like a bad token.
  expectReply(await confirm(Buffer.from("999999999").toString("base64url"), token), 400, { token: ["Invalid value"] });
  expectReply(await confirm(uid, "bad-token", "abc"), 400, { token: ["Invalid value"] });
  expectReply(
    await post(MAIN, "/password/reset/confirm/", {
      uid,
      token,
      new_password1: NEW_PASSWORD,
      new_password2: "other-pass-1",
    }),
    400,
    { new_password2: ["The two password fields didn\u2019t match."] },
  );
  expectReply(await confirm(uid, token, "abc"), 400, {
    new_password2: [
      "This password is too short. It must contain at least 8 characters.",
      "This password is too common.",
    ],
  });
  expectReply(await post(MAIN, "/password/reset/confirm/", {}), 400, {
    new_password1: ["This field is required."],
    new_password2: ["This field is required."],
    uid: ["This field is required."],
    token: ["This field is required."],
  });
});

test("a reset ends every login and access token, and a later login ends the link", async () => {
  const { user, access, refresh } = await loggedIn();
  const { uid, token } = await djangoLink(user.email);
  assert.equal((await confirm(uid, token)).status, 200);
  assert.equal((await call(MAIN, "GET", "/user/", { headers: bearer(access) })).status, 401);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh })).status, 401);
  const again = await djangoLink(user.email);
  // Wait for the next second: a login in the link's own second does not end it.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await post(MAIN, "/token/", { email: user.email, password: NEW_PASSWORD })).status, 200);
  expectReply(await confirm(again.uid, again.token, "An0ther-pass-1!"), 400, { token: ["Invalid value"] });
});

// On the worker with cheap hashing: ten concurrent password hashes of the production cost are
// more than a local `wrangler dev` keeps up with (README, "Troubleshooting").
test("ten concurrent uses of one reset link: exactly one succeeds", async () => {
  const user = await newUser(LIMITS);
  const { uid, token } = await djangoLink(user.email, LIMITS_STATE);
  const replies = await Promise.all(Array.from({ length: 10 }, () => confirm(uid, token, NEW_PASSWORD, LIMITS)));
  assert.deepEqual(replies.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
  assert.ok(replies.every((r) => r.status < 500));
});

test("an e-mail key signed by Django verifies the address once", async () => {
  const { access } = await loggedIn();
  const pk = decode(access).payload.user_id;
  await d1(MAIN_STATE, `UPDATE users SET email_verified = 0 WHERE id = ${Number(pk)}`);
  const { signed } = await django("signing_dumps", { salt: "account", value: pk, now: now() });
  expectReply(await post(MAIN, "/registration/verify-email/", { key: signed }), 200, { detail: "ok" });
  expectReply(await post(MAIN, "/registration/verify-email/", { key: signed }), 404, { detail: "Not found." });
  const [stored] = await d1(MAIN_STATE, `SELECT email_verified FROM users WHERE id = ${Number(pk)}`);
  assert.equal(stored.email_verified, 1);
});

test("a bad, tampered or expired e-mail key is not found; a missing one is a field error", async () => {
  const { access } = await loggedIn();
  const pk = decode(access).payload.user_id;
  const { signed } = await django("signing_dumps", { salt: "account", value: pk, now: now() - 259_201 });
  expectReply(await post(MAIN, "/registration/verify-email/", { key: signed }), 404, { detail: "Not found." });
  expectReply(await post(MAIN, "/registration/verify-email/", { key: "bogus" }), 404, { detail: "Not found." });
  expectReply(await post(MAIN, "/registration/verify-email/", {}), 400, { key: ["This field is required."] });
  const reply = await call(MAIN, "GET", "/registration/verify-email/");
  expectReply(reply, 405, { detail: 'Method "GET" not allowed.' });
  assert.equal(reply.headers.get("allow"), "POST, OPTIONS, HEAD");
});
