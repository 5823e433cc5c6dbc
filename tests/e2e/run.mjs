// End-to-end test runner: starts the real worker under `wrangler dev` (real workerd, local D1
// and KV), once per configuration the tests need, each on free ports with fresh state; runs
// every `*.test.mjs` here with node's test runner against them; stops them all.
//
// Usage: node tests/e2e/run.mjs [test files…]   (the worker must be built: `make worker`)
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker, testKeyJwk, thumbprint } from "./worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const key = testKeyJwk();
const signingKeys = JSON.stringify([key]);
// Django's SECRET_KEY of the tests: the Django checks compute links with it.
const secretKey = "edge-auth-e2e-secret-key-not-for-production";
// A key rollover in progress: the old key is still listed, the new one signs.
const [oldKey, newKey] = [testKeyJwk(), testKeyJwk()];

// Each entry: the environment variable the tests read, and the worker's configuration.
const configurations = {
  E2E_MAIN: {
    vars: {
      JWT_SIGNING_KEYS: signingKeys,
      SECRET_KEY: secretKey,
      INTROSPECTION_SECRETS: "rs-one-secret, rs-two-secret",
      // round-trips.test.mjs counts the storage calls of the hot routes.
      STORAGE_ROUND_TRIPS_HEADER: "true",
    },
    args: ["--test-scheduled"],
  },
  E2E_SEED: {
    vars: {
      JWT_SIGNING_KEYS: signingKeys,
      ROTATE_REFRESH_TOKENS: "false",
      UPDATE_LAST_LOGIN: "true",
      STORAGE_ROUND_TRIPS_HEADER: "true",
    },
  },
  E2E_THROTTLE: {
    vars: {
      JWT_SIGNING_KEYS: signingKeys,
      // The MFA throttle test activates TOTP there.
      SECRET_KEY: secretKey,
      LOGIN_THROTTLE_ACCOUNT_FAILURES: "2",
      LOGIN_THROTTLE_CLIENT_FAILURES: "4",
      LOGIN_THROTTLE_WINDOW_SECONDS: "8",
      // Sign-ups per client address and hour (abuse.test.mjs; throttle.test.mjs signs up 5).
      REGISTRATIONS_PER_CLIENT_PER_HOUR: "10",
      // Cheap hashing: on a loaded machine, failures at the production cost can take longer
      // than the window, which would end it mid-test.
      PBKDF2_ITERATIONS: "10000",
      PBKDF2_MAX_ITERATIONS: "40000",
    },
  },
  // Short login lifetime, a session cap of two, and cheap hashing with a distinct maximum, for
  // the abuse tests; throttling out of the way of the timing test.
  E2E_LIMITS: {
    vars: {
      JWT_SIGNING_KEYS: signingKeys,
      SECRET_KEY: secretKey,
      REFRESH_FAMILY_MAX_AGE_SECONDS: "4",
      MAX_SESSIONS_PER_USER: "2",
      PBKDF2_ITERATIONS: "10000",
      PBKDF2_MAX_ITERATIONS: "40000",
      LOGIN_THROTTLE_ACCOUNT_FAILURES: "100000",
      LOGIN_THROTTLE_CLIENT_FAILURES: "100000",
    },
  },
  E2E_ROTATION: {
    vars: { JWT_SIGNING_KEYS: JSON.stringify([oldKey, newKey]), JWT_SIGNING_KID: thumbprint(newKey) },
  },
  // The example consumer Worker in front, reaching this worker through its service binding.
  // The TypeScript consumer of the RPC entrypoint, in front of an edge-auth of its own.
  E2E_RPC_CONSUMER: { vars: { JWT_SIGNING_KEYS: signingKeys }, front: ["examples/consumer-ts/wrangler.toml"] },
  // The Rust consumer of the RPC entrypoint (built by `make consumer-rs`), likewise.
  E2E_RPC_RUST: { vars: { JWT_SIGNING_KEYS: signingKeys }, front: ["examples/consumer-rs/wrangler.toml"] },
  // An empty database for the Django import.
  E2E_IMPORT: { vars: { JWT_SIGNING_KEYS: signingKeys } },
  // Faults: a database without the schema, no KV binding, no D1 binding.
  E2E_NOSCHEMA: { vars: { JWT_SIGNING_KEYS: signingKeys }, schema: false },
  E2E_NOKV: { vars: { JWT_SIGNING_KEYS: signingKeys }, without: ["kv_namespaces"] },
  E2E_NOD1: { vars: { JWT_SIGNING_KEYS: signingKeys }, without: ["d1_databases"], schema: false },
  E2E_NOKEY: { vars: {} },
  E2E_BADKEY: { vars: { JWT_SIGNING_KEYS: '[{"kty":"OKP"}]' } },
};

// Each worker's output is kept in target/e2e-logs/<configuration>.log for diagnosis.
const logs = path.resolve(here, "../../target/e2e-logs");
const workers = [];
function stopAll() {
  mkdirSync(logs, { recursive: true });
  for (const worker of workers.splice(0)) {
    writeFileSync(path.join(logs, `${worker.name}.log`), worker.log());
    worker.stop();
  }
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    stopAll();
    process.exit(130);
  });
}
process.on("exit", stopAll);

const env = {
  ...process.env,
  E2E_KEY: JSON.stringify(key),
  E2E_SECRET_KEY: secretKey,
  E2E_ROTATION_KEYS: JSON.stringify([oldKey, newKey]),
  E2E_PYTHON: process.env.E2E_PYTHON ?? path.resolve(here, "../../target/e2e-venv/bin/python"),
  E2E_IMPORT_BIN: process.env.E2E_IMPORT_BIN ?? path.resolve(here, "../../target/debug/import-django"),
};
// Every start is awaited, failed or not, before giving up: a worker still starting when the
// runner exits would be left running, its output unread.
const outcomes = await Promise.allSettled(
  Object.entries(configurations).map(async ([name, config]) => {
    const worker = await startWorker(config);
    worker.name = name;
    workers.push(worker);
    return [name, worker];
  }),
);
const failed = outcomes.find((outcome) => outcome.status === "rejected");
if (failed) {
  console.error(`could not start the worker: ${failed.reason.message}`);
  stopAll();
  process.exit(1);
}
for (const {
  value: [name, worker],
} of outcomes) {
  env[`${name}_URL`] = worker.url;
  env[`${name}_STATE`] = worker.state;
}

const requested = process.argv.slice(2);
const files = requested.length
  ? requested
  : readdirSync(here)
      .filter((f) => f.endsWith(".test.mjs"))
      .sort()
      .map((f) => path.join(here, f));
// One file at a time: some tests change a worker's local D1 from another process
// (`wrangler d1 execute`, as an operator would), and local D1 (a SQLite file behind a Durable
// Object) fails requests that run while another process writes it. Concurrency inside a test
// (parallel refreshes, registrations, logins) is unaffected.
const runner = spawn(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit", env });
runner.on("exit", (code) => {
  stopAll();
  process.exit(code ?? 1);
});
