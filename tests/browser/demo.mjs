// Browser test of the demo page (GET /): drives it end to end in headless Chromium against
// the real worker under `wrangler dev` — register, log in, dashboard, refresh, log out, log out
// everywhere, then the account: verify the e-mail and reset the password through the links of
// the mails (read from wrangler dev's simulated mail binding), sessions, TOTP, passkeys (with
// DevTools' virtual authenticator), password change, deletion — and checks what the API
// contract says about each answer, that the page keeps to its Content-Security-Policy, talks to
// its own origin only and stores nothing in the browser. The page works through the TypeScript
// client (clients/ts), which the worker serves as a static asset: the test checks that it was
// loaded and that the requests came from it.
//
// The page is opened at http://localhost:<port>, not 127.0.0.1: a passkey's RP ID is the
// page's host, which WebAuthn never allows to be an IP address.
//
// Usage: node tests/browser/demo.mjs   (the worker must be built: `make worker`)
// Needs a Chromium binary (CHROMIUM, default /usr/bin/chromium); playwright-core never
// downloads one. DEMO_URL=<base URL> drives an already running worker instead of starting one.
// Writes a screenshot to target/browser/demo.png.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import jsQR from "jsqr";
import { chromium } from "playwright-core";
import { BLACKLISTED, STRONG_PASSWORD, freshStep, letters, totp, uniqueEmail } from "../e2e/lib.mjs";
import { linkIn, mailsTo, startWorker, testKeyJwk } from "../e2e/worker.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const screenshot = path.join(root, "target/browser/demo.png");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const user = { email: uniqueEmail("demo"), username: `demo-${letters(8)}`, password: STRONG_PASSWORD };

// What the page must never do, collected while it runs.
const consoleErrors = [];
const pageErrors = [];
const requests = [];
const responses = new Map();
// Every request with the scripts on its initiator's stack (DevTools' Network domain):
// [{ method, url, scripts: [URL of each frame's script] }].
const initiated = [];
const SDK = "/sdk/edge-auth.mjs";

/**
 * The CSP the worker derives from the page: its one inline module script and style, by hash, and
 * scripts of its own origin (the client it imports).
 */
function expectedCsp(html) {
  const hash = (open, close) => {
    const [, inner] = html.match(new RegExp(`${open}([\\s\\S]*?)${close}`));
    return createHash("sha256").update(inner).digest("base64");
  };
  const script = hash('<script type="module">', "</script>");
  return (
    `default-src 'none'; script-src 'self' 'sha256-${script}'; style-src 'sha256-${hash("<style>", "</style>")}'; ` +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
  );
}

/** Asserts that the last `method` request to `path` was sent by the client's module. */
function sentByClient(origin, method, path) {
  const sent = initiated.findLast((request) => request.method === method && request.url === `${origin}${path}`);
  assert.ok(sent, `a ${method} ${path} was sent`);
  assert.ok(sent.scripts.includes(`${origin}${SDK}`), `${method} ${path} came from ${SDK}: ${sent.scripts}`);
}

// Runs in the page before its own script: records CSP violations and every write to
// localStorage, sessionStorage or document.cookie.
function instrument() {
  const seen = { violations: [], writes: [] };
  Object.defineProperty(window, "__demoTest", { value: seen });
  document.addEventListener("securitypolicyviolation", (e) =>
    seen.violations.push(`${e.violatedDirective} ${e.blockedURI}`),
  );
  for (const name of ["setItem", "removeItem", "clear"]) {
    const original = Storage.prototype[name];
    Storage.prototype[name] = function (...args) {
      seen.writes.push(`${this === window.localStorage ? "localStorage" : "sessionStorage"}.${name}`);
      return original.apply(this, args);
    };
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    get() {
      return cookie.get.call(this);
    },
    set(value) {
      seen.writes.push("document.cookie");
      cookie.set.call(this, value);
    },
  });
}

let page;
let count = 0;
let current = "start the worker and the browser";

async function step(name, action) {
  current = name;
  await action();
  console.log(`ok ${++count} - ${name}`);
  current = "stop";
}

const text = (selector) => page.locator(selector).textContent();
const claims = async (kind) => JSON.parse(await text(`#${kind}-claims`));
const latestSeq = () => page.evaluate(() => document.querySelector("#output .entry")?.dataset.seq ?? "0");

