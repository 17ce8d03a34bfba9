import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** The built `mreg` command, as a user runs it. */
export const MREG_BIN = join(import.meta.dirname, "../clients/node/bin/mreg.js");

export interface Stack {
  url: string;
  adminKey: string;
  s3: string;
  /** The only key pair the stack's S3 emulator accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  child: ChildProcess;
}

/** The embedded registry in a child process (bench/stack-process.ts), as `npm start` runs it. */
export async function startStack(dataDir: string): Promise<Stack> {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "stack-process.ts"), dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the registry exited with ${code} before it was ready`)));
  });
  return { ...(JSON.parse(line) as Omit<Stack, "child">), child };
}

export async function stopStack(stack: Stack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  const exited = new Promise((resolve) => stack.child.once("exit", resolve));
  stack.child.kill("SIGTERM");
  await exited;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end without blocking this event loop (a blocked loop lets kept-alive sockets go stale). */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Flushes dirty pages, so a step does not pay for the write-back of the one before it. */
export async function settle(): Promise<void> {
  await run("sync", []);
}

/**
 * CPU time in ms, from /proc (Linux): this process's own, that of its children it has waited
 * for, and that of another process. Undefined where /proc is not there.
 */
export function cpuTicks(pid: number | "self"): { own: number; children: number } | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const hz = 100;
    const ms = (i: number) => (Number(fields[i]) * 1000) / hz;
    return { own: ms(11) + ms(12), children: ms(13) + ms(14) };
  } catch {
    return undefined;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

export interface Spread {
  each: number[];
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  return { each: values, median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function machine() {
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
  };
}

/** The 1-, 5- and 15-minute load averages, as `uptime` prints them. */
export function load(): [number, number, number] {
  return loadavg().map((value) => Number(value.toFixed(2))) as [number, number, number];
}

export function printTable(rows: [string, string, string][]): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}`.trimEnd());
}
