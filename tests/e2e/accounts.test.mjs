// docs/accounts.md §2–§3: the dj-rest-auth account routes that need no mail — login, logout,
// registration (verification off), user details, deletion, password change, sessions and
// security events.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  MAIN_STATE,
  STRONG_PASSWORD,
  bearer,
  bearerError,
  call,
  decode,
  expectReply,
  forge,
  letters,
  loggedIn,
  newUser,
  now,
  post,
  uniqueEmail,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const NEW_PASSWORD = "Fr3sh-pass-999!";
const REFUSED = { non_field_errors: ["Unable to log in with provided credentials."] };

/** The `user` object of a fresh account, as /user/ shows it. */
async function details(access) {
  return (await call(MAIN, "GET", "/user/", { headers: bearer(access) })).body;
}

test("/login/ answers access, refresh and the user, never cached", async () => {
  const user = await newUser(MAIN, { username: "Ann" });
  const reply = await post(MAIN, "/login/", { email: user.email, password: user.password });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["access", "refresh", "user"]);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  const { user_id } = decode(reply.body.access).payload;
  assert.deepEqual(reply.body.user, {
    pk: user_id,
    username: "Ann",
    email: user.email,
    first_name: "",
    last_name: "",
  });
  // The real refresh token: it refreshes.
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: reply.body.refresh })).status, 200);
});

test("/login/ refuses a wrong password, an unknown e-mail and missing fields as dj-rest-auth does", async () => {
  const user = await newUser();
  expectReply(await post(MAIN, "/login/", { email: user.email, password: "wrong-password" }), 400, REFUSED);
  expectReply(await post(MAIN, "/login/", { email: uniqueEmail(), password: STRONG_PASSWORD }), 400, REFUSED);
  expectReply(await post(MAIN, "/login/", { password: STRONG_PASSWORD }), 400, {
    non_field_errors: ['Must include "email" and "password".'],
  });
  expectReply(await post(MAIN, "/login/", { email: user.email }), 400, { password: ["This field is required."] });
  expectReply(await post(MAIN, "/login/", { email: "", password: "" }), 400, {
    password: ["This field may not be blank."],
  });
  expectReply(await post(MAIN, "/login/", { email: "not-an-email", password: "x" }), 400, {
    email: ["Enter a valid email address."],
  });
  expectReply(await post(MAIN, "/login/", { email: null, password: null }), 400, {
    email: ["This field may not be null."],
    password: ["This field may not be null."],
  });
});

test("/login/ with an invalid Bearer header is refused before anything else", async () => {
  const user = await newUser();
  const reply = await post(
    MAIN,
    "/login/",
    { email: user.email, password: user.password },
    { headers: bearer("garbage") },
  );
  expectReply(reply, 401, bearerError("Token is invalid or expired"));
});