/**
 * Clicks `selector` and returns the answer the page shows for it, the last one once the action
 * has finished (the answers list is no longer aria-busy): { status, body }.
 */
async function answerTo(selector) {
  const before = await latestSeq();
  await page.click(selector);
  await page.waitForFunction(
    (seq) =>
      (document.querySelector("#output .entry")?.dataset.seq ?? "0") !== seq &&
      document.querySelector("#output").getAttribute("aria-busy") === "false",
    before,
  );
  const entry = page.locator("#output .entry").first();
  const status = Number(await entry.getAttribute("data-status"));
  const shown = await entry.locator("pre").textContent();
  let body;
  try {
    body = JSON.parse(shown);
  } catch {
    assert.fail(`the answer shown is not pretty-printed JSON: ${shown}`);
  }
  assert.equal(shown, JSON.stringify(body, null, 2), "the answer is pretty-printed");
  return { status, body };
}

async function expectAnswer(selector, status, body) {
  const answer = await answerTo(selector);
  assert.equal(answer.status, status, `status of ${selector}: ${JSON.stringify(answer.body)}`);
  if (body !== undefined) assert.deepEqual(answer.body, body);
  return answer.body;
}

async function logIn() {
  await page.fill("#login-email", user.email);
  await page.fill("#login-password", user.password);
  const body = await expectAnswer("#login", 200);
  assert.deepEqual(Object.keys(body), ["access", "refresh", "user"]);
  assert.equal((await claims("access")).jti, JSON.parse(Buffer.from(body.access.split(".")[1], "base64url")).jti);
}

/**
 * Clicks `selector` and returns, oldest first, the answers the page shows for it up to the one
 * titled `last` (a passkey ceremony shows several, as does a call the client retries after a
 * refresh), once the action has finished: [{ title, status, body }], `body` parsed when it is
 * JSON (checked pretty-printed), the text otherwise (empty for a 204).
 */
async function answersTo(selector, last) {
  const before = Number(await latestSeq());
  await page.click(selector);
  await page.waitForFunction(
    ([seq, title]) =>
      document.querySelector("#output").getAttribute("aria-busy") === "false" &&
      [...document.querySelectorAll("#output .entry")].some(
        (entry) =>
          Number(entry.dataset.seq) > seq && entry.querySelector("h3").textContent.startsWith(`${title} \u2192 `),
      ),
    [before, last],
  );
  const entries = await page.$$eval(
    "#output .entry",
    (items, seq) =>
      items
        .filter((entry) => Number(entry.dataset.seq) > seq)
        .map((entry) => ({
          title: entry.querySelector("h3").textContent.split(" \u2192 ")[0],
          status: Number(entry.dataset.status),
          shown: entry.querySelector("pre").textContent,
        }))
        .reverse(),
    before,
  );
  return entries.map(({ title, status, shown }) => {
    let body = shown;
    try {
      body = JSON.parse(shown);
      assert.equal(shown, JSON.stringify(body, null, 2), `the answer of ${title} is pretty-printed`);
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
    }
    return { title, status, body };
  });
}

async function disabled(selector) {
  return page.locator(selector).isDisabled();
}

/** Fills the fields `values` ({ selector: value }). */
async function fill(values) {
  for (const [selector, value] of Object.entries(values)) await page.fill(selector, value);
}

/** The user's live sessions as the page lists them: [{ id, current, revocable }]. */
async function listedSessions() {
  await expectAnswer("#sessions-list", 200);
  return page.$$eval("#sessions li", (items) =>
    items.map((item) => ({
      id: item.dataset.id,
      current: item.textContent.includes("this login"),
      revocable: item.querySelector("button.revoke") !== null,
    })),
  );
}

