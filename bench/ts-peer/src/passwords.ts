// Django's password hashes, `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>`.
//
// Two implementations of PBKDF2-HMAC-SHA256: `noble` (@noble/hashes, pure JavaScript) is what
// a TypeScript Worker must use in production, where WebCrypto refuses more than 100 000
// iterations; `webcrypto` (crypto.subtle) runs only locally, where workerd has no such cap.

import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";

export type Pbkdf2Impl = "noble" | "webcrypto";

const ALGORITHM = "pbkdf2_sha256";
const SALT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SALT_LENGTH = 22;
const encoder = new TextEncoder();

async function derive(impl: Pbkdf2Impl, password: string, salt: string, iterations: number): Promise<Uint8Array> {
  if (impl === "noble") return pbkdf2(sha256, password, salt, { c: iterations, dkLen: 32 });
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(salt), iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

async function encode(impl: Pbkdf2Impl, password: string, salt: string, iterations: number): Promise<string> {
  return `${ALGORITHM}$${iterations}$${salt}$${base64(await derive(impl, password, salt, iterations))}`;
}

/** The iteration count of a well-formed `pbkdf2_sha256` hash, and its salt. */
function parts(stored: string): { iterations: number; salt: string } | undefined {
  const [algorithm, count, salt, digest] = stored.split("$", 4);
  if (algorithm !== ALGORITHM || salt === undefined || digest === undefined || !/^\d+$/.test(count ?? "")) {
    return undefined;
  }
  const iterations = Number(count);
  return iterations > 0 && iterations <= 0xffffffff ? { iterations, salt } : undefined;
}

export function iterationsOf(stored: string): number | undefined {
  return parts(stored)?.iterations;
}

/** Constant-time comparison of two strings of the same length. */
function same(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * Whether `password` matches `stored`, hashing at most `maxIterations` times, and the
 * iterations spent (so that every failed login can be made to cost the same).
 */
export async function check(
  impl: Pbkdf2Impl,
  stored: string,
  password: string,
  maxIterations: number,
): Promise<{ matches: boolean; iterations: number }> {
  const found = parts(stored);
  if (!found || found.iterations > maxIterations) return { matches: false, iterations: 0 };
  const candidate = await encode(impl, password, found.salt, found.iterations);
  return { matches: same(candidate, stored), iterations: found.iterations };
}

/** Hashing work thrown away: a failed login costs the slowest accepted hash, whatever failed. */
export async function burn(impl: Pbkdf2Impl, password: string, iterations: number): Promise<void> {
  if (iterations > 0) await derive(impl, password, "dummy-salt-for-timing", iterations);
}

/** A new hash with a fresh salt (Django's 22 characters of [a-zA-Z0-9]). */
export async function hash(impl: Pbkdf2Impl, password: string, iterations: number): Promise<string> {
  let salt = "";
  while (salt.length < SALT_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(64))) {
      if (salt.length < SALT_LENGTH && byte < 248) salt += SALT_ALPHABET[byte % SALT_ALPHABET.length];
    }
  }
  return encode(impl, password, salt, iterations);
}
