// The flows of the peer's routes, decision for decision those of the worker's
// src/domain/sessions.rs and accounts.rs: login with throttling, refresh with rotation and
// theft detection, verify, and Bearer authentication.

import type { Env, Settings } from "./env";
import * as errors from "./errors";
import { check, burn, hash, iterationsOf } from "./passwords";
import { type Buckets, type Client, Denylist, Store, type UserRow } from "./store";
import { issue, keys, TokenRefused, type TokenKind, type Verified, verify } from "./tokens";

/** What every flow needs besides its input. */
export interface Context {
  env: Env;
  settings: Settings;
  /** Epoch seconds, read once per request. */
  now: number;
  /** Work after the answer. */
  waitUntil: (work: Promise<unknown>) => void;
}

async function verifyAs(ctx: Context, token: string, expected: TokenKind | null): Promise<Verified> {
  try {
    return await verify(await keys(ctx.env, ctx.settings), ctx.settings, token, expected, ctx.now);
  } catch (error) {
    if (error instanceof TokenRefused) throw errors.tokenError(error.problem);
    throw error;
  }
}

// ---------------------------------------------------------------- login (§4.2, §6)

const encoder = new TextEncoder();

/** `<kind>:<base64url SHA-256>` of the parts, each prefixed with its UTF-8 length (u64, big-endian). */
async function bucketKey(kind: string, parts: string[]): Promise<string> {
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    const bytes = encoder.encode(part);
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(bytes.length));
    chunks.push(length, bytes);
  }
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  const base64 = btoa(String.fromCharCode(...digest));
  return `${kind}:${base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")}`;
}

/** The client an address stands for: an IPv4 address, an IPv6 address by its /64. */
function clientIdentity(address: string): string {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(address)) {
    return `4:${address}`;
  }
  const groups = ipv6Groups(address);
  if (!groups) return `?:${address}`;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return `4:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return `6:${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}`;
}

function ipv6Groups(address: string): number[] | undefined {
  // A dotted IPv4 tail stands for the last two groups.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    [a, b, c, d].some((o) => Number(o) > 255)
      ? "x"
      : `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) => (part ? part.split(":") : []);
  const [head, rest] = [parse(halves[0]), parse(halves[1])];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  return [...head, ...new Array<string>(halves.length === 1 ? 0 : fill).fill("0"), ...rest].map((g) =>
    Number.parseInt(g, 16),
  );
}

async function buckets(client: Client, email: string): Promise<Buckets> {
  const ip = client.ip.trim();
  const identity = ip === "" ? undefined : clientIdentity(ip);
  const lowered = email.trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
  return {
    account: await bucketKey("a", [identity ?? "", lowered]),
    client: identity === undefined ? undefined : await bucketKey("c", [identity]),
  };
}

export async function login(
  ctx: Context,
  email: string,
  password: string,
  client: Client,
): Promise<{ refresh: string; access: string }> {
  const { settings, now } = ctx;
  const impl = settings.pbkdf2Impl;
  const store = new Store(ctx.env);
  const bucketsOf = await buckets(client, email);
  const { counted, user } = await store.beginLogin(bucketsOf, settings.throttleWindowSeconds, now, email);
  const limits = [settings.throttleAccountFailures, settings.throttleClientFailures];
  const full = counted.filter((bucket, i) => bucket.failures > (limits[i] ?? 0));
  if (full.length > 0) {
    await store.releaseFailures(bucketsOf);
    const window = settings.throttleWindowSeconds;
    throw errors.throttled(Math.max(...full.map((bucket) => Math.max(bucket.window_start + window - now, 1))));
  }
  const most = settings.pbkdf2MaxIterations;
  const verification = user ? await check(impl, user.password, password, most) : undefined;
  if (!user?.is_active || !verification?.matches) {
    await burn(impl, password, most - (verification?.iterations ?? 0));
    if (user) await store.recordEvent(user.id, "login_failed", now, client);
    throw errors.badCredentials();
  }
  if (user.mfa) {
    // The second step (docs/accounts.md §5) is not part of the peer.
    await store.releaseFailures(bucketsOf);
    throw errors.internal("the peer has no second factor");
  }
  return start(ctx, store, user, password, bucketsOf, client);
}

