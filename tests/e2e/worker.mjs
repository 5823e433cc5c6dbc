// The worker as the tests and scripts run it: the one reader of wrangler.toml and the one
// launcher of the built worker, for the end-to-end tests, the browser test (tests/browser),
// `make soak` and `make bench` (scripts/).
import { execFile, spawn } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify, stripVTControlCharacters } from "node:util";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wrangler = path.join(root, "node_modules/wrangler/bin/wrangler.js");

/** The environment for wrangler: no metrics, no error reports, no fetch of the cf object. */
export const quietEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

let config;

/**
 * The project's wrangler.toml as wrangler itself parses it (its tables and arrays of tables
 * as objects and arrays), read once.
 */
export async function wranglerConfig() {
  if (!config) {
    const { experimental_readRawConfig: readRawConfig } = await import("wrangler");
    config = readRawConfig({ config: path.join(root, "wrangler.toml") }).rawConfig;
  }
  return structuredClone(config);
}

/** A fresh Ed25519 private JWK for a worker the scripts start (never the developer's key). */
export function testKeyJwk() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const { kty, crv, x, d } = privateKey.export({ format: "jwk" });
  return { kty, crv, x, d };
}

/** The RFC 7638 thumbprint of an Ed25519 JWK: its `kid`. */
export function thumbprint({ x }) {
  return createHash("sha256")
    .update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x }))
    .digest("base64url");
}

// Ports handed out by this process: a port is free again as soon as freePort closes its probe,
// so two workers starting at once could otherwise be given the same one (one's inspector on
// the other's HTTP port).
const handedOut = new Set();

export function freePort() {
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

/** The worker's secrets: given with the other `vars`, but never written into its [vars]. */
const SECRETS = ["JWT_SIGNING_KEYS", "SECRET_KEY", "INTROSPECTION_SECRETS"];

/**
 * The worker's configuration with `vars` in its [vars] and without the binding tables named in
 * `without` (`d1_databases`, `kv_namespaces`), to provoke faults. The secrets are left out of it.
 */
async function configWith(given, without) {
  const vars = Object.fromEntries(Object.entries(given).filter(([name]) => !SECRETS.includes(name)));
  const settings = await wranglerConfig();
  settings.vars = { ...settings.vars, ...vars };
  for (const table of without) delete settings[table];
  return settings;
}

/**
 * The worker's configuration for `wrangler dev`, written as wrangler.json into `folder`: without
 * its [build] table and with an absolute `main` and assets directory (the scripts run what `make
 * worker` built, and wrangler's file watcher, which rebuilds and reloads the worker once after
 * start-up, stays off), and the secrets in a .dev.vars beside it (so wrangler shows them as
 * hidden; the developer's .dev.vars is never read).
 */
async function wranglerDevConfig(folder, vars, without) {
  const settings = await configWith(vars, without);
  delete settings.build;
  settings.main = path.join(root, settings.main);
  settings.assets.directory = path.join(root, settings.assets.directory);
  const file = path.join(folder, "wrangler.json");
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
  const secrets = SECRETS.filter((name) => vars[name] !== undefined).map((name) => `${name}='${vars[name]}'\n`);
  writeFileSync(path.join(folder, ".dev.vars"), secrets.join(""));
  return file;
}

/**
 * Miniflare options that run the built worker in one workerd as wrangler.toml configures it,
 * with `vars` (JWT_SIGNING_KEYS included) as its variables, and its D1 and KV kept in
 * `persistRoot` in wrangler's layout (in memory without one).
 */
export async function miniflareOptions({ vars = {}, without = [], persistRoot } = {}) {
  const settings = await configWith(vars, without);
  const bindings = { ...settings.vars };
  for (const name of SECRETS) if (vars[name] !== undefined) bindings[name] = vars[name];
  return {
    modules: true,
    // wrangler.toml's `main`, with the modules it imports (the ones `make worker` built), named
    // by their paths in the repository. The static assets (the demo page's SDK) are not served.
    scriptPath: path.join(root, settings.main),
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: settings.compatibility_date,
    bindings,
    ...storageOptions(settings),
    ...(persistRoot === undefined ? {} : { defaultPersistRoot: persistRoot }),
    host: "127.0.0.1",
    port: 0,
  };
}

/** The D1 and KV bindings of a configuration as Miniflare options, with their ids. */
function storageOptions(settings) {
  const byBinding = (tables, id) => Object.fromEntries((tables ?? []).map((table) => [table.binding, table[id]]));
  return {
    d1Databases: byBinding(settings.d1_databases, "database_id"),
    kvNamespaces: byBinding(settings.kv_namespaces, "id"),
  };
}

/**
 * Miniflare options of a state folder a worker of `startWorker` left: its D1 and KV (the same
 * bindings, the same ids, wrangler's layout), for another worker to run on.
 */
export async function stateOptions(state) {
  return { ...storageOptions(await wranglerConfig()), defaultPersistRoot: path.join(state, "v3") };
}

/**
 * Runs SQL against a worker's local D1 (its state folder) from another process, as an
 * operator would, and resolves to the rows of its first statement. The running worker may hold
 * SQLite's write lock at that moment, so a refused attempt is retried.
 */
export async function d1(state, command) {
  return (await d1Statements(state, command))[0];
}

/** As d1, resolving to the rows of each statement (wrangler runs them as one batch). */
export async function d1Statements(state, command) {
  const args = [wrangler, "d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", command];
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env: quietEnv });
      return JSON.parse(stdout).map((statement) => statement.results);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Runs a SQL file against a worker's local D1, as `wrangler d1 execute --file` does. */
export async function d1File(state, file) {
  const args = [wrangler, "d1", "execute", "DB", "--local", "--persist-to", state, "--file", file];
  await promisify(execFile)(process.execPath, args, { cwd: root, env: quietEnv });
}