test("tokens name their session: sid after user_id, the same in access and refresh, kept by rotation", async () => {
  const { access, refresh } = (await post(MAIN, "/login/", await newUser())).body;
  const [a, r] = [decode(access).payload, decode(refresh).payload];
  assert.deepEqual(Object.keys(a), ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
  assert.equal(a.sid, r.sid);
  assert.equal(r.sid, r.jti);
  const rotated = (await post(MAIN, "/token/refresh/", { refresh })).body;
  assert.equal(decode(rotated.access).payload.sid, r.sid);
  assert.equal(decode(rotated.refresh).payload.sid, r.sid);
});

test("/logout/ revokes the whole login and answers dj-rest-auth's messages", async () => {
  const { refresh, access } = await loggedIn();
  const rotated = (await post(MAIN, "/token/refresh/", { refresh })).body.refresh;
  expectReply(await post(MAIN, "/logout/", { refresh: rotated }), 200, { detail: "Successfully logged out." });
  expectReply(await post(MAIN, "/logout/", { refresh: rotated }), 401, { detail: "Token is blacklisted" });
  expectReply(await post(MAIN, "/logout/", {}), 401, { detail: "Refresh token was not included in request data." });
  expectReply(await post(MAIN, "/logout/", { refresh: "not-a-token" }), 401, { detail: "Token is invalid" });
  expectReply(await post(MAIN, "/logout/", { refresh: null }), 401, { detail: "Token is invalid" });
  expectReply(await post(MAIN, "/logout/", { refresh: 123 }), 401, { detail: "Token is invalid" });
  expectReply(await post(MAIN, "/logout/", { refresh: access }), 401, { detail: "Token has wrong type" });
});

test("/logout/ tells an expired token from an invalid one", async () => {
  const past = now() - 100;
  const expired = forge(
    { typ: "JWT", alg: "EdDSA", kid: decode((await loggedIn()).refresh).header.kid },
    { token_type: "refresh", exp: past, iat: past - 10, jti: letters(32), user_id: 1 },
  );
  expectReply(await post(MAIN, "/logout/", { refresh: expired }), 401, { detail: "Token is expired" });
});

test("/logout/ advertises GET as dj-rest-auth does but refuses it", async () => {
  const reply = await call(MAIN, "GET", "/logout/");
  expectReply(reply, 405, { detail: 'Method "GET" not allowed.' });
  assert.equal(reply.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
});

test("/registration/ answers tokens and the user when verification is off", async () => {
  const email = uniqueEmail();
  const reply = await post(MAIN, "/registration/", {
    username: "newbie",
    email,
    password1: NEW_PASSWORD,
    password2: NEW_PASSWORD,
  });
  assert.equal(reply.status, 201, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["access", "refresh", "user"]);
  assert.deepEqual(reply.body.user, {
    pk: decode(reply.body.access).payload.user_id,
    username: "newbie",
    email,
    first_name: "",
    last_name: "",
  });
  assert.deepEqual(await details(reply.body.access), reply.body.user);
});

test("/registration/ refuses as dj-rest-auth does, in its field order", async () => {
  const taken = await newUser();
  expectReply(await post(MAIN, "/registration/", {}), 400, {
    username: ["This field is required."],
    email: ["This field is required."],
    password1: ["This field is required."],
    password2: ["This field is required."],
  });
  expectReply(
    await post(MAIN, "/registration/", {
      username: "x",
      email: taken.email.toUpperCase(),
      password1: "abc",
      password2: "abd",
    }),
    400,
    {
      email: ["User is already registered with this e-mail address."],
      password1: ["This password is too short. It must contain at least 8 characters.", "This password is too common."],
    },
  );
  const fresh = { username: "mm", email: uniqueEmail() };
  expectReply(
    await post(MAIN, "/registration/", { ...fresh, password1: NEW_PASSWORD, password2: `${NEW_PASSWORD}x` }),
    400,
    { non_field_errors: ["The two password fields didn't match."] },
  );
  const name = letters(12);
  expectReply(
    await post(MAIN, "/registration/", {
      username: name,
      email: `${name}@example.com`,
      password1: name,
      password2: name,
    }),
    400,
    { non_field_errors: ["The password is too similar to the username."] },
  );
});

test("/user/ shows the caller and updates names; e-mail and pk are read-only", async () => {
  const { access, user } = await loggedIn();
  const pk = decode(access).payload.user_id;
  const put = await call(MAIN, "PUT", "/user/", {
    json: { username: "alice", first_name: "Alice", last_name: "Liddell", email: "x@example.com", pk: 999 },
    headers: bearer(access),
  });
  expectReply(put, 200, { pk, username: "alice", email: user.email, first_name: "Alice", last_name: "Liddell" });
  const patch = await call(MAIN, "PATCH", "/user/", { json: { first_name: "Al" }, headers: bearer(access) });
  expectReply(patch, 200, { pk, username: "alice", email: user.email, first_name: "Al", last_name: "Liddell" });
  expectReply(await call(MAIN, "GET", "/user/", { headers: bearer(access) }), 200, patch.body);
});

test("/user/ refuses a PUT without username and overlong names", async () => {
  const { access } = await loggedIn();
  expectReply(await call(MAIN, "PUT", "/user/", { json: { first_name: "D" }, headers: bearer(access) }), 400, {
    username: ["This field is required."],
  });
  const long = "f".repeat(151);
  expectReply(
    await call(MAIN, "PATCH", "/user/", { json: { last_name: long, first_name: long }, headers: bearer(access) }),
    400,
    {
      first_name: ["Ensure this field has no more than 150 characters."],
      last_name: ["Ensure this field has no more than 150 characters."],
    },
  );
  expectReply(await call(MAIN, "PATCH", "/user/", { json: { username: "" }, headers: bearer(access) }), 400, {
    username: ["This field may not be blank."],
  });
  expectReply(await call(MAIN, "PATCH", "/user/", { json: { first_name: null }, headers: bearer(access) }), 400, {
    first_name: ["This field may not be null."],
  });
});

test("/user/ authenticates before it checks the method", async () => {
  expectReply(await call(MAIN, "DELETE", "/user/"), 401, { detail: "Authentication credentials were not provided." });
  const { access } = await loggedIn();
  const reply = await call(MAIN, "DELETE", "/user/", { headers: bearer(access) });
  expectReply(reply, 405, { detail: 'Method "DELETE" not allowed.' });
  assert.equal(reply.headers.get("allow"), "GET, PUT, PATCH, HEAD, OPTIONS");
});

test("/password/change/ reports dj-rest-auth's errors in its order", async () => {
  const { access, user } = await loggedIn();
  const change = (json) => post(MAIN, "/password/change/", json, { headers: bearer(access) });
  expectReply(await change({}), 400, {
    old_password: ["This field is required."],
    new_password1: ["This field is required."],
    new_password2: ["This field is required."],
  });
  expectReply(await change({ old_password: "wrong" }), 400, {
    old_password: ["Your old password was entered incorrectly. Please enter it again."],
    new_password1: ["This field is required."],
    new_password2: ["This field is required."],
  });
  expectReply(await change({ old_password: "wrong", new_password1: NEW_PASSWORD, new_password2: "other" }), 400, {
    old_password: ["Your old password was entered incorrectly. Please enter it again."],
  });
  expectReply(
    await change({ old_password: user.password, new_password1: NEW_PASSWORD, new_password2: `${NEW_PASSWORD}x` }),
    400,
    { new_password2: ["The two password fields didn\u2019t match."] },
  );
  expectReply(await change({ old_password: user.password, new_password1: "abc", new_password2: "abc" }), 400, {
    new_password2: [
      "This password is too short. It must contain at least 8 characters.",
      "This password is too common.",
    ],
  });
  const long = "x".repeat(129);
  expectReply(await change({ old_password: user.password, new_password1: long, new_password2: long }), 400, {
    new_password1: ["Ensure this field has no more than 128 characters."],
    new_password2: ["Ensure this field has no more than 128 characters."],
  });
});

test("a password change ends every login and every access token at once", async () => {
  const { access, refresh, user } = await loggedIn();
  const other = (await post(MAIN, "/login/", user)).body;
  const reply = await post(
    MAIN,
    "/password/change/",
    { old_password: user.password, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD },
    { headers: bearer(access) },
  );
  expectReply(reply, 200, { detail: "New password has been saved." });
  expectReply(
    await call(MAIN, "GET", "/user/", { headers: bearer(access) }),
    401,
    bearerError("Token is invalid or expired"),
  );
  expectReply(
    await call(MAIN, "GET", "/user/", { headers: bearer(other.access) }),
    401,
    bearerError("Token is invalid or expired"),
  );
  for (const token of [refresh, other.refresh]) {
    assert.equal((await post(MAIN, "/token/refresh/", { refresh: token })).status, 401);
  }
  const fresh = await post(MAIN, "/login/", { email: user.email, password: NEW_PASSWORD });
  assert.equal(fresh.status, 200);
  assert.equal((await call(MAIN, "GET", "/user/", { headers: bearer(fresh.body.access) })).status, 200);
});

test("/user/delete/ needs the password and leaves no row of the user", async () => {
  const { access, refresh, user } = await loggedIn();
  const pk = decode(access).payload.user_id;
  expectReply(await post(MAIN, "/user/delete/", { password: "wrong" }, { headers: bearer(access) }), 400, {
    password: ["Your password was entered incorrectly. Please enter it again."],
  });
  expectReply(await post(MAIN, "/user/delete/", {}, { headers: bearer(access) }), 400, {
    password: ["This field is required."],
  });
  expectReply(await post(MAIN, "/user/delete/", { password: user.password }, { headers: bearer(access) }), 200, {
    detail: "Account deleted.",
  });
  assert.equal((await call(MAIN, "GET", "/user/", { headers: bearer(access) })).status, 401);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh })).status, 401);
  for (const [table, column] of [
    ["users", "id"],
    ["refresh_tokens", "user_id"],
    ["sessions", "user_id"],
    ["security_events", "user_id"],
  ]) {
    const rows = await d1(MAIN_STATE, `SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ${Number(pk)}`);
    assert.equal(rows[0].n, 0, table);
  }
});