async function accountSteps(origin) {
  const NEW_PASSWORD = "Fr3sh-pass-999!";
  const RESET_PASSWORD = "Ag41n-new-pass!";

  await step("the verification mail's link opens the page, which verifies the address (200)", async () => {
    const [mail] = await mailsTo(worker, user.email, "Please Confirm Your E-mail Address");
    assert.ok(mail, "a verification mail was sent");
    const link = linkIn(mail);
    assert.ok(link.startsWith(`${origin}/#/verify-email/`), link);
    await page.goto(link);
    // The page reads the link on load or on hashchange, then takes it out of the address bar.
    await page.waitForFunction(() => location.hash === "");
    assert.equal(await page.inputValue("#verify-key"), decodeURIComponent(link.split("/").pop()));
    await expectAnswer("#verify", 200, { detail: "ok" });
    await expectAnswer("#verify", 404, { detail: "Not found." });
  });

  await step("sessions: two logins are listed, this one marked; the other is revoked (200)", async () => {
    await logIn();
    const other = (await claims("refresh")).sid;
    await logIn();
    const current = (await claims("access")).sid;
    const sessions = await listedSessions();
    assert.deepEqual(
      sessions.find((s) => s.id === current),
      { id: current, current: true, revocable: false },
    );
    assert.deepEqual(
      sessions.find((s) => s.id === other),
      { id: other, current: false, revocable: true },
    );
    await expectAnswer(`#sessions li[data-id="${other}"] button.revoke`, 200, {});
    assert.equal(await page.locator(`#sessions li[data-id="${other}"]`).count(), 0, "the revoked one left the list");
    assert.ok(!(await listedSessions()).some((s) => s.id === other), "the server no longer lists it");
  });

  await mfaSteps();

  await step("change password (200): the access token is refused at once (401), and so is its refresh", async () => {
    await fill({ "#change-old": user.password, "#change-new1": NEW_PASSWORD, "#change-new2": NEW_PASSWORD });
    await expectAnswer("#change", 200, { detail: "New password has been saved." });
    user.password = NEW_PASSWORD;
    assert.match(await text("#session"), /Password changed/);
    // The page kept the ended tokens: the client's authFetch sends the access token, refreshes
    // once on the 401, is refused and forgets them.
    const answers = await answersTo("#dashboard-get", "POST /token/refresh/");
    assert.deepEqual(
      answers.map(({ title, status }) => `${title} ${status}`),
      ["GET /dashboard/ 401", "POST /token/refresh/ 401"],
    );
    assert.match(await text("#session"), /refresh token was refused/);
    assert.equal(await text("#access-claims"), "", "the client forgot the tokens");
  });

  await step("forgot password: the mailed link opens the page and sets a new password (200)", async () => {
    await page.fill("#forgot-email", user.email);
    await expectAnswer("#forgot", 200, { detail: "Password reset e-mail has been sent." });
    const [mail] = await mailsTo(worker, user.email, "Password Reset E-mail");
    assert.ok(mail, "a reset mail was sent");
    const link = linkIn(mail);
    assert.ok(link.startsWith(`${origin}/#/password-reset/`), link);
    await page.goto(link);
    // The page reads the link on load or on hashchange, then takes it out of the address bar.
    await page.waitForFunction(() => location.hash === "");
    assert.equal(await disabled("#reset"), false);
    await fill({ "#reset-password1": RESET_PASSWORD, "#reset-password2": RESET_PASSWORD });
    await expectAnswer("#reset", 200, { detail: "Password has been reset with the new password." });
    assert.equal(await disabled("#reset"), true, "the used link's token is gone from the form");
    user.password = RESET_PASSWORD;
    await logIn();
  });

  await step("delete the account (200): its login is refused afterwards (400)", async () => {
    await page.fill("#delete-password", user.password);
    await expectAnswer("#delete", 200, { detail: "Account deleted." });
    assert.match(await text("#session"), /Account deleted/);
    await fill({ "#login-email": user.email, "#login-password": user.password });
    await expectAnswer("#login", 400, { non_field_errors: ["Unable to log in with provided credentials."] });
  });
}

