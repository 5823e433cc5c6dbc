// docs/contract.md §2.1 and §9: a missing or malformed JWT_SIGNING_KEYS secret is the generic 500 for
// the routes that need keys, never a crash; the other routes keep working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NOKEY, BADKEY, call, post, expectReply, newUser } from "./lib.mjs";

const SERVER_ERROR = { detail: "A server error occurred." };

for (const [name, base] of [
  ["missing", NOKEY],
  ["malformed", BADKEY],
]) {
  test(`a ${name} signing key secret makes token routes answer the generic 500`, async () => {
    const user = await newUser(base);
    expectReply(await post(base, "/token/", { email: user.email, password: user.password }), 500, SERVER_ERROR);
    expectReply(await post(base, "/token/verify/", { token: "a.b.c" }), 500, SERVER_ERROR);
    expectReply(await call(base, "GET", "/.well-known/jwks.json"), 500, SERVER_ERROR);
    expectReply(
      await call(base, "GET", "/dashboard/", { headers: { authorization: "Bearer a.b.c" } }),
      500,
      SERVER_ERROR,
    );
  });

  test(`with a ${name} secret, input errors and unknown paths answer as usual`, async () => {
    expectReply(await post(base, "/token/", {}), 400, {
      email: ["This field is required."],
      password: ["This field is required."],
    });
    expectReply(await call(base, "GET", "/nowhere"), 404, { detail: "Not found." });
    assert.equal((await call(base, "GET", "/dashboard/")).status, 401);
  });
}
