// Tokens of the running worker are verified by independent JWT libraries that fetch its JWKS
// over HTTP (jose from npm, PyJWT with cryptography from PyPI), and tokens those libraries sign
// with the worker's key are accepted, while any other key is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SignJWT, createRemoteJWKSet, importJWK, jwtVerify } from "jose";
import { MAIN, KEY, call, expectReply, loggedIn, decode, now, bearer, bearerError } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.E2E_PYTHON;
const jwksUrl = `${MAIN}/.well-known/jwks.json`;

async function pyjwt(...args) {
  const { stdout } = await promisify(execFile)(python, [path.join(here, "pyjwt_interop.py"), ...args]);
  return stdout.trim();
}

const kidOf = async () => (await call(MAIN, "GET", "/.well-known/jwks.json")).body.keys[0].kid;

function accessClaims(userId) {
  const t = now();
  return { token_type: "access", exp: t + 300, iat: t, jti: randomBytes(16).toString("hex"), user_id: userId };
}

test("jose verifies access and refresh tokens against the worker's JWKS", async () => {
  const login = await loggedIn(MAIN, { username: "jose" });
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  for (const token of [login.access, login.refresh]) {
    // Rejects unless the signature verifies; a token without a kid would verify too (the JWKS
    // has one key), so the kid is checked.
    const { protectedHeader } = await jwtVerify(token, jwks, { algorithms: ["EdDSA"] });
    assert.equal(protectedHeader.kid, await kidOf());
  }
});

test("PyJWT verifies access and refresh tokens against the worker's JWKS", async () => {
  const login = await loggedIn(MAIN, { username: "pyjwt" });
  for (const token of [login.access, login.refresh]) {
    // Exits non-zero unless the signature verifies with the JWKS key the token's kid names.
    await pyjwt("verify", jwksUrl, token);
  }
});

test("a token jose signs with the worker's key is accepted by the dashboard", async () => {
  const login = await loggedIn(MAIN, { username: "signedbyjose" });
  const key = await importJWK({ ...KEY, alg: "EdDSA" }, "EdDSA");
  const token = await new SignJWT(accessClaims(decode(login.access).payload.user_id))
    .setProtectedHeader({ typ: "JWT", alg: "EdDSA", kid: await kidOf() })
    .sign(key);
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(token) }), 200, {
    response: "Heysignedbyjose, you are seeing GET response",
  });
});

test("a token PyJWT signs with the worker's key is accepted by the dashboard", async () => {
  const login = await loggedIn(MAIN, { username: "signedbypyjwt" });
  const claims = accessClaims(decode(login.access).payload.user_id);
  const token = await pyjwt("sign", JSON.stringify(KEY), await kidOf(), JSON.stringify(claims));
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(token) }), 200, {
    response: "Heysignedbypyjwt, you are seeing GET response",
  });
});

test("tokens jose and PyJWT sign with any other key are refused", async () => {
  const login = await loggedIn(MAIN);
  const claims = accessClaims(decode(login.access).payload.user_id);
  const { privateKey } = generateKeyPairSync("ed25519");
  const other = privateKey.export({ format: "jwk" });
  const kid = await kidOf();
  const byJose = await new SignJWT(claims)
    .setProtectedHeader({ typ: "JWT", alg: "EdDSA", kid })
    .sign(await importJWK({ ...other, alg: "EdDSA" }, "EdDSA"));
  const byPyjwt = await pyjwt("sign", JSON.stringify(other), kid, JSON.stringify(claims));
  for (const token of [byJose, byPyjwt]) {
    expectReply(
      await call(MAIN, "GET", "/dashboard/", { headers: bearer(token) }),
      401,
      bearerError("Token is invalid or expired"),
    );
  }
});
