// docs/contract.md §4.1: POST /register/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, post, call, expectReply, uniqueEmail, STRONG_PASSWORD, tokensFor } from "./lib.mjs";

const REQUIRED = ["This field is required."];
const form = (email, extra = {}) => ({
  email,
  username: "bob",
  password: STRONG_PASSWORD,
  password2: STRONG_PASSWORD,
  ...extra,
});

test("a registration answers 201 with the trimmed e-mail as given and the username", async () => {
  const email = uniqueEmail("Mixed.Case");
  const reply = await post(MAIN, "/register/", form(`  ${email}  `, { username: "  Bob  " }));
  expectReply(reply, 201, { email, username: "Bob" });
  assert.equal(reply.headers.get("content-type"), "application/json");
  assert.equal(reply.headers.get("allow"), "POST, OPTIONS");
});

test("the registered password logs in, with the e-mail in any letter case", async () => {
  const email = uniqueEmail("Case");
  await post(MAIN, "/register/", form(email));
  await tokensFor(MAIN, { email: email.toUpperCase(), password: STRONG_PASSWORD });
});

test("form and multipart registrations work too", async () => {
  const email = uniqueEmail("form");
  const body = new URLSearchParams(form(email)).toString();
  expectReply(await call(MAIN, "POST", "/register/", { body, type: "application/x-www-form-urlencoded" }), 201, {
    email,
    username: "bob",
  });
  const multipartEmail = uniqueEmail("multipart");
  const data = new FormData();
  for (const [name, value] of Object.entries(form(multipartEmail))) data.append(name, value);
  expectReply(await call(MAIN, "POST", "/register/", { body: data }), 201, { email: multipartEmail, username: "bob" });
});

test("an e-mail registered in another letter case is a duplicate", async () => {
  const email = uniqueEmail("dup");
  expectReply(await post(MAIN, "/register/", form(email)), 201, { email, username: "bob" });
  expectReply(await post(MAIN, "/register/", form(email.toUpperCase())), 400, {
    email: ["user with this email already exists."],
  });
});

test("usernames are not unique", async () => {
  const [a, b] = [uniqueEmail("same1"), uniqueEmail("same2")];
  expectReply(await post(MAIN, "/register/", form(a, { username: "twin" })), 201, { email: a, username: "twin" });
  expectReply(await post(MAIN, "/register/", form(b, { username: "twin" })), 201, { email: b, username: "twin" });
});

test("an empty form requires every field, in order", async () => {
  expectReply(await post(MAIN, "/register/", {}), 400, {
    email: REQUIRED,
    username: REQUIRED,
    password: REQUIRED,
    password2: REQUIRED,
  });
});

test("invalid e-mails are refused", async () => {
  for (const email of ["plainaddress", "a@b", "a@@example.com", "a b@example.com", "a@example..com", "a@-x.com"]) {
    expectReply(await post(MAIN, "/register/", form(email)), 400, { email: ["Enter a valid email address."] });
  }
  expectReply(await post(MAIN, "/register/", form(true)), 400, { email: ["Enter a valid email address."] });
});

test("international domains and address literals are valid e-mails", async () => {
  for (const domain of ["müller.example", "[127.0.0.1]", "localhost"]) {
    const email = `u${Date.now()}${Math.random().toString(16).slice(2, 8)}@${domain}`;
    expectReply(await post(MAIN, "/register/", form(email)), 201, { email, username: "bob" });
  }
});

test("an e-mail over 254 characters is refused, also as invalid when it is", async () => {
  const long = `${"a".repeat(250)}@example.com`;
  expectReply(await post(MAIN, "/register/", form(long)), 400, {
    email: ["Ensure this field has no more than 254 characters."],
  });
  const longInvalid = `${"a".repeat(250)}@example`;
  expectReply(await post(MAIN, "/register/", form(longInvalid)), 400, {
    email: ["Ensure this field has no more than 254 characters.", "Enter a valid email address."],
  });
});

test("a username over 100 characters is refused", async () => {
  expectReply(await post(MAIN, "/register/", form(uniqueEmail(), { username: "u".repeat(101) })), 400, {
    username: ["Ensure this field has no more than 100 characters."],
  });
});

