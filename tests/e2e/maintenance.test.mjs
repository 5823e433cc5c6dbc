// Rehash on login, UPDATE_LAST_LOGIN, and the scheduled cleanup of expired rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { MAIN, MAIN_STATE, SEED, SEED_STATE, call, post, newUser, tokensFor, decode, now } from "./lib.mjs";
import { d1 } from "./worker.mjs";

const storedUser = async (state, email) =>
  (await d1(state, `SELECT password, last_login FROM users WHERE email = '${email}'`))[0];

test("a login re-hashes a password stored with another iteration count", async () => {
  const user = await newUser(MAIN);
  const digest = pbkdf2Sync(user.password, "oldsalt", 1000, 32, "sha256").toString("base64");
  await d1(
    MAIN_STATE,
    `UPDATE users SET password = 'pbkdf2_sha256$1000$oldsalt$${digest}' WHERE email = '${user.email}'`,
  );
  await tokensFor(MAIN, user);
  const { password } = await storedUser(MAIN_STATE, user.email);
  assert.match(password, /^pbkdf2_sha256\$600000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$/);
  await tokensFor(MAIN, user);
  assert.equal((await storedUser(MAIN_STATE, user.email)).password, password);
});

test("new passwords are stored in Django's format with the configured iterations", async () => {
  const user = await newUser(MAIN);
  assert.match((await storedUser(MAIN_STATE, user.email)).password, /^pbkdf2_sha256\$600000\$/);
});

test("last_login is left alone by default and stamped with UPDATE_LAST_LOGIN=true", async () => {
  const plain = await newUser(MAIN);
  await tokensFor(MAIN, plain);
  assert.equal((await storedUser(MAIN_STATE, plain.email)).last_login, null);
  const stamped = await newUser(SEED);
  const before = now();
  await tokensFor(SEED, stamped);
  const { last_login: lastLogin } = await storedUser(SEED_STATE, stamped.email);
  const seconds = Date.parse(`${lastLogin.replace(" ", "T")}Z`) / 1000;
  assert.ok(Math.abs(seconds - before) <= 5, lastLogin);
});

test("the scheduled cleanup deletes expired refresh tokens and ended throttle windows only", async () => {
  const t = now();
  const tag = `cleanup${process.pid}`;
  await d1(
    MAIN_STATE,
    `INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES
       ('${tag}-old', '${tag}-old', 1, ${t - 7200}),
       ('${tag}-recent', '${tag}-recent', 1, ${t - 60}),
       ('${tag}-live', '${tag}-live', 1, ${t + 3600});
     INSERT INTO login_failures (bucket, window_start, failures) VALUES
       ('client:${tag}-ended', ${t - 600}, 3), ('client:${tag}-open', ${t}, 3);`,
  );
  const reply = await call(MAIN, "GET", "/__scheduled?cron=17+*+*+*+*");
  assert.equal(reply.status, 200);
  const tokens = await d1(MAIN_STATE, `SELECT jti FROM refresh_tokens WHERE jti LIKE '${tag}-%' ORDER BY jti`);
  assert.deepEqual(
    tokens.map((r) => r.jti),
    [`${tag}-live`, `${tag}-recent`],
  );
  const windows = await d1(MAIN_STATE, `SELECT bucket FROM login_failures WHERE bucket LIKE 'client:${tag}-%'`);
  assert.deepEqual(
    windows.map((r) => r.bucket),
    [`client:${tag}-open`],
  );
});

test("the scheduled cleanup deletes expired MFA logins and spent passkey challenges only", async () => {
  const t = now();
  const tag = `cleanup${process.pid}`;
  await d1(
    MAIN_STATE,
    `INSERT INTO mfa_challenges (digest, user_id, expires_at) VALUES
       ('${tag}-ended', 1, ${t - 1}), ('${tag}-live', 1, ${t + 300});
     INSERT INTO passkey_challenges (digest, expires_at) VALUES
       ('${tag}-ended', ${t - 1}), ('${tag}-live', ${t + 300});`,
  );
  assert.equal((await call(MAIN, "GET", "/__scheduled?cron=17+*+*+*+*")).status, 200);
  for (const table of ["mfa_challenges", "passkey_challenges"]) {
    const rows = await d1(MAIN_STATE, `SELECT digest FROM ${table} WHERE digest LIKE '${tag}-%'`);
    assert.deepEqual(
      rows.map((r) => r.digest),
      [`${tag}-live`],
      table,
    );
  }
});

test("refresh tokens keep working across a cleanup", async () => {
  const user = await newUser(MAIN);
  const { refresh } = await tokensFor(MAIN, user);
  assert.equal((await call(MAIN, "GET", "/__scheduled?cron=17+*+*+*+*")).status, 200);
  const reply = await post(MAIN, "/token/refresh/", { refresh });
  assert.equal(reply.status, 200);
  assert.equal(decode(reply.body.refresh).payload.user_id, decode(refresh).payload.user_id);
});
