// Abuse and storage safety (docs/contract.md §6): a failed login stores the same few bytes
// whatever its input; IPv6 clients are throttled by their /64.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, MAIN_STATE, THROTTLE, call, expectReply } from "./lib.mjs";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { d1 } from "./worker.mjs";

const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const wrongLogin = (base, email, address) =>
  call(base, "POST", "/token/", { json: { email, password: "wrong" }, headers: { "cf-connecting-ip": address } });

/** The bytes local D1 keeps on disk for a worker: its SQLite files, write-ahead log included. */
function databaseBytes(state) {
  const folder = path.join(state, "v3", "d1");
  return readdirSync(folder, { recursive: true })
    .map((name) => path.join(folder, name))
    .filter((file) => statSync(file).isFile())
    .reduce((sum, file) => sum + statSync(file).size, 0);
}

test("failed logins with 1 MiB e-mails grow the database by a small constant, not by their size", async () => {
  const address = `198.51.100.${process.pid % 250}`;
  const before = databaseBytes(MAIN_STATE);
  for (const letter of ["a", "b", "c"]) {
    const email = `${letter.repeat(1_000_000)}@example.com`;
    expectReply(await wrongLogin(MAIN, email, address), 401, NO_ACCOUNT);
  }
  const grown = databaseBytes(MAIN_STATE) - before;
  // Keys made of the input would add 3 MB. Fixed-size keys add a few pages per transaction
  // (about 12 KiB of write-ahead log each, measured), whatever the input's size.
  assert.ok(grown <= 65_536, `the database grew by ${grown} bytes`);
  const [{ longest }] = await d1(MAIN_STATE, "SELECT MAX(LENGTH(bucket)) AS longest FROM login_failures");
  assert.equal(longest, 45);
});

test("IPv6 clients share one client bucket per /64 and not beyond it", async () => {
  // The throttle worker allows 4 failures per client and 2 per account in an 8 s window.
  const network = `2001:db8:${(process.pid & 0xffff).toString(16)}`;
  for (let host = 1; host <= 4; host++) {
    const reply = await wrongLogin(THROTTLE, `v6-${host}-${process.pid}@example.com`, `${network}:1::${host}`);
    expectReply(reply, 401, NO_ACCOUNT);
  }
  const sameNetwork = await wrongLogin(THROTTLE, `v6-5-${process.pid}@example.com`, `${network}:1:ffff:ffff:ffff:ffff`);
  assert.equal(sameNetwork.status, 429);
  assert.match(sameNetwork.body.detail, /^Request was throttled\. Expected available in \d seconds?\.$/);
  const nextNetwork = await wrongLogin(THROTTLE, `v6-6-${process.pid}@example.com`, `${network}:2::1`);
  expectReply(nextNetwork, 401, NO_ACCOUNT);
});