test("passwords over 4096 characters get only the length message", async () => {
  const long = "9".repeat(4097);
  expectReply(await post(MAIN, "/register/", form(uniqueEmail(), { password: long, password2: long })), 400, {
    password: ["Ensure this field has no more than 4096 characters."],
    password2: ["Ensure this field has no more than 4096 characters."],
  });
});

test("weak passwords get Django's messages in Django's order", async () => {
  const weak = (password) => post(MAIN, "/register/", form(uniqueEmail(), { password, password2: password }));
  expectReply(await weak("1234567"), 400, {
    password: [
      "This password is too short. It must contain at least 8 characters.",
      "This password is too common.",
      "This password is entirely numeric.",
    ],
  });
  expectReply(await weak("password"), 400, { password: ["This password is too common."] });
  expectReply(await weak("83710492"), 400, { password: ["This password is entirely numeric."] });
});

test("a password too similar to the username or e-mail is refused", async () => {
  const email = uniqueEmail("z");
  expectReply(
    await post(
      MAIN,
      "/register/",
      form(email, { username: "zebrafish77q", password: "zebrafish77q", password2: "zebrafish77q" }),
    ),
    400,
    { password: ["The password is too similar to the username."] },
  );
  const local = "marmalade.skyline";
  const password = "marmalade.skyline";
  expectReply(
    await post(MAIN, "/register/", form(`${local}@example.com`, { username: "x", password, password2: password })),
    400,
    { password: ["The password is too similar to the email."] },
  );
});

test("mismatched passwords are refused only when every field is valid", async () => {
  expectReply(await post(MAIN, "/register/", form(uniqueEmail(), { password2: `${STRONG_PASSWORD}x` })), 400, {
    password: ["Password do not match"],
  });
  expectReply(await post(MAIN, "/register/", form("bad", { password2: "other" })), 400, {
    email: ["Enter a valid email address."],
  });
});

test("blank, null and wrongly typed fields get their own messages", async () => {
  expectReply(
    await post(MAIN, "/register/", { email: "  ", username: null, password: ["x"], password2: { a: 1 } }),
    400,
    {
      email: ["This field may not be blank."],
      username: ["This field may not be null."],
      password: ["Not a valid string."],
      password2: ["Not a valid string."],
    },
  );
});

test("unknown fields such as is_staff and id are ignored", async () => {
  const email = uniqueEmail("extra");
  expectReply(await post(MAIN, "/register/", { ...form(email), is_staff: true, id: 1, is_active: false }), 201, {
    email,
    username: "bob",
  });
  await tokensFor(MAIN, { email, password: STRONG_PASSWORD });
});

test("SQL metacharacters are data, never SQL", async () => {
  const email = `o'neil.${Date.now()}@example.com`;
  const username = "Robert'); DROP TABLE users;--";
  expectReply(await post(MAIN, "/register/", form(email, { username })), 201, { email, username });
  await tokensFor(MAIN, { email, password: STRONG_PASSWORD });
  expectReply(await post(MAIN, "/token/", { email: "' OR '1'='1", password: "' OR '1'='1" }), 401, {
    detail: "No active account found with the given credentials",
  });
});

test("non-ASCII usernames are stored and returned as raw UTF-8", async () => {
  const email = uniqueEmail("utf8");
  const reply = await post(MAIN, "/register/", form(email, { username: "Zoë 日本" }));
  assert.equal(reply.status, 201);
  assert.equal(reply.text, `{"email":"${email}","username":"Zoë 日本"}`);
});

test("of concurrent registrations of one e-mail exactly one succeeds", async () => {
  const email = uniqueEmail("race");
  const variants = [email, email.toUpperCase(), email, email.toUpperCase(), email, email];
  const replies = await Promise.all(variants.map((e) => post(MAIN, "/register/", form(e))));
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400], replies.map((r) => `${r.status} ${r.text}`).join("\n"));
  for (const reply of replies.filter((r) => r.status === 400)) {
    expectReply(reply, 400, { email: ["user with this email already exists."] });
  }
});
