// Checks the client's hand-written types (src/types.ts) against the service's OpenAPI document
// (src/contract/openapi.json): each request type's fields are the properties its operation's
// JSON body declares, and each answer type's fields are those of its answer's schema, required
// exactly where the type does not mark them optional. Run by `make sdk`.
//
// Usage: node clients/ts/check-openapi.mjs
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const document = JSON.parse(readFileSync(path.join(here, "../../src/contract/openapi.json"), "utf8"));
const source = readFileSync(path.join(here, "src/types.ts"), "utf8");

/** Each type as its name: { fields: { name: optional } }. */
const types = {};
for (const [, name, body] of source.matchAll(/export interface (\w+) \{\n([\s\S]*?)\n\}/g)) {
  const fields = {};
  for (const [, field, optional] of body.matchAll(/^ {2}(\w+)(\??):/gm)) fields[field] = optional === "?";
  types[name] = fields;
}

/** The object a `$ref` chain points to. */
function resolve(node) {
  while (node?.$ref)
    node = node.$ref
      .slice(2)
      .split("/")
      .reduce((parent, key) => parent[key], document);
  return node;
}

/** The properties of an object schema, following `allOf`: { name: required }. */
function properties(schema) {
  schema = resolve(schema);
  const found = {};
  for (const part of schema.allOf ?? []) Object.assign(found, properties(part));
  for (const name of Object.keys(schema.properties ?? {})) found[name] = (schema.required ?? []).includes(name);
  return found;
}

/**
 * The part of a schema a type describes: `"items"`, an array's items; the name of a component
 * schema, that alternative of a `oneOf` (an answer that is one of several shapes).
 */
function part(schema, item) {
  if (item === "items") return resolve(schema?.items);
  return resolve(schema?.oneOf?.find((option) => option.$ref === `#/components/schemas/${item}`));
}

// [type, method, path, status (answers) or "request", item (see `part`), fields the server reads
//  but ignores, which the type leaves out]
const CHECKS = [
  ["RegisterRequest", "post", "/register/", "request"],
  ["LoginRequest", "post", "/login/", "request", null, ["username"]],
  ["MfaVerifyRequest", "post", "/mfa/verify/", "request"],
  ["RefreshRequest", "post", "/token/refresh/", "request"],
  ["PasswordChangeRequest", "post", "/password/change/", "request"],
  ["PasswordResetRequest", "post", "/password/reset/", "request"],
  ["PasswordResetConfirmRequest", "post", "/password/reset/confirm/", "request"],
  ["VerifyEmailRequest", "post", "/registration/verify-email/", "request"],
  ["DeleteAccountRequest", "post", "/user/delete/", "request"],
  ["UserPatch", "patch", "/user/", "request", null, ["pk", "email"]],
  ["Registered", "post", "/register/", "201"],
  ["User", "get", "/user/", "200"],
  ["LoginSuccess", "post", "/login/", "200", "LoggedIn"],
  ["MfaRequired", "post", "/login/", "200", "MfaRequired"],
  ["LoginSuccess", "post", "/mfa/verify/", "200"],
  ["RefreshedTokens", "post", "/token/refresh/", "200"],
  ["Session", "get", "/sessions/", "200", "items"],
];

const problems = [];
for (const [type, method, route, status, item, ignored = []] of CHECKS) {
  const operation = document.paths[route]?.[method];
  if (!operation) {
    problems.push(`${type}: no ${method.toUpperCase()} ${route} in the document`);
    continue;
  }
  const holder = status === "request" ? resolve(operation.requestBody) : resolve(operation.responses[status]);
  let schema = resolve(holder?.content?.["application/json"]?.schema);
  if (item) schema = part(schema, item);
  if (!schema || !types[type]) {
    problems.push(`${type}: no schema for ${method.toUpperCase()} ${route} ${status}, or no such type`);
    continue;
  }
  const declared = properties(schema);
  const fields = types[type];
  for (const name of Object.keys(fields)) {
    if (!(name in declared)) problems.push(`${type}.${name}: not in ${method.toUpperCase()} ${route} ${status}`);
  }
  for (const [name, required] of Object.entries(declared)) {
    if (ignored.includes(name)) continue;
    if (!(name in fields)) problems.push(`${type}: lacks ${name} of ${method.toUpperCase()} ${route} ${status}`);
    // Requests: a field the server requires is required in the type. Answers: a field always
    // present is not optional in the type.
    else if (required && fields[name]) problems.push(`${type}.${name}: optional, but the document requires it`);
  }
}
if (problems.length > 0) {
  console.error(`clients/ts/src/types.ts disagrees with the OpenAPI document:\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`clients/ts/src/types.ts agrees with the OpenAPI document (${CHECKS.length} types)`);