test("/sessions/ lists live logins newest first, with the client, and marks the current one", async () => {
  const user = await newUser();
  const headers = { "user-agent": "first-agent", "cf-ipcountry": "CH" };
  const first = (await post(MAIN, "/login/", user, { headers })).body;
  const second = (await post(MAIN, "/login/", user, { headers: { "user-agent": "second-agent" } })).body;
  const reply = await call(MAIN, "GET", "/sessions/", { headers: bearer(second.access) });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(
    reply.body.map((s) => [s.id, s.user_agent, s.country, s.current]),
    [
      [decode(second.access).payload.sid, "second-agent", "", true],
      [decode(first.access).payload.sid, "first-agent", "CH", false],
    ],
  );
  assert.deepEqual(Object.keys(reply.body[0]), [
    "id",
    "created",
    "last_refreshed",
    "expires",
    "user_agent",
    "ip",
    "country",
    "current",
  ]);
  assert.match(reply.body[0].created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("a session can be revoked by its id, and the others at once; someone else's is not found", async () => {
  const user = await newUser();
  const logins = [];
  for (let i = 0; i < 3; i += 1) logins.push((await post(MAIN, "/login/", user)).body);
  const sid = (login) => decode(login.access).payload.sid;
  const headers = bearer(logins[2].access);
  expectReply(await post(MAIN, `/sessions/${sid(logins[0])}/revoke/`, {}, { headers }), 200, {});
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: logins[0].refresh })).status, 401);
  expectReply(await post(MAIN, `/sessions/${sid(logins[0])}/revoke/`, {}, { headers }), 404, { detail: "Not found." });
  const stranger = await loggedIn();
  expectReply(await post(MAIN, `/api/sessions/${sid(stranger)}/revoke`, {}, { headers }), 404, {
    detail: "Not found.",
  });
  expectReply(await post(MAIN, "/sessions/revoke-others/", {}, { headers }), 200, {});
  const left = (await call(MAIN, "GET", "/sessions/", { headers })).body.map((s) => s.id);
  assert.deepEqual(left, [sid(logins[2])]);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: stranger.refresh })).status, 200);
});

