// No password, hash, private key or token ever reaches the worker's log: a full flow runs
// against a worker of its own, whose whole log output is then searched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { call, post, decode, bearer, freshStep, letters, totp } from "./lib.mjs";
import { startWorker, testKeyJwk, d1 } from "./worker.mjs";

test("a full flow, failures included, logs no secret", async () => {
  const key = testKeyJwk();
  const secretKey = `sk-${randomBytes(16).toString("hex")}`;
  const worker = await startWorker({ vars: { JWT_SIGNING_KEYS: JSON.stringify([key]), SECRET_KEY: secretKey } });
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
    // The second factor: its secret, activation token, recovery codes and ephemeral tokens.
    const mfa = (await call(base, "GET", "/mfa/totp/activate/", { headers: bearer(rotated.access) })).body;
    const at = await freshStep();
    const activated = await post(
      base,
      "/mfa/totp/activate/",
      { activation_token: mfa.activation_token, code: totp(mfa.secret, at - 30) },
      { headers: bearer(rotated.access) },
    );
    assert.equal(activated.status, 200, activated.text);
    const ephemeral = (await post(base, "/token/", { email, password })).body.ephemeral_token;
    assert.equal((await post(base, "/mfa/verify/", { ephemeral_token: ephemeral, code: "000000x" })).status, 400);
    const second = await post(base, "/mfa/verify/", { ephemeral_token: ephemeral, code: totp(mfa.secret, at) });
    assert.equal(second.status, 200, second.text);
    const [{ password: hash }] = await d1(worker.state, `SELECT password FROM users WHERE email = '${email}'`);

    const log = worker.log();
    assert.match(log, /POST \/token\/refresh\/ 401/, "the log was captured");
    const secrets = {
      password,
      wrongPassword,
      hash,
      "hash digest": hash.split("$")[3],
      "private key": key.d,
      SECRET_KEY: secretKey,
      "TOTP secret": mfa.secret,
      "activation token": mfa.activation_token,
      "ephemeral token": ephemeral,
    };
    for (const [i, code] of activated.body.recovery_codes.entries()) secrets[`recovery code ${i}`] = code;
    for (const token of [access, refresh, rotated.access, rotated.refresh, second.body.access, second.body.refresh]) {
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
