// docs/contract.md §4.6 POST /token/blacklist/all/ and §4.7 GET|POST /dashboard/.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  MAIN_STATE,
  call,
  post,
  expectReply,
  loggedIn,
  decode,
  now,
  forge,
  bearer,
  bearerError,
  BLACKLISTED,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };
const TWO_VALUES = {
  detail: "Authorization header must contain two space-delimited values",
  code: "bad_authorization_header",
};
const dashboard = (method, headers, options = {}) => call(MAIN, method, "/dashboard/", { headers, ...options });

test("GET answers the user's greeting", async () => {
  const { access } = await loggedIn(MAIN, { username: "Zoë" });
  expectReply(await dashboard("GET", bearer(access)), 200, { response: "HeyZoë, you are seeing GET response" });
});

test("POST echoes text from JSON, form and multipart bodies, verbatim", async () => {
  const { access } = await loggedIn(MAIN, { username: "sam" });
  const auth = bearer(access);
  expectReply(await dashboard("POST", auth, { json: { text: "  hi there " } }), 200, {
    response: "Heysam, your text is   hi there ",
  });
  expectReply(await dashboard("POST", auth, { body: "text=a+b%21", type: "application/x-www-form-urlencoded" }), 200, {
    response: "Heysam, your text is a b!",
  });
  const data = new FormData();
  data.append("text", "multi");
  expectReply(await dashboard("POST", auth, { body: data }), 200, { response: "Heysam, your text is multi" });
});

test("POST without text, or with null, says None; other JSON values are their JSON text", async () => {
  const { access } = await loggedIn(MAIN, { username: "sam" });
  const auth = bearer(access);
  expectReply(await dashboard("POST", auth), 200, { response: "Heysam, your text is None" });
  expectReply(await dashboard("POST", auth, { json: { text: null } }), 200, { response: "Heysam, your text is None" });
  expectReply(await dashboard("POST", auth, { json: { text: 5 } }), 200, { response: "Heysam, your text is 5" });
  expectReply(await dashboard("POST", auth, { json: { text: true } }), 200, { response: "Heysam, your text is true" });
  expectReply(await dashboard("POST", auth, { json: '{"text": {"a": [1, 2]}}' }), 200, {
    response: 'Heysam, your text is {"a":[1,2]}',
  });
});

test("missing or foreign-scheme credentials are not provided", async () => {
  const { access } = await loggedIn();
  for (const headers of [
    {},
    { authorization: "" },
    { authorization: `bearer ${access}` },
    { authorization: `JWT ${access}` },
    { authorization: access },
  ]) {
    const reply = await dashboard("GET", headers);
    expectReply(reply, 401, NOT_PROVIDED);
    assert.equal(reply.headers.get("www-authenticate"), 'Bearer realm="api"');
  }
});

test("Bearer alone or with three words is a malformed header", async () => {
  expectReply(await dashboard("GET", { authorization: "Bearer" }), 401, TWO_VALUES);
  expectReply(await dashboard("GET", { authorization: "Bearer a b" }), 401, TWO_VALUES);
});

test("extra spaces around the token are accepted", async () => {
  const { access } = await loggedIn(MAIN, { username: "sp" });
  expectReply(await dashboard("GET", { authorization: `Bearer   ${access}  ` }), 200, {
    response: "Heysp, you are seeing GET response",
  });
});

test("a refresh token is the wrong type for the dashboard", async () => {
  const { refresh } = await loggedIn();
  expectReply(await dashboard("GET", bearer(refresh)), 401, bearerError("Token has wrong type"));
});

test("invalid, expired, tampered and alg:none tokens are refused", async () => {
  const { access } = await loggedIn();
  const { header, payload } = decode(access);
  const expired = forge(header, { ...payload, exp: now() - 1 });
  const [h, p] = access.split(".");
  const none = `${Buffer.from(JSON.stringify({ ...header, alg: "none" })).toString("base64url")}.${p}.`;
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, user_id: payload.user_id + 1 })).toString("base64url")}.${access.split(".")[2]}`;
  for (const token of ["garbage", expired, none, tampered]) {
    expectReply(await dashboard("GET", bearer(token)), 401, bearerError("Token is invalid or expired"));
  }
});

test("a user deactivated or deleted since the token was issued is refused", async () => {
  const inactive = await loggedIn();
  await d1(MAIN_STATE, `UPDATE users SET is_active = 0 WHERE id = ${decode(inactive.access).payload.user_id}`);
  expectReply(await dashboard("GET", bearer(inactive.access)), 401, {
    detail: "User is inactive",
    code: "user_inactive",
  });
  const deleted = await loggedIn();
  await d1(MAIN_STATE, `DELETE FROM users WHERE id = ${decode(deleted.access).payload.user_id}`);
  expectReply(await dashboard("GET", bearer(deleted.access)), 401, {
    detail: "User not found",
    code: "user_not_found",
  });
});

test("other methods with valid credentials are 405; without, 401 first", async () => {
  const { access } = await loggedIn();
  for (const method of ["PUT", "PATCH", "DELETE"]) {
    const reply = await dashboard(method, bearer(access));
    expectReply(reply, 405, { detail: `Method "${method}" not allowed.` });
    assert.equal(reply.headers.get("allow"), "GET, POST, OPTIONS");
    expectReply(await dashboard(method, {}), 401, NOT_PROVIDED);
  }
  assert.equal((await dashboard("HEAD", bearer(access))).status, 405);
});

test("logout everywhere revokes every login of the caller and only theirs", async () => {
  const first = await loggedIn();
  const second = (await post(MAIN, "/token/", { email: first.user.email, password: first.user.password })).body;
  const rotated = (await post(MAIN, "/token/refresh/", { refresh: second.refresh })).body.refresh;
  const stranger = await loggedIn();
  expectReply(await call(MAIN, "POST", "/token/blacklist/all/", { headers: bearer(first.access) }), 200, {});
  expectReply(await post(MAIN, "/token/refresh/", { refresh: first.refresh }), 401, BLACKLISTED);
  expectReply(await post(MAIN, "/token/refresh/", { refresh: rotated }), 401, BLACKLISTED);
  expectReply(await post(MAIN, "/token/verify/", { token: first.refresh }), 401, BLACKLISTED);
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: stranger.refresh })).status, 200);
  // Access tokens stay valid until exp; a later login works normally.
  assert.equal((await dashboard("GET", bearer(first.access))).status, 200);
  const later = (await post(MAIN, "/token/", { email: first.user.email, password: first.user.password })).body;
  assert.equal((await post(MAIN, "/token/refresh/", { refresh: later.refresh })).status, 200);
});

test("logout everywhere authenticates like the dashboard", async () => {
  expectReply(await call(MAIN, "POST", "/token/blacklist/all/"), 401, NOT_PROVIDED);
  const { access, refresh } = await loggedIn();
  expectReply(
    await call(MAIN, "POST", "/token/blacklist/all/", { headers: bearer(refresh) }),
    401,
    bearerError("Token has wrong type"),
  );
  expectReply(await call(MAIN, "GET", "/token/blacklist/all/", { headers: bearer(access) }), 405, {
    detail: 'Method "GET" not allowed.',
  });
});
