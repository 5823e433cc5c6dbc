// docs/accounts.md §7: the Workers RPC entrypoint. Each consumer example — TypeScript
// (examples/consumer-ts) and Rust (examples/consumer-rs, workers-rs) — runs in front of an
// edge-auth of its own in one `wrangler dev`, bound by a service binding to `AuthService`,
// edge-auth's named entrypoint (src/edge/entrypoint.mjs); workerd does not start a binding to a
// named entrypoint that the worker does not export. The consumer calls `verify(token)` and
// `user(token)` and forwards /auth/* to edge-auth's HTTP API through the same entrypoint, which
// is how these tests log in against the edge-auth it is bound to.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { root } from "./worker.mjs";
import {
  RPC_CONSUMER,
  RPC_RUST,
  STRONG_PASSWORD,
  bearer,
  call,
  decode,
  expectReply,
  post,
  uniqueEmail,
} from "./lib.mjs";

const INVALID = { detail: "Token is invalid or expired" };

test("both consumers bind AuthService, edge-auth's named entrypoint", async () => {
  const { experimental_readRawConfig: readRawConfig } = await import("wrangler");
  for (const example of ["consumer-ts", "consumer-rs"]) {
    const { rawConfig } = readRawConfig({ config: path.join(root, "examples", example, "wrangler.toml") });
    assert.deepEqual(rawConfig.services, [{ binding: "AUTH", service: "edge-auth", entrypoint: "AuthService" }]);
  }
});

for (const [language, base] of [
  ["TypeScript", RPC_CONSUMER],
  ["Rust", RPC_RUST],
]) {
  async function login() {
    const email = uniqueEmail("rpc");
    const form = { email, username: "rpc-user", password: STRONG_PASSWORD, password2: STRONG_PASSWORD };
    assert.equal((await post(base, "/auth/register/", form)).status, 201);
    const reply = await post(base, "/auth/token/", { email, password: STRONG_PASSWORD });
    assert.equal(reply.status, 200, reply.text);
    return { email, ...reply.body };
  }

  test(`${language}: verify(token) vouches for a live access token`, async () => {
    const { access } = await login();
    const { user_id } = decode(access).payload;
    expectReply(await call(base, "GET", "/protected", { headers: bearer(access) }), 200, {
      message: "Hello, rpc-user",
      user_id,
    });
  });

  test(`${language}: user(token) answers the token's user as /user/ does`, async () => {
    const { access, email } = await login();
    expectReply(await call(base, "GET", "/me", { headers: bearer(access) }), 200, {
      pk: decode(access).payload.user_id,
      username: "rpc-user",
      email,
      first_name: "",
      last_name: "",
    });
  });

  test(`${language}: a logged-out login's access token is refused at once, before it expires`, async () => {
    const { access, refresh } = await login();
    assert.equal((await post(base, "/auth/token/blacklist/", { refresh })).status, 200);
    expectReply(await call(base, "GET", "/protected", { headers: bearer(access) }), 401, INVALID);
    // user(token) authenticates as Bearer authentication does, which keeps an access token
    // working until it expires (docs/contract.md).
    assert.equal((await call(base, "GET", "/me", { headers: bearer(access) })).status, 200);
  });

  test(`${language}: refresh tokens, garbage and a missing token are refused`, async () => {
    const { refresh } = await login();
    for (const token of [refresh, "garbage", "a.b.c"]) {
      expectReply(await call(base, "GET", "/protected", { headers: bearer(token) }), 401, INVALID);
      expectReply(await call(base, "GET", "/me", { headers: bearer(token) }), 401, INVALID);
    }
    expectReply(await call(base, "GET", "/protected"), 401, {
      detail: "Authentication credentials were not provided.",
    });
  });
}