/** TOTP from the page: set up with its QR code, the login's second step, a recovery code, off. */
async function mfaSteps() {
  let secret;
  let at;
  let codes;
  await step(
    "set up TOTP: the QR code and secret are shown; the app's code turns it on and shows ten recovery codes",
    async () => {
      const begun = await expectAnswer("#totp-begin", 200);
      assert.equal(await page.getAttribute("#totp-qr", "src"), begun.qr_code_data_uri);
      assert.ok(await page.locator("#totp-qr").isVisible(), "the QR code is shown");
      // The image, drawn by the browser, decodes to the otpauth URI.
      const pixels = await page.$eval("#totp-qr", (img) => {
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 400;
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0, 400, 400);
        return Array.from(context.getImageData(0, 0, 400, 400).data);
      });
      const decoded = jsQR(Uint8ClampedArray.from(pixels), 400, 400);
      assert.equal(decoded?.data, begun.totp_url, "the QR code holds the otpauth URI");
      secret = await text("#totp-secret");
      assert.equal(secret, begun.secret);
      // Codes of the step before, the current one and the one after stay valid for this test.
      at = await freshStep(20);
      await page.fill("#totp-code", totp(secret, at - 30));
      codes = (await expectAnswer("#totp-activate", 200)).recovery_codes;
      assert.equal(codes.length, 10);
      assert.equal(await text("#recovery-codes"), codes.join("\n"));
      assert.ok(await page.locator("#totp-form").isHidden(), "the set-up form closed");
    },
  );

  await step("a password login asks for the second step; the app's code logs in (200)", async () => {
    await fill({ "#login-email": user.email, "#login-password": user.password });
    const first = await expectAnswer("#login", 200);
    assert.deepEqual(Object.keys(first), ["ephemeral_token", "mfa_required"]);
    assert.ok(await page.locator("#mfa-form").isVisible(), "the code form is shown");
    await page.fill("#mfa-code", totp(secret, at));
    const second = await expectAnswer("#mfa-verify", 200);
    assert.deepEqual(Object.keys(second), ["access", "refresh", "user"]);
    assert.equal((await claims("access")).jti, JSON.parse(Buffer.from(second.access.split(".")[1], "base64url")).jti);
    assert.ok(await page.locator("#mfa-form").isHidden(), "the code form closed");
  });

  await step("a recovery code logs in once instead; nine are left (200)", async () => {
    await fill({ "#login-email": user.email, "#login-password": user.password });
    await expectAnswer("#login", 200);
    await page.fill("#mfa-code", codes[0]);
    await expectAnswer("#mfa-verify", 200);
    await expectAnswer("#recovery-count", 200, { remaining: 9 });
    await expectAnswer("#mfa-status", 200);
  });

  // With TOTP on: a passkey login skips it.
  await passkeySteps();

  await step("turn TOTP off with a fresh code (200): the next login is one step again", async () => {
    await page.fill("#totp-off-code", totp(secret, at + 30));
    await expectAnswer("#totp-deactivate", 200, { detail: "TOTP has been deactivated." });
    await logIn();
  });
}

