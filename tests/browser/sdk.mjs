// Browser test of the TypeScript client (clients/ts): drives the built SDK in headless Chromium
// against the real worker under `wrangler dev`, with access tokens that live 2 s, and counts
// every POST to /token/refresh/ the browser sends. It checks the SDK's promise: never two
// refreshes for one refresh token — 20 concurrent calls of one page share one refresh, two tabs
// share one (Web Locks + BroadcastChannel, with tokens in memory or in localStorage), and a
// refused refresh logs the client out once and rejects with ApiError 401; refresh() on demand
// keeps the same promise. A few account routes go through the SDK too.
//
// The page is served from another origin (a small HTTP server on 127.0.0.1, a secure context)
// and reaches the worker cross-origin, as an app using the SDK would.
//
// Usage: node tests/browser/sdk.mjs   (needs `make worker` and `make sdk`)
// Needs a Chromium binary (CHROMIUM, default /usr/bin/chromium); playwright-core never
// downloads one.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { BLACKLISTED, STRONG_PASSWORD, letters, totp, uniqueEmail, withMfa } from "../e2e/lib.mjs";
import { startWorker, testKeyJwk } from "../e2e/worker.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dist = path.join(root, "clients/ts/dist");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ACCESS_LIFETIME_MS = 2000;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>edge-auth SDK test</title>
<script type="module">
  import * as sdk from "/dist/index.js";
  window.sdk = sdk;
