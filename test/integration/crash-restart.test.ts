import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, describe, expect, test } from "vitest";
import { MregClient } from "../../clients/node/src/mreg-client.js";
import { DataDirInUseError } from "../../local/data-dir-lock.js";
import { startLocalStack } from "../../local/stack.js";
import { runMreg } from "../support/cli.js";
import { startTestStack } from "../support/local-stack.js";
import { freePort, javaProcessesFor, killHard, startServerProcess, type ServerProcess } from "../support/server-process.js";

/**
 * kill -9 of the local server (local/main.ts in a child process) in the middle of work, and
 * a restart on the same data dir: what was acknowledged is there with its bytes, nothing
 * half-written shows, and clients finish what was cut short.
 */

const ADMIN_KEY = "crash-test-admin-key-0123456789";
const MIB = 1024 * 1024;
const CLI = join(import.meta.dirname, "../../clients/node/bin/mreg.js");
const servers: ServerProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const server of servers) await killHard(server);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function start(dataDir: string, env: Record<string, string> = {}): ServerProcess {
  const server = startServerProcess({ MREG_DATA_DIR: dataDir, MREG_ADMIN_KEY: ADMIN_KEY, ...env });
  servers.push(server);
  return server;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function api<T = any>(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
}

/** Every version of an artifact, each file downloaded through its URL and checked against its manifest entry. */
async function downloadAll(url: string, project: string, artifact: string) {
  const versions: { version: string; index: number; digest: string; files: Map<string, Buffer> }[] = [];
  let cursor: string | undefined;
  do {
    const page = await api(
      url,
      "GET",
      `/v1/projects/${project}/artifacts/${artifact}/versions?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
    );
    expect(page.status).toBe(200);
    for (const v of page.body.items) {
      const listed = await api(url, "GET", `/v1/projects/${project}/artifacts/${artifact}/versions/${v.version}/files`);
      expect(listed.status).toBe(200);
      const files = new Map<string, Buffer>();
      for (const item of listed.body.items) {
        const got = await fetch(item.url);
        expect(got.status).toBe(200);
        const bytes = Buffer.from(await got.arrayBuffer());
        expect({ path: item.path, size: bytes.length, sha256: sha256(bytes) }).toEqual({
          path: item.path,
          size: item.size,
          sha256: item.sha256,
        });
        files.set(item.path, bytes);
      }
      versions.push({ version: v.version, index: v.index, digest: v.digest, files });
    }
    cursor = page.body.nextCursor;
  } while (cursor);
  return versions;
}

describe("one server per data dir", () => {
  test("a second start on a data dir in use is refused at once with one line, before it opens anything", async () => {
    const dataDir = await tempDir("mreg-crash-");
    const first = start(dataDir);
    const url = await first.url;

    const second = start(dataDir);
    const code = await second.exited;

    expect(code).not.toBe(0);
    const real = await realpath(dataDir);
    expect(second.output().trim()).toBe(
      `mreg: data dir ${real} is in use by another mreg server (pid ${first.child.pid}, serving ${url}); ` +
        "stop it first, or set MREG_DATA_DIR to another directory",
    );
    // It started no DynamoDB Local of its own, and the first one serves on.
    expect(await javaProcessesFor(real)).toHaveLength(1);
    expect((await api(url, "GET", "/v1/users")).status).toBe(200);

    // After a kill -9 the next start needs nothing cleaned up and no retry.
    await killHard(first);
    const third = start(dataDir);
    const url3 = await third.url;
    expect((await api(url3, "GET", "/v1/users")).status).toBe(200);
    expect(await javaProcessesFor(real)).toHaveLength(1);
    await killHard(third);
  }, 120_000);

  test("startLocalStack on a data dir in use is refused the same way, in the same process too, and starts nothing", async () => {
    const s = await startTestStack();
    try {
      const real = await realpath(s.dataDir);
      const refused = await startLocalStack({ dataDir: s.dataDir, port: 0, env: { MREG_LOG_LEVEL: "silent" } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DataDirInUseError);
      expect((refused as Error).message).toContain(`(pid ${process.pid}, serving ${s.url})`);
      expect(await javaProcessesFor(real)).toHaveLength(1);

      // A stop gives the lock up; an unreadable stream checkpoint does not keep the server from starting.
      await writeFile(join(s.dataDir, "stream-checkpoint.json"), "{not json");
      await s.restart();
      expect((await s.api("GET", "/v1/users")).status).toBe(200);
    } finally {
      await s.stop();
    }
  }, 120_000);

  test("of two starts at once on one data dir, exactly one serves", async () => {
    const dataDir = await tempDir("mreg-crash-");
    const racers = [start(dataDir), start(dataDir)];
    const outcomes = await Promise.all(
      racers.map((r) =>
        r.url.then(
          (url) => ({ url }),
          () => ({ refused: r.output() }),
        ),
      ),
    );
    expect(outcomes.filter((o) => "url" in o)).toHaveLength(1);
    const refused = outcomes.find((o) => "refused" in o) as { refused: string };
    expect(refused.refused).toMatch(/^mreg: data dir .* is in use by another mreg server \(pid \d+, /);
    for (const r of racers) await killHard(r);
  }, 120_000);
});

describe("kill -9 in the middle of a burst of commits", () => {
  test("every acknowledged version is there with its bytes, nothing partial shows, and cut-short commits finish", async () => {
    const dataDir = await tempDir("mreg-crash-");
    const dynamoPort = await freePort();
    const env = { MREG_DYNAMODB_PORT: String(dynamoPort) };
    const first = start(dataDir, env);
    const url = await first.url;

    // A blob the crashed server was verifying when it died: staged, and claimed in the table
    // by a process that is gone, with a lease far from over.
    const orphan = randomBytes(64 * 1024 + 3);
    const plan = await api(url, "POST", "/v1/projects/crash/artifacts/orphan/uploads", {
      files: [{ path: "o.bin", size: orphan.length, sha256: sha256(orphan) }],
    });
    const put = plan.body.uploads[0];
    expect((await fetch(put.url, { method: "PUT", headers: put.headers, body: orphan })).status).toBe(200);
    const table = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        region: "us-east-1",
        endpoint: `http://127.0.0.1:${dynamoPort}`,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
    );
    await table.send(
      new PutCommand({
        TableName: "mreg",
        Item: {
          PK: `BLOB#${sha256(orphan)}`,
          SK: "BLOB",
          entity: "blob",
          sha256: sha256(orphan),
          size: orphan.length,
          state: "verifying",
          claimedAt: new Date().toISOString(),
          claimId: "claim-of-the-crashed-server",
          holder: "the-crashed-server",
          leaseUntil: new Date(Date.now() + 15 * 60 * 1000).toISOString(),
        },
      }),
    );

    type Attempt = { artifact: string; content: Buffer; acknowledged?: { version: string; index: number; digest: string } };
    const attempts: Attempt[] = [];
    let stop = false;
    const worker = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const artifact = `a${(n + i) % 3}`;
        const content = randomBytes(256 * 1024 + ((n * 7919 + i * 104_729) % (768 * 1024)));
        const attempt: Attempt = { artifact, content };
        attempts.push(attempt);
        try {
          const file = { path: "w.bin", size: content.length, sha256: sha256(content) };
          const planned = await api(url, "POST", `/v1/projects/crash/artifacts/${artifact}/uploads`, { files: [file] });
          for (const upload of planned.body.uploads) {
            const sent = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: content });
            if (sent.status !== 200) throw new Error(`PUT ${sent.status}`);
          }
          const committed = await api(url, "POST", `/v1/projects/crash/artifacts/${artifact}/versions`, { type: "model", files: [file] });
          if (committed.status === 201) {
            attempt.acknowledged = { version: committed.body.version, index: committed.body.index, digest: committed.body.digest };
          }
        } catch {
          // Cut short by the kill: not acknowledged.
        }
      }
    };
    const workers = Array.from({ length: 12 }, (_, n) => worker(n));
    const acknowledged = () => attempts.filter((a) => a.acknowledged).length;
    while (acknowledged() < 40) await new Promise((resolve) => setTimeout(resolve, 20));
    await killHard(first);
    stop = true;
    await Promise.all(workers);

    const second = start(dataDir, env);
    const url2 = await second.url;
    const acked = attempts.filter((a) => a.acknowledged);
    const unacked = attempts.filter((a) => !a.acknowledged);

    // No version number was answered to two commits.
    const numbers = acked.map((a) => `${a.artifact}:${a.acknowledged!.index}`);
    expect(new Set(numbers).size).toBe(numbers.length);

    // Every version there is whole: its manifest and every blob download and check out;
    // numbers are gap-free; every acknowledged one is among them, with its digest and bytes.
    for (const artifact of ["a0", "a1", "a2"]) {
      const versions = await downloadAll(url2, "crash", artifact);
      expect(versions.map((v) => v.index).sort((x, y) => x - y)).toEqual(versions.map((_, i) => i));
      for (const attempt of acked.filter((a) => a.artifact === artifact)) {
        const found = versions.find((v) => v.index === attempt.acknowledged!.index);
        expect(found?.digest).toBe(attempt.acknowledged!.digest);
        expect(found?.files.get("w.bin")?.equals(attempt.content)).toBe(true);
      }
    }

    // The cut-short commits, run again by the SDK, finish: none waits out a claim of the dead server.
    const retried: string[] = [];
    const sdk = new MregClient({
      url: url2,
      apiKey: ADMIN_KEY,
      blobBusyRetry: { onRetry: (error) => retried.push(String(error)) },
    });
    const work = await tempDir("mreg-crash-files-");
    const rerun = async (artifact: string, name: string, content: Buffer) => {
      const path = join(work, `${artifact}-${sha256(content)}`, name);
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(path, content);
      return sdk.logArtifact({ project: "crash", name: artifact, paths: [path], hashFirst: true });
    };
    for (const attempt of unacked.slice(0, 12)) {
      const logged = await rerun(attempt.artifact, "w.bin", attempt.content);
      const versions = await downloadAll(url2, "crash", attempt.artifact);
      expect(
        versions
          .find((v) => v.version === logged.version)
          ?.files.get("w.bin")
          ?.equals(attempt.content),
      ).toBe(true);
    }
    const orphanLogged = await rerun("orphan", "o.bin", orphan);
    expect(orphanLogged.created).toBe(true);
    expect(retried).toEqual([]);
    // No claim is left behind.
    const claims = await table.send(
      new ScanCommand({
        TableName: "mreg",
        FilterExpression: "#s = :v",
        ExpressionAttributeNames: { "#s": "state" },
        ExpressionAttributeValues: { ":v": "verifying" },
      }),
    );
    expect(claims.Items ?? []).toEqual([]);
    table.destroy();
    await killHard(second);
  }, 300_000);
});

