// The OpenAPI document (src/contract/openapi.json, docs/contract.md §1): a valid OpenAPI 3.1 document that covers
// every route of the contract, served unchanged at GET /openapi.json, and matched by the running
// worker: schemathesis (from PyPI, in the test virtualenv) sends generated requests, valid and
// invalid, to every operation and checks each answer's status, content type, headers and body
// against the document.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MAIN, bearer, call, decode, letters, newUser, post, tokensFor, totp, uniqueEmail } from "./lib.mjs";
import { Authenticator } from "./webauthn.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.E2E_PYTHON;
const documentPath = path.resolve(here, "../../src/contract/openapi.json");
const document = JSON.parse(readFileSync(documentPath, "utf8"));
const run = promisify(execFile);

/** The object a `$ref` (or a chain of them) points to inside the document. */
function resolve(node) {
  while (node && typeof node.$ref === "string") {
    assert.match(node.$ref, /^#\//, "local reference");
    node = node.$ref
      .slice(2)
      .split("/")
      .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((parent, token) => parent?.[token], document);
    assert.ok(node !== undefined, "the reference resolves");
  }
  return node;
}

// docs/contract.md §1 and docs/accounts.md §3, §5, §6, §7: every route with its methods (HEAD where it
// answers as GET, OPTIONS where it answers metadata), at the root.
const ROUTES = {
  "/register/": ["post", "options"],
  "/token/": ["post", "options"],
  "/token/refresh/": ["post", "options"],
  "/token/verify/": ["post", "options"],
  "/token/blacklist/": ["post", "options"],
  "/token/blacklist/all/": ["post", "options"],
  "/dashboard/": ["get", "post", "options"],
  "/.well-known/jwks.json": ["get"],
  "/login/": ["post", "options"],
  "/logout/": ["post", "options"],
  "/registration/": ["post", "options"],
  "/registration/verify-email/": ["post", "options"],
  "/registration/resend-email/": ["post", "options"],
  "/user/": ["get", "put", "patch", "head", "options"],
  "/user/delete/": ["post", "options"],
  "/user/events/": ["get", "head", "options"],
  "/password/change/": ["post", "options"],
  "/password/reset/": ["post", "options"],
  "/password/reset/confirm/": ["post", "options"],
  "/password/reset/confirm/{uid}/{token}/": ["post", "options"],
  "/sessions/": ["get", "head", "options"],
  "/sessions/{id}/revoke/": ["post", "options"],
  "/sessions/revoke-others/": ["post", "options"],
  "/.well-known/oauth-authorization-server": ["get"],
  "/.well-known/openid-configuration": ["get"],
  "/userinfo/": ["get", "head", "options"],
  "/token/revoke/": ["post", "options"],
  "/token/introspect/": ["post", "options"],
  "/mfa/verify/": ["post", "options"],
  "/mfa/totp/activate/": ["get", "post", "head", "options"],
  "/mfa/totp/deactivate/": ["post", "options"],
  "/mfa/status/": ["get", "head", "options"],
  "/mfa/recovery-codes/": ["post", "options"],
  "/mfa/recovery-codes/regenerate/": ["post", "options"],
  "/passkeys/register/begin/": ["post", "options"],
  "/passkeys/register/complete/": ["post", "options"],
  "/passkeys/login/begin/": ["post", "options"],
  "/passkeys/login/complete/": ["post", "options"],
  "/passkeys/": ["get", "head", "options"],
  "/passkeys/{id}/": ["delete", "options"],
  "/openapi.json": ["get"],
  "/": ["get"],
};
// The routes authenticated before anything else: users' access tokens, and the resource servers'
// introspection secrets.
const BEARER_ROUTES = [
  "/token/blacklist/all/",
  "/dashboard/",
  "/user/",
  "/user/delete/",
  "/user/events/",
  "/password/change/",
  "/sessions/",
  "/sessions/{id}/revoke/",
  "/sessions/revoke-others/",
  "/userinfo/",
  "/mfa/totp/activate/",
  "/mfa/totp/deactivate/",
  "/mfa/status/",
  "/mfa/recovery-codes/",
  "/mfa/recovery-codes/regenerate/",
  "/passkeys/register/begin/",
  "/passkeys/register/complete/",
  "/passkeys/",
  "/passkeys/{id}/",
];
const INTROSPECTION_ROUTES = ["/token/introspect/"];
// dj-rest-auth's public views: a Bearer header, when one is sent, is authenticated (401).
const OPTIONAL_BEARER_ROUTES = [
  "/login/",
  "/logout/",
  "/registration/",
  "/registration/verify-email/",
  "/registration/resend-email/",
  "/password/reset/",
  "/password/reset/confirm/",
  "/password/reset/confirm/{uid}/{token}/",
  "/mfa/verify/",
  "/passkeys/login/begin/",
  "/passkeys/login/complete/",
];
// Where a password or a second-factor code is checked against an account: failures are throttled as
// failed logins (docs/contract.md §6, docs/accounts.md §5).
const THROTTLED = ["/token/", "/login/", "/user/delete/", "/password/change/", "/mfa/verify/", "/mfa/totp/deactivate/"];
// The POST routes that do not read a body (and DELETE /passkeys/{id}/ reads none either).
const BODYLESS = [
  "/token/blacklist/all/",
  "/sessions/{id}/revoke/",
  "/sessions/revoke-others/",
  "/mfa/recovery-codes/",
  "/mfa/recovery-codes/regenerate/",
  "/passkeys/register/begin/",
];
const ALLOW = {
  "/dashboard/": "GET, POST, OPTIONS",
  "/.well-known/jwks.json": "GET",
  "/logout/": "GET, POST, HEAD, OPTIONS",
  "/registration/verify-email/": "POST, OPTIONS, HEAD",
  "/user/": "GET, PUT, PATCH, HEAD, OPTIONS",
  "/user/events/": "GET, HEAD, OPTIONS",
  "/sessions/": "GET, HEAD, OPTIONS",
  "/.well-known/oauth-authorization-server": "GET",
  "/.well-known/openid-configuration": "GET",
  "/userinfo/": "GET, HEAD, OPTIONS",
  "/mfa/totp/activate/": "GET, POST, HEAD, OPTIONS",
  "/mfa/status/": "GET, HEAD, OPTIONS",
  "/passkeys/": "GET, HEAD, OPTIONS",
  "/passkeys/{id}/": "DELETE, OPTIONS",
  "/openapi.json": "GET",
  "/": "GET",
};
const allowOf = (route) => ALLOW[route] ?? "POST, OPTIONS";
/** The media types of an answer: none for HEAD, for RFC 7009's empty 200 and for a 204. */
function mediaTypes(route, method, status) {
  if (method === "head" || status === "204") return [];
  if (route === "/token/revoke/" && method === "post" && status === "200") return [];
  return route === "/" && status === "200" ? ["text/html"] : ["application/json"];
}
const BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"];

test("the document is a valid OpenAPI 3.1 document", async () => {
  const result = await run(python, [path.join(here, "openapi_check.py"), documentPath]).catch((error) => error);
  if (result instanceof Error) assert.fail(`openapi_check.py: ${result.message}\n${result.stdout ?? ""}`);
  assert.equal(document.openapi, "3.1.0");
});

test("the document describes every route of the contract, with its headers and errors", () => {
  assert.deepEqual(
    Object.fromEntries(Object.entries(document.paths).map(([route, item]) => [route, Object.keys(item).sort()])),
    Object.fromEntries(Object.entries(ROUTES).map(([route, methods]) => [route, [...methods].sort()])),
  );
  assert.equal(resolve({ $ref: "#/components/securitySchemes/bearerAuth" }).scheme, "bearer");
  assert.equal(resolve({ $ref: "#/components/securitySchemes/introspectionAuth" }).scheme, "bearer");
  const operationIds = new Set();
  for (const [route, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const label = `${method.toUpperCase()} ${route}`;
      assert.ok(operation.operationId && !operationIds.has(operation.operationId), `${label}: unique operationId`);
      operationIds.add(operation.operationId);
      assert.ok(operation.summary, `${label}: summary`);
      const security = BEARER_ROUTES.includes(route)
        ? [{ bearerAuth: [] }]
        : INTROSPECTION_ROUTES.includes(route)
          ? [{ introspectionAuth: [] }]
          : undefined;
      assert.deepEqual(operation.security, security, `${label}: security`);
      const statuses = Object.keys(operation.responses);
      if (security || OPTIONAL_BEARER_ROUTES.includes(route)) assert.ok(statuses.includes("401"), `${label}: 401`);
      if (THROTTLED.includes(route) && method === "post") assert.ok(statuses.includes("429"), `${label}: 429`);
      const readsBody = ["post", "put", "patch"].includes(method) && !BODYLESS.includes(route);
      if (readsBody) {
        assert.deepEqual(Object.keys(resolve(operation.requestBody).content), BODY_TYPES, `${label}: body types`);
        for (const status of ["400", "413", "415"]) assert.ok(statuses.includes(status), `${label}: ${status}`);
      } else {
        assert.equal(operation.requestBody, undefined, `${label}: no body is read`);
      }
      for (const [status, reference] of Object.entries(operation.responses)) {
        const response = resolve(reference);
        const headers = Object.fromEntries(
          Object.entries(response.headers ?? {}).map(([name, header]) => [name.toLowerCase(), resolve(header)]),
        );
        assert.equal(headers.allow?.schema.const, allowOf(route), `${label} ${status}: Allow`);
        assert.equal(headers.allow.required, true, `${label} ${status}: Allow is required`);
        if (status === "401") {
          assert.equal(
            headers["www-authenticate"]?.schema.const,
            'Bearer realm="api"',
            `${label} 401: WWW-Authenticate`,
          );
          assert.equal(headers["www-authenticate"].required, true);
        }
        if (status === "429") {
          assert.equal(headers["retry-after"]?.schema.type, "integer", `${label} 429: Retry-After`);
          assert.equal(headers["retry-after"].required, true);
        }
        const types = Object.keys(response.content ?? {});
        assert.deepEqual(types, mediaTypes(route, method, status), `${label} ${status}`);
      }
    }
  }
});

test("GET /openapi.json serves the document", async () => {
  const reply = await call(MAIN, "GET", "/openapi.json");
  assert.equal(reply.status, 200, reply.text.slice(0, 200));
  assert.equal(reply.headers.get("content-type"), "application/json");
  assert.deepEqual(reply.body, document);
  // Member order too: the served document is the source file with compact separators.
  assert.equal(JSON.stringify(reply.body), JSON.stringify(document));
});

// How many generated cases each operation gets in each phase, bounded so that the whole run
// stays within a couple of minutes (every login and registration with valid fields hashes a
// password, about 300 ms in the worker).
const MAX_EXAMPLES = 50;
const CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_headers_conformance",
  "response_schema_conformance",
];

