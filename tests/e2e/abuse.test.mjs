// Abuse and storage safety (docs/contract.md §4.2, §5, §6): a failed login stores the same
// few bytes whatever its input; IPv6 clients are throttled by their /64; a login has an absolute
// lifetime; logins per user are capped; failed logins take the same time whatever failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import {
  BLACKLISTED,
  INVALID,
  LIMITS,
  LIMITS_STATE,
  MAIN,
  MAIN_STATE,
  THROTTLE,
  call,
  expectReply,
  newUser,
  post,
  tokensFor,
  uniqueEmail,
} from "./lib.mjs";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { d1 } from "./worker.mjs";

const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const wrongLogin = (base, email, address) =>
  call(base, "POST", "/token/", { json: { email, password: "wrong" }, headers: { "cf-connecting-ip": address } });

/** The bytes local D1 keeps on disk for a worker: its SQLite files, write-ahead log included. */
function databaseBytes(state) {
  const folder = path.join(state, "v3", "d1");
  return readdirSync(folder, { recursive: true })
    .map((name) => path.join(folder, name))
    .filter((file) => statSync(file).isFile())
    .reduce((sum, file) => sum + statSync(file).size, 0);
}

test("failed logins with 1 MiB e-mails grow the database by a small constant, not by their size", async () => {
  const address = `198.51.100.${process.pid % 250}`;
  const before = databaseBytes(MAIN_STATE);
  for (const letter of ["a", "b", "c"]) {
    const email = `${letter.repeat(1_000_000)}@example.com`;
    expectReply(await wrongLogin(MAIN, email, address), 401, NO_ACCOUNT);
  }
  const grown = databaseBytes(MAIN_STATE) - before;
  // Keys made of the input would add 3 MB. Fixed-size keys add a few pages per transaction
  // (about 12 KiB of write-ahead log each, measured), whatever the input's size.
  assert.ok(grown <= 65_536, `the database grew by ${grown} bytes`);
  const [{ longest }] = await d1(MAIN_STATE, "SELECT MAX(LENGTH(bucket)) AS longest FROM login_failures");
  assert.equal(longest, 45);
});

test("IPv6 clients share one client bucket per /64 and not beyond it", async () => {
  // The throttle worker allows 4 failures per client and 2 per account in an 8 s window.
  const network = `2001:db8:${(process.pid & 0xffff).toString(16)}`;
  for (let host = 1; host <= 4; host++) {
    const reply = await wrongLogin(THROTTLE, `v6-${host}-${process.pid}@example.com`, `${network}:1::${host}`);
    expectReply(reply, 401, NO_ACCOUNT);
  }
  const sameNetwork = await wrongLogin(THROTTLE, `v6-5-${process.pid}@example.com`, `${network}:1:ffff:ffff:ffff:ffff`);
  assert.equal(sameNetwork.status, 429);
  assert.match(sameNetwork.body.detail, /^Request was throttled\. Expected available in \d seconds?\.$/);
  const nextNetwork = await wrongLogin(THROTTLE, `v6-6-${process.pid}@example.com`, `${network}:2::1`);
  expectReply(nextNetwork, 401, NO_ACCOUNT);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("a login cannot be refreshed past REFRESH_FAMILY_MAX_AGE_SECONDS, however often it is refreshed", async () => {
  // The limits worker lets a login live 4 s.
  const user = await newUser(LIMITS);
  let { refresh } = await tokensFor(LIMITS, user);
  const started = Date.now();
  for (const at of [1_500, 3_000]) {
    await sleep(started + at - Date.now());
    const reply = await post(LIMITS, "/token/refresh/", { refresh });
    assert.equal(reply.status, 200, reply.text);
    refresh = reply.body.refresh;
  }
  await sleep(started + 5_200 - Date.now());
  expectReply(await post(LIMITS, "/token/refresh/", { refresh }), 401, INVALID);
  // The family was revoked with it.
  expectReply(await post(LIMITS, "/token/verify/", { token: refresh }), 401, BLACKLISTED);
  assert.equal((await post(LIMITS, "/token/", { email: user.email, password: user.password })).status, 200);
});

test("a login beyond MAX_SESSIONS_PER_USER revokes the user's least recently refreshed login", async () => {
  // The limits worker keeps two logins per user. Logins a second apart, so none tie.
  const user = await newUser(LIMITS);
  const first = await tokensFor(LIMITS, user);
  await sleep(1_100);
  const second = await tokensFor(LIMITS, user);
  await sleep(1_100);
  const third = await tokensFor(LIMITS, user);
  expectReply(await post(LIMITS, "/token/refresh/", { refresh: first.refresh }), 401, BLACKLISTED);
  for (const live of [second, third]) {
    assert.equal((await post(LIMITS, "/token/refresh/", { refresh: live.refresh })).status, 200);
  }
});

test("failed logins take the same time for an unknown e-mail, a wrong password and an imported slow hash", async (t) => {
  // The limits worker hashes new passwords with 10 000 iterations and accepts stored hashes up
  // to 40 000: every failure must cost 40 000, so no class of account stands out.
  const native = await newUser(LIMITS);
  const imported = uniqueEmail("imported");
  const salt = "importedsalt";
  const digest = pbkdf2Sync("x7#Lq9!vRt2m", salt, 40_000, 32, "sha256").toString("base64");
  await d1(
    LIMITS_STATE,
    `INSERT INTO users (email, username, password) VALUES ('${imported}', 'imported', 'pbkdf2_sha256$40000$${salt}$${digest}')`,
  );
  const classes = { unknown: uniqueEmail("nobody"), native: native.email, imported };
  const times = { unknown: [], native: [], imported: [] };
  for (let round = 0; round < 100; round++) {
    // A fresh order each round: a position's own cost (what the previous request left to the
    // runtime or the database) falls on every class alike.
    const order = Object.entries(classes).sort(() => Math.random() - 0.5);
    for (const [name, email] of order) {
      const start = performance.now();
      const reply = await post(LIMITS, "/token/", { email, password: "wrong password" });
      times[name].push(performance.now() - start);
      expectReply(reply, 401, NO_ACCOUNT);
    }
  }
  const median = (values) => values.toSorted((a, b) => a - b)[values.length >> 1];
  const medians = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)]));
  const spread = Math.max(...Object.values(medians)) / Math.min(...Object.values(medians));
  t.diagnostic(`median ms per class: ${JSON.stringify(medians)}`);
  // Unpadded, the imported hash costs four times the others; padded, they differ by noise.
  assert.ok(spread < 1.25, `median ms per class: ${JSON.stringify(medians)}`);
});

