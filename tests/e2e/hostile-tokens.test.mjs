// docs/contract.md §3.2: forged and malformed tokens never select a key and are never accepted.
import { test } from "node:test";
import { generateKeyPairSync } from "node:crypto";
import {
  MAIN,
  call,
  post,
  expectReply,
  loggedIn,
  decode,
  forge,
  forgeHs256,
  b64url,
  now,
  bearer,
  bearerError,
  INVALID,
} from "./lib.mjs";

const invalidBearer = bearerError("Token is invalid or expired");

async function expectRefused(token) {
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(token) }), 401, invalidBearer);
  expectReply(await post(MAIN, "/token/verify/", { token }), 401, INVALID);
}

async function claimsOfAFreshUser() {
  const { access } = await loggedIn();
  return decode(access);
}

test("alg none in any spelling is refused", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  for (const alg of ["none", "None", "NONE"]) {
    const unsigned = `${b64url(JSON.stringify({ ...header, alg }))}.${b64url(JSON.stringify(payload))}.`;
    await expectRefused(unsigned);
  }
});

test("HS256 signed with the public key is refused", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  const jwks = (await call(MAIN, "GET", "/.well-known/jwks.json")).body;
  const publicKey = jwks.keys[0];
  for (const secret of [Buffer.from(publicKey.x, "base64url"), JSON.stringify(publicKey), publicKey.x]) {
    await expectRefused(forgeHs256({ ...header, alg: "HS256" }, payload, secret));
  }
});

test("a token signed by a foreign key is refused, whatever kid it claims", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  const { privateKey } = generateKeyPairSync("ed25519");
  const foreign = privateKey.export({ format: "jwk" });
  await expectRefused(forge(header, payload, foreign));
  await expectRefused(forge({ ...header, jwk: { kty: "OKP", crv: "Ed25519", x: foreign.x } }, payload, foreign));
});

test("unknown, missing and hostile kids are refused", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  for (const kid of ["nope", "../../etc/passwd", "' OR 1=1 --", "https://evil.example/jwks.json", "k".repeat(10_000)]) {
    await expectRefused(forge({ ...header, kid }, payload));
  }
  const { kid: _, ...withoutKid } = header;
  await expectRefused(forge(withoutKid, payload));
});

test("a tampered header, payload or signature is refused", async () => {
  const { access } = await loggedIn();
  const [h, p, s] = access.split(".");
  const { header, payload } = decode(access);
  await expectRefused(`${b64url(JSON.stringify({ ...header, typ: "at+jwt" }))}.${p}.${s}`);
  await expectRefused(`${h}.${b64url(JSON.stringify({ ...payload, exp: payload.exp + 3600 }))}.${s}`);
  await expectRefused(`${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BA" : "AA"}`);
  await expectRefused(`${h}.${p}`);
  await expectRefused(`${h}.${p}.${s}.${s}`);
  await expectRefused(`${h}.${p}.${s}==`);
  await expectRefused(`${h}.${p}.${s.replaceAll("-", "+").replaceAll("_", "/")}x`);
});

test("non-integer, negative, huge and missing exp and a future nbf are refused", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  for (const exp of ["soon", -1, 1e300, null]) {
    await expectRefused(forge(header, { ...payload, exp }));
  }
  const { exp: _, ...noExp } = payload;
  await expectRefused(forge(header, noExp));
  await expectRefused(forge(header, { ...payload, nbf: now() + 60 }));
});

test("a 100 KB token is refused", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  await expectRefused(`${forge(header, { ...payload, junk: "j".repeat(100_000) }).slice(0, 100_000)}x`);
});

test("jku, x5u and jwk headers are ignored, never fetched", async () => {
  const { header, payload } = await claimsOfAFreshUser();
  const token = forge({ ...header, jku: "http://127.0.0.1:1/jwks", x5u: "http://127.0.0.1:1/cert" }, payload);
  expectReply(await post(MAIN, "/token/verify/", { token }), 200, {});
});
