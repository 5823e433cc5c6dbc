// A software WebAuthn authenticator for the end-to-end tests, with the browser's part (the
// client data and the JSON forms of `PublicKeyCredential.toJSON()`): what Chromium's virtual
// authenticator does, written here with node:crypto and a small CBOR encoder, independently of
// the worker's code. Every field it writes can be overridden, for the hostile tests.
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

/** Authenticator data flags (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const sha256 = (data) => createHash("sha256").update(data).digest();

/** The head of a CBOR item: major type and argument, in its shortest form. */
function head(major, argument) {
  const type = major << 5;
  const n = BigInt(argument);
  if (n < 24n) return Buffer.from([type | Number(n)]);
  if (n < 0x100n) return Buffer.from([type | 24, Number(n)]);
  if (n < 0x10000n) {
    const out = Buffer.alloc(3);
    out[0] = type | 25;
    out.writeUInt16BE(Number(n), 1);
    return out;
  }
  if (n < 0x100000000n) {
    const out = Buffer.alloc(5);
    out[0] = type | 26;
    out.writeUInt32BE(Number(n), 1);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = type | 27;
  out.writeBigUInt64BE(n, 1);
  return out;
}

/**
 * CBOR (RFC 8949) of `value`, definite lengths only: integers (numbers or bigints), byte strings
 * (Buffer, Uint8Array), text strings, arrays, maps (a Map for any keys, in its order; a plain
 * object for text keys), booleans and null.
 */
export function cbor(value) {
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isInteger(value)) throw new TypeError(`not an integer: ${value}`);
    const n = BigInt(value);
    return n >= 0n ? head(0, n) : head(1, -1n - n);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  if (value instanceof Map) {
    const entries = [...value].flatMap(([k, v]) => [cbor(k), cbor(v)]);
    return Buffer.concat([head(5, value.size), ...entries]);
  }
  if (value === false) return Buffer.from([0xf4]);
  if (value === true) return Buffer.from([0xf5]);
  if (value === null) return Buffer.from([0xf6]);
  if (typeof value === "object") return cbor(new Map(Object.entries(value)));
  throw new TypeError(`no CBOR for ${typeof value}`);
}

/** A fresh key pair of `algorithm` ("ES256", "EdDSA" or "RS256") and its COSE_Key. */
function keyPair(algorithm) {
  if (algorithm === "ES256") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { x, y } = publicKey.export({ format: "jwk" });
    const coseKey = new Map([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(x, "base64url")],
      [-3, Buffer.from(y, "base64url")],
    ]);
    return { privateKey, coseKey: cbor(coseKey) };
  }
  if (algorithm === "EdDSA") {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const { x } = publicKey.export({ format: "jwk" });
    const coseKey = new Map([
      [1, 1],
      [3, -8],
      [-1, 6],
      [-2, Buffer.from(x, "base64url")],
    ]);
    return { privateKey, coseKey: cbor(coseKey) };
  }
  if (algorithm === "RS256") {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { n, e } = publicKey.export({ format: "jwk" });
    const coseKey = new Map([
      [1, 3],
      [3, -257],
      [-1, Buffer.from(n, "base64url")],
      [-2, Buffer.from(e, "base64url")],
    ]);
    return { privateKey, coseKey: cbor(coseKey) };
  }
  throw new Error(`unknown algorithm ${algorithm}`);
}

/** The signature of `data` with `credential`'s key: DER ECDSA, raw Ed25519 or PKCS #1 v1.5. */
function signWith(credential, data) {
  return sign(credential.algorithm === "EdDSA" ? null : "sha256", data, credential.privateKey);
}

/** The client data JSON of a ceremony, as browsers write it (member order and all). */
export function clientData({ type, challenge, origin, crossOrigin = false }) {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin }));
}

/** Authenticator data: RP ID hash ‖ flags ‖ counter (u32 BE) ‖ attested credential data. */
export function authenticatorData({ rpId, rpIdHash = sha256(rpId), flags, counter, attested = Buffer.alloc(0) }) {
  const counterBytes = Buffer.alloc(4);
  counterBytes.writeUInt32BE(counter >>> 0);
  return Buffer.concat([rpIdHash, Buffer.from([flags]), counterBytes, attested]);
}

/**
 * One authenticator with its credentials (passkeys: discoverable, each with the user handle it
 * was made for and its signature counter), and the browser around it on `origin`.
 *
 * `algorithm`: "ES256", "EdDSA" (or "RS256", which the worker does not offer); `rpId`: the
 * RP ID it uses instead of the options' (a phishing site's, say); `signCount`: the counter of
 * new credentials; `fixedCounter`: a counter that stays at `signCount` (0: synced passkeys);
 * `backup`: backup eligible and backed up (flags BE and BS).
 */
