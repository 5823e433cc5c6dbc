// docs/accounts.md §6: passkeys (WebAuthn) with dj-rest-auth's `passkeys` routes: registration
// by a logged-in user, passwordless login with a discoverable credential, the list and the
// deletion. The browser and its authenticator are webauthn.mjs's (node:crypto), so every
// answer the worker checks was written here, independently of its code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, MAIN_STATE, bearer, call, decode, expectReply, loggedIn, post, withMfa } from "./lib.mjs";
import { Authenticator, FLAGS, cbor } from "./webauthn.mjs";
import { d1 } from "./worker.mjs";

const ORIGIN = new URL(MAIN).origin;
const RP_ID = new URL(MAIN).hostname;
const INVALID_PASSKEY = { credential: ["Invalid passkey."] };
const INVALID_CHALLENGE = { credential: ["Invalid or expired challenge."] };
const REQUIRED = { credential: ["This field is required."] };
const ALREADY_REGISTERED = { credential: ["This passkey is already registered."] };
const REFUSED = { non_field_errors: ["Unable to log in with provided credentials."] };
const NOT_FOUND = { detail: "Not found." };
const UNAUTHENTICATED = { detail: "Authentication credentials were not provided." };
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** An authenticator in a browser on the worker's own origin. */
const authenticator = (options = {}) => new Authenticator({ origin: ORIGIN, ...options });

/** The creation options of POST /passkeys/register/begin/ for `access`. */
async function beginRegistration(access, path = "/passkeys/register/begin/") {
  const reply = await post(MAIN, path, {}, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  return reply.body.options;
}

const completeRegistration = (access, body, path = "/passkeys/register/complete/") =>
  post(MAIN, path, body, { headers: bearer(access) });

/** Registers a new passkey of `device` for `access`; resolves to the passkey as answered. */
async function register(access, device, name) {
  const credential = device.create(await beginRegistration(access));
  const reply = await completeRegistration(access, { credential, ...(name === undefined ? {} : { name }) });
  assert.equal(reply.status, 201, reply.text);
  return reply.body;
}

/** A fresh user logged in with a password, with one passkey on a fresh authenticator. */
async function withPasskey(options = {}) {
  const login = await loggedIn();
  const device = authenticator(options);
  const passkey = await register(login.access, device);
  return { ...login, device, passkey, pk: decode(login.access).payload.user_id };
}

/** The request options of POST /passkeys/login/begin/. */
async function beginLogin(body = {}, path = "/passkeys/login/begin/") {
  const reply = await post(MAIN, path, body);
  assert.equal(reply.status, 200, reply.text);
  return reply.body.options;
}

const completeLogin = (credential, path = "/passkeys/login/complete/") => post(MAIN, path, { credential });

/** A whole passkey login with `device` (its `get` overrides in `overrides`). */
async function passkeyLogin(device, overrides) {
  return completeLogin(device.get(await beginLogin(), overrides));
}

const listPasskeys = (access) => call(MAIN, "GET", "/passkeys/", { headers: bearer(access) });

/** Asserts a 200 login answer for `user` (dj-rest-auth's, never cached); resolves to it. */
function expectLogin(reply, user) {
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["access", "refresh", "user"]);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  const { user_id } = decode(reply.body.access).payload;
  assert.deepEqual(reply.body.user, {
    pk: user_id,
    username: user.username,
    email: user.email,
    first_name: "",
    last_name: "",
  });
  return reply.body;
}

/** Asserts a JSON client error (never a 5xx, never HTML). */
function expectClientError(reply, what) {
  assert.ok(reply.status >= 400 && reply.status < 500, `${what}: status ${reply.status} (body: ${reply.text})`);
  assert.notEqual(reply.body, undefined, `${what}: not JSON: ${reply.text}`);
}

