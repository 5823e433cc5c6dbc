// docs/contract.md §1, §2.1, §2.4, §2.5, §4.8: routes, methods, OPTIONS, CORS and common headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, KEY, call, post, expectReply, loggedIn, bearer } from "./lib.mjs";
import { thumbprint } from "./worker.mjs";

const NOT_FOUND = { detail: "Not found." };
const REQUIRED = "This field is required.";
const PARSES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"];

function assertSecurityHeaders(headers) {
  assert.equal(headers.get("x-frame-options"), "DENY");
  assert.equal(headers.get("x-content-type-options"), "nosniff");
  assert.equal(headers.get("referrer-policy"), "same-origin");
  assert.equal(headers.get("cross-origin-opener-policy"), "same-origin");
}

test("an unknown path answers the JSON 404 with the common headers", async () => {
  for (const [method, path] of [
    ["GET", "/nowhere"],
    ["POST", "/admin/"],
    ["GET", "/api/"],
    ["DELETE", "/Token/"],
  ]) {
    const reply = await call(MAIN, method, path);
    expectReply(reply, 404, NOT_FOUND);
    assert.equal(reply.headers.get("content-type"), "application/json");
    assert.equal(reply.headers.get("vary"), "Accept, origin");
    assert.equal(reply.headers.get("allow"), null);
    assertSecurityHeaders(reply.headers);
  }
});

test("every route answers at the root and under /api, with or without the trailing slash", async () => {
  for (const path of ["/token/", "/token", "/api/token/", "/api/token", "/token/?next=/x"]) {
    const reply = await post(MAIN, path, {});
    expectReply(reply, 400, { email: [REQUIRED], password: [REQUIRED] });
  }
  for (const path of ["/token/refresh", "/api/token/refresh/"]) {
    expectReply(await post(MAIN, path, {}), 400, { refresh: [REQUIRED] });
  }
  for (const path of ["/token/verify", "/api/token/verify/"]) {
    expectReply(await post(MAIN, path, {}), 400, { token: [REQUIRED] });
  }
  for (const path of ["/token/blacklist", "/api/token/blacklist/"]) {
    expectReply(await post(MAIN, path, {}), 400, { refresh: [REQUIRED] });
  }
  for (const path of ["/dashboard", "/api/dashboard/", "/token/blacklist/all", "/api/token/blacklist/all/"]) {
    expectReply(await call(MAIN, "GET", path), 401, { detail: "Authentication credentials were not provided." });
  }
});

test("a method a route does not take is 405 with Allow", async () => {
  const reply = await call(MAIN, "GET", "/token/");
  expectReply(reply, 405, { detail: 'Method "GET" not allowed.' });
  assert.equal(reply.headers.get("allow"), "POST, OPTIONS");
  for (const method of ["PUT", "PATCH", "DELETE"]) {
    expectReply(await call(MAIN, method, "/register/"), 405, { detail: `Method "${method}" not allowed.` });
  }
});

test("HEAD is never mapped to GET: 405 with Allow", async () => {
  const reply = await call(MAIN, "HEAD", "/.well-known/jwks.json");
  assert.equal(reply.status, 405);
  assert.equal(reply.headers.get("allow"), "GET");
});

test("OPTIONS answers the route's metadata", async () => {
  const reply = await call(MAIN, "OPTIONS", "/register/");
  assert.equal(reply.headers.get("allow"), "POST, OPTIONS");
  const field = (type, label, max) => ({ type, required: true, read_only: false, label, max_length: max });
  expectReply(reply, 200, {
    name: "Register",
    description: "",
    renders: ["application/json"],
    parses: PARSES,
    actions: {
      POST: {
        email: field("email", "Email", 254),
        username: field("string", "Username", 100),
        password: field("string", "Password", 4096),
        password2: field("string", "Password2", 4096),
      },
    },
  });
  expectReply(await call(MAIN, "OPTIONS", "/api/token"), 200, {
    name: "My Token Obtain Pair",
    description: "",
    renders: ["application/json"],
    parses: PARSES,
    actions: {
      POST: {
        email: { type: "string", required: true, read_only: false, label: "Email" },
        password: field("string", "Password", 4096),
      },
    },
  });
  expectReply(await call(MAIN, "OPTIONS", "/token/refresh/"), 200, {
    name: "Token Refresh",
    description:
      "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
    renders: ["application/json"],
    parses: PARSES,
    actions: {
      POST: {
        refresh: { type: "string", required: true, read_only: false, label: "Refresh" },
        access: { type: "string", required: false, read_only: true, label: "Access" },
      },
    },
  });
  expectReply(await call(MAIN, "OPTIONS", "/token/verify/"), 200, {
    name: "Token Verify",
    description: "Takes a token and indicates if it is valid.",
    renders: ["application/json"],
    parses: PARSES,
    actions: { POST: { token: { type: "string", required: true, read_only: false, label: "Token" } } },
  });
  expectReply(await call(MAIN, "OPTIONS", "/token/blacklist/"), 200, {
    name: "Token Blacklist",
    description: "Takes a token and blacklists it.",
    renders: ["application/json"],
    parses: PARSES,
    actions: { POST: { refresh: { type: "string", required: true, read_only: false, label: "Refresh" } } },
  });
});