/** Django's `signing.dumps` of `value` with the worker's SECRET_KEY: an e-mail verification key. */
async function signed(value, salt) {
  const argument = JSON.stringify({
    secret: process.env.E2E_SECRET_KEY,
    salt,
    value,
    now: Math.floor(Date.now() / 1000),
  });
  const { stdout } = await run(python, [path.join(here, "django_tokens.py"), "signing_dumps", argument]);
  return JSON.parse(stdout).signed;
}

/** Schemathesis configuration for what its command line cannot say. */
function configuration({ access, dictionaries, headers }) {
  const list = (values) => `[${values.map((value) => JSON.stringify(value)).join(", ")}]`;
  // One block per operation: of several blocks for one operation, the last one's `parameters` win.
  const bindings = {};
  for (const [name, { operationId, parameter }] of Object.entries(dictionaries)) {
    bindings[operationId] = [
      ...(bindings[operationId] ?? []),
      `"${parameter}" = { dictionary = "${name}", probability = 0.5 }`,
    ];
  }
  return [
    // No state carried from one run to the next: every run starts the same.
    "[cache]\nenabled = false\n",
    // Each security scheme its own credential: the Bearer user's access token, and a resource
    // server's introspection secret (tests/e2e/run.mjs). Routes without one are sent none.
    `[auth.openapi.bearerAuth]\nbearer = ${JSON.stringify(access)}\n`,
    '[auth.openapi.introspectionAuth]\nbearer = "rs-one-secret"\n',
    // Real tokens and ids for half of these fields, so that success answers are checked too.
    ...Object.entries(dictionaries).map(([name, { values }]) => `[dictionaries.${name}]\nvalues = ${list(values)}\n`),
    ...Object.entries(bindings).map(
      ([operationId, parameters]) =>
        `[[operations]]\ninclude-operation-id = "${operationId}"\nparameters = { ${parameters.join(", ")} }\n`,
    ),
    ...Object.entries(headers).map(
      ([operationId, values]) =>
        `[[operations]]\ninclude-operation-id = "${operationId}"\n` +
        `headers = { ${Object.entries(values)
          .map(([name, value]) => `${JSON.stringify(name)} = ${JSON.stringify(value)}`)
          .join(", ")} }\n`,
    ),
  ].join("\n");
}