test("register/begin answers creation options for the caller's account, never cached", async () => {
  const { user, access } = await loggedIn(MAIN, { username: "Ann" });
  const reply = await post(MAIN, "/passkeys/register/begin/", { ignored: true }, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  assert.deepEqual(Object.keys(reply.body), ["options"]);
  const { options } = reply.body;
  assert.deepEqual(options, {
    rp: { id: "127.0.0.1", name: "Edge Auth" },
    user: { id: options.user.id, name: user.email, displayName: "Ann" },
    challenge: options.challenge,
    pubKeyCredParams: [
      { type: "public-key", alg: -8 },
      { type: "public-key", alg: -7 },
    ],
    timeout: 300000,
    attestation: "none",
    authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "preferred" },
    excludeCredentials: [],
  });
  assert.match(options.challenge, /^[\w-]{43}$/);
  assert.equal(Buffer.from(options.challenge, "base64url").length, 32);
  // The user handle is opaque: base64url of 1 to 64 bytes, not the pk.
  assert.match(options.user.id, /^[\w-]+$/);
  const handle = Buffer.from(options.user.id, "base64url");
  assert.ok(handle.length >= 1 && handle.length <= 64, options.user.id);
  const pk = String(decode(access).payload.user_id);
  assert.notEqual(handle.toString(), pk);
  assert.notEqual(options.user.id, pk);
  // Each call a new challenge.
  assert.notEqual((await beginRegistration(access)).challenge, options.challenge);
});

test("an ES256 passkey registers: 201 with its id, the default name, created_at and no last use", async () => {
  const { access } = await loggedIn();
  const device = authenticator({ algorithm: "ES256" });
  const credential = device.create(await beginRegistration(access));
  const reply = await completeRegistration(access, { credential });
  assert.equal(reply.status, 201, reply.text);
  assert.match(reply.body.created_at, ISO_UTC);
  expectReply(reply, 201, {
    id: credential.id,
    name: "Passkey",
    created_at: reply.body.created_at,
    last_used_at: null,
  });
  assert.ok(Math.abs(Date.parse(reply.body.created_at) - Date.now()) < 60_000, reply.body.created_at);
});

test("an EdDSA passkey registers with its name", async () => {
  const { access } = await loggedIn();
  const device = authenticator({ algorithm: "EdDSA" });
  const credential = device.create(await beginRegistration(access));
  const reply = await completeRegistration(access, { credential, name: "My laptop" });
  assert.equal(reply.status, 201, reply.text);
  expectReply(reply, 201, {
    id: credential.id,
    name: "My laptop",
    created_at: reply.body.created_at,
    last_used_at: null,
  });
});

for (const algorithm of ["ES256", "EdDSA"]) {
  test(`an ${algorithm} passkey logs in without a password: dj-rest-auth's login answer, whose refresh token refreshes`, async () => {
    const { user, device, pk } = await withPasskey({ algorithm });
    const login = expectLogin(await passkeyLogin(device), user);
    assert.equal(decode(login.access).payload.user_id, pk);
    const refreshed = await post(MAIN, "/token/refresh/", { refresh: login.refresh });
    assert.equal(refreshed.status, 200, refreshed.text);
    // The access token works on the Bearer routes.
    assert.equal((await call(MAIN, "GET", "/user/", { headers: bearer(login.access) })).status, 200);
  });
}

test("the passkey routes answer under /api/ and without the trailing slash", async () => {
  const { user, access } = await loggedIn();
  const device = authenticator();
  const credential = device.create(await beginRegistration(access, "/api/passkeys/register/begin"));
  assert.equal((await completeRegistration(access, { credential }, "/api/passkeys/register/complete")).status, 201);
  const options = await beginLogin({}, "/api/passkeys/login/begin");
  expectLogin(await completeLogin(device.get(options), "/api/passkeys/login/complete"), user);
  for (const path of ["/api/passkeys/", "/passkeys", "/api/passkeys"]) {
    const list = await call(MAIN, "GET", path, { headers: bearer(access) });
    assert.equal(list.status, 200, `${path}: ${list.text}`);
    assert.deepEqual(
      list.body.map((p) => p.id),
      [credential.id],
    );
  }
  expectReply(await call(MAIN, "DELETE", `/api/passkeys/${credential.id}`, { headers: bearer(access) }), 204, "");
});

