// Users made by real Django 4.2 (from PyPI, in the test virtualenv) are dumped with dumpdata,
// converted by import-django, loaded with wrangler d1 execute, and log in to the worker
// with their original passwords and ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { IMPORT, IMPORT_STATE, post, expectReply, decode, newUser } from "./lib.mjs";
import { d1File } from "./worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const NO_ACCOUNT = { detail: "No active account found with the given credentials" };

test("users dumped from Django log in with their passwords and keep their ids", async () => {
  const folder = mkdtempSync(path.join(tmpdir(), "edge-auth-django-"));
  const dump = path.join(folder, "users.json");
  const made = JSON.parse(
    (await run(process.env.E2E_PYTHON, [path.join(here, "django_users.py"), path.join(folder, "db.sqlite3"), dump]))
      .stdout,
  );
  const { stdout: sql, stderr: report } = await run(process.env.E2E_IMPORT_BIN, [dump]);
  assert.match(report, /5 users imported \(2 without a usable password\), 0 not imported/);
  assert.match(report, new RegExp(`user ${made[2].pk} imported WITHOUT a usable password`));
  assert.match(
    report,
    new RegExp(`user ${made[3].pk} imported WITHOUT a usable password: unsupported hash format "argon2"`),
  );
  const file = path.join(folder, "users.sql");
  writeFileSync(file, sql);
  await d1File(IMPORT_STATE, file);

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
  const login = await post(IMPORT, "/token/", { email: fresh.email, password: fresh.password });
  assert.ok(decode(login.body.access).payload.user_id > Math.max(...made.map((u) => u.pk)));
});