describe("kill -9 in the middle of logging a large file", () => {
  test("a re-run of the same log sends only the parts that were not acknowledged, and the version checks out", async () => {
    const dataDir = await tempDir("mreg-crash-");
    const env = { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) };
    const first = start(dataDir, env);
    const url = await first.url;
    const work = await tempDir("mreg-crash-log-");
    const cache = join(work, "cache");
    const file = join(work, "checkpoint.bin");
    const bytes = randomBytes(160 * MIB + 123);
    await writeFile(file, bytes);
    const cliEnv = {
      PATH: process.env.PATH ?? "",
      HOME: work,
      MREG_API_KEY: ADMIN_KEY,
      MREG_CACHE_DIR: cache,
      MREG_CONFIG: join(work, "config.json"),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };

    const log = spawn(process.execPath, [CLI, "log", file, "-p", "crash", "-n", "big", "--hash-first", "--concurrency", "2", "--json"], {
      env: { ...cliEnv, MREG_URL: url },
      stdio: "ignore",
    });
    const logExited = new Promise((resolve) => log.once("exit", resolve));
    // Kill the server once some parts are acknowledged (and recorded for resume), not all.
    const partsRecorded = async () => {
      const files = await readdir(join(cache, "uploads")).catch(() => [] as string[]);
      let parts = 0;
      for (const name of files.filter((f) => f.endsWith(".json"))) {
        parts += Object.keys((JSON.parse(await readFile(join(cache, "uploads", name), "utf8")) as { parts: object }).parts).length;
      }
      return parts;
    };
    while ((await partsRecorded().catch(() => 0)) < 8) await new Promise((resolve) => setTimeout(resolve, 10));
    await killHard(first);
    log.kill("SIGKILL");
    await logExited;
    const recorded = await partsRecorded();
    expect(recorded).toBeGreaterThanOrEqual(8);
    expect(recorded).toBeLessThan(Math.ceil(bytes.length / (5 * MIB)));

    const second = start(dataDir, env);
    const url2 = await second.url;
    const again = await runMreg(["log", file, "-p", "crash", "-n", "big", "--hash-first", "--json"], {
      cwd: work,
      env: { ...cliEnv, MREG_URL: url2 },
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json).toMatchObject({ version: "v0", created: true });
    expect(again.json.resumedBytes).toBeGreaterThanOrEqual(recorded * 5 * MIB);
    expect(again.json.uploadedBytes).toBeGreaterThan(0);
    expect(again.json.uploadedBytes + again.json.resumedBytes).toBe(bytes.length);

    const used = await runMreg(["use", "crash/big:v0", "--dir", join(work, "out"), "--json"], {
      cwd: work,
      env: { ...cliEnv, MREG_URL: url2 },
    });
    expect(used.code, used.stderr).toBe(0);
    expect(sha256(await readFile(join(work, "out", "checkpoint.bin")))).toBe(sha256(bytes));
    await killHard(second);
  }, 300_000);
});