test("the passkey routes of an account need authentication; login/begin and login/complete are public", async () => {
  for (const [method, path] of [
    ["POST", "/passkeys/register/begin/"],
    ["POST", "/passkeys/register/complete/"],
    ["GET", "/passkeys/"],
    ["DELETE", "/passkeys/AAAA/"],
    ["POST", "/api/passkeys/register/begin"],
  ]) {
    expectReply(await call(MAIN, method, path), 401, UNAUTHENTICATED);
  }
  assert.equal((await post(MAIN, "/passkeys/login/begin/", {})).status, 200);
  expectReply(await post(MAIN, "/passkeys/login/complete/", {}), 400, REQUIRED);
});

test("a name is optional, 64 characters at most", async () => {
  const { access } = await loggedIn();
  const device = authenticator();
  const name = "n".repeat(64);
  assert.equal((await register(access, device, name)).name, name);
  const credential = device.create(await beginRegistration(access));
  expectReply(await completeRegistration(access, { credential, name: `${name}x` }), 400, {
    name: ["Ensure this field has no more than 64 characters."],
  });
  const list = (await listPasskeys(access)).body;
  assert.deepEqual(
    list.map((p) => p.name),
    [name],
  );
});

test("register/begin lists the caller's passkeys, and no one else's, in excludeCredentials", async () => {
  const { access, passkey } = await withPasskey();
  const second = await register(access, authenticator({ algorithm: "EdDSA" }));
  await withPasskey();
  const options = await beginRegistration(access);
  const excluded = options.excludeCredentials.map(({ transports, ...descriptor }) => {
    if (transports !== undefined) assert.deepEqual(transports, ["internal"]);
    return descriptor;
  });
  assert.deepEqual(
    excluded.sort((a, b) => a.id.localeCompare(b.id)),
    [
      { type: "public-key", id: passkey.id },
      { type: "public-key", id: second.id },
    ].sort((a, b) => a.id.localeCompare(b.id)),
  );
});

test("register/complete refuses a missing credential, and a credential that is not an object", async () => {
  const { access } = await loggedIn();
  await beginRegistration(access);
  expectReply(await completeRegistration(access, {}), 400, REQUIRED);
  expectReply(await completeRegistration(access, { name: "x" }), 400, REQUIRED);
  for (const credential of ["x", 1, ["a"], true]) {
    await beginRegistration(access);
    expectReply(await completeRegistration(access, { credential }), 400, INVALID_PASSKEY);
  }
  expectReply(await listPasskeys(access), 200, []);
});

test("a registration challenge works once: completing twice with one begin is refused the second time", async () => {
  const { access } = await loggedIn();
  const device = authenticator();
  const options = await beginRegistration(access);
  assert.equal((await completeRegistration(access, { credential: device.create(options) })).status, 201);
  expectReply(await completeRegistration(access, { credential: device.create(options) }), 400, INVALID_CHALLENGE);
  assert.equal((await listPasskeys(access)).body.length, 1);
});

test("register/complete refuses a forged or altered challenge, a login challenge and another user's challenge", async () => {
  const ann = await loggedIn();
  const bob = await loggedIn();
  const device = authenticator();
  const options = await beginRegistration(ann.access);
  const forged = device.create(options, { challenge: Buffer.alloc(32, 7).toString("base64url") });
  expectReply(await completeRegistration(ann.access, { credential: forged }), 400, INVALID_CHALLENGE);
  const bits = Buffer.from(options.challenge, "base64url");
  bits[31] ^= 0x80;
  const altered = device.create(options, { challenge: bits.toString("base64url") });
  expectReply(await completeRegistration(ann.access, { credential: altered }), 400, INVALID_CHALLENGE);
  const login = await beginLogin();
  const confused = device.create(await beginRegistration(ann.access), { challenge: login.challenge });
  expectReply(await completeRegistration(ann.access, { credential: confused }), 400, INVALID_CHALLENGE);
  // Bob's options, answered by Ann's browser (a registration of Ann's session with Bob's challenge).
  const bobs = await beginRegistration(bob.access);
  await beginRegistration(ann.access);
  expectReply(await completeRegistration(ann.access, { credential: device.create(bobs) }), 400, INVALID_CHALLENGE);
  expectReply(await listPasskeys(ann.access), 200, []);
});

