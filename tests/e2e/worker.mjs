// Starts and stops `wrangler dev` instances for the end-to-end tests.
import { spawn, execFile } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wrangler = path.join(root, "node_modules/wrangler/bin/wrangler.js");
const quiet = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

/** A fresh Ed25519 private JWK for the test workers (never the developer's key). */
export function testKeyJwk() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const { kty, crv, x, d } = privateKey.export({ format: "jwk" });
  return { kty, crv, x, d };
}

/** The RFC 7638 thumbprint of an Ed25519 JWK: its `kid`. */
export function thumbprint({ x }) {
  return createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x })).digest("base64url");
}

// Ports handed out by this process: a port is free again as soon as freePort closes its probe,
// so two workers starting at once could otherwise be given the same one (one's inspector on
// the other's HTTP port).
const handedOut = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => {
        if (handedOut.has(port)) {
          freePort().then(resolve, reject);
        } else {
          handedOut.add(port);
          resolve(port);
        }
      });
    });
  });
}

/**
 * The project's wrangler.toml for a test worker: without its [build] table and with an
 * absolute `main` (the tests run the module `make worker` built, and wrangler's file watcher,
 * which rebuilds and reloads the worker once after start-up, stays off), with `vars` set in
 * its [vars] table, and the secret JWT_SIGNING_KEYS in a .dev.vars beside it (so wrangler
 * shows it as hidden; the developer's .dev.vars is never read).
 */
function testConfig(folder, { JWT_SIGNING_KEYS: signingKeys, ...vars }, without = []) {
  let config = readFileSync(path.join(root, "wrangler.toml"), "utf8")
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, "")
    .replace(/^main = "(.*)"$/m, (_, main) => `main = ${JSON.stringify(path.join(root, main))}`);
  // Drop bindings (`[[d1_databases]]`, `[[kv_namespaces]]`) to provoke faults.
  for (const table of without) {
    config = config.replace(new RegExp(`^\\[\\[${table}\\]\\]\\n(?:(?!\\[).*\\n)*`, "m"), "");
  }
  for (const [name, value] of Object.entries(vars)) {
    const line = `${name} = ${JSON.stringify(value)}`;
    const existing = new RegExp(`^${name} = .*$`, "m");
    config = existing.test(config) ? config.replace(existing, () => line) : config.replace(/^\[vars\]$/m, () => `[vars]\n${line}`);
  }
  const file = path.join(folder, "wrangler.toml");
  writeFileSync(file, config);
  writeFileSync(path.join(folder, ".dev.vars"), signingKeys === undefined ? "" : `JWT_SIGNING_KEYS='${signingKeys}'\n`);
  return file;
}

/**
 * Runs SQL against a worker's local D1 (its `--persist-to` folder) from another process, as
 * an operator would. The running worker may hold SQLite's write lock at that moment, so a
 * refused attempt is retried.
 */
export async function d1(state, command) {
  const args = [wrangler, "d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", command];
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env: quiet });
      return JSON.parse(stdout)[0].results;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Runs a SQL file against a worker's local D1, as `wrangler d1 execute --file` does. */
export async function d1File(state, file) {
  const args = [wrangler, "d1", "execute", "DB", "--local", "--persist-to", state, "--file", file];
  await promisify(execFile)(process.execPath, args, { cwd: root, env: quiet });
}

/**
 * Starts the worker with `vars` on free ports with a fresh state folder, the schema applied
 * unless `schema` is false. `front`: configs of workers served in front of it in the same
 * `wrangler dev` (the first one answers HTTP; they reach this worker by service binding).
 * `args`: more `wrangler dev` arguments. `without`: binding tables to leave out.
 * Resolves when it answers HTTP.
 */
export async function startWorker({ vars = {}, schema = true, front = [], args = [], without = [] } = {}) {
  const state = mkdtempSync(path.join(tmpdir(), "edge-auth-e2e-"));
  if (schema) {
    await promisify(execFile)(
      process.execPath,
      [wrangler, "d1", "execute", "DB", "--local", "--persist-to", state, "--file", path.join(root, "schema.sql")],
      { cwd: root, env: quiet },
    );
  }
  const [port, inspector] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      wrangler, "dev",
      ...[...front.map((config) => path.join(root, config)), testConfig(state, vars, without)].flatMap((c) => ["--config", c]),
      "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", state, "--show-interactive-dev-session=false", ...args,
    ],
    // Its own dev registry: wrangler dev reloads a worker whenever the shared registry changes
    // (another worker starting or stopping), dropping requests in flight with a 503; and no
    // config watching, which would reload it too.
    {
      cwd: root,
      env: { ...quiet, WRANGLER_REGISTRY_PATH: path.join(state, "registry"), WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const worker = {
    url,
    state,
    child,
    log: () => log,
    stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already stopped.
      }
      rmSync(state, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    try {
      await fetch(`${url}/__ready__`);
      return worker;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  worker.stop();
  throw new Error(`wrangler dev did not answer within 120 s:\n${log}`);
}
