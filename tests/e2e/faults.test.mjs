// docs/contract.md §2.1: when D1 or KV is missing or failing, the answer is the contract's JSON 503,
// with no internals and nothing half-written.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAIN,
  NOSCHEMA,
  NOKV,
  NOKV_STATE,
  NOD1,
  call,
  post,
  expectReply,
  loggedIn,
  newUser,
  tokensFor,
  decode,
  bearer,
} from "./lib.mjs";
import { d1 } from "./worker.mjs";

const UNAVAILABLE = { detail: "Service temporarily unavailable, try again later." };
const form = { email: "fault@example.com", username: "f", password: "x7#Lq9!vRt2m", password2: "x7#Lq9!vRt2m" };

test("without the schema, storage routes answer 503 and nothing else leaks", async () => {
  const { access, refresh } = await loggedIn(MAIN);
  for (const reply of [
    await post(NOSCHEMA, "/register/", form),
    await post(NOSCHEMA, "/token/", { email: form.email, password: form.password }),
    await post(NOSCHEMA, "/token/refresh/", { refresh }),
    await post(NOSCHEMA, "/token/blacklist/", { refresh }),
    await call(NOSCHEMA, "GET", "/dashboard/", { headers: bearer(access) }),
  ]) {
    expectReply(reply, 503, UNAVAILABLE);
    assert.equal(reply.headers.get("content-type"), "application/json");
  }
  // Routes that need no storage keep working.
  expectReply(await post(NOSCHEMA, "/token/verify/", { token: access }), 200, {});
});

test("without the D1 binding, storage routes answer 503", async () => {
  const { access } = await loggedIn(MAIN);
  expectReply(await post(NOD1, "/register/", form), 503, UNAVAILABLE);
  expectReply(await call(NOD1, "GET", "/dashboard/", { headers: bearer(access) }), 503, UNAVAILABLE);
});

test("without the KV binding, refresh answers 503 and consumes nothing", async () => {
  const user = await newUser(NOKV);
  const { refresh } = await tokensFor(NOKV, user);
  expectReply(await post(NOKV, "/token/refresh/", { refresh }), 503, UNAVAILABLE);
  expectReply(await post(NOKV, "/token/verify/", { token: refresh }), 503, UNAVAILABLE);
  const [row] = await d1(
    NOKV_STATE,
    `SELECT used_at, revoked_at FROM refresh_tokens WHERE jti = '${decode(refresh).payload.jti}'`,
  );
  assert.deepEqual(row, { used_at: null, revoked_at: null });
  const rows = await d1(
    NOKV_STATE,
    `SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = ${decode(refresh).payload.user_id}`,
  );
  assert.equal(rows[0].n, 1);
});