test("OPTIONS on a Bearer route authenticates first", async () => {
  expectReply(await call(MAIN, "OPTIONS", "/dashboard/"), 401, {
    detail: "Authentication credentials were not provided.",
  });
  const { access } = await loggedIn();
  const common = { renders: ["application/json"], parses: PARSES };
  expectReply(await call(MAIN, "OPTIONS", "/dashboard/", { headers: bearer(access) }), 200, {
    name: "Dashboard",
    description: "",
    ...common,
  });
  expectReply(await call(MAIN, "OPTIONS", "/token/blacklist/all/", { headers: bearer(access) }), 200, {
    name: "Token Blacklist All",
    description: "",
    ...common,
  });
});

test("a preflight on any path is an empty 200 with the CORS grant", async () => {
  for (const path of ["/token/", "/dashboard/", "/nowhere"]) {
    const reply = await call(MAIN, "OPTIONS", path, {
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, "");
    assert.equal(reply.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(reply.headers.get("vary"), "origin");
    assert.equal(reply.headers.get("access-control-allow-origin"), "*");
    assert.equal(
      reply.headers.get("access-control-allow-headers"),
      "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with",
    );
    assert.equal(reply.headers.get("access-control-allow-methods"), "DELETE, GET, OPTIONS, PATCH, POST, PUT");
    assert.equal(reply.headers.get("access-control-max-age"), "86400");
    assert.equal(reply.headers.get("allow"), null);
    assertSecurityHeaders(reply.headers);
  }
});

test("a preflight without Origin carries no CORS grant", async () => {
  const reply = await call(MAIN, "OPTIONS", "/token/", { headers: { "access-control-request-method": "POST" } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get("access-control-allow-origin"), null);
  assert.equal(reply.headers.get("access-control-allow-methods"), null);
});

test("any request with Origin, errors included, gets Access-Control-Allow-Origin: *", async () => {
  for (const [method, path] of [
    ["POST", "/token/"],
    ["GET", "/nowhere"],
    ["GET", "/dashboard/"],
  ]) {
    const reply = await call(MAIN, method, path, { headers: { origin: "https://app.example" } });
    assert.equal(reply.headers.get("access-control-allow-origin"), "*", path);
    assert.equal(reply.headers.get("access-control-allow-credentials"), null);
  }
  const without = await call(MAIN, "GET", "/nowhere");
  assert.equal(without.headers.get("access-control-allow-origin"), null);
});

test("the JWKS publishes the signing key as a public OKP JWK with its thumbprint", async () => {
  const reply = await call(MAIN, "GET", "/.well-known/jwks.json");
  const kid = thumbprint(KEY);
  expectReply(reply, 200, { keys: [{ kty: "OKP", crv: "Ed25519", x: KEY.x, kid, alg: "EdDSA", use: "sig" }] });
  assert.equal(reply.headers.get("cache-control"), "public, max-age=300");
  assert.equal(reply.headers.get("allow"), "GET");
  expectReply(await call(MAIN, "GET", "/api/.well-known/jwks.json/"), 200, reply.body);
});

test("the JWKS route does not answer OPTIONS or POST", async () => {
  expectReply(await call(MAIN, "OPTIONS", "/.well-known/jwks.json"), 405, { detail: 'Method "OPTIONS" not allowed.' });
  expectReply(await call(MAIN, "POST", "/.well-known/jwks.json"), 405, { detail: 'Method "POST" not allowed.' });
});

test("every kind of answer carries the security headers and Vary", async () => {
  const { access } = await loggedIn();
  const replies = [
    await call(MAIN, "GET", "/dashboard/", { headers: bearer(access) }),
    await post(MAIN, "/token/", {}),
    await post(MAIN, "/token/", { email: "nobody@example.com", password: "x" }),
    await call(MAIN, "PUT", "/token/"),
    await call(MAIN, "POST", "/token/", { body: "x", type: "text/plain" }),
    await call(MAIN, "POST", "/token/", { body: "p".repeat(1_048_577), type: "application/json" }),
    await call(MAIN, "GET", "/.well-known/jwks.json"),
  ];
  assert.deepEqual(
    replies.map((r) => r.status),
    [200, 400, 401, 405, 415, 413, 200],
  );
  for (const reply of replies) {
    assertSecurityHeaders(reply.headers);
    assert.equal(reply.headers.get("vary"), "Accept, origin");
  }
});
