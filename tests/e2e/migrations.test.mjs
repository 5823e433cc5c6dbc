// The schema's two forms, checked against each other and against the databases already out
// there. A database made the old way (the seed's schema.sql, which is migrations/0000, run with
// `wrangler d1 execute`) keeps every row through `wrangler d1 migrations apply`, and a second
// apply changes nothing. schema.sql, the whole schema to read, makes the same tables and
// indexes as the migrations. Each database here is a fresh local D1 of its own; no worker
// serves it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { d1, d1File, d1Migrate, d1Statements, root } from "./worker.mjs";

const folder = mkdtempSync(path.join(tmpdir(), "edge-auth-migrations-"));
after(() => rmSync(folder, { recursive: true, force: true }));
let databases = 0;
const freshState = () => path.join(folder, `db-${++databases}`);

const migrations = readdirSync(path.join(root, "migrations"))
  .filter((name) => name.endsWith(".sql"))
  .sort();

/** A JavaScript value as an SQL literal. */
const literal = (value) =>
  value === null ? "NULL" : typeof value === "number" ? String(value) : `'${value.replaceAll("'", "''")}'`;

const insert = (table, row) =>
  `INSERT INTO ${table} (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).map(literal).join(", ")});`;

// Rows of the seed's schema, every column given, with the values that are easy to lose: NULLs,
// quotes, non-ASCII text, ids far apart.
const seedRows = {
  users: [
    {
      id: 7,
      email: "O'Neil@Example.com",
      username: "Zoë O'Neil",
      password: "pbkdf2_sha256$600000$salt$aGFzaA==",
      is_active: 1,
      date_joined: "2021-03-04 05:06:07",
      last_login: "2024-12-31 23:59:59",
    },
    {
      id: 42,
      email: "inactive@example.com",
      username: "inactive",
      password: "!unusable",
      is_active: 0,
      date_joined: "2020-01-01 00:00:00",
      last_login: null,
    },
  ],
  refresh_tokens: [
    {
      jti: "jti-1",
      family: "jti-1",
      user_id: 7,
      expires_at: 1900000000,
      used_at: 1800000000,
      successor: "jti-2",
      revoked_at: null,
    },
    {
      jti: "jti-2",
      family: "jti-1",
      user_id: 7,
      expires_at: 1900000100,
      used_at: null,
      successor: null,
      revoked_at: 1800000100,
    },
  ],
  sessions: [{ id: "jti-1", user_id: 7, created_at: 1799999000 }],
  login_failures: [
    { bucket: `a:${"x".repeat(43)}`, window_start: 1800000000, failures: 3 },
    { bucket: `c:${"y".repeat(43)}`, window_start: 1800000300, failures: 1 },
  ],
};

// What 0001 gives the rows that were there before it.
const added = {
  users: { first_name: "", last_name: "", email_verified: 1, tokens_valid_after: 0 },
  sessions: { refreshed_at: null, user_agent: "", ip: "", country: "", seq: 0 },
};

const tables = ["users", "refresh_tokens", "sessions", "login_failures", "security_events", "quotas"];

/** The rows of every table the migrations make, in key order, and the users' id high-water mark. */
async function contents(state) {
  const rows = await d1Statements(
    state,
    [
      ...tables.map((table) => `SELECT * FROM ${table} ORDER BY 1;`),
      "SELECT name, seq FROM sqlite_sequence WHERE name <> 'd1_migrations';",
    ].join("\n"),
  );
  return Object.fromEntries([...tables, "sqlite_sequence"].map((name, i) => [name, rows[i]]));
}

const applied = (state) => d1(state, "SELECT id, name, applied_at FROM d1_migrations ORDER BY id");

test("a database of the seed's schema keeps every row through the migrations; a second apply does nothing", async () => {
  const state = freshState();
  await d1File(state, path.join(root, "migrations/0000_initial.sql"));
  const statements = Object.entries(seedRows).flatMap(([table, rows]) => rows.map((row) => insert(table, row)));
  // A user given id 43 and deleted: the next user must still get 44 (ids are never reused).
  statements.push(insert("users", { ...seedRows.users[1], id: 43, email: "gone@example.com" }));
  statements.push("DELETE FROM users WHERE id = 43;");
  await d1(state, statements.join("\n"));
  assert.deepEqual(await d1(state, "SELECT name FROM sqlite_master WHERE name = 'd1_migrations'"), []);

  const output = await d1Migrate(state);
  for (const name of migrations) assert.ok(output.includes(name), `${name} applied:\n${output}`);
  const upgraded = await contents(state);
  assert.deepEqual(upgraded, {
    users: seedRows.users.map((row) => ({ ...row, ...added.users })),
    refresh_tokens: seedRows.refresh_tokens,
    sessions: seedRows.sessions.map((row) => ({ ...row, ...added.sessions })),
    login_failures: seedRows.login_failures,
    security_events: [],
    quotas: [],
    sqlite_sequence: [{ name: "users", seq: 43 }],
  });
  const record = await applied(state);
  assert.deepEqual(
    record.map((row) => row.name),
    migrations,
  );

  assert.match(await d1Migrate(state), /No migrations to apply/);
  assert.deepEqual(await contents(state), upgraded);
  assert.deepEqual(await applied(state), record);

  // The upgraded database takes new rows with the defaults, and a new id after the deleted one.
  await d1(state, "INSERT INTO users (email, username, password) VALUES ('new@example.com', 'new', 'x')");
  const [{ id, date_joined, ...fresh }] = await d1(state, "SELECT * FROM users WHERE email = 'new@example.com'");
  assert.equal(id, 44);
  assert.match(date_joined, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.deepEqual(fresh, {
    ...{ email: "new@example.com", username: "new", password: "x", is_active: 1, last_login: null },
    ...added.users,
  });
});

/**
 * A CREATE statement without its comments and layout. A table's definitions (columns and
 * constraints) are sorted: ALTER TABLE ADD COLUMN puts a column last, and schema.sql may write
 * it anywhere in its table.
 */
function normalised(sql) {
  if (sql === null) return null;
  const text = sql
    .replace(/--[^\n]*/g, "")
    .replace(/\s+/g, " ")
    .replace(/ ?([(),]) ?/g, "$1")
    .trim();
  if (!text.startsWith("CREATE TABLE ")) return text;
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const definitions = [];
  let [start, depth, quoted] = [open + 1, 0, false];
  for (let i = start; i < close; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      definitions.push(text.slice(start, i));
      start = i + 1;
    }
  }
  definitions.push(text.slice(start, close));
  return `${text.slice(0, open)}(${definitions.sort().join(",")})${text.slice(close + 1)}`;
}

/** The tables and indexes of a database, without wrangler's d1_migrations and D1's own _cf_ tables. */
async function schemaOf(state) {
  const objects = await d1(state, "SELECT type, name, tbl_name, sql FROM sqlite_master");
  return objects
    .filter((o) => o.tbl_name !== "d1_migrations" && !o.name.startsWith("_cf_"))
    .map((o) => ({ ...o, sql: normalised(o.sql) }))
    .sort((a, b) => `${a.type} ${a.name}`.localeCompare(`${b.type} ${b.name}`));
}

test("schema.sql makes the same tables and indexes as the migrations", async () => {
  const [fromFile, migrated] = [freshState(), freshState()];
  await d1File(fromFile, path.join(root, "schema.sql"));
  await d1Migrate(migrated);
  const expected = await schemaOf(migrated);
  assert.ok(expected.some((o) => o.name === "users" && o.sql.includes("tokens_valid_after")));
  assert.deepEqual(await schemaOf(fromFile), expected);
});
