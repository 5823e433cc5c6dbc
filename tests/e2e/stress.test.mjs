// Concurrency under repetition (docs/contract.md §4.1, §5): 50 rounds of 20 parallel
// registrations of one e-mail, and 50 rounds of 20 parallel refreshes of one token, on the
// limits worker (cheap hashing, so the rounds are quick). Every round has exactly one winner,
// every loser the contract's answer, and no request anywhere answers a 5xx.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BLACKLISTED, LIMITS, STRONG_PASSWORD, expectReply, newUser, post, tokensFor, uniqueEmail } from "./lib.mjs";

const ROUNDS = 50;
const PARALLEL = 20;
const DUPLICATE = { email: ["user with this email already exists."] };

/** `email` with the letters of its local part in upper or lower case, by the bits of `n`. */
function caseVariant(email, n) {
  return [...email].map((c, i) => ((n >> (i % 16)) & 1 ? c.toUpperCase() : c)).join("");
}

test(`${ROUNDS} rounds of ${PARALLEL} parallel registrations of one e-mail: one 201 each, no 5xx`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const email = uniqueEmail(`stress${round}`);
    // Half the requests use the address as it is, half a case variant of it.
    const variants = Array.from({ length: PARALLEL }, (_, i) => (i % 2 ? caseVariant(email, i * 7919) : email));
    const replies = await Promise.all(
      variants.map((address) =>
        post(LIMITS, "/register/", {
          email: address,
          username: "stress",
          password: STRONG_PASSWORD,
          password2: STRONG_PASSWORD,
        }),
      ),
    );
    const report = replies.map((r) => `${r.status} ${r.text}`).join("\n");
    assert.equal(replies.filter((r) => r.status === 201).length, 1, `round ${round}:\n${report}`);
    for (const reply of replies.filter((r) => r.status !== 201)) expectReply(reply, 400, DUPLICATE);
  }
});

test(`${ROUNDS} rounds of ${PARALLEL} parallel refreshes of one token: one 200 each, no 5xx`, async () => {
  const user = await newUser(LIMITS);
  for (let round = 0; round < ROUNDS; round++) {
    const { refresh } = await tokensFor(LIMITS, user);
    const replies = await Promise.all(
      Array.from({ length: PARALLEL }, () => post(LIMITS, "/token/refresh/", { refresh })),
    );
    const report = replies.map((r) => `${r.status} ${r.text}`).join("\n");
    assert.equal(replies.filter((r) => r.status === 200).length, 1, `round ${round}:\n${report}`);
    for (const reply of replies.filter((r) => r.status !== 200)) expectReply(reply, 401, BLACKLISTED);
  }
});
