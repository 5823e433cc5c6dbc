// No password, hash, private key or token ever reaches the worker's log: a full flow runs
// against a worker of its own, whose whole log output is then searched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { call, post, decode, bearer, letters } from "./lib.mjs";
import { startWorker, testKeyJwk, d1 } from "./worker.mjs";

test("a full flow, failures included, logs no secret", async () => {
  const key = testKeyJwk();
  const worker = await startWorker({ vars: { JWT_SIGNING_KEYS: JSON.stringify([key]) } });
  try {
    const base = worker.url;
    const email = `logcheck.${letters()}@example.com`;
    const password = `Pw-${randomBytes(12).toString("hex")}`;
    const wrongPassword = `Wrong-${randomBytes(12).toString("hex")}`;
    assert.equal(
      (await post(base, "/register/", { email, username: "logcheck", password, password2: password })).status,
      201,
    );
    assert.equal((await post(base, "/token/", { email, password: wrongPassword })).status, 401);
    const { access, refresh } = (await post(base, "/token/", { email, password })).body;
    const rotated = (await post(base, "/token/refresh/", { refresh })).body;
    assert.equal((await post(base, "/token/refresh/", { refresh })).status, 401);
    assert.equal((await call(base, "GET", "/dashboard/", { headers: bearer(access) })).status, 200);
    assert.equal((await call(base, "GET", "/dashboard/", { headers: bearer(`${access}x`) })).status, 401);
    assert.equal((await post(base, "/token/verify/", { token: rotated.access })).status, 200);
    assert.equal((await post(base, "/token/blacklist/", { refresh: rotated.refresh })).status, 200);
    assert.equal((await call(base, "POST", "/token/blacklist/all/", { headers: bearer(access) })).status, 200);
    assert.equal(
      (await call(base, "POST", "/token/", { body: `{"password":"${password}"`, type: "application/json" })).status,
      400,
    );
    const [{ password: hash }] = await d1(worker.state, `SELECT password FROM users WHERE email = '${email}'`);

    const log = worker.log();
    assert.match(log, /POST \/token\/refresh\/ 401/, "the log was captured");
    const secrets = {
      password,
      wrongPassword,
      hash,
      "hash digest": hash.split("$")[3],
      "private key": key.d,
    };
    for (const token of [access, refresh, rotated.access, rotated.refresh]) {
      const [, payload, signature] = token.split(".");
      Object.assign(secrets, {
        [`token ${decode(token).payload.jti}`]: token,
        [`payload of ${decode(token).payload.jti}`]: payload,
        [`signature of ${decode(token).payload.jti}`]: signature,
      });
    }
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!log.includes(value), `the log contains the ${name}`);
    }
  } finally {
    worker.stop();
  }
});
