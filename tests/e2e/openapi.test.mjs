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
import { MAIN, call, loggedIn, newUser, tokensFor } from "./lib.mjs";

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

// docs/contract.md §1: every route with its methods (OPTIONS where it answers metadata), at the root.
const ROUTES = {
  "/register/": ["post", "options"],
  "/token/": ["post", "options"],
  "/token/refresh/": ["post", "options"],
  "/token/verify/": ["post", "options"],
  "/token/blacklist/": ["post", "options"],
  "/token/blacklist/all/": ["post", "options"],
  "/dashboard/": ["get", "post", "options"],
  "/.well-known/jwks.json": ["get"],
  "/openapi.json": ["get"],
  "/": ["get"],
};
const BEARER_ROUTES = ["/token/blacklist/all/", "/dashboard/"];
const ALLOW = {
  "/dashboard/": "GET, POST, OPTIONS",
  "/.well-known/jwks.json": "GET",
  "/openapi.json": "GET",
  "/": "GET",
};
const allowOf = (route) => ALLOW[route] ?? "POST, OPTIONS";
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
  const operationIds = new Set();
  for (const [route, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const label = `${method.toUpperCase()} ${route}`;
      assert.ok(operation.operationId && !operationIds.has(operation.operationId), `${label}: unique operationId`);
      operationIds.add(operation.operationId);
      assert.ok(operation.summary, `${label}: summary`);
      const bearer = BEARER_ROUTES.includes(route);
      assert.deepEqual(operation.security, bearer ? [{ bearerAuth: [] }] : undefined, `${label}: security`);
      const statuses = Object.keys(operation.responses);
      if (bearer) assert.ok(statuses.includes("401"), `${label}: 401`);
      const readsBody = method === "post" && route !== "/token/blacklist/all/";
      if (readsBody) {
        assert.deepEqual(Object.keys(resolve(operation.requestBody).content), BODY_TYPES, `${label}: body types`);
        for (const status of ["400", "413", "415"]) assert.ok(statuses.includes(status), `${label}: ${status}`);
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
        assert.deepEqual(
          types,
          route === "/" && status === "200" ? ["text/html"] : ["application/json"],
          `${label} ${status}`,
        );
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

/** Schemathesis configuration for what its command line cannot say. */
function configuration({ refresh, logout, verify }) {
  const list = (values) => `[${values.map((value) => JSON.stringify(value)).join(", ")}]`;
  const bind = (operationId, field, dictionary) =>
    `[[operations]]\ninclude-operation-id = "${operationId}"\n` +
    `parameters = { "body.${field}" = { dictionary = "${dictionary}", probability = 0.5 } }\n`;
  return [
    // No state carried from one run to the next: every run starts the same.
    "[cache]\nenabled = false\n",
    // Real tokens for half of the token fields, so that success answers are checked too. Each
    // operation has its own tokens: logging out revokes a token's family, refreshing consumes it.
    `[dictionaries.refresh]\nvalues = ${list(refresh)}\n`,
    `[dictionaries.logout]\nvalues = ${list(logout)}\n`,
    `[dictionaries.verify]\nvalues = ${list(verify)}\n`,
    bind("refreshToken", "refresh", "refresh"),
    bind("blacklistToken", "refresh", "logout"),
    bind("verifyToken", "token", "verify"),
  ].join("\n");
}

test("the worker answers every operation as the document says (schemathesis)", { timeout: 300_000 }, async () => {
  // The Bearer user; /token/blacklist/all/ revokes its refresh tokens, so the tokens for the
  // token fields come from another user.
  const { access } = await loggedIn(MAIN, { username: "schemathesis" });
  const holder = await newUser(MAIN, { username: "tokens" });
  const [first, second, third] = [
    await tokensFor(MAIN, holder),
    await tokensFor(MAIN, holder),
    await tokensFor(MAIN, holder),
  ];
  const folder = mkdtempSync(path.join(tmpdir(), "edge-auth-schemathesis-"));
  try {
    const config = path.join(folder, "schemathesis.toml");
    writeFileSync(
      config,
      configuration({ refresh: [first.refresh], logout: [second.refresh], verify: [third.access, third.refresh] }),
    );
    const args = [
      ...["-m", "schemathesis.cli", "--config-file", config, "run", documentPath, "--url", MAIN],
      ...["--header", `Authorization: Bearer ${access}`],
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
      timeout: 280_000,
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
