// docs/accounts.md §7: RFC 8414 / OpenID discovery, userinfo, RFC 7009
// revocation and RFC 7662 introspection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, bearer, bearerError, call, decode, expectReply, loggedIn, post } from "./lib.mjs";
import { createRemoteJWKSet, jwtVerify } from "jose";

const RS = { authorization: "Bearer rs-two-secret" };
const introspect = (token, headers = RS) => post(MAIN, "/token/introspect/", { token }, { headers });

test("both discovery documents name the issuer and its endpoints, cacheable for 300 s", async () => {
  for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
    const reply = await call(MAIN, "GET", path);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get("cache-control"), "public, max-age=300");
    assert.deepEqual(reply.body, {
      issuer: MAIN,
      jwks_uri: `${MAIN}/.well-known/jwks.json`,
      token_endpoint: `${MAIN}/token/`,
      revocation_endpoint: `${MAIN}/token/revoke/`,
      introspection_endpoint: `${MAIN}/token/introspect/`,
      userinfo_endpoint: `${MAIN}/userinfo/`,
      grant_types_supported: ["password", "refresh_token"],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["EdDSA"],
      claims_supported: [
        "sub",
        "preferred_username",
        "email",
        "email_verified",
        "name",
        "user_id",
        "sid",
        "jti",
        "iat",
        "exp",
      ],
    });
  }
});

test("a resource server finds the keys through discovery: jose's createRemoteJWKSet verifies the tokens", async () => {
  const { access } = await loggedIn();
  const discovery = (await call(MAIN, "GET", "/.well-known/openid-configuration")).body;
  // What the README shows a resource server doing, given only the issuer's origin.
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(access, keys, { algorithms: ["EdDSA"] });
  assert.equal(protectedHeader.alg, "EdDSA");
  assert.equal(payload.token_type, "access");
  assert.equal(payload.user_id, decode(access).payload.user_id);
  await assert.rejects(jwtVerify(`${access.slice(0, -4)}AAAA`, keys, { algorithms: ["EdDSA"] }));
});

test("/userinfo/ answers the OpenID claims of the caller", async () => {
  const { access, user } = await loggedIn(MAIN, { username: "ann" });
  await call(MAIN, "PATCH", "/user/", { json: { first_name: "Ann", last_name: "Lee" }, headers: bearer(access) });
  const reply = await call(MAIN, "GET", "/userinfo/", { headers: bearer(access) });
  expectReply(reply, 200, {
    sub: String(decode(access).payload.user_id),
    preferred_username: "ann",
    email: user.email,
    email_verified: false,
    name: "Ann Lee",
  });
  expectReply(
    await call(MAIN, "GET", "/userinfo/", { headers: bearer("garbage") }),
    401,
    bearerError("Token is invalid or expired"),
  );
});

test("/token/revoke/ answers 200 with an empty body for any token", async () => {
  for (const body of [{ token: "garbage" }, { token: "" }, { token: "a.b.c" }, { token: 5 }, {}]) {
    const reply = await post(MAIN, "/token/revoke/", body);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.text, "");
  }
  const form = await call(MAIN, "POST", "/token/revoke/", {
    body: "token=x&token_type_hint=refresh_token",
    type: "application/x-www-form-urlencoded",
  });
  assert.equal(form.status, 200);
});

test("revoking a refresh token ends its login; revoking an access token ends its session", async () => {
  const first = await loggedIn();
  assert.equal(
    (await post(MAIN, "/token/revoke/", { token: first.refresh, token_type_hint: "refresh_token" })).status,
    200,
  );
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: first.refresh })).status, 401);
  const second = await loggedIn();
  assert.equal((await post(MAIN, "/token/revoke/", { token: second.access })).status, 200);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: second.refresh })).status, 401);
});

test("introspection needs one of the resource servers' secrets", async () => {
  const { access } = await loggedIn();
  expectReply(await introspect(access, {}), 401, { detail: "Authentication credentials were not provided." });
  expectReply(await introspect(access, { authorization: "Bearer wrong" }), 401, {
    detail: "Incorrect authentication credentials.",
  });
  assert.equal((await introspect(access, { authorization: "Bearer rs-one-secret" })).status, 200);
});

test("an active token introspects with its claims; an inactive one as active false", async () => {
  const { access, refresh } = await loggedIn();
  const claims = decode(access).payload;
  const reply = await introspect(access);
  expectReply(reply, 200, {
    active: true,
    token_type: "access",
    sub: String(claims.user_id),
    user_id: claims.user_id,
    username: "alice",
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    sid: claims.sid,
  });
  assert.equal(reply.headers.get("cache-control"), "no-store");
  assert.equal((await introspect(refresh)).body.token_type, "refresh");
  expectReply(await introspect("garbage"), 200, { active: false });
  await post(MAIN, "/logout/", { refresh });
  // Logout ended the session: its access token is inactive too.
  expectReply(await introspect(access), 200, { active: false });
  expectReply(await introspect(refresh), 200, { active: false });
});
