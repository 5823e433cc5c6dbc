// Issue-5 hostile inputs beyond the contract rows: more forged headers and claims, hostile
// bodies and hostile headers. Every case gets the contract's status and JSON body.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
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
  bearer,
  bearerError,
  INVALID,
} from "./lib.mjs";

const invalidBearer = bearerError("Token is invalid or expired");
const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };

test("RS256 and HS512 headers never select a key", async () => {
  const { access } = await loggedIn();
  const { header, payload } = decode(access);
  const jwks = (await call(MAIN, "GET", "/.well-known/jwks.json")).body;
  const rs256 = `${b64url(JSON.stringify({ ...header, alg: "RS256" }))}.${access.split(".")[1]}.${access.split(".")[2]}`;
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(rs256) }), 401, invalidBearer);
  const hs512 = (secret) => {
    const token = forgeHs256({ ...header, alg: "HS512" }, payload, secret);
    return token;
  };
  for (const secret of [Buffer.from(jwks.keys[0].x, "base64url"), JSON.stringify(jwks.keys[0])]) {
    expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(hs512(secret)) }), 401, invalidBearer);
  }
});

test("duplicated members in a signed header or payload make the token invalid", async () => {
  const { access } = await loggedIn();
  const { header, payload } = decode(access);
  const h = JSON.stringify(header);
  const p = JSON.stringify(payload);
  const duplicateAlg = `{"alg":"none",${h.slice(1)}`;
  const duplicateType = `{"token_type":"refresh",${p.slice(1)}`;
  for (const token of [forge(duplicateAlg, p), forge(h, duplicateType)]) {
    expectReply(await post(MAIN, "/token/verify/", { token }), 401, INVALID);
  }
});

test("a signed access token without user_id identifies nobody", async () => {
  const { access } = await loggedIn();
  const { header, payload } = decode(access);
  const { user_id: _, ...withoutUser } = payload;
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer(forge(header, withoutUser)) }), 401, {
    detail: "Token contained no recognizable user identification",
    code: "token_not_valid",
  });
});

test("a refresh token without user_id has no active account", async () => {
  const { refresh } = await loggedIn();
  const { header, payload } = decode(refresh);
  const { user_id: _, ...withoutUser } = payload;
  expectReply(await post(MAIN, "/token/refresh/", { refresh: forge(header, withoutUser) }), 401, {
    detail: "No active account found for the given token.",
    code: "no_active_account",
  });
});

test("UTF-16 and raw NUL bytes are parse errors", async () => {
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"email":"a"}', "utf16le")]);
  for (const body of [utf16, Buffer.from('{"email":"a\0b"}'), Buffer.from('{\0"email":"a"}')]) {
    const reply = await call(MAIN, "POST", "/token/", { body, type: "application/json" });
    assert.equal(reply.status, 400, reply.text);
    assert.ok(reply.body.detail.startsWith("JSON parse error - "));
  }
});

test("odd casings of the scheme are not Bearer credentials", async () => {
  const { access } = await loggedIn();
  for (const scheme of ["BEARER", "bearer", "Bearer:", "Bear"]) {
    expectReply(
      await call(MAIN, "GET", "/dashboard/", { headers: { authorization: `${scheme} ${access}` } }),
      401,
      NOT_PROVIDED,
    );
  }
});

test("two Authorization headers are one malformed header", async () => {
  const { access } = await loggedIn();
  const reply = await new Promise((resolve, reject) => {
    const request = http.request(`${MAIN}/dashboard/`, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode, body }));
    });
    request.on("error", reject);
    request.setHeader("Authorization", [`Bearer ${access}`, `Bearer ${access}`]);
    request.end();
  });
  assert.equal(reply.status, 401);
  assert.equal(
    reply.body,
    '{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}',
  );
});

test("a 60 KB Authorization header is an invalid token, and the server keeps answering", async () => {
  expectReply(await call(MAIN, "GET", "/dashboard/", { headers: bearer("x".repeat(60_000)) }), 401, invalidBearer);
  expectReply(await call(MAIN, "GET", "/nowhere"), 404, { detail: "Not found." });
});
