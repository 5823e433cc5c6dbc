// Runs a command in its own process group and makes sure nothing of it outlives us:
// SIGINT/SIGTERM/SIGHUP are passed to the whole group (wrangler and its workerd children),
// and if our parent (make) dies without telling us, the group is stopped too.
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
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
  if (process.ppid !== parent) stopGroup("SIGTERM");
}, 500);
child.on("exit", (code, signal) => {
  clearInterval(watchdog);
  stopGroup("SIGTERM");
  process.exit(code ?? (signal ? 1 : 0));
});
