// Starts and stops `wrangler dev` instances for the end-to-end tests.
import { spawn, execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * wrangler.toml without its [build] table and with an absolute `main`: the tests run the
 * module `make worker` built, and wrangler's file watcher (which rebuilds and reloads the
 * worker once after start-up) stays off.
 */
function testConfig(folder) {
  const source = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const withoutBuild = source.replace(/^\[build\]\n(?:(?!\[).*\n)*/m, "");
  const config = withoutBuild.replace(/^main = "(.*)"$/m, (_, main) => `main = ${JSON.stringify(path.join(root, main))}`);
  const file = path.join(folder, "wrangler.toml");
  writeFileSync(file, config);
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

/**
 * Starts a worker with `vars` (written to its own env file, so the developer's .dev.vars is
 * not read) on free ports with a fresh state folder, the schema applied unless `schema` is
 * false. Resolves when it answers HTTP.
 */
export async function startWorker({ vars = {}, schema = true, extraArgs = [] } = {}) {
  const state = mkdtempSync(path.join(tmpdir(), "edge-auth-e2e-"));
  const envFile = path.join(state, "test.env");
  writeFileSync(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(""),
  );
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
      wrangler, "dev", "--config", testConfig(state), "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", state, "--env-file", envFile, "--show-interactive-dev-session=false", ...extraArgs,
    ],
    { cwd: root, env: quiet, detached: true, stdio: ["ignore", "pipe", "pipe"] },
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