test("/user/events/ lists the caller's security events newest first", async () => {
  const user = await newUser();
  await post(MAIN, "/login/", { email: user.email, password: "wrong-password" }, { headers: { "user-agent": "ua" } });
  const { access } = (await post(MAIN, "/login/", user)).body;
  await post(MAIN, "/token/blacklist/all/", {}, { headers: bearer(access) });
  const fresh = (await post(MAIN, "/login/", user)).body;
  const reply = await call(MAIN, "GET", "/user/events/", { headers: bearer(fresh.access) });
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(
    reply.body.map((e) => e.event),
    ["login", "logout_everywhere", "login", "login_failed"],
  );
  assert.deepEqual(Object.keys(reply.body[0]), ["event", "at", "ip", "country", "user_agent"]);
  assert.equal(reply.body[3].user_agent, "ua");
});

test("a registration's login is recorded like any other", async () => {
  const email = uniqueEmail();
  const reply = await post(MAIN, "/registration/", {
    username: "rec",
    email,
    password1: NEW_PASSWORD,
    password2: NEW_PASSWORD,
  });
  const events = await call(MAIN, "GET", "/user/events/", { headers: bearer(reply.body.access) });
  assert.deepEqual(
    events.body.map((e) => e.event),
    ["login"],
  );
});
