// Helpers for the end-to-end tests: HTTP calls, users, tokens. The tests keep their own view
// of the API (plain JSON and HTTP), independent of the worker's code.
import assert from "node:assert/strict";
import { createPrivateKey, createHmac, sign, randomBytes } from "node:crypto";

export const MAIN = process.env.E2E_MAIN_URL;
export const SEED = process.env.E2E_SEED_URL;
export const NOKEY = process.env.E2E_NOKEY_URL;
export const THROTTLE = process.env.E2E_THROTTLE_URL;
export const LIMITS = process.env.E2E_LIMITS_URL;
export const LIMITS_STATE = process.env.E2E_LIMITS_STATE;
export const ROTATION = process.env.E2E_ROTATION_URL;
export const RPC_CONSUMER = process.env.E2E_RPC_CONSUMER_URL;
export const RPC_RUST = process.env.E2E_RPC_RUST_URL;
export const IMPORT = process.env.E2E_IMPORT_URL;
export const NOSCHEMA = process.env.E2E_NOSCHEMA_URL;
export const NOKV = process.env.E2E_NOKV_URL;
export const NOKV_STATE = process.env.E2E_NOKV_STATE;
export const NOD1 = process.env.E2E_NOD1_URL;
export const IMPORT_STATE = process.env.E2E_IMPORT_STATE;
export const BADKEY = process.env.E2E_BADKEY_URL;
export const MAIN_STATE = process.env.E2E_MAIN_STATE;
export const SEED_STATE = process.env.E2E_SEED_STATE;
export const KEY = JSON.parse(process.env.E2E_KEY ?? "null");

export const STRONG_PASSWORD = "x7#Lq9!vRt2m";

/**
 * Every test process acts as its own client (CF-Connecting-IP passes through wrangler dev),
 * so the per-client login throttle of one test file never counts another's failures.
 */
export const CLIENT_IP = `198.18.${(process.pid >> 8) & 255}.${process.pid & 255}`;

/**
 * One HTTP call. `json` is sent as application/json; `body` is sent as is with `type`.
 * Resolves to { status, headers, text, body } where body is the parsed JSON (or undefined).
 */
export async function call(base, method, path, { json, body, type, headers = {} } = {}) {
  const init = { method, headers: { "cf-connecting-ip": CLIENT_IP, ...headers } };
  if (json !== undefined) {
    init.body = typeof json === "string" ? json : JSON.stringify(json);
    init.headers["content-type"] ??= "application/json";
  } else if (body !== undefined) {
    init.body = body;
    if (type !== undefined) init.headers["content-type"] = type;
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

export const post = (base, path, json, options = {}) => call(base, "POST", path, { json, ...options });

/** Asserts status and exact body text (key order and all). */
export function expectReply(reply, status, body) {
  assert.equal(reply.status, status, `status (body: ${reply.text})`);
  assert.equal(reply.text, typeof body === "string" ? body : JSON.stringify(body));
}

/** Random lower-case letters: unique names without digits, which the password similarity
 * validator could match against the test's numeric passwords. */
export function letters(length = 14) {
  return Array.from(randomBytes(length), (b) => String.fromCharCode(97 + (b % 26))).join("");
}

export function uniqueEmail(prefix = "user") {
  return `${prefix}.${letters()}@example.com`;
}

/** Registers a fresh user and returns its credentials. */
export async function newUser(base = MAIN, { username = "alice", email = uniqueEmail() } = {}) {
  const reply = await post(base, "/register/", {
    email,
    username,
    password: STRONG_PASSWORD,
    password2: STRONG_PASSWORD,
  });
  assert.equal(reply.status, 201, reply.text);
  return { email, username, password: STRONG_PASSWORD };
}

/** Logs in and returns { access, refresh }. */
export async function tokensFor(base, user) {
  const reply = await post(base, "/token/", { email: user.email, password: user.password });
  assert.equal(reply.status, 200, reply.text);
  return reply.body;
}

/** A fresh user with a fresh login. */
export async function loggedIn(base = MAIN, options) {
  const user = await newUser(base, options);
  return { user, ...(await tokensFor(base, user)) };
}

export const b64url = (data) => Buffer.from(data).toString("base64url");

export function decode(token) {
  const [header, payload] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url")),
    payload: JSON.parse(Buffer.from(payload, "base64url")),
  };
}

/** Signs `header` and `payload` (objects or raw JSON strings) with the test key (or `jwk`). */
export function forge(header, payload, jwk = KEY) {
  const encode = (part) => b64url(typeof part === "string" ? part : JSON.stringify(part));
  const input = `${encode(header)}.${encode(payload)}`;
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
}

/** An HS256 token signed with `secret`: the classic algorithm-confusion forgery. */
export function forgeHs256(header, payload, secret) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(createHmac("sha256", secret).update(input).digest())}`;
}

export const now = () => Math.floor(Date.now() / 1000);

export const bearer = (token) => ({ authorization: `Bearer ${token}` });

export const INVALID = { detail: "Token is invalid or expired", code: "token_not_valid" };
export const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
export const WRONG_TYPE = { detail: "Token has wrong type", code: "token_not_valid" };

/** The Bearer-route error body for a token failure `message`. */
export function bearerError(message) {
  return {
    detail: "Given token not valid for any token type",
    code: "token_not_valid",
    messages: [{ token_class: "AccessToken", token_type: "access", message }],
  };
}

/** RFC 4648 base32 (upper case, padding optional) to bytes. */
export function base32Bytes(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let [bits, value] = [0, 0];
  const bytes = [];
  for (const char of text.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 255);
    }
  }
  return Buffer.from(bytes);
}

/**
 * The RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s) of a base32 secret at `seconds`: computed
 * here with node's HMAC, independently of the worker's code.
 */
export function totp(secret, seconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const digest = createHmac("sha1", base32Bytes(secret)).update(counter).digest();
  const offset = digest[19] & 15;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/**
 * Waits, when the current 30 s step ends within `margin` seconds, for the next one: a test
 * that uses the codes of the previous, current and next step then stays inside one window.
 */
export async function freshStep(margin = 5) {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
  return Date.now() / 1000;
}

/** GET /mfa/totp/activate/ for an access token. */
export async function beginActivation(base, access) {
  const reply = await call(base, "GET", "/mfa/totp/activate/", { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  return reply.body;
}

/**
 * A fresh user with MFA on, activated with the code of the step before the current one (so
 * the current and the next step's codes are still unused). Resolves to the login (its access
 * token fresh from a refresh, so short access lifetimes work too), the secret and the recovery
 * codes.
 */
export async function withMfa(base = MAIN) {
  const login = await loggedIn(base);
  const at = await freshStep(10);
  const refreshed = await post(base, "/token/refresh/", { refresh: login.refresh });
  assert.equal(refreshed.status, 200, refreshed.text);
  const { access, refresh = login.refresh } = refreshed.body;
  const { secret, activation_token } = await beginActivation(base, access);
  const code = totp(secret, at - 30);
  const reply = await post(base, "/mfa/totp/activate/", { activation_token, code }, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  return { user: login.user, access, refresh, secret, at, codes: reply.body.recovery_codes };
}