</script>
`;

/** Serves the test page and the built SDK; resolves to its origin and a close function. */
function serve() {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url, "http://127.0.0.1");
    if (pathname === "/") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      response.end(PAGE);
      return;
    }
    const file = path.join(dist, path.normalize(pathname.replace(/^\/dist\//, "")));
    if (!pathname.startsWith("/dist/") || !file.startsWith(`${dist}${path.sep}`)) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(file);
      const type = file.endsWith(".js") ? "text/javascript" : "application/json";
      response.writeHead(200, { "Content-Type": type }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() }),
    ),
  );
}

let count = 0;
let current = "start the worker, the page server and the browser";

async function step(name, action) {
  current = name;
  await action();
  console.log(`ok ${++count} - ${name}`);
  current = "stop";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Long enough for an access token (exp = iat + 2 s, whole seconds) to be expired. */
const expireAccess = () => sleep(ACCESS_LIFETIME_MS + 600);

let worker;
// Interrupted (Ctrl-C, a timeout): the worker runs in a process group of its own, so stop it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    worker?.stop();
    process.exit(130);
  });
}
let context;
let pages;
const profile = mkdtempSync(path.join(tmpdir(), "edge-auth-sdk-browser-"));
const site = await serve();
const refreshes = [];
const pageErrors = [];

/** A new tab on the test page with the SDK loaded. */
async function openTab() {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => window.sdk !== undefined);
  return page;
}

/**
 * Creates `window.client` in `page`: tokens in memory, or in localStorage when `shared`.
 * Records its logout events in `window.logouts`.
 */
function makeClient(page, baseUrl, { shared = false } = {}) {
  return page.evaluate(
    ({ baseUrl, shared }) => {
      window.client?.close();
      window.logouts = [];
      const storage = shared
        ? {
            get: (key) => localStorage.getItem(key),
            set: (key, value) => localStorage.setItem(key, value),
            remove: (key) => localStorage.removeItem(key),
          }
        : undefined;
      window.client = window.sdk.createClient({
        baseUrl,
        ...(storage ? { storage } : {}),
        onLogout: (reason) => window.logouts.push(reason),
      });
    },
    { baseUrl, shared },
  );
}

/** Calls authFetch("/dashboard/") in `page` once at `at` (epoch ms); resolves to its status or error. */
function dashboardAt(page, at = 0) {
  return page.evaluate(async (at) => {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
    try {
      const response = await window.client.authFetch("/dashboard/");
      return { status: response.status, body: await response.json() };
    } catch (error) {
      return {
        error: error.name,
        status: error.status,
        body: error.body,
        apiError: error instanceof window.sdk.ApiError,
      };
    }
  }, at);
}

async function newUser(page) {
  const user = { email: uniqueEmail("sdk"), username: `sdk-${letters(8)}`, password: STRONG_PASSWORD };
  const registered = await page.evaluate(
    ({ email, username, password }) => window.client.register({ email, username, password, password2: password }),
    user,
  );
  assert.deepEqual(registered, { email: user.email, username: user.username });
  return user;
}

async function logIn(page, user) {
  const answer = await page.evaluate(({ email, password }) => window.client.login(email, password), user);
  assert.deepEqual(Object.keys(answer).sort(), ["access", "refresh", "user"]);
  assert.equal(answer.user.email, user.email);
  return answer;
}

const held = (page) => page.evaluate(() => window.client.tokens());

try {
  worker = await startWorker({
    vars: {
      JWT_SIGNING_KEYS: JSON.stringify([testKeyJwk()]),
      SECRET_KEY: "edge-auth-browser-secret-key-not-for-production",
      ACCESS_TOKEN_LIFETIME_SECONDS: String(ACCESS_LIFETIME_MS / 1000),
      // A reused refresh token is refused at once, without a grace window.
      REFRESH_REUSE_GRACE_SECONDS: "0",
    },
  });
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Both tabs run their timers at full speed, as two visible windows would.
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
  context.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === "/token/refresh/") {
      refreshes.push(request.postDataJSON()?.refresh);
    }
  });
  for (const page of context.pages()) await page.close();
  pages = [await openTab()];
  const [page] = pages;

  let user;
  await step("register and log in through the SDK; authFetch('/dashboard/') answers 200", async () => {
    await makeClient(page, worker.url);
    user = await newUser(page);
    const login = await logIn(page, user);
    assert.deepEqual(await held(page), { access: login.access, refresh: login.refresh });
    const answer = await dashboardAt(page);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer.body, { response: `Hey${user.username}, you are seeing GET response` });
  });

  await step("access expired: 20 concurrent authFetch calls all answer 200 after exactly one refresh", async () => {
    await expireAccess();
    const before = await held(page);
    refreshes.length = 0;
    const answers = await page.evaluate(() =>
      Promise.all(
        Array.from({ length: 20 }, () =>
          window.client.authFetch("/dashboard/").then(
            (response) => response.status,
            (error) => `${error.name} ${error.status} ${JSON.stringify(error.body)}`,
          ),
        ),
      ),
    );
    assert.deepEqual(answers, Array(20).fill(200));
    assert.deepEqual(refreshes, [before.refresh], "one /token/refresh/ with the held refresh token");
    const after = await held(page);
    assert.notEqual(after.access, before.access, "a new access token");
    assert.notEqual(after.refresh, before.refresh, "the rotated refresh token");
  });

  await step("two tabs, tokens in memory, access expired, calls at one moment: one refresh, both 200", async () => {
    const second = await openTab();
    pages.push(second);
    await makeClient(page, worker.url);
    await makeClient(second, worker.url);
    await logIn(page, user);
    const tokens = await held(page);
    await second.evaluate((tokens) => window.client.setTokens(tokens), tokens);
    await expireAccess();
    refreshes.length = 0;
    const at = Date.now() + 300;
    const answers = await Promise.all([dashboardAt(page, at), dashboardAt(second, at)]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
      JSON.stringify(answers),
    );
    assert.deepEqual(refreshes, [tokens.refresh], "one /token/refresh/ in total");
    const [first, other] = [await held(page), await held(second)];
    assert.notEqual(first.refresh, tokens.refresh);
    assert.deepEqual(other, first, "the other tab took the broadcast tokens");
    await second.close();
    pages.pop();
  });

  await step(
    "two tabs, tokens in localStorage, access expired, calls at one moment: one refresh, both 200",
    async () => {
      const second = await openTab();
      pages.push(second);
      await makeClient(page, worker.url, { shared: true });
      await makeClient(second, worker.url, { shared: true });
      await logIn(page, user);
      const tokens = await held(second);
      assert.ok(tokens, "the second tab reads the tokens from localStorage");
      await expireAccess();
      refreshes.length = 0;
      const at = Date.now() + 300;
      const answers = await Promise.all([dashboardAt(page, at), dashboardAt(second, at)]);
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200],
        JSON.stringify(answers),
      );
      assert.deepEqual(refreshes, [tokens.refresh], "one /token/refresh/ in total");
      assert.deepEqual(await held(second), await held(page));
      await page.evaluate(() => window.client.clearTokens());
      await second.close();
      pages.pop();
    },
  );

  await step("a spent refresh token: refresh refused (401), tokens forgotten, logout fired, ApiError 401", async () => {
    await makeClient(page, worker.url);
    await logIn(page, user);
    const tokens = await held(page);
    // Spend the refresh token outside the browser; the SDK keeps its copy.
    const direct = await fetch(`${worker.url}/token/refresh/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: tokens.refresh }),
    });
    assert.equal(direct.status, 200);
    await expireAccess();
    refreshes.length = 0;
    const answer = await dashboardAt(page);
    assert.deepEqual(answer, { error: "ApiError", status: 401, body: BLACKLISTED, apiError: true });
    assert.deepEqual(refreshes, [tokens.refresh], "exactly one refresh, refused");
    assert.equal(await held(page), null, "the tokens are forgotten");
    assert.deepEqual(await page.evaluate(() => window.logouts), ["refresh_refused"]);
    // Without tokens a further call sends no refresh at all.
    const again = await dashboardAt(page);
    assert.equal(again.status, 401);
    assert.equal(refreshes.length, 1, "no second refresh");
  });

  await step("refresh() on demand: two at once send one refresh; without tokens ApiError 401, none sent", async () => {
    await makeClient(page, worker.url);
    await logIn(page, user);
    const before = await held(page);
    refreshes.length = 0;
    const [first, second] = await page.evaluate(() => Promise.all([window.client.refresh(), window.client.refresh()]));
    assert.deepEqual(refreshes, [before.refresh], "one /token/refresh/ with the held refresh token");
    assert.deepEqual(second, first, "both calls resolve to the same tokens");
    assert.notEqual(first.refresh, before.refresh, "the rotated refresh token");
    assert.deepEqual(await held(page), first, "the client holds them");
    await page.evaluate(() => window.client.clearTokens());
    const refused = await page.evaluate(() =>
      window.client.refresh().then(
        () => "resolved",
        (error) => ({ name: error.name, status: error.status, apiError: error instanceof window.sdk.ApiError }),
      ),
    );
    assert.deepEqual(refused, { name: "ApiError", status: 401, apiError: true });
    assert.equal(refreshes.length, 1, "nothing sent without tokens");
  });

  await step("account routes: user, updateUser, sessions, bad login as ApiError 400, logout", async () => {
    await makeClient(page, worker.url);
    await logIn(page, user);
    const seen = await page.evaluate(
      async ({ baseUrl, password }) => {
        const client = window.client;
        const me = await client.user();
        const updated = await client.updateUser({ first_name: "Ann" });
        const sessions = await client.sessions();
        let badLogin;
        try {
          await window.sdk.createClient({ baseUrl }).login("", password);
        } catch (error) {
          badLogin = { name: error.name, status: error.status, body: error.body };
        }
        await client.logout();
        return { me, updated, sessions, badLogin, tokens: await client.tokens(), logouts: window.logouts };
      },
      { baseUrl: worker.url, password: user.password },
    );
    assert.deepEqual(Object.keys(seen.me), ["pk", "username", "email", "first_name", "last_name"]);
    assert.equal(seen.me.email, user.email);
    assert.equal(seen.updated.first_name, "Ann");
    assert.ok(
      seen.sessions.some((session) => session.current),
      "the current session is listed",
    );
    assert.deepEqual(seen.badLogin, {
      name: "ApiError",
      status: 400,
      body: { non_field_errors: ['Must include "email" and "password".'] },
    });
    assert.equal(seen.tokens, null);
    assert.deepEqual(seen.logouts, ["logout"]);
  });

  await step("MFA on: login answers the second step and holds no token; verifyMfa holds the tokens", async () => {
    await makeClient(page, worker.url);
    const { user: mfaUser, secret, at } = await withMfa(worker.url);
    const first = await page.evaluate(({ email, password }) => window.client.login(email, password), mfaUser);
    assert.deepEqual(Object.keys(first), ["ephemeral_token", "mfa_required"]);
    assert.equal(await held(page), null, "no tokens before the second step");
    const second = await page.evaluate(({ token, code }) => window.client.verifyMfa(token, code), {
      token: first.ephemeral_token,
      code: totp(secret, at),
    });
    assert.deepEqual(Object.keys(second).sort(), ["access", "refresh", "user"]);
    assert.equal(second.user.email, mfaUser.email);
    assert.deepEqual(await held(page), { access: second.access, refresh: second.refresh });
    assert.equal((await dashboardAt(page)).status, 200);
  });

  await step("no page errors", async () => {
    assert.deepEqual(pageErrors, []);
  });

  console.log(`all ${count} steps passed`);
} catch (error) {
  process.exitCode = 1;
  console.error(`FAIL: ${current}\n${error.stack ?? error}`);
  if (worker) console.error(`--- worker log (last lines) ---\n${worker.log().split("\n").slice(-40).join("\n")}`);
} finally {
  await context?.close().catch(() => {});
  worker?.stop();
  site.close();
  rmSync(profile, { recursive: true, force: true });
}
