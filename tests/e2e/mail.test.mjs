// docs/accounts.md §1 and §3: the routes that mail — password reset by e-mail, e-mail
// verification — against workers of their own whose mails go to wrangler dev's simulation of
// the Email Service: it logs each message (sender, recipient, subject) and writes its text and
// HTML parts to files named in the log, which is where these tests read the links from.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { stripVTControlCharacters } from "node:util";
import { STRONG_PASSWORD, call, expectReply, post, uniqueEmail, tokensFor, bearer } from "./lib.mjs";
import { linkIn, mailsTo, sentMails, startWorker } from "./worker.mjs";

const KEYS = JSON.stringify([JSON.parse(process.env.E2E_KEY)]);
const SECRET_KEY = process.env.E2E_SECRET_KEY;
const NEW_PASSWORD = "Fr3sh-pass-999!";
const SENT = "Password reset e-mail has been sent.";
const RESET = "Password Reset E-mail";
const VERIFY = "Please Confirm Your E-mail Address";

let optional;
let mandatory;

before(async () => {
  [optional, mandatory] = await Promise.all([
    startWorker({
      vars: {
        JWT_SIGNING_KEYS: KEYS,
        SECRET_KEY,
        ACCOUNT_EMAIL_VERIFICATION: "optional",
        EMAIL_FROM: "Acme Accounts <accounts@acme.test>",
      },
    }),
    startWorker({ vars: { JWT_SIGNING_KEYS: KEYS, SECRET_KEY, ACCOUNT_EMAIL_VERIFICATION: "mandatory" } }),
  ]);
});

after(() => {
  optional?.stop();
  mandatory?.stop();
});

async function register(worker, email = uniqueEmail("mail")) {
  const reply = await post(worker.url, "/register/", {
    email,
    username: "mailer",
    password: STRONG_PASSWORD,
    password2: STRONG_PASSWORD,
  });
  assert.equal(reply.status, 201, reply.text);
  return { email, password: STRONG_PASSWORD };
}