test("registration refuses another origin, another RP ID, the wrong type, a cross-origin ceremony and no user presence", async () => {
  const { access } = await loggedIn();
  const device = authenticator();
  for (const [what, overrides] of [
    ["origin http://localhost", { origin: `http://localhost:${new URL(MAIN).port}` }],
    ["origin of a phishing site", { origin: "https://evil.example" }],
    ["origin with a path", { origin: `${ORIGIN}/` }],
    ["RP ID of another site", { rpId: "evil.example" }],
    ["RP ID hash of nothing", { rpIdHash: Buffer.alloc(32) }],
    ["type webauthn.get", { type: "webauthn.get" }],
    ["cross-origin", { crossOrigin: true }],
    ["no UP flag", { flags: FLAGS.UV | FLAGS.AT }],
    ["BS without BE", { flags: FLAGS.UP | FLAGS.UV | FLAGS.AT | FLAGS.BS }],
    ["no attested credential data flag", { flags: FLAGS.UP | FLAGS.UV }],
  ]) {
    const credential = device.create(await beginRegistration(access), overrides);
    const reply = await completeRegistration(access, { credential });
    assert.equal(reply.text, JSON.stringify(INVALID_PASSKEY), `${what}: ${reply.status} ${reply.text}`);
    assert.equal(reply.status, 400, what);
  }
  expectReply(await listPasskeys(access), 200, []);
});

test("registration refuses garbage CBOR, an attestation other than none, an unsupported algorithm and oversized parts", async () => {
  const { access } = await loggedIn();
  const device = authenticator();
  const rs256 = authenticator({ algorithm: "RS256" });
  const cases = [
    ["garbage attestation object", (o) => device.create(o, { attestationObject: Buffer.from("not cbor at all") })],
    [
      "attestation object of a truncated map",
      (o) => device.create(o, { attestationObject: Buffer.from([0xa3, 0x63]) }),
    ],
    [
      "attestation object with bytes after it",
      (o) => {
        const credential = device.create(o);
        const bytes = Buffer.from(credential.response.attestationObject, "base64url");
        credential.response.attestationObject = Buffer.concat([bytes, Buffer.from([0])]).toString("base64url");
        return credential;
      },
    ],
    ["authData of 10 bytes", (o) => device.create(o, { authData: Buffer.alloc(10) })],
    ["COSE key of garbage", (o) => device.create(o, { coseKey: Buffer.from([0xff, 0xff]) })],
    [
      "COSE key off the curve",
      (o) => {
        const coseKey = cbor(
          new Map([
            [1, 2],
            [3, -7],
            [-1, 1],
            [-2, Buffer.alloc(32, 1)],
            [-3, Buffer.alloc(32, 2)],
          ]),
        );
        return device.create(o, { coseKey });
      },
    ],
    ["packed attestation", (o) => device.create(o, { fmt: "packed", attStmt: { alg: -7, sig: Buffer.alloc(70) } })],
    ["fmt none with a statement", (o) => device.create(o, { attStmt: { sig: Buffer.alloc(8) } })],
    ["RS256 key", (o) => rs256.create(o)],
    ["credential id of 1024 bytes", (o) => device.create(o, { credentialId: Buffer.alloc(1024, 9) })],
    [
      "clientDataJSON of 5000 bytes",
      (o) => {
        const clientDataJSON = Buffer.from(
          JSON.stringify({ type: "webauthn.create", challenge: o.challenge, origin: ORIGIN, pad: "p".repeat(5000) }),
        );
        return device.create(o, { clientDataJSON });
      },
    ],
    ["clientDataJSON not JSON", (o) => device.create(o, { clientDataJSON: Buffer.from("{") })],
    ["id other than rawId", (o) => ({ ...device.create(o), id: "AAAAAAAAAAAAAAAAAAAAAA" })],
    ["type other than public-key", (o) => ({ ...device.create(o), type: "password" })],
    [
      "garbage base64url",
      (o) => {
        const credential = device.create(o);
        credential.response.attestationObject = "!!!not*base64url===";
        return credential;
      },
    ],
    [
      "padded base64url",
      (o) => {
        const credential = device.create(o);
        credential.response.clientDataJSON += "==";
        return credential;
      },
    ],
    ["no response", (o) => ({ ...device.create(o), response: undefined })],
  ];
  for (const [what, make] of cases) {
    const credential = make(await beginRegistration(access));
    const reply = await completeRegistration(access, { credential });
    assert.equal(reply.text, JSON.stringify(INVALID_PASSKEY), `${what}: ${reply.status} ${reply.text}`);
    assert.equal(reply.status, 400, what);
  }
  expectReply(await listPasskeys(access), 200, []);
});

