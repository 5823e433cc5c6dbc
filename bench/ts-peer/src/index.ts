// The TypeScript peer of `make bench`: the worker's hot routes as a TypeScript Worker with Hono
// and jose, on the same runtime, the same D1 schema and KV denylist, the same statements and the
// same keys (bench/ts-peer/README.md). Its answers are the worker's, status, body and headers,
// for the success paths and the main refusals of:
//
//   GET|POST /dashboard/   Bearer access token, the user read from the nearest D1 replica
//   POST /token/           login: Django's PBKDF2 hash checked, the tokens issued and recorded
//   POST /token/refresh/   with or without rotation (ROTATE_REFRESH_TOKENS)
//   POST /token/verify/    an access token costs no storage
//
// under the root and /api, with or without the trailing slash (docs/contract.md §1).

import { type Context as HonoContext, Hono } from "hono";
import { type Fields, plainText, readFields, text } from "./body";
import { ConfigError, type Env, settings } from "./env";
import * as errors from "./errors";
import { ApiError } from "./errors";
import { authenticate, type Context, login, refresh, verifyToken } from "./sessions";
import type { Client } from "./store";

type App = { Bindings: Env };
type Ctx = HonoContext<App>;

const PASSWORD_MAX = 4096;
const CLIENT_MAX = 256;
const SECURITY_HEADERS: [string, string][] = [
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
];

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** A token answer: never cached (RFC 6749 §5.1). */
const tokens = (body: unknown) => json(200, body, { "Cache-Control": "no-store" });

function refusal(error: unknown): Response {
  if (error instanceof ApiError) {
    if (error.logLine) console.error(error.logLine);
    return json(error.status, error.body, error.headers);
  }
  // A configuration error or a bug: the cause goes to the log, never to the client.
  console.error(error instanceof ConfigError ? error.message : error);
  return json(500, { detail: "A server error occurred." });
}

/** The flows' context for this request: the settings (500 when malformed) and its time. */
function context(c: Ctx): Context {
  return {
    env: c.env,
    settings: settings(c.env),
    now: Math.floor(Date.now() / 1000),
    waitUntil: (work) => c.executionCtx.waitUntil(work),
  };
}

function client(c: Ctx): Client {
  const cut = (name: string) => [...(c.req.header(name) ?? "")].slice(0, CLIENT_MAX).join("");
  return { ip: cut("CF-Connecting-IP"), country: cut("CF-IPCountry"), userAgent: cut("User-Agent") };
}

/** A route: its `Allow` header, and its handler's refusals answered as the worker answers them. */
function route(allow: string, handler: (c: Ctx) => Promise<Response>) {
  return async (c: Ctx) => {
    const response = await handler(c).catch(refusal);
    response.headers.set("Allow", allow);
    return response;
  };
}

/** A POST route of the token API: the method check, then the body's fields. */
function post(handler: (c: Ctx, fields: Fields) => Promise<Response>) {
  return route("POST, OPTIONS", async (c) => {
    // The configuration is read before the method check, as the worker reads it.
    settings(c.env);
    if (c.req.method !== "POST") throw errors.methodNotAllowed(c.req.method);
    return handler(c, await readFields(c.req.raw));
  });
}

/** The single token field of refresh and verify. */
function tokenField(fields: Fields, name: string): string {
  const value = plainText(fields, name);
  if (typeof value !== "string") throw errors.fieldErrors({ [name]: [value.error] });
  return value;
}

const api = new Hono<App>({ strict: false });

api.all(
  "/token",
  post(async (c, fields) => {
    const problems: Record<string, string[]> = {};
    const email = plainText(fields, "email");
    if (typeof email !== "string") problems.email = [email.error];
    let password = text(fields, "password");
    if (typeof password === "string") {
      if ([...password].length > PASSWORD_MAX) {
        password = { error: `Ensure this field has no more than ${PASSWORD_MAX} characters.` };
      } else if (password.includes("\0")) {
        password = { error: "Null characters are not allowed." };
      }
    }
    if (typeof password !== "string") problems.password = [password.error];
    if (typeof email !== "string" || typeof password !== "string") throw errors.fieldErrors(problems);
    return tokens(await login(context(c), email, password, client(c)));
  }),
);

api.all(
  "/token/refresh",
  post(async (c, fields) => tokens(await refresh(context(c), tokenField(fields, "refresh")))),
);

api.all(
  "/token/verify",
  post(async (c, fields) => {
    await verifyToken(context(c), tokenField(fields, "token"));
    return json(200, {});
  }),
);

api.all(
  "/dashboard",
  route("GET, POST, OPTIONS", async (c) => {
    // Authentication comes before the method check (docs/contract.md §2.4).
    const words = (c.req.header("Authorization") ?? "").split(/[ \t\n\r\v\f]+/).filter(Boolean);
    if (words[0] !== "Bearer") throw errors.notAuthenticated();
    if (words.length !== 2 || words[1] === undefined) throw errors.badAuthorizationHeader();
    const user = await authenticate(context(c), words[1]);
    const method = c.req.method;
    if (method === "GET") return json(200, { response: `Hey${user.username}, you are seeing GET response` });
    if (method !== "POST") throw errors.methodNotAllowed(method);
    const value = (await readFields(c.req.raw)).get("text");
    let said: string;
    if (value === undefined || value === null) said = "None";
    else if (typeof value === "string") said = value;
    else if (typeof value === "boolean") said = String(value);
    else said = "raw" in value ? value.raw : value.composite;
    return json(200, { response: `Hey${user.username}, your text is ${said}` });
  }),
);

const app = new Hono<App>({ strict: false });

// Every answer carries the common headers (docs/contract.md §2.1, §2.5); a CORS preflight is
// answered on any path.
app.use(async (c, next) => {
  const hasOrigin = c.req.header("Origin") !== undefined;
  if (c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method") !== undefined) {
    const headers = new Headers({ "Content-Type": "text/html; charset=utf-8" });
    if (hasOrigin) {
      headers.set("Access-Control-Allow-Origin", "*");
      headers.set(
        "Access-Control-Allow-Headers",
        "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with",
      );
      headers.set("Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, PATCH, POST, PUT");
      headers.set("Access-Control-Max-Age", "86400");
    }
    headers.set("Vary", "origin");
    for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
    return new Response(null, { status: 200, headers });
  }
  await next();
  const headers = c.res.headers;
  if (c.res.status === 401) headers.set("WWW-Authenticate", 'Bearer realm="api"');
  if (hasOrigin) headers.set("Access-Control-Allow-Origin", "*");
  headers.set("Vary", "Accept, origin");
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
});

app.route("/api", api);
app.route("/", api);
app.notFound(() => refusal(errors.notFound()));
app.onError((error) => refusal(error));

export default app;