/**
 * A fresh user with MFA on (docs/accounts.md §5), activated with a code computed here: its
 * credentials, an access token and its recovery codes.
 */
async function withMfa(username) {
  const user = await newUser(MAIN, { username });
  const { access } = await tokensFor(MAIN, user);
  const begun = await call(MAIN, "GET", "/mfa/totp/activate/", { headers: bearer(access) });
  assert.equal(begun.status, 200, begun.text);
  const { secret, activation_token } = begun.body;
  const body = { activation_token, code: totp(secret) };
  const activated = await post(MAIN, "/mfa/totp/activate/", body, { headers: bearer(access) });
  assert.equal(activated.status, 200, activated.text);
  return { user, access, codes: activated.body.recovery_codes };
}

/** The creation options of a passkey registration begun by the user of `access`. */
async function creationOptions(access) {
  const reply = await call(MAIN, "POST", "/passkeys/register/begin/", { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  return reply.body.options;
}

/**
 * A passkey of the user of `access` (docs/accounts.md §6), made by `device`, webauthn.mjs's
 * software authenticator: the passkey as answered.
 */
async function withPasskey(access, device) {
  const credential = device.create(await creationOptions(access));
  const reply = await post(MAIN, "/passkeys/register/complete/", { credential }, { headers: bearer(access) });
  assert.equal(reply.status, 201, reply.text);
  return reply.body;
}

/** `device`'s signed answer to the options of a new passkey login. */
async function loginAnswer(device) {
  const reply = await post(MAIN, "/passkeys/login/begin/", {});
  assert.equal(reply.status, 200, reply.text);
  return device.get(reply.body.options);
}

test("the worker answers every operation as the document says (schemathesis)", { timeout: 600_000 }, async () => {
  // The Bearer user, with a password that appears nowhere in the document: schemathesis sends
  // the document's examples, and the right password would delete the account (/user/delete/) or
  // end its tokens (/password/change/). Its wrong passwords fill only its own throttle bucket.
  const password = `${letters(12)}-${letters(6)}!`;
  const user = { email: uniqueEmail("schemathesis"), username: "schemathesis", password };
  const created = await post(MAIN, "/register/", { ...user, password2: password });
  assert.equal(created.status, 201, created.text);
  const { access } = await tokensFor(MAIN, user);
  // /token/blacklist/all/ ends every session of the Bearer user, so /sessions/{id}/revoke/ runs
  // as a user of its own, one of whose two sessions it may end.
  const owner = await newUser(MAIN, { username: "sessions" });
  const [current, other] = [await tokensFor(MAIN, owner), await tokensFor(MAIN, owner)];
  // /token/blacklist/all/ revokes the Bearer user's refresh tokens, so the tokens for the token
  // fields come from another user. Each operation has its own login: logging out or revoking
  // ends a token's login, refreshing consumes it.
  const holder = await newUser(MAIN, { username: "tokens" });
  const logins = [];
  for (let i = 0; i < 6; i++) logins.push(await tokensFor(MAIN, holder));
  const [first, second, third, fourth, fifth, sixth] = logins;
  const dictionaries = {
    refresh: { operationId: "refreshToken", parameter: "body.refresh", values: [first.refresh] },
    logout: { operationId: "blacklistToken", parameter: "body.refresh", values: [second.refresh] },
    verify: { operationId: "verifyToken", parameter: "body.token", values: [third.access, third.refresh] },
    accountLogout: { operationId: "accountLogout", parameter: "body.refresh", values: [fourth.refresh] },
    revoke: { operationId: "revokeToken", parameter: "body.token", values: [fifth.access, fifth.refresh] },
    introspect: { operationId: "introspectToken", parameter: "body.token", values: [sixth.access, sixth.refresh] },
    session: { operationId: "revokeSession", parameter: "path.id", values: [decode(other.access).payload.sid] },
    // The key of the token holder's address, which it verifies once.
    key: {
      operationId: "verifyEmail",
      parameter: "body.key",
      values: [await signed(decode(first.access).payload.user_id, "account")],
    },
  };
  // Users with MFA on, so that its answers are checked too. The first is the Bearer of the MFA
  // routes that answer otherwise with it on (status, recovery codes, deactivation); the Bearer
  // user, without it, keeps the activation. The second's password logins answer ephemeral tokens.
  // The third's ephemeral tokens (five: as many as a user keeps) and recovery codes go to
  // /mfa/verify/, from a client address of its own, so that the other operations' failures do not
  // throttle it.
  const mfa = await withMfa("mfa");
  const firstStep = await withMfa("firststep");
  const secondStep = await withMfa("secondstep");
  const ephemeralTokens = [];
  for (let i = 0; i < 5; i++) {
    const reply = await post(MAIN, "/token/", { email: secondStep.user.email, password: secondStep.user.password });
    assert.equal(reply.status, 200, reply.text);
    ephemeralTokens.push(reply.body.ephemeral_token);
  }
  Object.assign(dictionaries, {
    mfaEmail: { operationId: "obtainTokenPair", parameter: "body.email", values: [firstStep.user.email] },
    mfaPassword: { operationId: "obtainTokenPair", parameter: "body.password", values: [firstStep.user.password] },
    mfaLoginEmail: { operationId: "accountLogin", parameter: "body.email", values: [firstStep.user.email] },
    mfaLoginPassword: { operationId: "accountLogin", parameter: "body.password", values: [firstStep.user.password] },
    ephemeralToken: { operationId: "verifyMfa", parameter: "body.ephemeral_token", values: ephemeralTokens },
    recoveryCode: { operationId: "verifyMfa", parameter: "body.code", values: secondStep.codes },
  });
  // Passkeys, so that their answers are checked too: the fuzzer cannot make a WebAuthn answer.
  // The Bearer user has two, one of which has logged in (a `last_used_at`), listed and deleted by
  // their ids; the registration gets answers to challenges of the Bearer user's, and the login
  // signed answers of another user's passkey (its counter stays 0, so they log in in any order),
  // as JSON text, which JSON bodies take too. A challenge works for 300 s: the answers that the
  // run reaches later are refused, as the document says as well.
  const origin = new URL(MAIN).origin;
  const device = new Authenticator({ origin, fixedCounter: true });
  const passkeys = [await withPasskey(access, device), await withPasskey(access, device)];
  const used = await post(MAIN, "/passkeys/login/complete/", { credential: await loginAnswer(device) });
  assert.equal(used.status, 200, used.text);
  const registrations = [];
  for (let i = 0; i < 3; i++) registrations.push(JSON.stringify(device.create(await creationOptions(access))));
  const passkeyOwner = await newUser(MAIN, { username: "passkeys" });
  const signer = new Authenticator({ origin, fixedCounter: true });
  await withPasskey((await tokensFor(MAIN, passkeyOwner)).access, signer);
  const assertions = [];
  for (let i = 0; i < 5; i++) assertions.push(JSON.stringify(await loginAnswer(signer)));
  Object.assign(dictionaries, {
    passkeyId: { operationId: "deletePasskey", parameter: "path.id", values: passkeys.map(({ id }) => id) },
    registration: { operationId: "completePasskeyRegistration", parameter: "body.credential", values: registrations },
    assertion: { operationId: "completePasskeyLogin", parameter: "body.credential", values: assertions },
  });
  const headers = {
    revokeSession: { Authorization: `Bearer ${current.access}` },
    verifyMfa: { "CF-Connecting-IP": `198.19.${((process.pid >> 8) + 128) & 255}.${process.pid & 255}` },
  };
  for (const operationId of [
    "getMfaStatus",
    "headMfaStatus",
    "countRecoveryCodes",
    "regenerateRecoveryCodes",
    "deactivateTotp",
  ]) {
    headers[operationId] = { Authorization: `Bearer ${mfa.access}` };
  }
  const folder = mkdtempSync(path.join(tmpdir(), "edge-auth-schemathesis-"));
  try {
    const config = path.join(folder, "schemathesis.toml");
    writeFileSync(config, configuration({ access, dictionaries, headers }));
    const args = [
      ...["-m", "schemathesis.cli", "--config-file", config, "run", documentPath, "--url", MAIN],
      // A client address of its own: its failed logins fill no other test's throttle bucket.
      ...["--header", `CF-Connecting-IP: 198.19.${(process.pid >> 8) & 255}.${process.pid & 255}`],
      ...["--checks", CHECKS.join(",")],
      ...["--phases", "examples,coverage,fuzzing,stateful"],
      ...["--max-examples", String(MAX_EXAMPLES)],
      "--generation-deterministic",
      // Data generation may be slow on a loaded machine; that is not a finding.
      ...["--suppress-health-check", "too_slow"],
      ...["--workers", "1"],
      ...["--request-timeout", "30"],
      "--no-color",
    ];
    // Schemathesis talks to the worker only (it has no telemetry and uploads no report), and
    // everything it writes (Hypothesis's files) stays in the temporary folder.
    const result = await run(python, args, {
      cwd: folder,
      env: { ...process.env, NO_COLOR: "1" },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 580_000,
    }).catch((error) => error);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    const failed = result instanceof Error;
    assert.ok(!failed, `schemathesis failed (${failed && (result.signal ?? `exit ${result.code}`)}):\n${output}`);
    const operations = Object.values(document.paths).reduce((count, item) => count + Object.keys(item).length, 0);
    assert.match(output, new RegExp(`Tested: ${operations}\\n`), `every operation was tested:\n${output}`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
