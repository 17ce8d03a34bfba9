// A process that takes a data dir's lock (local/data-dir-lock.ts) and holds it until killed:
//   node --import tsx test/support/lock-holder.ts <data dir> <mode> [--with-child]
// Prints one JSON line: {"locked": true, "pid", "child"?} or {"locked": false, "message"}.
// With --with-child it starts a `sleep` that inherits the lock's descriptor, as DynamoDB Local does.
import { spawn } from "node:child_process";
import { acquireDataDirLock, type LockMode } from "../../local/data-dir-lock.js";

const [dataDir, mode, flag] = process.argv.slice(2);
try {
  const lock = await acquireDataDirLock(dataDir!, { mode: mode as LockMode });
  const child =
    flag === "--with-child" ? spawn("sleep", ["600"], { stdio: ["ignore", "ignore", "ignore", lock.fd!], detached: false }) : undefined;
  console.log(JSON.stringify({ locked: true, pid: process.pid, ...(child ? { child: child.pid } : {}) }));
  setInterval(() => undefined, 60_000);
} catch (error) {
  console.log(JSON.stringify({ locked: false, message: (error as Error).message }));
  process.exit(3);
}