/** A new session for `user`: its first tokens, recorded with the login event. */
async function start(
  ctx: Context,
  store: Store,
  user: UserRow,
  password: string,
  bucketsOf: Buckets,
  client: Client,
): Promise<{ refresh: string; access: string }> {
  const { settings, now } = ctx;
  const ring = await keys(ctx.env, settings);
  const refresh = await issue(ring, settings, "refresh", user.id, undefined, now);
  const access = await issue(ring, settings, "access", user.id, refresh.sid, now);
  // Django's rule: a hash made with another iteration count is replaced on login.
  const rehash =
    iterationsOf(user.password) === settings.pbkdf2Iterations
      ? undefined
      : await hash(settings.pbkdf2Impl, password, settings.pbkdf2Iterations);
  let revoked: Awaited<ReturnType<Store["recordLogin"]>>;
  try {
    revoked = await store.recordLogin({
      user,
      refresh,
      buckets: bucketsOf,
      client,
      stampLastLogin: settings.updateLastLogin,
      rehash,
      maxSessions: settings.maxSessionsPerUser,
    });
  } catch (error) {
    await store.releaseFailures(bucketsOf).catch(() => {});
    throw error;
  }
  await new Denylist(ctx.env).publishRevoked(revoked, now);
  return { refresh: refresh.encoded, access: access.encoded };
}

// ---------------------------------------------------------------- refresh (§4.3, §5)

/**
 * One storage round trip on success: the rotation batch (or, without rotation, the token's
 * state). The used token reaches the KV denylist after the answer.
 */
export async function refresh(ctx: Context, token: string): Promise<{ access: string; refresh?: string }> {
  const { settings, now } = ctx;
  const claims = await verifyAs(ctx, token, "refresh");
  if (claims.userId === undefined) throw errors.noActiveAccount();
  const store = new Store(ctx.env);
  const presented = { jti: claims.jti, userId: claims.userId, iat: claims.iat ?? 0, exp: claims.exp };
  const ring = await keys(ctx.env, settings);
  // A token from before sessions had ids names none: its family is its session.
  const sid = claims.sid ?? (await store.tokenState(presented)).family;
  const access = async () => (await issue(ring, settings, "access", presented.userId, sid, now)).encoded;
  const denylist = new Denylist(ctx.env);
  if (settings.rotateRefreshTokens) {
    const successor = await issue(ring, settings, "refresh", presented.userId, sid, now);
    if (await store.rotate(presented, successor, now - settings.familyMaxAge, now)) {
      ctx.waitUntil(denylist.publish([{ jti: claims.jti, exp: claims.exp, value: `used:${now}` }], now));
      return { access: await access(), refresh: successor.encoded };
    }
  }
  // Not rotated: find out why, in the contract's order (denylist, then the user).
  const state = await store.tokenState(presented);
  if (state.revoked_at !== null) throw errors.tokenError("blacklisted");
  if (state.used_at !== null) {
    if (now - state.used_at > settings.refreshReuseGraceSeconds) {
      await denylist.publishRevoked(await store.revokeFamily(state.family, now), now);
      if (state.active !== null) await store.recordEvent(presented.userId, "refresh_reuse_detected", now, noClient);
      console.warn(`refresh token reused ${now - state.used_at}s after rotation: its family was revoked`);
    }
    throw errors.tokenError("blacklisted");
  }
  if (state.active !== 1) throw errors.noActiveAccount();
  if (presented.iat < (state.valid_after ?? 0)) throw errors.tokenError("invalid");
  if (state.started_at !== null && state.started_at <= now - settings.familyMaxAge) {
    await denylist.publishRevoked(await store.revokeFamily(state.family, now), now);
    throw errors.tokenError("invalid");
  }
  if (settings.rotateRefreshTokens) {
    throw errors.unavailable("storage failure during rotation: the token changed between rotation and its state read");
  }
  return { access: await access() };
}

const noClient: Client = { ip: "", country: "", userAgent: "" };

// ---------------------------------------------------------------- verify (§4.4)

/** Any valid token; a refresh token must not be on the denylist. An access token costs no storage. */
export async function verifyToken(ctx: Context, token: string): Promise<void> {
  const claims = await verifyAs(ctx, token, null);
  if (claims.kind === "refresh" && (await new Denylist(ctx.env).get(claims.jti)) !== null) {
    throw errors.tokenError("blacklisted");
  }
}

// ---------------------------------------------------------------- Bearer authentication (§4.7)

/** The active user an access token names, read from the nearest replica. */
export async function authenticate(ctx: Context, token: string): Promise<UserRow> {
  let claims: Verified;
  try {
    claims = await verify(await keys(ctx.env, ctx.settings), ctx.settings, token, "access", ctx.now);
  } catch (error) {
    if (error instanceof TokenRefused) throw errors.bearerError(error.problem);
    throw error;
  }
  if (claims.userId === undefined) throw errors.noUserIdentification();
  const store = new Store(ctx.env, true);
  const user = await store.userById(claims.userId);
  if (!user) throw errors.userNotFound();
  const iat = claims.iat ?? 0;
  if (iat < user.tokens_valid_after) throw errors.bearerError("invalid");
  // A token of the very second its user's tokens were ended stands only if its login is live.
  if (iat === user.tokens_valid_after && iat > 0) {
    if (claims.sid === undefined || !(await store.sessionLive(claims.userId, claims.sid, ctx.now))) {
      throw errors.bearerError("invalid");
    }
  }
  if (!user.is_active) throw errors.userInactive();
  return user;
}
