// Access and refresh tokens with jose: EdDSA (Ed25519) compact JWS with the worker's header
// (`typ, alg, kid`) and claims (`token_type, exp, iat, jti, user_id, sid[, aud][, iss]`), signed
// with the keys of the worker's JWT_SIGNING_KEYS secret, so that a token of one verifies in the
// other (docs/contract.md §3).

import { SignJWT, calculateJwkThumbprint, importJWK, jwtVerify } from "jose";
import { ConfigError, type Env, type Settings } from "./env";
import type { TokenProblem } from "./errors";

export type TokenKind = "access" | "refresh";

interface Key {
  kid: string;
  signing: CryptoKey;
  verifying: CryptoKey;
}

interface Keyring {
  signing: Key;
  byKid: Map<string, Key>;
}

/** A token just signed. */
export interface Issued {
  encoded: string;
  jti: string;
  /** The login it belongs to: the jti of the login's first refresh token. */
  sid: string;
  iat: number;
  exp: number;
}

/** The claims of a token whose signature, expiry, issuer and audience were checked. */
export interface Verified {
  kind: TokenKind | null;
  jti: string;
  userId: number | undefined;
  sid: string | undefined;
  iat: number | undefined;
  exp: number;
}

/** Thrown by verify: the contract's reason. */
export class TokenRefused extends Error {
  constructor(readonly problem: TokenProblem) {
    super(problem);
  }
}

let keyring: { secret: string; ring: Promise<Keyring> } | undefined;

/** The keys of JWT_SIGNING_KEYS (a JSON array of private OKP JWKs), imported once per isolate. */
export function keys(env: Env, settings: Settings): Promise<Keyring> {
  const secret = env.JWT_SIGNING_KEYS ?? "";
  if (keyring?.secret !== secret) keyring = { secret, ring: importKeys(secret, settings.signingKid) };
  return keyring.ring;
}

async function importKeys(secret: string, signingKid: string | undefined): Promise<Keyring> {
  let entries: unknown;
  try {
    entries = JSON.parse(secret);
  } catch {
    throw new ConfigError("secret JWT_SIGNING_KEYS is not valid JSON");
  }
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new ConfigError("secret JWT_SIGNING_KEYS must be a non-empty JSON array of Ed25519 private JWKs");
  }
  const byKid = new Map<string, Key>();
  const ordered: Key[] = [];
  for (const entry of entries as { kty?: string; crv?: string; x?: string; d?: string }[]) {
    const { kty, crv, x, d } = entry;
    if (kty !== "OKP" || crv !== "Ed25519" || typeof x !== "string" || typeof d !== "string") {
      throw new ConfigError("secret JWT_SIGNING_KEYS: every key must be an Ed25519 private JWK");
    }
    const key: Key = {
      kid: await calculateJwkThumbprint({ crv, kty, x }, "sha256"),
      signing: (await importJWK({ kty, crv, x, d }, "EdDSA")) as CryptoKey,
      verifying: (await importJWK({ kty, crv, x }, "EdDSA")) as CryptoKey,
    };
    byKid.set(key.kid, key);
    ordered.push(key);
  }
  const signing = signingKid === undefined ? ordered[0] : byKid.get(signingKid);
  if (!signing) throw new ConfigError(`variable JWT_SIGNING_KID names none of the keys of JWT_SIGNING_KEYS`);
  return { signing, byKid };
}

/** Signs a new token of `kind` for `userId`, valid from `now` for the kind's lifetime. */
export async function issue(
  ring: Keyring,
  settings: Settings,
  kind: TokenKind,
  userId: number,
  sid: string | undefined,
  now: number,
): Promise<Issued> {
  const jti = crypto.randomUUID().replaceAll("-", "");
  const session = sid ?? jti;
  const exp = now + (kind === "access" ? settings.accessLifetime : settings.refreshLifetime);
  const claims: Record<string, unknown> = { token_type: kind, exp, iat: now, jti, user_id: userId, sid: session };
  if (settings.audience !== undefined) claims.aud = settings.audience;
  if (settings.issuer !== undefined) claims.iss = settings.issuer;
  const encoded = await new SignJWT(claims)
    .setProtectedHeader({ typ: "JWT", alg: "EdDSA", kid: ring.signing.kid })
    .sign(ring.signing.signing);
  return { encoded, jti, sid: session, iat: now, exp };
}

/**
 * Validates `token` in the contract's order of checks (§3.2). `expected`: the kind the route
 * wants, or null for `/token/verify/`.
 */
export async function verify(
  ring: Keyring,
  settings: Settings,
  token: string,
  expected: TokenKind | null,
  now: number,
): Promise<Verified> {
  let claims: Record<string, unknown>;
  try {
    const verified = await jwtVerify(
      token,
      (header) => {
        const key = ring.byKid.get(header.kid ?? "");
        if (!key) throw new TokenRefused("invalid");
        return key.verifying;
      },
      {
        algorithms: ["EdDSA"],
        requiredClaims: ["exp"],
        issuer: settings.issuer,
        audience: settings.audience,
        currentDate: new Date(now * 1000),
      },
    );
    claims = verified.payload;
  } catch {
    throw new TokenRefused("invalid");
  }
  if (claims.token_type == null) throw new TokenRefused("no_type");
  if (claims.jti == null) throw new TokenRefused("no_id");
  const kind = claims.token_type === "access" || claims.token_type === "refresh" ? claims.token_type : null;
  if (expected !== null && kind !== expected) throw new TokenRefused("wrong_type");
  const { jti, user_id: userId, sid, iat } = claims;
  return {
    kind,
    jti: typeof jti === "string" ? jti : JSON.stringify(jti),
    userId: Number.isSafeInteger(userId) ? (userId as number) : undefined,
    sid: typeof sid === "string" ? sid : undefined,
    iat: typeof iat === "number" ? Math.trunc(iat) : undefined,
    exp: Math.trunc(claims.exp as number),
  };
}