/** Passkeys from the page, made and used by DevTools' virtual authenticator: add, list, sign in, remove. */
async function passkeySteps() {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const held = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  const titles = (answers) => answers.map(({ title, status }) => `${title} ${status}`);
  const NAME = "Demo laptop";
  let passkey;

  await step("add a passkey (201): it is listed", async () => {
    await page.fill("#passkey-name", NAME);
    const answers = await answersTo("#passkey-add", "POST /passkeys/register/complete/");
    assert.deepEqual(titles(answers), ["POST /passkeys/register/begin/ 200", "POST /passkeys/register/complete/ 201"]);
    const { options } = answers[0].body;
    assert.equal(options.rp.id, "localhost", "the RP ID is the page's host");
    assert.equal(options.user.name, user.email);
    passkey = answers[1].body;
    assert.deepEqual(Object.keys(passkey), ["id", "name", "created_at", "last_used_at"]);
    assert.equal(passkey.name, NAME);
    assert.equal(passkey.last_used_at, null);
    assert.equal(await page.inputValue("#passkey-name"), "", "the name field was emptied");
    const [credential, ...more] = await held();
    assert.deepEqual(more, [], "the authenticator holds one credential");
    assert.equal(Buffer.from(credential.credentialId, "base64").toString("base64url"), passkey.id);
    assert.equal(credential.rpId, "localhost");
    assert.equal(credential.isResidentCredential, true, "a discoverable credential");
    assert.deepEqual(await expectAnswer("#passkeys-list", 200), [passkey]);
    const item = page.locator(`#passkeys li[data-id="${passkey.id}"]`);
    assert.match(await item.textContent(), new RegExp(`^${NAME} · added .* · never used Remove$`));
    assert.equal(await item.locator("button.remove").count(), 1);
  });

  await step("adding it again on the same authenticator: the browser refuses, nothing is sent", async () => {
    const completes = () => requests.filter((url) => url.endsWith("/passkeys/register/complete/")).length;
    const sent = completes();
    const answers = await answersTo("#passkey-add", "navigator.credentials.create()");
    assert.deepEqual(titles(answers), ["POST /passkeys/register/begin/ 200", "navigator.credentials.create() 0"]);
    const { options } = answers[0].body;
    assert.deepEqual(
      options.excludeCredentials.map(({ id }) => id),
      [passkey.id],
      "the user's passkey is excluded",
    );
    assert.match(answers[1].body, /^InvalidStateError: /);
    assert.equal(await page.locator("#output .entry").first().getAttribute("class"), "entry err");
    assert.equal(await disabled("#passkey-add"), false, "the page is not left busy");
    assert.equal(completes(), sent, "no complete call");
    assert.equal((await held()).length, 1);
  });

  await step("sign in with the passkey (200): new tokens, no password", async () => {
    const { user_id } = await claims("access");
    await page.click("#forget");
    assert.equal(await text("#access-claims"), "");
    assert.match(await text("#session"), /Not logged in/);
    const answers = await answersTo("#passkey-login", "POST /passkeys/login/complete/");
    assert.deepEqual(titles(answers), ["POST /passkeys/login/begin/ 200", "POST /passkeys/login/complete/ 200"]);
    const { options } = answers[0].body;
    assert.equal(options.rpId, "localhost");
    assert.deepEqual(options.allowCredentials, [], "a discoverable login");
    const body = answers[1].body;
    assert.deepEqual(Object.keys(body), ["access", "refresh", "user"]);
    assert.equal(body.user.email, user.email);
    assert.equal(body.user.pk, user_id);
    const access = await claims("access");
    assert.equal(access.jti, JSON.parse(Buffer.from(body.access.split(".")[1], "base64url")).jti);
    assert.equal(access.user_id, user_id);
    assert.equal((await claims("refresh")).jti, JSON.parse(Buffer.from(body.refresh.split(".")[1], "base64url")).jti);
    assert.ok(await page.locator("#mfa-form").isHidden(), "no TOTP code is asked, though TOTP is on");
    assert.match(await text("#session"), new RegExp(`user_id ${user_id}\\b`));
    const [listed] = await expectAnswer("#passkeys-list", 200);
    assert.equal(listed.id, passkey.id);
    assert.notEqual(listed.last_used_at, null, "its last use is recorded");
  });

  await step("remove the passkey (204): signing in with it is refused (400)", async () => {
    const before = (await claims("access")).jti;
    const answers = await answersTo(
      `#passkeys li[data-id="${passkey.id}"] button.remove`,
      `DELETE /passkeys/${passkey.id}/`,
    );
    assert.deepEqual(answers, [{ title: `DELETE /passkeys/${passkey.id}/`, status: 204, body: "" }]);
    assert.equal(await page.locator("#passkeys li").count(), 0, "the removed one left the list");
    assert.deepEqual(await expectAnswer("#passkeys-list", 200), []);
    assert.equal((await held()).length, 1, "the authenticator still holds the credential");
    const refused = await answersTo("#passkey-login", "POST /passkeys/login/complete/");
    assert.deepEqual(titles(refused), ["POST /passkeys/login/begin/ 200", "POST /passkeys/login/complete/ 400"]);
    assert.deepEqual(refused[1].body, { non_field_errors: ["Unable to log in with provided credentials."] });
    assert.equal((await claims("access")).jti, before, "the tokens held stay");
  });

  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
  await cdp.detach();
}