/**
 * Applies the migrations (migrations/) that a worker's local D1 has not recorded yet, as
 * `make dev` does; resolves to wrangler's output. CI=true answers wrangler's confirmation
 * prompt, which it would otherwise ask whenever its input and output are a terminal.
 */
export async function d1Migrate(state) {
  const args = [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env: { ...quietEnv, CI: "true" } });
  return stdout;
}

/**
 * Starts the built worker with `vars` (JWT_SIGNING_KEYS as its secret) on a free port of
 * 127.0.0.1, with its D1 and KV in a fresh state folder, made by the migrations (d1Migrate) unless
 * `schema` is false. `without`: binding tables to leave out. Resolves, when it answers HTTP, to
 * { url, state, log(), stop() }.
 *
 * By default it runs under `wrangler dev`, as `make dev` serves it. `front`: configs of workers
 * served in front of it in the same `wrangler dev` (the first one answers HTTP; they reach this
 * worker by service binding); `args`: more `wrangler dev` arguments.
 *
 * `alone`: in one workerd of its own instead (Miniflare, in this process), which is what the
 * benchmark measures: `wrangler dev` runs a second workerd in front that forwards every
 * request. `state`: a folder for its D1 and KV that stays after stop(), for another worker to
 * run on (see stateOptions). The worker's `log()` is empty then.
 */
export async function startWorker({
  vars = {},
  schema = true,
  front = [],
  args = [],
  without = [],
  alone = false,
  state,
} = {}) {
  const kept = state !== undefined;
  if (kept) mkdirSync(state, { recursive: true });
  else state = mkdtempSync(path.join(tmpdir(), "edge-auth-worker-"));
  const removeState = () => {
    if (!kept) rmSync(state, { recursive: true, force: true });
  };
  if (schema) await d1Migrate(state);
  if (alone) {
    const { Miniflare } = await import("miniflare");
    const mf = new Miniflare(await miniflareOptions({ vars, without, persistRoot: path.join(state, "v3") }));
    const url = (await mf.ready).href.replace(/\/$/, "");
    let stopped;
    const stop = () => (stopped ??= mf.dispose().finally(removeState));
    return { url, state, log: () => "", stop };
  }
  const configs = [...front.map((config) => path.join(root, config)), await wranglerDevConfig(state, vars, without)];
  // A port freePort handed out can be taken, before this wrangler binds it, by a port another
  // process asked the system for (every wrangler opens several): wrangler then exits with
  // "Address already in use", and the port answers for someone else. So the worker counts as up
  // only once wrangler says it is ready on that very port; a lost port is retried on new ones.
  for (let attempt = 1; ; attempt++) {
    const worker = await wranglerDev(configs, state, args, removeState);
    if (worker.url !== undefined) return worker;
    if (!worker.lostPort || attempt === 3) {
      removeState();
      throw new Error(worker.error);
    }
  }
}

/**
 * One `wrangler dev` of `configs` on fresh ports: resolves to the worker once wrangler reports
 * it ready on its port and it answers HTTP, or to { error, lostPort } once it has exited or
 * 120 s have passed (then it is stopped).
 */
async function wranglerDev(configs, state, args, removeState) {
  const [port, inspector] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      ...[wrangler, "dev"],
      ...configs.flatMap((c) => ["--config", c]),
      ...["--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector)],
      ...["--persist-to", state, "--show-interactive-dev-session=false"],
      ...args,
    ],
    // Its own dev registry: wrangler dev reloads a worker whenever the shared registry changes
    // (another worker starting or stopping), dropping requests in flight with a 503; and no
    // config watching, which would reload it too.
    {
      cwd: root,
      env: {
        ...quietEnv,
        WRANGLER_REGISTRY_PATH: path.join(state, "registry"),
        WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stopChild = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // Already stopped.
    }
  };
  const ready = `Ready on ${url}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      return { error: `wrangler dev exited:\n${log}`, lostPort: log.includes("Address already in use") };
    }
    if (stripVTControlCharacters(log).includes(ready)) {
      try {
        await fetch(`${url}/__ready__`);
        return {
          url,
          state,
          child,
          log: () => log,
          stop() {
            stopChild();
            removeState();
          },
        };
      } catch {
        // Not answering yet.
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  stopChild();
  return { error: `wrangler dev did not answer within 120 s:\n${log}`, lostPort: false };
}

/**
 * The mails a worker under `wrangler dev` sent so far, read from its log: wrangler's simulation
 * of the `send_email` binding reports each message (sender, recipient, subject) and writes its
 * text and HTML parts to files it names. Each: { from, to, subject, text, html }.
 */
export function sentMails(worker) {
  const blocks = stripVTControlCharacters(worker.log())
    .split("send_email binding called with MessageBuilder:")
    .slice(1);
  return blocks.map((block) => {
    const field = (name) => block.match(new RegExp(`^\\s*${name}: (.*)$`, "m"))?.[1].trim();
    return {
      from: field("From"),
      to: field("To"),
      subject: field("Subject"),
      text: readFileSync(field("Text"), "utf8"),
      html: readFileSync(field("HTML"), "utf8"),
    };
  });
}

/**
 * The mails to `address` whose subject ends with `kind`, once `count` of them have arrived
 * (they go after the answer) or 10 s have passed.
 */
export async function mailsTo(worker, address, kind, count = 1) {
  for (let waited = 0; ; waited += 100) {
    const found = sentMails(worker).filter((mail) => mail.to.includes(address) && mail.subject.endsWith(kind));
    if (found.length >= count || waited >= 10_000) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The link in a mail's text part. */
export function linkIn(mail) {
  return mail.text.match(/^(https?:\/\/\S+)$/m)[1];
}
