// docs/contract.md §6: failed-login throttling. The throttle worker allows 2 failures per account
// bucket and 4 per client bucket in an 8-second window (long enough that a slow, loaded
// machine still makes each test's failures inside one window).
import { test } from "node:test";
import assert from "node:assert/strict";
import { THROTTLE, MAIN, post, expectReply, newUser } from "./lib.mjs";

const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
let nextClient = 1;
/** A fresh client address, so that tests never share a client bucket. */
const freshClient = () => ({ "cf-connecting-ip": `203.0.113.${(process.pid + nextClient++) % 250}` });
const login = (email, password, headers) => post(THROTTLE, "/token/", { email, password }, { headers });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function expectThrottled(reply) {
  assert.equal(reply.status, 429, reply.text);
  const wait = Number(reply.headers.get("retry-after"));
  assert.ok(wait >= 1 && wait <= 8, `Retry-After ${wait}`);
  const unit = wait === 1 ? "second" : "seconds";
  assert.equal(reply.text, JSON.stringify({ detail: `Request was throttled. Expected available in ${wait} ${unit}.` }));
}

test("a full account bucket answers 429, even to the right password, until the window ends", async () => {
  const user = await newUser(THROTTLE);
  const client = freshClient();
  expectReply(await login(user.email, "wrong-1", client), 401, NO_ACCOUNT);
  expectReply(await login(user.email.toUpperCase(), "wrong-2", client), 401, NO_ACCOUNT);
  expectThrottled(await login(user.email, user.password, client));
  await sleep(8_200);
  assert.equal((await login(user.email, user.password, client)).status, 200);
});

test("the account bucket is per client address", async () => {
  const user = await newUser(THROTTLE);
  const attacker = freshClient();
  await login(user.email, "wrong-1", attacker);
  await login(user.email, "wrong-2", attacker);
  expectThrottled(await login(user.email, user.password, attacker));
  assert.equal((await login(user.email, user.password, freshClient())).status, 200);
});

test("a full client bucket throttles every account from that client", async () => {
  const client = freshClient();
  for (let i = 0; i < 4; i++) {
    expectReply(await login(`nobody${i}.${process.pid}@example.com`, "x", client), 401, NO_ACCOUNT);
  }
  const user = await newUser(THROTTLE);
  expectThrottled(await login(user.email, user.password, client));
});

test("successful logins and input errors neither count nor reset", async () => {
  const user = await newUser(THROTTLE);
  const client = freshClient();
  for (let i = 0; i < 3; i++) assert.equal((await login(user.email, user.password, client)).status, 200);
  for (let i = 0; i < 3; i++) {
    expectReply(await post(THROTTLE, "/token/", { email: user.email }, { headers: client }), 400, {
      password: ["This field is required."],
    });
  }
  expectReply(await login(user.email, "wrong-1", client), 401, NO_ACCOUNT);
  assert.equal((await login(user.email, user.password, client)).status, 200);
  expectReply(await login(user.email, "wrong-2", client), 401, NO_ACCOUNT);
  expectThrottled(await login(user.email, user.password, client));
});

test("concurrent wrong guesses cannot slip past the limit", async () => {
  const user = await newUser(THROTTLE);
  const client = freshClient();
  const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => login(user.email, `wrong-${i}`, client)));
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [401, 401, 429, 429, 429, 429, 429, 429]);
});

test("the default limits leave ordinary use alone", async () => {
  const user = await newUser(MAIN);
  for (let i = 0; i < 4; i++)
    expectReply(await post(MAIN, "/token/", { email: user.email, password: "nope" }), 401, NO_ACCOUNT);
  assert.equal((await post(MAIN, "/token/", { email: user.email, password: user.password })).status, 200);
});