test("a reset mail carries a link to the demo page that resets the password once", async () => {
  const user = await register(optional);
  expectReply(await post(optional.url, "/password/reset/", { email: user.email }), 200, { detail: SENT });
  const [mail] = await mailsTo(optional, user.email, RESET);
  // The simulator quotes the name.
  assert.equal(mail.from, '"Acme Accounts" <accounts@acme.test>');
  assert.equal(mail.subject, "[Acme Accounts] Password Reset E-mail");
  const link = linkIn(mail);
  const [, uid, token] = link.match(/^http:\/\/127\.0\.0\.1:\d+\/#\/password-reset\/([^/]+)\/([^/]+)$/);
  assert.ok(link.startsWith(`${optional.url}/#/`), link);
  assert.ok(mail.html.includes(`<a href="${link}">`), mail.html);
  const confirm = { uid, token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD };
  expectReply(await post(optional.url, "/password/reset/confirm/", confirm), 200, {
    detail: "Password has been reset with the new password.",
  });
  await tokensFor(optional.url, { email: user.email, password: NEW_PASSWORD });
  expectReply(await post(optional.url, "/password/reset/confirm/", confirm), 400, { token: ["Invalid value"] });
});

test("an unknown address gets the same answer and no mail", async () => {
  const unknown = uniqueEmail("nobody");
  expectReply(await post(optional.url, "/password/reset/", { email: unknown }), 200, { detail: SENT });
  const user = await register(optional);
  await post(optional.url, "/password/reset/", { email: user.email });
  assert.equal((await mailsTo(optional, user.email, RESET)).length, 1);
  assert.deepEqual(
    sentMails(optional).filter((mail) => mail.to.includes(unknown)),
    [],
  );
});

test("one address gets at most three reset mails an hour; the answer does not change", async () => {
  const user = await register(optional);
  for (let i = 0; i < 5; i++) {
    expectReply(await post(optional.url, "/password/reset/", { email: user.email }), 200, { detail: SENT });
  }
  await mailsTo(optional, user.email, RESET, 3);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal((await mailsTo(optional, user.email, RESET, 4)).length, 3);
});

test("with optional verification, registration mails a key that verifies the address once", async () => {
  const user = await register(optional);
  const [mail] = await mailsTo(optional, user.email, VERIFY);
  assert.equal(mail.subject, "[Acme Accounts] Please Confirm Your E-mail Address");
  const key = decodeURIComponent(linkIn(mail).match(/\/#\/verify-email\/(.+)$/)[1]);
  const { access } = await tokensFor(optional.url, user);
  const before = (await call(optional.url, "GET", "/userinfo/", { headers: bearer(access) })).body;
  assert.equal(before.email_verified, false);
  expectReply(await post(optional.url, "/registration/verify-email/", { key }), 200, { detail: "ok" });
  const verified = (await call(optional.url, "GET", "/userinfo/", { headers: bearer(access) })).body;
  assert.equal(verified.email_verified, true);
  expectReply(await post(optional.url, "/registration/verify-email/", { key }), 404, { detail: "Not found." });
});

test("with mandatory verification, an unverified user cannot log in until the mailed key is used", async () => {
  const email = uniqueEmail("mandatory");
  const form = { username: "mandy", email, password1: STRONG_PASSWORD, password2: STRONG_PASSWORD };
  expectReply(await post(mandatory.url, "/registration/", form), 201, { detail: "Verification e-mail sent." });
  expectReply(await post(mandatory.url, "/login/", { email, password: STRONG_PASSWORD }), 400, {
    non_field_errors: ["Unable to log in with provided credentials."],
  });
  const [mail] = await mailsTo(mandatory, email, VERIFY);
  assert.equal(mail.subject, "[Edge Auth] Please Confirm Your E-mail Address");
  const key = decodeURIComponent(linkIn(mail).match(/\/#\/verify-email\/(.+)$/)[1]);
  expectReply(await post(mandatory.url, "/registration/verify-email/", { key }), 200, { detail: "ok" });
  const login = await post(mandatory.url, "/login/", { email, password: STRONG_PASSWORD });
  assert.equal(login.status, 200, login.text);
});

test("resend-email mails an unverified address again and a verified one never", async () => {
  const email = uniqueEmail("resend");
  const form = { username: "rita", email, password1: STRONG_PASSWORD, password2: STRONG_PASSWORD };
  assert.equal((await post(mandatory.url, "/registration/", form)).status, 201);
  await mailsTo(mandatory, email, VERIFY, 1);
  expectReply(await post(mandatory.url, "/registration/resend-email/", { email }), 200, { detail: "ok" });
  const [, again] = await mailsTo(mandatory, email, VERIFY, 2);
  assert.ok(again, "a second mail");
  const key = decodeURIComponent(linkIn(again).match(/\/#\/verify-email\/(.+)$/)[1]);
  expectReply(await post(mandatory.url, "/registration/verify-email/", { key }), 200, { detail: "ok" });
  expectReply(await post(mandatory.url, "/registration/resend-email/", { email }), 200, { detail: "ok" });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal((await mailsTo(mandatory, email, VERIFY, 3)).length, 2);
});

test("the worker's own log lines name no address and no link", async () => {
  const user = await register(optional);
  await post(optional.url, "/password/reset/", { email: user.email });
  const [mail] = await mailsTo(optional, user.email, RESET);
  // The simulator's report of each message (its "To:" line) is wrangler's, not the worker's.
  const own = stripVTControlCharacters(optional.log())
    .split("\n")
    .filter((line) => !/^\s*(To|From|Subject|Text|HTML): /.test(line));
  assert.ok(!own.some((line) => line.includes(user.email)), "an address in the log");
  assert.ok(!own.some((line) => line.includes(linkIn(mail))), "a link in the log");
});

test("without the EMAIL binding the routes that mail answer 503 and reveal nothing", async () => {
  const worker = await startWorker({ vars: { JWT_SIGNING_KEYS: KEYS, SECRET_KEY }, without: ["send_email"] });
  try {
    const unavailable = { detail: "Service temporarily unavailable, try again later." };
    for (const email of [uniqueEmail("known"), uniqueEmail("unknown")]) {
      const reply = await post(worker.url, "/password/reset/", { email });
      assert.equal(reply.status, 503, reply.text);
      assert.deepEqual(reply.body, unavailable);
    }
    // wrangler forwards the worker's log lines a moment after the answers.
    for (let waited = 0; waited < 10_000 && !/no send_email binding named EMAIL/.test(worker.log()); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(worker.log(), /no send_email binding named EMAIL/);
  } finally {
    worker.stop();
  }
});
