// docs/contract.md §2.3 and §7: request bodies, hostile or malformed. Never a 5xx, always the
// contract's JSON error, and the server keeps answering.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAIN, call, post, expectReply, newUser, uniqueEmail, STRONG_PASSWORD } from "./lib.mjs";

const REQUIRED_LOGIN = { email: ["This field is required."], password: ["This field is required."] };
const send = (body, type, path = "/token/") => call(MAIN, "POST", path, { body, type });

function expectParseError(reply) {
  assert.equal(reply.status, 400, reply.text);
  assert.deepEqual(Object.keys(reply.body), ["detail"]);
  assert.ok(reply.body.detail.startsWith("JSON parse error - "), reply.body.detail);
}

test("an empty body means no fields, whatever the content type", async () => {
  for (const type of ["application/json", "text/plain", undefined]) {
    expectReply(await send("", type), 400, REQUIRED_LOGIN);
  }
});

test("another content type with a body is 415 quoting the header verbatim", async () => {
  expectReply(await send("email=x", "text/plain; charset=UTF-8"), 415, {
    detail: 'Unsupported media type "text/plain; charset=UTF-8" in request.',
  });
  expectReply(await send("<a/>", "application/xml"), 415, {
    detail: 'Unsupported media type "application/xml" in request.',
  });
});

test("a body without a content type is 415 with an empty media type", async () => {
  const reply = await fetch(`${MAIN}/token/`, { method: "POST", body: new Uint8Array([123, 125]) });
  assert.equal(reply.status, 415);
  assert.equal(await reply.text(), '{"detail":"Unsupported media type \\"\\" in request."}');
});

test("JSON with a charset parameter is parsed", async () => {
  expectReply(await send('{"email":"","password":""}', "application/json; charset=utf-8"), 400, {
    email: ["This field may not be blank."],
    password: ["This field may not be blank."],
  });
});

test("a body over 1 MiB is 413", async () => {
  const big = JSON.stringify({ email: "a@example.com", password: "x", pad: "p".repeat(1_048_576) });
  expectReply(await send(big, "application/json"), 413, { detail: "Request body too large." });
  expectReply(await send(big, "application/json", "/register/"), 413, { detail: "Request body too large." });
  // Exactly at the cap is read: 10 bytes of JSON around the padding.
  const exact = `{"pad":"${"p".repeat(1_048_576 - 10)}"}`;
  expectReply(await send(exact, "application/json"), 400, REQUIRED_LOGIN);
});

test("a 2 MiB body sent in chunks without Content-Length is 413", async () => {
  const chunk = new TextEncoder().encode("p".repeat(65_536));
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= 32) return controller.close();
      sent += 1;
      controller.enqueue(chunk);
    },
  });
  const reply = await fetch(`${MAIN}/token/`, {
    method: "POST",
    body: stream,
    duplex: "half",
    headers: { "content-type": "application/json" },
  });
  assert.equal(reply.status, 413);
  assert.equal(await reply.text(), '{"detail":"Request body too large."}');
});

test("malformed JSON is a parse error", async () => {
  for (const body of ["{", '{"email":}', "{} []", "{'email':'x'}", "NaN", "\ufeff{}", "   ", '{"a":1,}']) {
    expectParseError(await send(body, "application/json"));
  }
});

test("invalid UTF-8 and lone surrogates are parse errors", async () => {
  expectParseError(
    await send(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), "application/json"),
  );
  expectParseError(await send('{"email":"\\ud800","password":"x"}', "application/json"));
  expectParseError(await send('{"ignored":"\\udc00"}', "application/json"));
});

test("nesting deeper than 128 levels is a parse error; 128 is fine", async () => {
  const nested = (depth) => `{"email":${"[".repeat(depth - 1)}1${"]".repeat(depth - 1)},"password":"x"}`;
  expectReply(await send(nested(128), "application/json"), 400, { email: ["Not a valid string."] });
  expectParseError(await send(nested(129), "application/json"));
  expectParseError(await send("[".repeat(10_000), "application/json"));
});

test("null and non-object documents are refused with their Python type", async () => {
  expectReply(await send("null", "application/json"), 400, { non_field_errors: ["No data provided"] });
  for (const [body, kind] of [
    ["[]", "list"],
    ['"x"', "str"],
    ["42", "int"],
    ["4.2", "float"],
    ["true", "bool"],
  ]) {
    expectReply(await send(body, "application/json"), 400, {
      non_field_errors: [`Invalid data. Expected a dictionary, but got ${kind}.`],
    });
  }
});

test("duplicate keys keep the last value", async () => {
  const user = await newUser();
  const body = `{"email":"nobody@example.com","email":"${user.email}","password":"wrong","password":"${user.password}"}`;
  assert.equal((await send(body, "application/json")).status, 200);
});

test("numbers become strings; booleans, arrays and objects are not strings", async () => {
  expectReply(await send('{"email":12345678901234,"password":1.5}', "application/json"), 401, {
    detail: "No active account found with the given credentials",
  });
  expectReply(await send('{"email":[],"password":{"__proto__":{"x":1}}}', "application/json"), 400, {
    email: ["Not a valid string."],
    password: ["Not a valid string."],
  });
});

test("NUL characters are refused", async () => {
  expectReply(await send('{"email":"a\\u0000b","password":"x"}', "application/json"), 400, {
    email: ["Null characters are not allowed."],
  });
});

test("form bodies: repeated keys keep the last value, bad percent-encoding becomes U+FFFD", async () => {
  const user = await newUser();
  const body = `email=nobody%40example.com&email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(user.password)}`;
  assert.equal((await send(body, "application/x-www-form-urlencoded")).status, 200);
  expectReply(await send("email=%ff&password=x", "application/x-www-form-urlencoded"), 401, {
    detail: "No active account found with the given credentials",
  });
});

test("multipart bodies: non-file parts are fields, file parts are ignored", async () => {
  const user = await newUser();
  const data = new FormData();
  data.append("email", user.email);
  data.append("password", new Blob([user.password]), "password.txt");
  expectReply(await call(MAIN, "POST", "/token/", { body: data }), 400, { password: ["This field is required."] });
  expectReply(await send("x", "multipart/form-data"), 400, {
    detail: "Multipart form parse error - Invalid boundary in multipart: None",
  });
});

test("a registration with a hostile body leaves nothing behind", async () => {
  const email = uniqueEmail("hostile");
  const body = `{"email":"${email}","username":"x","password":"${STRONG_PASSWORD}","password2":"${STRONG_PASSWORD}","x":"\\ud800"}`;
  expectParseError(await send(body, "application/json", "/register/"));
  const form = { email, username: "x", password: STRONG_PASSWORD, password2: STRONG_PASSWORD };
  expectReply(await post(MAIN, "/register/", form), 201, { email, username: "x" });
});

test("the server keeps answering after all of this", async () => {
  expectReply(await call(MAIN, "GET", "/nowhere"), 404, { detail: "Not found." });
});
