import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";

/** The local-mode contract of the README, exercised through `npm start` itself. */
const started: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function npmStart(env: Record<string, string>): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const child = spawn("npm", ["start", "--silent"], {
    cwd: join(import.meta.dirname, "../.."),
    env: { ...process.env, MREG_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output };
}

/** Java processes whose command line names this data dir: DynamoDB Local of this stack. */
async function javaProcessesFor(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("java") && cmdline.includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

/** The request log lines (JSON) among everything `npm start` printed. */
function requestLines(output: string): Record<string, any>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((line) => line.message === "request");
}

async function eventually<T>(probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once("exit", r));
}

test("npm start serves, writes a 0600 admin key, stops everything on SIGTERM and keeps its data", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mreg-start-"));
  dirs.push(dataDir);
  const first = npmStart({ MREG_DATA_DIR: dataDir });
  const url = await first.url;
  expect((await fetch(`${url}/v1/health`)).status).toBe(200);
  const keyFile = join(dataDir, "admin-key");
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  const key = (await readFile(keyFile, "utf8")).trim();
  expect(first.output()).toContain(key);
  const auth = { authorization: `Bearer ${key}` };
  expect(
    (
      await fetch(`${url}/v1/registries`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: '{"name":"kept"}',
      })
    ).status,
  ).toBe(201);
  expect(await javaProcessesFor(dataDir)).toHaveLength(1);
  // MREG_LOG_LEVEL defaults to info: one JSON line per request on stdout, never the key.
  const requests = await eventually(() => {
    const lines = requestLines(first.output());
    return lines.length >= 2 ? lines : undefined;
  });
  expect(requests.map((line) => [line.method, line.route, line.status])).toEqual([
    ["GET", "/v1/health", 200],
    ["POST", "/v1/registries", 201],
  ]);
  expect(requests[0]).toMatchObject({ level: "INFO", service: "mreg", principal: "anonymous", latencyMs: expect.any(Number) });
  expect(requests[1]!.principal).toEqual(expect.any(String));
  expect(requests[0]!.requestId).not.toBe(requests[1]!.requestId);
  expect(first.output()).not.toContain(`Bearer ${key}`);

  first.child.kill("SIGTERM");
  expect(await exited(first.child)).toBe(0);
  expect(await javaProcessesFor(dataDir)).toEqual([]);

  const second = npmStart({ MREG_DATA_DIR: dataDir });
  const url2 = await second.url;
  expect(second.output()).not.toContain("created the admin user");
  expect((await fetch(`${url2}/v1/registries/kept`, { headers: auth })).status).toBe(200);
  second.child.kill("SIGINT");
  expect(await exited(second.child)).toBe(0);
  expect(await javaProcessesFor(dataDir)).toEqual([]);
}, 120_000);

test("MREG_ADMIN_KEY is the admin's key when set, and no key file is written", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mreg-start-"));
  dirs.push(dataDir);
  const adminKey = "local-dev-admin-key-0123456789";
  // Above info, requests leave no line.
  const run = npmStart({ MREG_DATA_DIR: dataDir, MREG_ADMIN_KEY: adminKey, MREG_LOG_LEVEL: "warn" });
  const url = await run.url;
  expect((await fetch(`${url}/v1/users`, { headers: { authorization: `Bearer ${adminKey}` } })).status).toBe(200);
  await expect(stat(join(dataDir, "admin-key"))).rejects.toThrow();
  expect(run.output()).not.toContain(adminKey);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(requestLines(run.output())).toEqual([]);
  run.child.kill("SIGTERM");
  expect(await exited(run.child)).toBe(0);
}, 120_000);

test("a busy port is one clear line and a non-zero exit", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mreg-start-"));
  dirs.push(dataDir);
  const holder = npmStart({ MREG_DATA_DIR: dataDir });
  const port = new URL(await holder.url).port;
  const clash = npmStart({ MREG_DATA_DIR: `${dataDir}-2`, MREG_PORT: port });
  dirs.push(`${dataDir}-2`);
  await expect(clash.url).rejects.toThrow();
  expect(await exited(clash.child)).not.toBe(0);
  expect(clash.output()).toMatch(new RegExp(`^mreg: port ${port} on 127\\.0\\.0\\.1 is already in use`, "m"));
  expect(await javaProcessesFor(`${dataDir}-2`)).toEqual([]);
  holder.child.kill("SIGTERM");
  await exited(holder.child);
}, 120_000);