export class Authenticator {
  constructor({ algorithm = "ES256", rpId, origin, signCount = 0, fixedCounter = false, backup = false } = {}) {
    Object.assign(this, { algorithm, rpId, origin, signCount, fixedCounter, backup });
    this.credentials = [];
  }

  /**
   * `navigator.credentials.create` for creation options (JSON form) → RegistrationResponseJSON.
   * `overrides`: `credential` (an existing one, to register again: its id and key),
   * `credentialId` (bytes), `origin`, `rpId`, `rpIdHash`, `type`, `challenge`, `crossOrigin`,
   * `clientDataJSON` (bytes), `flags`, `counter`, `fmt`, `attStmt`, `coseKey` (bytes),
   * `authData` (bytes), `attestationObject` (bytes), `algorithm`.
   */
  create(options, overrides = {}) {
    const rpId = overrides.rpId ?? this.rpId ?? options.rp.id;
    const algorithm = overrides.algorithm ?? this.algorithm;
    let credential = overrides.credential;
    if (credential === undefined) {
      const id = overrides.credentialId ?? randomBytes(16 + (randomBytes(1)[0] % 17));
      const { privateKey, coseKey } = keyPair(algorithm);
      credential = {
        id: Buffer.from(id),
        algorithm,
        privateKey,
        coseKey,
        userHandle: options.user.id,
        counter: overrides.counter ?? this.signCount,
        fixedCounter: this.fixedCounter,
        backup: this.backup,
        rpId,
      };
      this.credentials.push(credential);
    }
    const clientDataJSON =
      overrides.clientDataJSON ??
      clientData({
        type: overrides.type ?? "webauthn.create",
        challenge: overrides.challenge ?? options.challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: overrides.crossOrigin ?? false,
      });
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const attested = Buffer.concat([
      Buffer.alloc(16),
      idLength,
      credential.id,
      overrides.coseKey ?? credential.coseKey,
    ]);
    const backupFlags = credential.backup ? FLAGS.BE | FLAGS.BS : 0;
    const authData =
      overrides.authData ??
      authenticatorData({
        rpId,
        rpIdHash: overrides.rpIdHash,
        flags: overrides.flags ?? FLAGS.UP | FLAGS.UV | FLAGS.AT | backupFlags,
        counter: overrides.counter ?? credential.counter,
        attested,
      });
    const attestationObject =
      overrides.attestationObject ??
      cbor(
        new Map([
          ["fmt", overrides.fmt ?? "none"],
          ["attStmt", overrides.attStmt ?? new Map()],
          ["authData", authData],
        ]),
      );
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  /** A credential by its id (base64url), or the credential given. */
  credential(which) {
    if (typeof which !== "string") return which;
    return this.credentials.find((c) => b64url(c.id) === which);
  }

  /**
   * `navigator.credentials.get` for request options (JSON form) → AuthenticationResponseJSON.
   * With `allowCredentials` empty, the discoverable credential `credential` (an object or its
   * id) or the first one for the RP ID answers. The counter grows by one before each
   * signature, unless fixed. `overrides`: `origin`, `rpId`, `rpIdHash`, `type`, `challenge`,
   * `crossOrigin`, `clientDataJSON` (bytes), `flags`, `counter` (also kept as the credential's),
   * `userHandle` (base64url, or null for none), `authenticatorData` (bytes), `signature` (bytes).
   */
  get(options, { credential: chosen, ...overrides } = {}) {
    const rpId = overrides.rpId ?? this.rpId ?? options.rpId;
    const allowed = (options.allowCredentials ?? []).map((descriptor) => descriptor.id);
    let credential;
    if (chosen !== undefined) credential = this.credential(chosen);
    else if (allowed.length) credential = this.credentials.find((c) => allowed.includes(b64url(c.id)));
    else credential = this.credentials.find((c) => c.rpId === rpId) ?? this.credentials[0];
    if (credential === undefined) throw new Error("no credential for these options");
    if (overrides.counter !== undefined) credential.counter = overrides.counter;
    else if (!credential.fixedCounter) credential.counter += 1;
    const clientDataJSON =
      overrides.clientDataJSON ??
      clientData({
        type: overrides.type ?? "webauthn.get",
        challenge: overrides.challenge ?? options.challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: overrides.crossOrigin ?? false,
      });
    const backupFlags = credential.backup ? FLAGS.BE | FLAGS.BS : 0;
    const authData =
      overrides.authenticatorData ??
      authenticatorData({
        rpId,
        rpIdHash: overrides.rpIdHash,
        flags: overrides.flags ?? FLAGS.UP | FLAGS.UV | backupFlags,
        counter: credential.counter,
      });
    const signature = overrides.signature ?? signWith(credential, Buffer.concat([authData, sha256(clientDataJSON)]));
    const userHandle = overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }
}