test("the same passkey registered again is refused, for its user and for another", async () => {
  const { access, device } = await withPasskey();
  const [credential] = device.credentials;
  const again = device.create(await beginRegistration(access), { credential });
  expectReply(await completeRegistration(access, { credential: again }), 400, ALREADY_REGISTERED);
  const bob = await loggedIn();
  const stolen = device.create(await beginRegistration(bob.access), { credential });
  expectReply(await completeRegistration(bob.access, { credential: stolen }), 400, ALREADY_REGISTERED);
  expectReply(await listPasskeys(bob.access), 200, []);
  assert.equal((await listPasskeys(access)).body.length, 1);
});

test("login/begin answers request options for a discoverable login, with no allowCredentials even for an address with passkeys", async () => {
  const { user } = await withPasskey();
  for (const body of [{}, { email: user.email }, { email: "nobody@example.com" }]) {
    const reply = await post(MAIN, "/passkeys/login/begin/", body);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(Object.keys(reply.body), ["options"]);
    const { options } = reply.body;
    assert.deepEqual(options, {
      challenge: options.challenge,
      timeout: 300000,
      rpId: RP_ID,
      userVerification: "preferred",
      allowCredentials: [],
    });
    assert.equal(Buffer.from(options.challenge, "base64url").length, 32);
  }
  assert.equal(RP_ID, "127.0.0.1");
});

test("a passkey login of a user with TOTP on answers tokens and asks for no code", async () => {
  const { user, access } = await withMfa();
  const device = authenticator();
  await register(access, device);
  expectLogin(await passkeyLogin(device), user);
});

test("a passkey login refuses an unknown credential", async () => {
  await withPasskey();
  const stranger = authenticator();
  // Made for this site, never registered.
  stranger.create(await beginRegistrationOptionsOfNobody());
  expectReply(await passkeyLogin(stranger), 400, REFUSED);
});

test("a passkey login refuses a bad signature", async () => {
  const { device } = await withPasskey();
  const options = await beginLogin();
  const response = device.get(options);
  const signature = Buffer.from(response.response.signature, "base64url");
  signature[signature.length - 1] ^= 1;
  response.response.signature = signature.toString("base64url");
  expectReply(await completeLogin(response), 400, REFUSED);
  // Another key's signature, under the passkey's id and user handle.
  const other = authenticator();
  other.create(await beginRegistrationOptionsOfNobody());
  const [{ id, userHandle }] = device.credentials;
  const forged = other.get(await beginLogin(), { userHandle });
  const named = { ...forged, id: id.toString("base64url"), rawId: id.toString("base64url") };
  expectReply(await completeLogin(named), 400, REFUSED);
});