const THROTTLED_SIGN_UP = /^Request was throttled\. Expected available in (\d+) seconds?\.$/;

/** Signs up from `address` on the THROTTLE worker (10 sign-ups per client and hour). */
const signUp = (path, address, form = {}) =>
  call(THROTTLE, "POST", path, { json: form, headers: { "cf-connecting-ip": address } });

test("a client gets ten sign-up attempts an hour on either route, then 429 with Retry-After", async () => {
  const address = `203.0.113.${process.pid % 250}`;
  for (let i = 0; i < 5; i++) assert.equal((await signUp("/register/", address)).status, 400);
  for (let i = 0; i < 5; i++) assert.equal((await signUp("/registration/", address)).status, 400);
  for (const path of ["/register/", "/api/registration"]) {
    const email = uniqueEmail("signup");
    const form = { email, username: "u", password: "x7#Lq9!vRt2m", password2: "x7#Lq9!vRt2m" };
    const reply = await signUp(path, address, form);
    assert.equal(reply.status, 429, reply.text);
    const [, wait] = reply.body.detail.match(THROTTLED_SIGN_UP);
    assert.equal(reply.headers.get("retry-after"), wait);
    assert.ok(Number(wait) > 3500 && Number(wait) <= 3600, wait);
  }
  // Another client is not affected.
  assert.equal((await signUp("/register/", `203.0.114.${process.pid % 250}`)).status, 400);
});

test("IPv6 clients share one sign-up quota per /64", async () => {
  const prefix = `2001:db8:${(process.pid % 65535).toString(16)}:5`;
  for (let i = 0; i < 10; i++) assert.equal((await signUp("/register/", `${prefix}::${i + 1}`)).status, 400);
  assert.equal((await signUp("/register/", `${prefix}:ffff::1`)).status, 429);
  assert.equal((await signUp("/register/", `${prefix.slice(0, -1)}6::1`)).status, 400);
});

test("by default sign-ups are not limited, as the contract says", async () => {
  const address = `203.0.115.${process.pid % 250}`;
  for (let i = 0; i < 25; i++) {
    const reply = await call(MAIN, "POST", "/register/", { json: {}, headers: { "cf-connecting-ip": address } });
    assert.equal(reply.status, 400, `attempt ${i + 1}: ${reply.text}`);
  }
});
