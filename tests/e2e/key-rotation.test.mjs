// docs/contract.md §3.3: during a key rollover every listed key is published and accepted, and the
// key JWT_SIGNING_KID names signs. The rotation worker lists [old, new] and signs with new.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { ROTATION, call, expectReply, loggedIn, decode, forge, now, bearer, bearerError } from "./lib.mjs";
import { thumbprint } from "./worker.mjs";

const [oldKey, newKey] = JSON.parse(process.env.E2E_ROTATION_KEYS);
const jwk = ({ x }) => ({ kty: "OKP", crv: "Ed25519", x, kid: thumbprint({ x }), alg: "EdDSA", use: "sig" });

function accessToken(key, userId, kid = thumbprint(key)) {
  const t = now();
  return forge(
    { typ: "JWT", alg: "EdDSA", kid },
    { token_type: "access", exp: t + 300, iat: t, jti: randomBytes(16).toString("hex"), user_id: userId },
    key,
  );
}

test("the JWKS publishes every listed key, the signing key first", async () => {
  expectReply(await call(ROTATION, "GET", "/.well-known/jwks.json"), 200, { keys: [jwk(newKey), jwk(oldKey)] });
});

test("new tokens are signed by the selected key", async () => {
  const { access, refresh } = await loggedIn(ROTATION);
  assert.equal(decode(access).header.kid, thumbprint(newKey));
  assert.equal(decode(refresh).header.kid, thumbprint(newKey));
  const { payload } = await jwtVerify(access, createRemoteJWKSet(new URL(`${ROTATION}/.well-known/jwks.json`)));
  assert.equal(payload.token_type, "access");
});

test("tokens signed by the previous key stay valid", async () => {
  const { access, user } = await loggedIn(ROTATION, { username: "rolled" });
  const old = accessToken(oldKey, decode(access).payload.user_id);
  expectReply(await call(ROTATION, "GET", "/dashboard/", { headers: bearer(old) }), 200, {
    response: `Hey${user.username}, you are seeing GET response`,
  });
});

test("a token whose kid is unknown, or names a key that did not sign it, is refused", async () => {
  const { access } = await loggedIn(ROTATION);
  const userId = decode(access).payload.user_id;
  const { privateKey } = generateKeyPairSync("ed25519");
  const stranger = privateKey.export({ format: "jwk" });
  for (const token of [accessToken(stranger, userId), accessToken(oldKey, userId, thumbprint(newKey))]) {
    expectReply(
      await call(ROTATION, "GET", "/dashboard/", { headers: bearer(token) }),
      401,
      bearerError("Token is invalid or expired"),
    );
  }
});