test("a passkey login refuses another origin, another RP ID, the wrong type and a cross-origin ceremony", async () => {
  for (const [what, overrides] of [
    ["origin of a phishing site", { origin: "https://evil.example" }],
    ["origin http://localhost", { origin: `http://localhost:${new URL(MAIN).port}` }],
    ["RP ID of another site", { rpId: "evil.example" }],
    ["type webauthn.create", { type: "webauthn.create" }],
    ["cross-origin", { crossOrigin: true }],
    ["no UP flag", { flags: FLAGS.UV }],
  ]) {
    // A user of its own each: the refusals stay clear of any per-account throttle.
    const { device } = await withPasskey();
    const reply = await passkeyLogin(device, overrides);
    assert.equal(reply.text, JSON.stringify(REFUSED), `${what}: ${reply.status} ${reply.text}`);
    assert.equal(reply.status, 400, what);
  }
});

test("a passkey login refuses a forged, an altered and a registration challenge", async () => {
  const { access, device } = await withPasskey();
  const options = await beginLogin();
  const altered = Buffer.from(options.challenge, "base64url");
  altered[0] ^= 1;
  const registration = await beginRegistration(access);
  for (const [what, challenge] of [
    ["forged", Buffer.alloc(32, 3).toString("base64url")],
    ["altered", altered.toString("base64url")],
    ["truncated", options.challenge.slice(0, 22)],
    ["of a registration", registration.challenge],
  ]) {
    const reply = await completeLogin(device.get(options, { challenge }));
    assert.equal(reply.text, JSON.stringify(REFUSED), `${what}: ${reply.status} ${reply.text}`);
    assert.equal(reply.status, 400, what);
  }
});

test("a passkey login refuses the user handle of another user", async () => {
  const { device } = await withPasskey();
  const bob = await loggedIn();
  const handle = (await beginRegistration(bob.access)).user.id;
  expectReply(await passkeyLogin(device, { userHandle: handle }), 400, REFUSED);
  // Without a user handle (allowed by WebAuthn) the credential id alone names the passkey.
  assert.equal((await passkeyLogin(device, { userHandle: null })).status, 200);
});

test("a login answer is accepted once: the same response replayed is refused", async () => {
  const { user, device } = await withPasskey();
  const response = device.get(await beginLogin());
  expectLogin(await completeLogin(response), user);
  expectReply(await completeLogin(response), 400, REFUSED);
});

test("the sign counter must grow", async () => {
  const { user, device } = await withPasskey({ signCount: 5 });
  expectLogin(await passkeyLogin(device, { counter: 6 }), user);
  expectReply(await passkeyLogin(device, { counter: 6 }), 400, REFUSED);
  expectReply(await passkeyLogin(device, { counter: 3 }), 400, REFUSED);
  expectReply(await passkeyLogin(device, { counter: 0 }), 400, REFUSED);
  expectLogin(await passkeyLogin(device, { counter: 7 }), user);
});

test("a counter of 0 at registration and at every login is allowed (synced passkeys)", async () => {
  const { user, device } = await withPasskey({ signCount: 0, fixedCounter: true });
  for (let i = 0; i < 3; i++) expectLogin(await passkeyLogin(device), user);
});

test("a counter of 0 after a stored counter above 0 is refused", async () => {
  const { user, device } = await withPasskey({ signCount: 0 });
  expectLogin(await passkeyLogin(device), user);
  expectReply(await passkeyLogin(device, { counter: 0 }), 400, REFUSED);
});

test("login/complete refuses a missing credential", async () => {
  expectReply(await post(MAIN, "/passkeys/login/complete/", {}), 400, REQUIRED);
  expectReply(await post(MAIN, "/passkeys/login/complete/", { email: "x@example.com" }), 400, REQUIRED);
});

test("GET /passkeys/ lists the caller's passkeys newest first, with their last use after a passkey login", async () => {
  const { access, device, passkey } = await withPasskey();
  expectReply(await listPasskeys(access), 200, [passkey]);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const laptop = authenticator({ algorithm: "EdDSA" });
  const second = await register(access, laptop, "Laptop");
  await withPasskey();
  const list = await listPasskeys(access);
  expectReply(list, 200, [second, passkey]);
  assert.equal((await passkeyLogin(device)).status, 200);
  const after = (await listPasskeys(access)).body;
  assert.deepEqual(Object.keys(after[1]), ["id", "name", "created_at", "last_used_at"]);
  assert.equal(after[0].last_used_at, null);
  assert.match(after[1].last_used_at, ISO_UTC);
  assert.ok(Math.abs(Date.parse(after[1].last_used_at) - Date.now()) < 60_000);
  assert.deepEqual(after[1], { ...passkey, last_used_at: after[1].last_used_at });
});

