import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, realpath, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, DataDirInUseError, defaultLockMode, lockAddress, type LockMode } from "../../local/data-dir-lock.js";

const HOLDER = join(import.meta.dirname, "../support/lock-holder.ts");
const processes: ChildProcess[] = [];
const pids: number[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of processes.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mreg-lock-"));
  dirs.push(dir);
  return dir;
}

type HolderLine = { locked: boolean; pid?: number; child?: number; message?: string };

/** Starts a process that takes the lock; answers its first line and the process. */
async function holder(dataDir: string, mode: LockMode, withChild = false): Promise<{ line: HolderLine; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, dataDir, mode, ...(withChild ? ["--with-child"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  processes.push(child);
  const line = await new Promise<HolderLine>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (text) => resolve(JSON.parse(text) as HolderLine));
    child.once("exit", (code) => reject(new Error(`lock holder exited with ${code} before answering`)));
  });
  if (line.child !== undefined) pids.push(line.child);
  return { line, child };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

async function processGone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const modes: LockMode[] = process.platform === "linux" ? ["abstract", "file"] : [defaultLockMode()];

describe.each(modes)("the data dir lock (%s)", (mode) => {
  it("refuses a second holder at once with one line naming the data dir and the holder, and is free again once released", async () => {
    const dataDir = await tempDir();
    const lock = await acquireDataDirLock(dataDir, { mode });
    lock.describe({ url: "http://127.0.0.1:8787" });
    const refused = await acquireDataDirLock(dataDir, { mode }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DataDirInUseError);
    const message = (refused as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toContain(
      `data dir ${lock.dataDir} is in use by another mreg server (pid ${process.pid}, serving http://127.0.0.1:8787)`,
    );
    // The same directory by another spelling is the same data dir.
    await expect(acquireDataDirLock(join(dataDir, "x", ".."), { mode })).rejects.toBeInstanceOf(DataDirInUseError);
    await lock.release();
    const again = await acquireDataDirLock(dataDir, { mode });
    await again.release();
    // Another data dir is another lock.
    const other = await acquireDataDirLock(await tempDir(), { mode });
    await other.release();
  });

  it("is free at once after its holder is killed with SIGKILL", async () => {
    const dataDir = await tempDir();
    const first = await holder(dataDir, mode);
    expect(first.line).toEqual({ locked: true, pid: first.child.pid });
    const second = await holder(dataDir, mode);
    expect(second.line.locked).toBe(false);
    expect(second.line.message).toContain(`(pid ${first.child.pid}, starting)`);
    await killed(first.child);
    // A socket file outlives its process: the next start finds it stale and replaces it.
    if (mode === "file") expect((await stat(lockAddress(await realpath(dataDir), mode))).isSocket()).toBe(true);
    // No wait, no retry: the first attempt after the kill takes it.
    const lock = await acquireDataDirLock(dataDir, { mode });
    await lock.release();
  });

  it("stays taken while a child that inherited it runs, as DynamoDB Local does after its server died", async () => {
    const dataDir = await tempDir();
    const first = await holder(dataDir, mode, true);
    expect(first.line.child).toEqual(expect.any(Number));
    await killed(first.child);
    const refused = await acquireDataDirLock(dataDir, { mode, waitMs: 300 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DataDirInUseError);
    expect((refused as Error).message).toContain("it does not answer: it may be stopping");

    // A start meanwhile waits for the silent holder to exit, and takes the lock then.
    const waiting = acquireDataDirLock(dataDir, { mode, waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(first.line.child!, "SIGKILL");
    await processGone(first.line.child!);
    const lock = await waiting;
    await lock.release();
  });

  it("gives it to exactly one of several starts racing for it", async () => {
    const dataDir = await tempDir();
    const lines = await Promise.all([1, 2, 3, 4].map(() => holder(dataDir, mode).then((h) => h.line)));
    expect(lines.filter((line) => line.locked)).toHaveLength(1);
    expect(lines.filter((line) => !line.locked)).toHaveLength(3);
  });
});
