// Runs a command in its own process group and makes sure nothing of it outlives `make dev`.
//
//   node scripts/supervise.mjs --marker FILE -- command args…
//
// SIGINT/SIGTERM/SIGHUP sent to us are passed to the whole group (wrangler and its workerd
// children). The marker file is written at start; make deletes it when make itself gets a
// fatal signal, and we stop the group then too, as we do if our parent dies.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const argv = process.argv.slice(2);
const separator = argv.indexOf("--");
const marker = argv[0] === "--marker" ? argv[1] : undefined;
const [command, ...args] = separator >= 0 ? argv.slice(separator + 1) : argv;

if (marker) {
  mkdirSync(path.dirname(marker), { recursive: true });
  writeFileSync(marker, `${process.pid}\n`);
}
const child = spawn(command, args, { stdio: "inherit", detached: true });
const parent = process.ppid;

function stopGroup(signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => stopGroup(signal));
}
const watchdog = setInterval(() => {
  if (process.ppid !== parent || (marker && !existsSync(marker))) stopGroup("SIGTERM");
}, 300);
child.on("exit", (code, signal) => {
  clearInterval(watchdog);
  stopGroup("SIGTERM");
  if (marker) rmSync(marker, { force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