test("DELETE /passkeys/<id>/ answers 204 with an empty body, and the passkey no longer logs in", async () => {
  const { access, device, passkey } = await withPasskey();
  const reply = await call(MAIN, "DELETE", `/passkeys/${passkey.id}/`, { headers: bearer(access) });
  expectReply(reply, 204, "");
  expectReply(await listPasskeys(access), 200, []);
  expectReply(await passkeyLogin(device), 400, REFUSED);
  expectReply(await call(MAIN, "DELETE", `/passkeys/${passkey.id}/`, { headers: bearer(access) }), 404, NOT_FOUND);
});

test("DELETE /passkeys/<id>/ of another user's passkey or an unknown id is 404, and deletes nothing", async () => {
  const ann = await withPasskey();
  const bob = await loggedIn();
  for (const id of [ann.passkey.id, "AAAAAAAAAAAAAAAAAAAAAA", "not-base64url!", "x".repeat(2000)]) {
    expectReply(
      await call(MAIN, "DELETE", `/passkeys/${encodeURIComponent(id)}/`, { headers: bearer(bob.access) }),
      404,
      NOT_FOUND,
    );
  }
  expectReply(await listPasskeys(ann.access), 200, [ann.passkey]);
  assert.equal((await passkeyLogin(ann.device)).status, 200);
});

test("an inactive user's passkey does not log in", async () => {
  const { device, pk } = await withPasskey();
  await d1(MAIN_STATE, `UPDATE users SET is_active = 0 WHERE id = ${Number(pk)}`);
  expectReply(await passkeyLogin(device), 400, REFUSED);
});

test("deleting the account leaves no passkey row, and its passkey no longer logs in", async () => {
  const { user, access, device, pk } = await withPasskey();
  await register(access, authenticator({ algorithm: "EdDSA" }));
  const reply = await post(MAIN, "/user/delete/", { password: user.password }, { headers: bearer(access) });
  assert.equal(reply.status, 200, reply.text);
  const rows = await d1(MAIN_STATE, `SELECT COUNT(*) AS n FROM passkeys WHERE user_id = ${Number(pk)}`);
  assert.equal(rows[0].n, 0);
  expectReply(await passkeyLogin(device), 400, REFUSED);
});

test("security events: passkey_added, login after a passkey login, passkey_removed", async () => {
  const { access, device, passkey } = await withPasskey();
  const login = await passkeyLogin(device);
  assert.equal(login.status, 200, login.text);
  await call(MAIN, "DELETE", `/passkeys/${passkey.id}/`, { headers: bearer(access) });
  const events = await call(MAIN, "GET", "/user/events/", { headers: bearer(login.body.access) });
  assert.equal(events.status, 200, events.text);
  assert.deepEqual(
    events.body.map((e) => e.event),
    ["passkey_removed", "login", "passkey_added", "login"],
  );
});

test("ten concurrent login completes with one response: exactly one logs in", async () => {
  const { user, device } = await withPasskey();
  const response = device.get(await beginLogin());
  const replies = await Promise.all(Array.from({ length: 10 }, () => completeLogin(response)));
  const ok = replies.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, replies.map((r) => `${r.status} ${r.text}`).join("\n"));
  expectLogin(ok[0], user);
  for (const reply of replies.filter((r) => r.status !== 200)) expectReply(reply, 400, REFUSED);
});