let worker;
// Interrupted (Ctrl-C, a timeout): the worker runs in a process group of its own, so stop it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    worker?.stop();
    process.exit(130);
  });
}
let context;
const profile = mkdtempSync(path.join(tmpdir(), "edge-auth-browser-"));
try {
  if (process.env.DEMO_URL === undefined) {
    worker = await startWorker({
      vars: {
        JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]),
        SECRET_KEY: "edge-auth-browser-secret-key-not-for-production",
        // Registration mails a verification link, which the account steps follow.
        ACCOUNT_EMAIL_VERIFICATION: "optional",
      },
    });
  }
  // The worker listens on 127.0.0.1; the page is opened at localhost, a valid RP ID.
  const base = new URL(process.env.DEMO_URL ?? worker.url);
  if (base.hostname === "127.0.0.1") base.hostname = "localhost";
  const { origin } = base;
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  await page.addInitScript(instrument);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push({ text: message.text(), url: message.location().url });
  });
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("request", (request) => requests.push(request.url()));
  page.on("response", (response) => responses.set(response.url(), response.status()));
  const network = await context.newCDPSession(page);
  network.on("Network.requestWillBeSent", ({ request, initiator }) => {
    const scripts = [];
    for (let stack = initiator.stack; stack; stack = stack.parent) {
      for (const frame of stack.callFrames) scripts.push(frame.url);
    }
    initiated.push({ method: request.method, url: request.url, scripts });
  });
  await network.send("Network.enable");

  await step("GET / serves the page with the Content-Security-Policy of its script and style", async () => {
    const [response, client] = await Promise.all([page.goto(`${origin}/`), page.waitForResponse(`${origin}${SDK}`)]);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()["content-type"], "text/html; charset=utf-8");
    assert.equal(response.headers()["content-security-policy"], expectedCsp(await response.text()));
    assert.match(await text("#memory-note"), /memory only/);
    // The module the page imports: the client, served as a static asset of the same origin.
    assert.equal(client.status(), 200, `GET ${SDK}`);
    assert.match(client.headers()["content-type"], /^(text|application)\/javascript\b/);
    assert.match(await client.text(), /edge-auth-refresh/, "it is the client (its Web Lock's name)");
  });

  await step("without tokens the token buttons are disabled", async () => {
    for (const id of ["#refresh", "#logout", "#logout-all", "#dashboard-get", "#dashboard-post", "#forget"]) {
      assert.equal(await disabled(id), true, `${id} is disabled`);
    }
    assert.equal(await text("#access-claims"), "");
  });

  await step("register a new user (201)", async () => {
    await page.fill("#register-email", user.email);
    await page.fill("#register-username", user.username);
    await page.fill("#register-password", user.password);
    await page.fill("#register-password2", user.password);
    await expectAnswer("#register", 201, { email: user.email, username: user.username });
    assert.equal(await page.inputValue("#login-email"), user.email, "the login form gets the e-mail");
  });

  await step("log in through the client: the claims of both tokens are shown with a live countdown", async () => {
    await logIn();
    sentByClient(origin, "POST", "/login/");
    const access = await claims("access");
    const refresh = await claims("refresh");
    assert.equal(access.token_type, "access");
    assert.equal(refresh.token_type, "refresh");
    assert.ok(Number.isInteger(access.user_id) && access.user_id > 0, "user_id is a positive integer");
    assert.equal(refresh.user_id, access.user_id);
    assert.equal(access.exp - access.iat, 300);
    assert.deepEqual(Object.keys(JSON.parse(await text("#access-header"))), ["typ", "alg", "kid"]);
    assert.equal(JSON.parse(await text("#refresh-header")).alg, "EdDSA");
    const seconds = async () => Number((await text("#access-expiry")).match(/\(in (\d+) s\)/)?.[1]);
    const first = await seconds();
    assert.ok(first > 290 && first <= 300, `countdown starts near 300 s: ${await text("#access-expiry")}`);
    await page.waitForFunction(
      (s) => document.querySelector("#access-expiry").textContent.includes(`(in ${s - 1} s)`),
      first,
    );
    for (const id of ["#refresh", "#logout", "#logout-all", "#dashboard-get", "#dashboard-post"]) {
      assert.equal(await disabled(id), false, `${id} is enabled`);
    }
    assert.match(await text("#session"), new RegExp(`user_id ${access.user_id}\\b`));
  });

  await step("GET and POST the dashboard with the access token (200), through the client's authFetch", async () => {
    await expectAnswer("#dashboard-get", 200, { response: `Hey${user.username}, you are seeing GET response` });
    sentByClient(origin, "GET", "/dashboard/");
    await page.fill("#dashboard-text", "hello from the browser");
    await expectAnswer("#dashboard-post", 200, {
      response: `Hey${user.username}, your text is hello from the browser`,
    });
    assert.match(await text("#output"), /your text is hello from the browser/);
    mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  });

  await step("refresh: a new access token and, rotated, a new refresh token", async () => {
    const [access, refresh] = [await claims("access"), await claims("refresh")];
    const body = await expectAnswer("#refresh", 200);
    sentByClient(origin, "POST", "/token/refresh/");
    assert.deepEqual(Object.keys(body).sort(), ["access", "refresh"]);
    const [newAccess, newRefresh] = [await claims("access"), await claims("refresh")];
    assert.notEqual(newAccess.jti, access.jti, "the access token changed");
    assert.notEqual(newRefresh.jti, refresh.jti, "the rotated refresh token replaced the old one");
    assert.equal(newAccess.user_id, access.user_id);
  });

  await step(
    "log out (200), then refresh fails: token blacklisted (401), and the client forgets the tokens",
    async () => {
      const before = await claims("refresh");
      await expectAnswer("#logout", 200, { detail: "Successfully logged out." });
      sentByClient(origin, "POST", "/logout/");
      assert.deepEqual(await claims("refresh"), before, "the page keeps the revoked tokens");
      assert.match(await text("#session"), /Logged out/);
      await expectAnswer("#refresh", 401, BLACKLISTED);
      assert.match(await text("#session"), /refresh token was refused/);
      assert.equal(await text("#refresh-claims"), "");
      assert.equal(await disabled("#refresh"), true);
    },
  );

  await step("log in again, log out everywhere (200)", async () => {
    await logIn();
    await expectAnswer("#logout-all", 200, {});
    assert.match(await text("#session"), /everywhere/);
  });

  await step("after log out everywhere the access token still works until it expires (200)", async () => {
    await expectAnswer("#dashboard-get", 200, { response: `Hey${user.username}, you are seeing GET response` });
  });

  await step("after log out everywhere the refresh token is blacklisted (401)", async () => {
    await expectAnswer("#refresh", 401, BLACKLISTED);
  });

  // The account steps read the mails from the worker's log: only with a worker of their own.
  if (worker) await accountSteps(origin);

  await step("no console errors, page errors or CSP violations", async () => {
    const seen = await page.evaluate(() => window.__demoTest);
    assert.deepEqual(seen.violations, [], "CSP violations");
    assert.deepEqual(pageErrors, [], "page errors");
    // Chromium logs every 4xx answer to fetch ("Failed to load resource"); only the API's
    // refusals this test expected are allowed.
    const unexpected = consoleErrors.filter(({ text: message, url }) => {
      const status = message.match(/^Failed to load resource: the server responded with a status of (\d{3})/)?.[1];
      return !(status?.startsWith("4") && new URL(url).pathname !== "/" && responses.get(url) === Number(status));
    });
    assert.deepEqual(unexpected, [], "console errors");
  });

  await step("every request went to the page's own origin", async () => {
    const foreign = requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
    assert.deepEqual(foreign, []);
  });

  await step("nothing was written to localStorage, sessionStorage or cookies", async () => {
    assert.deepEqual((await page.evaluate(() => window.__demoTest)).writes, []);
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
    assert.deepEqual(stored, [0, 0, ""]);
    assert.deepEqual(await context.cookies(), []);
  });

  await step("reloading the page forgets the tokens", async () => {
    await page.reload();
    assert.equal(await text("#access-claims"), "");
    assert.equal(await text("#refresh-claims"), "");
    assert.equal(await disabled("#refresh"), true);
    assert.equal(await disabled("#dashboard-get"), true);
  });

  console.log(`all ${count} steps passed; screenshot: ${path.relative(root, screenshot)}`);
} catch (error) {
  process.exitCode = 1;
  console.error(`FAIL: ${current}\n${error.stack ?? error}`);
  if (worker) console.error(`--- worker log (last lines) ---\n${worker.log().split("\n").slice(-40).join("\n")}`);
} finally {
  await context?.close().catch(() => {});
  worker?.stop();
  rmSync(profile, { recursive: true, force: true });
}