describe("kill -9 before the stream was read", () => {
  test("the webhook of a link made just before the crash is sent after the restart, once", async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push(body);
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    try {
      const dataDir = await tempDir("mreg-crash-");
      // The first server reads its stream only every minute: the link below is written, not yet read.
      const first = start(dataDir, { MREG_STREAM_POLL_MS: "60000" });
      const url = await first.url;
      const automation = await api(url, "POST", "/v1/registries/model/automations", { name: "ci", event: "LINK_ARTIFACT", url: hook });
      expect(automation.status, JSON.stringify(automation.body)).toBe(201);
      const content = randomBytes(1000);
      const file = { path: "w.bin", size: content.length, sha256: sha256(content) };
      const plan = await api(url, "POST", "/v1/projects/crash/artifacts/hooked/uploads", { files: [file] });
      const put = plan.body.uploads[0];
      expect((await fetch(put.url, { method: "PUT", headers: put.headers, body: content })).status).toBe(200);
      expect((await api(url, "POST", "/v1/projects/crash/artifacts/hooked/versions", { type: "model", files: [file] })).status).toBe(201);
      const linked = await api(url, "POST", "/v1/registries/model/collections/hooked/links", {
        project: "crash",
        artifact: "hooked",
        version: "v0",
      });
      expect(linked.status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received).toEqual([]);
      await killHard(first);

      const second = start(dataDir);
      await second.url;
      for (let waited = 0; received.length === 0 && waited < 30_000; waited += 100)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toHaveLength(1);
      expect(received[0]).toContain('"hooked"');

      // Consumed and remembered: a further restart sends nothing again.
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
      const third = start(dataDir);
      await third.url;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(received).toHaveLength(1);
      await killHard(third);
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  }, 180_000);
});