test("ten concurrent registration completes with one begin: exactly one registers", async () => {
  const { access } = await loggedIn();
  const options = await beginRegistration(access);
  const device = authenticator();
  const credentials = Array.from({ length: 10 }, () => device.create(options));
  const replies = await Promise.all(credentials.map((credential) => completeRegistration(access, { credential })));
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400, 400, 400, 400, 400], replies.map((r) => r.text).join("\n"));
  for (const reply of replies.filter((r) => r.status !== 201)) expectReply(reply, 400, INVALID_CHALLENGE);
  assert.equal((await listPasskeys(access)).body.length, 1);
});

test("hostile bodies on the passkey routes are JSON client errors, never 5xx; over 1 MiB is 413", async () => {
  const { access, device } = await withPasskey();
  const nested = (depth) => "[".repeat(depth) + "]".repeat(depth);
  const valid = device.get(await beginLogin());
  const bodies = [
    ["credential a string", JSON.stringify({ credential: "x" })],
    ["credential a number", JSON.stringify({ credential: 12 })],
    ["credential an array", JSON.stringify({ credential: [valid] })],
    ["credential null", JSON.stringify({ credential: null })],
    ["credential empty", JSON.stringify({ credential: {} })],
    ["credential of 1000 nested arrays", `{"credential":${nested(1000)}}`],
    [
      "response of 100000 nested arrays",
      `{"credential":{"id":"AA","rawId":"AA","type":"public-key","response":${nested(100_000)}}}`,
    ],
    [
      "fields of the wrong types",
      JSON.stringify({ credential: { ...valid, id: 1, rawId: [], type: null, response: "x" } }),
    ],
    ["garbage base64url", JSON.stringify({ credential: { ...valid, id: "!!!", rawId: "!!!" } })],
    [
      "garbage base64url inside",
      JSON.stringify({
        credential: {
          ...valid,
          response: { clientDataJSON: "@@", authenticatorData: "%%", signature: "==", userHandle: "~~" },
        },
      }),
    ],
    [
      "a 900 KiB credential id",
      JSON.stringify({ credential: { ...valid, id: "A".repeat(900_000), rawId: "A".repeat(900_000) } }),
    ],
    ["not JSON", "{credential:"],
    ["JSON of a list", "[]"],
  ];
  for (const path of ["/passkeys/register/complete/", "/passkeys/login/complete/"]) {
    for (const [what, json] of bodies) {
      if (path.includes("register")) await beginRegistration(access);
      expectClientError(await post(MAIN, path, json, { headers: bearer(access) }), `${path} ${what}`);
    }
  }
  for (const path of ["/passkeys/register/begin/", "/passkeys/login/begin/"]) {
    for (const [what, json] of bodies) {
      const reply = await post(MAIN, path, json, { headers: bearer(access) });
      assert.ok(reply.status < 500, `${path} ${what}: ${reply.status} ${reply.text}`);
      assert.notEqual(reply.body, undefined, `${path} ${what}: ${reply.text}`);
    }
  }
  const big = JSON.stringify({ credential: { ...valid, pad: "p".repeat(1_048_576) } });
  for (const path of ["/passkeys/register/complete/", "/passkeys/login/complete/"]) {
    expectReply(await post(MAIN, path, big, { headers: bearer(access) }), 413, { detail: "Request body too large." });
  }
  // The begin routes ignore their body: read and refused, or not read at all.
  for (const path of ["/passkeys/register/begin/", "/passkeys/login/begin/"]) {
    const reply = await post(MAIN, path, big, { headers: bearer(access) });
    assert.ok([200, 413].includes(reply.status), `${path}: ${reply.status} ${reply.text}`);
  }
  // The passkey still logs in with a fresh answer.
  assert.equal((await passkeyLogin(device)).status, 200);
});

/** Registration-shaped options for a user the worker never saw (for a credential never registered). */
async function beginRegistrationOptionsOfNobody() {
  return {
    rp: { id: RP_ID, name: "Edge Auth" },
    user: { id: Buffer.alloc(16, 5).toString("base64url"), name: "nobody", displayName: "nobody" },
    challenge: Buffer.alloc(32).toString("base64url"),
  };
}
