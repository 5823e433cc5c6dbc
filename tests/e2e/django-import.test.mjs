// Users made by real Django 4.2 (from PyPI, in the test virtualenv) are dumped with dumpdata,
// converted by import-django, loaded with wrangler d1 execute, and log in to the worker
// with their original passwords and ids. Then the database's side of an import: running it
// again changes nothing, a dump that would give a used id (or e-mail) to someone else is
// refused as a whole with the users named, and ids D1 cannot keep exact are never imported.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { pbkdf2Sync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify, stripVTControlCharacters } from "node:util";
import { IMPORT, IMPORT_STATE, post, expectReply, decode, newUser, tokensFor, uniqueEmail, letters } from "./lib.mjs";
import { d1, d1File } from "./worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const folder = mkdtempSync(path.join(tmpdir(), "edge-auth-django-"));

/** Django's pbkdf2_sha256 hash of `password`, as `make_password` stores it. */
function djangoHash(password, iterations = 100_000) {
  const salt = letters(22);
  const hash = pbkdf2Sync(password, salt, iterations, 32, "sha256").toString("base64");
  return `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
}

/** A dumpdata entry of the stock user model, with the id written as given (a string of digits). */
const entry = (pk, email, password) =>
  `{"model":"auth.user","pk":${pk},"fields":{"username":"u","email":${JSON.stringify(email)},"password":${JSON.stringify(djangoHash(password))},"is_active":true}}`;

/** Runs import-django on a dump (text) and returns the SQL file it wrote and its report. */
async function convert(dump) {
  const name = `dump-${letters(8)}`;
  writeFileSync(path.join(folder, `${name}.json`), dump);
  const { stdout, stderr } = await run(process.env.E2E_IMPORT_BIN, [path.join(folder, `${name}.json`)]);
  writeFileSync(path.join(folder, `${name}.sql`), stdout);
  return { file: path.join(folder, `${name}.sql`), sql: stdout, report: stderr };
}

/** Runs a SQL file as an operator would; resolves to wrangler's error output if it failed. */
async function execute(file) {
  try {
    await d1File(IMPORT_STATE, file);
    return null;
  } catch (error) {
    return stripVTControlCharacters(`${error.stdout}${error.stderr}`);
  }
}

const everything = async () => ({
  users: await d1(IMPORT_STATE, "SELECT * FROM users ORDER BY id"),
  mark: (await d1(IMPORT_STATE, "SELECT seq FROM sqlite_sequence WHERE name = 'users'"))[0]?.seq ?? 0,
  helpers: await d1(IMPORT_STATE, "SELECT name FROM sqlite_master WHERE name LIKE 'import_django%'"),
});

const userId = async (user) => decode((await tokensFor(IMPORT, user)).access).payload.user_id;

let made;
let first;
before(async () => {
  const dump = path.join(folder, "users.json");
  made = JSON.parse(
    (await run(process.env.E2E_PYTHON, [path.join(here, "django_users.py"), path.join(folder, "db.sqlite3"), dump]))
      .stdout,
  );
  first = await convert(readFileSync(dump, "utf8"));
});

test("users dumped from Django log in with their passwords and keep their ids", async () => {
  const { file, report } = first;
  assert.match(report, /5 users imported \(2 without a usable password\), 0 not imported/);
  assert.match(report, new RegExp(`user ${made[2].pk} imported WITHOUT a usable password`));
  assert.match(
    report,
    new RegExp(`user ${made[3].pk} imported WITHOUT a usable password: unsupported hash format "argon2"`),
  );
  assert.equal(await execute(file), null);

  for (const user of made.filter((u) => u.password)) {
    const reply = await post(IMPORT, "/token/", { email: user.email, password: user.password });
    assert.equal(reply.status, 200, `${user.email}: ${reply.text}`);
    assert.equal(decode(reply.body.access).payload.user_id, user.pk);
  }
  // Without a usable password (unusable, argon2) or inactive: refused like any wrong password.
  for (const user of made.filter((u) => !u.password)) {
    expectReply(await post(IMPORT, "/token/", { email: user.email, password: "eves password 77" }), 401, NO_ACCOUNT);
  }
  // The e-mail stays unique across the import, and new users get ids after the imported ones.
  expectReply(
    await post(IMPORT, "/register/", {
      email: "ALICE@example.com",
      username: "x",
      password: "x7#Lq9!vRt2m",
      password2: "x7#Lq9!vRt2m",
    }),
    400,
    { email: ["user with this email already exists."] },
  );
  const fresh = await newUser(IMPORT);
  assert.ok((await userId(fresh)) > Math.max(...made.map((u) => u.pk)));
  assert.deepEqual((await everything()).helpers, [], "the helper tables are dropped");
});

test("running the same import again, twice, changes nothing", async () => {
  const snapshot = await everything();
  assert.ok(snapshot.users.length > made.length);
  // Bob's hash, of an older Django, was re-hashed at his login above: the dump's is older.
  const bob = made[1];
  const dumped = first.sql.match(/'(pbkdf2_sha256\$260000\$[^']*)'/)[1];
  assert.notEqual(snapshot.users.find((u) => u.id === bob.pk).password, dumped);
  for (const round of [1, 2]) {
    assert.equal(await execute(first.file), null, `round ${round}`);
    assert.deepEqual(await everything(), snapshot, `round ${round}`);
  }
  assert.equal(await userId(bob), bob.pk);
});

test("a dump that gives a used id or e-mail to another user is refused whole, naming them", async () => {
  // A user registers and is deleted: the high-water mark stays at (or above) their id.
  const gone = await newUser(IMPORT);
  const goneId = await userId(gone);
  await d1(IMPORT_STATE, `DELETE FROM users WHERE id = ${goneId}`);
  const snapshot = await everything();
  assert.ok(snapshot.mark >= goneId && !snapshot.users.some((u) => u.id === goneId));

  const [alice, bob] = made;
  const stranger = uniqueEmail("stranger");
  const impostor = uniqueEmail("impostor");
  const newcomer = { email: uniqueEmail("newcomer"), password: "newcomers secret 12", pk: snapshot.mark + 5 };
  const refused = [
    entry(goneId, stranger, "strangers secret 34"), // the deleted user's id, another e-mail
    entry(alice.pk, impostor, "impostors secret 56"), // alice's id, another e-mail
    entry(snapshot.mark + 3, "BOB@example.com", "bobs new secret 78"), // a new id, bob's e-mail
  ];
  const { file, report } = await convert(
    `[${[...refused, entry(newcomer.pk, newcomer.email, newcomer.password)].join(",")}]`,
  );
  assert.match(report, /4 users imported \(0 without a usable password\), 0 not imported/);

  const error = await execute(file);
  assert.ok(error, "wrangler d1 execute must fail");
  assert.match(error, /import-django: nothing imported, 3 user\(s\) of the dump refused: /);
  assert.ok(
    error.includes(
      `user ${goneId} <${stranger}>: its id is at or below the highest id this database has given: it may have been a deleted user's, and ids are never given twice`,
    ),
    error,
  );
  assert.ok(error.includes(`user ${alice.pk} <${impostor}>: its id is another user's, <`), error);
  assert.ok(error.includes(`user ${snapshot.mark + 3} <BOB@example.com>: its e-mail is user ${bob.pk}'s`), error);
  // Nothing at all was imported, the valid newcomer neither; the mark did not move.
  assert.deepEqual(await everything(), snapshot);
  expectReply(await post(IMPORT, "/token/", { email: stranger, password: "strangers secret 34" }), 401, NO_ACCOUNT);
  expectReply(await post(IMPORT, "/token/", { email: newcomer.email, password: newcomer.password }), 401, NO_ACCOUNT);
  assert.equal(await userId(alice), alice.pk);

  // The way out: without the refused users, the rest imports.
  const rest = await convert(`[${entry(newcomer.pk, newcomer.email, newcomer.password)}]`);
  assert.equal(await execute(rest.file), null);
  assert.equal(await userId(newcomer), newcomer.pk);
  assert.deepEqual((await everything()).helpers, []);
});

test("ids from 2^53 on are reported and not imported; the rest of the dump is", async () => {
  const { mark } = await everything();
  const big = { email: uniqueEmail("big"), password: "big secret 90" };
  const small = { email: uniqueEmail("small"), password: "small secret 91", pk: mark + 1 };
  const { file, sql, report } = await convert(
    `[${entry("9007199254740992", big.email, big.password)},${entry(small.pk, small.email, small.password)}]`,
  );
  assert.match(
    report,
    /user 9007199254740992 NOT imported: the id 9007199254740992 is outside 1\.\.=9007199254740991 \(2\^53 - 1\)/,
  );
  assert.match(report, /1 users imported \(0 without a usable password\), 1 not imported/);
  assert.ok(!sql.includes(big.email) && !sql.includes("9007199254740992"));
  assert.equal(await execute(file), null);
  assert.equal(await userId(small), small.pk);
  expectReply(await post(IMPORT, "/token/", { email: big.email, password: big.password }), 401, NO_ACCOUNT);
  assert.deepEqual(await d1(IMPORT_STATE, "SELECT id FROM users WHERE id > 9007199254740990"), []);
});
