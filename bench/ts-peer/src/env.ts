// The peer's environment: the D1 and KV bindings (the parts of their Workers types it uses)
// and the worker's [vars], read with the worker's defaults (docs/contract.md §9).

export interface D1Result<T = Record<string, unknown>> {
  results: T[];
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
}

/** The primary, or a Sessions API session that may read from the nearest replica. */
export interface D1Handle {
  prepare(sql: string): D1PreparedStatement;
  batch(statements: D1PreparedStatement[]): Promise<D1Result[]>;
}

export interface D1Database extends D1Handle {
  withSession(constraint: string): D1Handle;
}

export interface KVNamespace {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
}

export interface Env {
  DB: D1Database;
  DENYLIST: KVNamespace;
  JWT_SIGNING_KEYS?: string;
  [variable: string]: unknown;
}

export interface Settings {
  rotateRefreshTokens: boolean;
  refreshReuseGraceSeconds: number;
  accessLifetime: number;
  refreshLifetime: number;
  issuer: string | undefined;
  audience: string | undefined;
  signingKid: string | undefined;
  throttleAccountFailures: number;
  throttleClientFailures: number;
  throttleWindowSeconds: number;
  pbkdf2Iterations: number;
  pbkdf2MaxIterations: number;
  updateLastLogin: boolean;
  familyMaxAge: number;
  maxSessionsPerUser: number;
  /** `PBKDF2_IMPL`: `noble` (pure JavaScript, what production allows) or `webcrypto`. */
  pbkdf2Impl: "noble" | "webcrypto";
}

/** A configuration error: answered with the contract's 500, its cause logged. */
export class ConfigError extends Error {}

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function int(env: Env, name: string, fallback: number): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(`variable ${name} is ${JSON.stringify(value)}, not a whole number`);
  return Number(value);
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new ConfigError(`variable ${name} is ${JSON.stringify(value)}; use true, false, 1 or 0`);
}

let cached: Settings | undefined;

/** The settings, read once per isolate. */
export function settings(env: Env): Settings {
  if (cached) return cached;
  const pbkdf2Iterations = int(env, "PBKDF2_ITERATIONS", 600_000);
  const impl = text(env, "PBKDF2_IMPL") ?? "noble";
  if (impl !== "noble" && impl !== "webcrypto") {
    throw new ConfigError(`variable PBKDF2_IMPL is ${JSON.stringify(impl)}; use noble or webcrypto`);
  }
  cached = {
    rotateRefreshTokens: flag(env, "ROTATE_REFRESH_TOKENS", true),
    refreshReuseGraceSeconds: int(env, "REFRESH_REUSE_GRACE_SECONDS", 10),
    accessLifetime: int(env, "ACCESS_TOKEN_LIFETIME_SECONDS", 300),
    refreshLifetime: int(env, "REFRESH_TOKEN_LIFETIME_SECONDS", 86_400),
    issuer: text(env, "JWT_ISSUER"),
    audience: text(env, "JWT_AUDIENCE"),
    signingKid: text(env, "JWT_SIGNING_KID"),
    throttleAccountFailures: int(env, "LOGIN_THROTTLE_ACCOUNT_FAILURES", 5),
    throttleClientFailures: int(env, "LOGIN_THROTTLE_CLIENT_FAILURES", 100),
    throttleWindowSeconds: int(env, "LOGIN_THROTTLE_WINDOW_SECONDS", 300),
    pbkdf2Iterations,
    pbkdf2MaxIterations: Math.max(int(env, "PBKDF2_MAX_ITERATIONS", 1_000_000), pbkdf2Iterations),
    updateLastLogin: flag(env, "UPDATE_LAST_LOGIN", false),
    familyMaxAge: int(env, "REFRESH_FAMILY_MAX_AGE_SECONDS", 2_592_000),
    maxSessionsPerUser: int(env, "MAX_SESSIONS_PER_USER", 100),
    pbkdf2Impl: impl,
  };
  return cached;
}
