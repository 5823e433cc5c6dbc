// The request and answer bodies of edge-auth, written by hand from docs/contract.md,
// docs/accounts.md and src/contract/openapi.json. Every field the server reads is a string.

/** A compact JWS (docs/contract.md §3.1). */
export type Jwt = string;

/** The two tokens of a login. */
export interface Tokens {
  access: Jwt;
  refresh: Jwt;
}

// ---- requests --------------------------------------------------------------------------

/** `POST /register/` (docs/contract.md §4.1). */
export interface RegisterRequest {
  email: string;
  username: string;
  password: string;
  password2: string;
}

/** `POST /login/` (docs/accounts.md §3): `username` is ignored by the server. */
export interface LoginRequest {
  email: string;
  password: string;
}

/** `POST /mfa/verify/` (docs/accounts.md §5): a TOTP or recovery code. */
export interface MfaVerifyRequest {
  ephemeral_token: string;
  code: string;
}

/** `POST /token/refresh/` (docs/contract.md §4.3), `POST /logout/` (docs/accounts.md §3). */
export interface RefreshRequest {
  refresh: Jwt;
}

/** `PATCH /user/`: `pk` and `email` are read-only and ignored. */
export interface UserPatch {
  username?: string;
  first_name?: string;
  last_name?: string;
}

/** `POST /password/change/`. */
export interface PasswordChangeRequest {
  old_password: string;
  new_password1: string;
  new_password2: string;
}

/** `POST /password/reset/`. */
export interface PasswordResetRequest {
  email: string;
}

/** `POST /password/reset/confirm/`. */
export interface PasswordResetConfirmRequest {
  uid: string;
  token: string;
  new_password1: string;
  new_password2: string;
}

/** `POST /registration/verify-email/`. */
export interface VerifyEmailRequest {
  key: string;
}

/** `POST /user/delete/`. */
export interface DeleteAccountRequest {
  password: string;
}

// ---- answers ---------------------------------------------------------------------------

/** `201` of `POST /register/`: no id, no tokens. */
export interface Registered {
  email: string;
  username: string;
}

/** `GET /user/` and the `user` of a login. */
export interface User {
  pk: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
}

/** `200` of `POST /login/` and `POST /mfa/verify/`. */
export interface LoginSuccess {
  access: Jwt;
  refresh: Jwt;
  user: User;
}

/** `200` of a login whose user has MFA on: no tokens yet, call `verifyMfa`. */
export interface MfaRequired {
  ephemeral_token: string;
  mfa_required: true;
}

export type LoginResult = LoginSuccess | MfaRequired;

/** `200` of `POST /token/refresh/`: with rotation on (the default) a successor refresh token. */
export interface RefreshedTokens {
  access: Jwt;
  refresh?: Jwt;
}

/** `{"detail": "<message>"}`: successes of the account routes and most errors. */
export interface Detail {
  detail: string;
}

/** `{}`: `POST /sessions/<id>/revoke/`, `POST /token/blacklist/`. */
export type Empty = Record<string, never>;

/** One live session of `GET /sessions/`, newest first; times are ISO 8601 UTC. */
export interface Session {
  id: string;
  created: string;
  last_refreshed: string;
  expires: string;
  user_agent: string;
  /** Empty when unknown. */
  ip: string;
  /** The `CF-IPCountry` code, empty when unknown. */
  country: string;
  /** The session of the token that asked. */
  current: boolean;
}

// ---- errors ----------------------------------------------------------------------------

/** A token error (`code` present) or a generic one (docs/contract.md §2.2). */
export interface DetailError {
  detail: string;
  code?: string;
  messages?: { token_class: string; token_type: string; message: string }[];
}

/** Field validation: the failing fields, each with its messages, or `non_field_errors`. */
export type FieldErrors = Record<string, string[]>;

/** Any error body the server sends. `null` when the answer was not JSON. */
export type ErrorBody = DetailError | FieldErrors | null;

// ---- configuration ---------------------------------------------------------------------

/**
 * Where the tokens are kept: an object with get/set/remove of strings, synchronous or not
 * (a wrapper over `sessionStorage` or `localStorage` fits). The client stores one JSON value
 * under one key.
 */
export interface TokenStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

export interface ClientOptions {
  /** The worker's origin, optionally with a path prefix such as `/api`. */
  baseUrl: string;
  /** Token storage; in memory (lost on reload) when absent. */
  storage?: TokenStorage;
  /** The key under which `storage` holds the tokens (default `edge-auth-tokens`). */
  storageKey?: string;
  /** Called when the client forgets its tokens because the server refused them. */
  onLogout?: (reason: LogoutReason) => void;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

/**
 * Why the tokens were forgotten: `logout()`; the refresh was refused; another tab saw its
 * refresh refused; the password was changed or the account deleted (every login ends).
 */
export type LogoutReason = "logout" | "refresh_refused" | "other_tab" | "password_changed" | "account_deleted";

export interface ClientEvents {
  /** The tokens were forgotten. */
  logout: LogoutReason;
  /** New tokens were stored: a login, a refresh here, or a refresh by another tab. */
  tokens: Tokens;
}
