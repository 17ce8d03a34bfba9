import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AbortedError } from "../../clients/node/src/errors.js";
import { MregClient } from "../../clients/node/src/mreg-client.js";
import { readTree, runMreg, type CliResult } from "../support/cli.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";

const EXTERNAL_BUCKET = "ext-data";

let s: TestStack;
let work: string;
let cache: string;

/** Runs `mreg` as a user would, with this suite's registry, cache and config. */
function mreg(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runMreg(args, {
    cwd: work,
    env: {
      HOME: work,
      MREG_URL: s.url,
      MREG_API_KEY: s.adminKey,
      MREG_CACHE_DIR: cache,
      MREG_CONFIG: join(work, "config", "mreg.json"),
      ...env,
    },
  });
}

/** Files written well before they are logged, so the hash cache may keep them (not "racily clean"). */
async function writeOld(path: string, bytes: Buffer | string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, bytes);
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

let model: string;
const small = "hello, weights\n";

beforeAll(async () => {
  s = await startTestStack({
    env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) },
    extraBuckets: [EXTERNAL_BUCKET],
  });
  work = await mkdtemp(join(tmpdir(), "mreg-cli-"));
  cache = join(work, "cache");
  model = join(work, "model");
  await writeOld(join(model, "config.json"), '{"lr":0.1}');
  await writeOld(join(model, "README.md"), small);
  await writeOld(join(model, "copy-of-readme.md"), small);
  await writeOld(join(model, "empty.txt"), "");
  await writeOld(join(model, "weights", "layer-1.bin"), randomBytes(MIB + 17));
  // Above the 5 MiB threshold: a multipart upload of three parts, the last one short.
  await writeOld(join(model, "weights", "big.bin"), randomBytes(12 * MIB + 3));
});

afterAll(async () => {
  await s?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const uniqueBytes = () => 10 + small.length + 0 + (MIB + 17) + (12 * MIB + 3);
const totalBytes = () => uniqueBytes() + small.length;

describe("log", () => {
  test("logs a directory: every distinct blob is uploaded once", async () => {
    const result = await mreg([
      "log",
      model,
      "--project",
      "demo",
      "--name",
      "mnist",
      "--alias",
      "best",
      "--metadata",
      '{"acc":0.93}',
      "--json",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({
      project: "demo",
      artifact: "mnist",
      version: "v0",
      created: true,
      files: 6,
      size: totalBytes(),
      uploadedBytes: uniqueBytes(),
      reusedBytes: 0,
    });
    expect(result.json.aliases).toEqual(expect.arrayContaining(["best", "latest"]));
  });

  test("re-logging unchanged files reuses the version, reads nothing and uploads nothing", async () => {
    const result = await mreg(["log", model, "-p", "demo", "-n", "mnist", "--alias", "candidate", "--json"]);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ version: "v0", created: false, uploadedBytes: 0, hashedBytes: 0, reusedBytes: uniqueBytes() });
    expect(result.json.aliases).toEqual(expect.arrayContaining(["best", "candidate", "latest"]));
  });

  test("a changed file makes a new version and uploads only that file", async () => {
    const other = join(work, "model-2");
    await writeOld(join(other, "config.json"), '{"lr":0.2}');
    await writeOld(join(other, "weights", "big.bin"), await readFile(join(model, "weights", "big.bin")));
    const result = await mreg(["log", other, "-p", "demo", "-n", "mnist", "--json"]);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ version: "v1", created: true, uploadedBytes: 10, reusedBytes: 12 * MIB + 3 });
  });

  test("text output names the version", async () => {
    const result = await mreg(["log", join(model, "config.json"), "-p", "demo", "-n", "config-only"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^demo\/config-only:v0 created/);
  });
});

describe("use", () => {
  test("downloads into an empty directory: an identical tree", async () => {
    const out = join(work, "out-1");
    const result = await mreg(["use", "demo/mnist:best", "--dir", out, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.json).toMatchObject({ path: out, version: "v0", ref: "demo/mnist:v0", files: 6 });
    // Equal bytes under two paths are fetched once; the second copy comes from the cache.
    expect(result.json.downloadedBytes).toBe(uniqueBytes());
    expect(result.json.cachedBytes).toBe(small.length);
    expect(await readTree(out)).toEqual(await readTree(model));
  });

  test("a second use downloads nothing, into the same or a fresh directory", async () => {
    const same = await mreg(["use", "demo/mnist:v0", "--dir", join(work, "out-1"), "--json"]);
    expect(same.json).toMatchObject({ downloadedBytes: 0, presentBytes: totalBytes() });
    const fresh = join(work, "out-2");
    const again = await mreg(["use", "demo/mnist:best", "--dir", fresh, "--json"]);
    expect(again.json).toMatchObject({ downloadedBytes: 0, cachedBytes: totalBytes() });
    expect(await readTree(fresh)).toEqual(await readTree(model));
  });

  test("a damaged local copy is replaced from the cache", async () => {
    const out = join(work, "out-1");
    await writeFile(join(out, "config.json"), '{"lr":9.9}');
    const result = await mreg(["use", "demo/mnist:v0", "--dir", out, "--json"]);
    expect(result.json.downloadedBytes).toBe(0);
    expect(await readFile(join(out, "config.json"), "utf8")).toBe('{"lr":0.1}');
  });

  test("--prefix downloads part of a version", async () => {
    const out = join(work, "out-prefix");
    const result = await mreg(["use", "demo/mnist", "--prefix", "weights/", "--dir", out, "--json", "--no-cache"]);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ version: "v1", files: 1 });
    expect(Object.keys(await readTree(out))).toEqual(["weights/big.bin"]);
  });

  test("text output is the local path; the default directory is ./artifacts/<name>-<version>", async () => {
    const result = await mreg(["use", "demo/config-only"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(join(work, "artifacts", "config-only-v0"));
    expect(await readFile(join(result.stdout.trim(), "config.json"), "utf8")).toBe('{"lr":0.1}');
  });
});

describe("errors", () => {
  test.each([
    [["use", "demo/no-such-artifact"], /^mreg: .*no-such-artifact/],
    [["use", "demo/mnist:v99"], /^mreg: .*v99/],
    [["use", "demo/mnist:no-such-alias"], /^mreg: .*no-such-alias/],
    [["show", "demo/no-such-artifact"], /^mreg: .*does not exist/],
    [["use", "not a ref"], /^mreg: invalid reference "not a ref"/],
    [["log", "MODEL", "-p", "demo", "-n", "mnist", "--alias", "v3"], /^mreg: invalid alias/],
    [["log", "no-such-dir", "-p", "demo", "-n", "mnist"], /^mreg: no-such-dir: no such file or directory/],
  ])("%j fails with one line and a non-zero exit", async (args, message) => {
    const result = await mreg(args.map((a) => (a === "MODEL" ? model : a)));
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  test("--debug adds the stack", async () => {
    const result = await mreg(["use", "demo/no-such-artifact", "--debug"]);
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n").length).toBeGreaterThan(2);
    expect(result.stderr).toMatch(/at /);
  });

  test("a wrong API key says so", async () => {
    const result = await mreg(["ls", "demo"], { MREG_API_KEY: "mreg_not-a-key" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mreg: the registry refused the API key/);
  });

  test("an unreachable registry says where it looked", async () => {
    const result = await mreg(["ls", "demo"], { MREG_URL: "http://127.0.0.1:9" });
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach the registry at http:\/\/127.0.0.1:9/);
  }, 30_000);
});

describe("aliases, lists, history", () => {
  test("alias set moves an alias, alias rm removes it", async () => {
    const set = await mreg(["alias", "set", "demo/mnist:v1", "best", "--json"]);
    expect(set.json).toMatchObject({ alias: "best", version: "v1", previous: "v0" });
    const shown = await mreg(["show", "demo/mnist:best", "--json"]);
    expect(shown.json).toMatchObject({ version: "v1" });
    const removed = await mreg(["alias", "rm", "demo/mnist", "candidate", "--json"]);
    expect(removed.code).toBe(0);
    const artifact = await mreg(["show", "demo/mnist", "--json"]);
    expect(artifact.json.aliases).toMatchObject({ best: "v1", latest: "v1" });
    expect(artifact.json.aliases.candidate).toBeUndefined();
  });

  test("ls lists artifacts, versions and files", async () => {
    const artifacts = await mreg(["ls", "demo", "--json"]);
    expect(artifacts.json.items.map((a: { name: string }) => a.name).sort()).toEqual(["config-only", "mnist"]);
    const versions = await mreg(["ls", "demo/mnist", "--json"]);
    expect(versions.json.items.map((v: { version: string }) => v.version)).toEqual(["v1", "v0"]);
    const files = await mreg(["ls", "demo/mnist:v0", "--prefix", "weights/", "--json"]);
    expect(files.json.items.map((f: { path: string }) => f.path)).toEqual(["weights/big.bin", "weights/layer-1.bin"]);
    const text = await mreg(["ls", "demo/mnist"]);
    expect(text.stdout).toMatch(/^v1 .*\[best, latest\]/m);
  });

  test("history lists the changes, newest first", async () => {
    const result = await mreg(["history", "demo/mnist", "--json"]);
    expect(result.code).toBe(0);
    expect(result.json.items.length).toBeGreaterThan(2);
    const times = result.json.items.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
  });
});

describe("usage", () => {
  test("usage answers a project's and the registry's storage", async () => {
    const project = await mreg(["usage", "demo", "--json"]);
    expect(project.code).toBe(0);
    expect(project.json).toMatchObject({ project: "demo", versions: expect.any(Number), storedBytes: expect.any(Number) });
    expect(project.json.logicalBytes).toBeGreaterThanOrEqual(project.json.storedBytes);
    const all = await mreg(["usage", "--json"]);
    expect(all.json.versions).toBeGreaterThanOrEqual(project.json.versions);
    const text = await mreg(["usage", "demo"]);
    expect(text.stdout).toMatch(/^stored .* blobs \(dedup [\d.]+x\)$/m);
  });
});

describe("resume", () => {
  test("an interrupted multipart upload sends only the missing parts when run again", async () => {
    const dir = join(work, "resumable");
    const bytes = randomBytes(22 * MIB + 5); // five parts of 5 MiB, the last short
    await writeOld(join(dir, "checkpoint.pt"), bytes);
    const stop = new AbortController();
    const sent: number[] = [];
    const client = new MregClient({ url: s.url, apiKey: s.adminKey, cacheDir: cache, concurrency: 1 });
    const interrupted = client.logArtifact({
      project: "demo",
      name: "resumable",
      paths: [dir],
      signal: stop.signal,
      onPartUploaded: (part) => {
        sent.push(part.partNumber);
        if (sent.length === 2) stop.abort("simulated crash");
      },
    });
    await expect(interrupted).rejects.toBeInstanceOf(AbortedError);
    expect(sent).toEqual([1, 2]);

    const resumed = await mreg(["log", dir, "-p", "demo", "-n", "resumable", "--json"]);
    expect(resumed.stderr).toBe("");
    expect(resumed.json).toMatchObject({
      version: "v0",
      created: true,
      resumedBytes: 10 * MIB,
      uploadedBytes: bytes.length - 10 * MIB,
    });
    const out = join(work, "out-resumed");
    await mreg(["use", "demo/resumable", "--dir", out]);
    expect((await readFile(join(out, "checkpoint.pt"))).equals(bytes)).toBe(true);
  });
});

describe("references", () => {
  let external: S3Client;
  const awsEnv = () => ({
    AWS_ENDPOINT_URL_S3: s.stack.endpoints.s3,
    AWS_ACCESS_KEY_ID: s.stack.config.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.stack.config.credentials!.secretAccessKey,
    AWS_REGION: "us-east-1",
    MREG_S3_FORCE_PATH_STYLE: "true",
    MREG_S3_EMULATOR: "true",
  });

  beforeAll(async () => {
    external = new S3Client({
      region: "us-east-1",
      endpoint: s.stack.endpoints.s3,
      forcePathStyle: true,
      credentials: s.stack.config.credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    for (const [key, body] of [
      ["raw/train.csv", "a,b\n1,2\n"],
      ["raw/nested/test.csv", "a,b\n3,4\n"],
      ["single/labels.txt", "cat\ndog\n"],
    ]) {
      await external.send(new PutObjectCommand({ Bucket: EXTERNAL_BUCKET, Key: key, Body: body }));
    }
  });
  afterAll(() => external?.destroy());

  test("logs a single object and a listed prefix by reference, and downloads them", async () => {
    const logged = await mreg(
      [
        "log",
        "--ref",
        `s3://${EXTERNAL_BUCKET}/single/labels.txt`,
        "--ref",
        `s3://${EXTERNAL_BUCKET}/raw/`,
        "-p",
        "demo",
        "-n",
        "refs",
        "-t",
        "dataset",
        "--json",
      ],
      awsEnv(),
    );
    expect(logged.stderr).toBe("");
    expect(logged.json).toMatchObject({ version: "v0", created: true, files: 3, uploadedBytes: 0 });
    const out = join(work, "out-refs");
    const used = await mreg(["use", "demo/refs", "--dir", out, "--json"]);
    expect(used.json.downloadedBytes).toBe(8 + 8 + 8);
    expect(await readTree(out)).toEqual({
      "labels.txt": Buffer.from("cat\ndog\n").toString("base64"),
      "train.csv": Buffer.from("a,b\n1,2\n").toString("base64"),
      "nested/test.csv": Buffer.from("a,b\n3,4\n").toString("base64"),
    });
  });

  test("a prefix without credentials to list it fails with advice", async () => {
    const result = await mreg(["log", "--ref", `s3://${EXTERNAL_BUCKET}/raw/`, "-p", "demo", "-n", "refs"], {
      ...awsEnv(),
      AWS_SECRET_ACCESS_KEY: "wrong",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mreg: cannot list s3:\/\/ext-data\/raw\/ .*name single objects/);
  });

  test("an object changed since it was logged is an error, not silently different bytes", async () => {
    await external.send(new PutObjectCommand({ Bucket: EXTERNAL_BUCKET, Key: "single/labels.txt", Body: "cat\ndog\nbird\n" }));
    const result = await mreg(["use", "demo/refs", "--dir", join(work, "out-refs-2"), "--no-cache"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mreg: s3:\/\/ext-data\/single\/labels.txt \(labels.txt\) changed since it was logged/);
  });
});

describe("login", () => {
  test("delete: a dry run says what would go; the job deletes it and `mreg job` follows it", async () => {
    const dir = join(work, "doomed");
    await writeOld(join(dir, "w.bin"), "doomed weights");
    expect((await mreg(["log", dir, "-p", "scratch", "-n", "doomed"])).code).toBe(0);
    const dry = await mreg(["delete", "scratch/doomed", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("would delete scratch/doomed:v0");
    expect(dry.stdout).toContain("would delete artifact scratch/doomed");
    const started = await mreg(["delete", "scratch/doomed", "--json"]);
    expect(started.json).toMatchObject({ kind: "artifact.delete", progress: { total: 1 } });
    let shown: CliResult;
    do {
      shown = await mreg(["job", started.json.id]);
      expect(shown.code).toBe(0);
    } while (!/: (succeeded|failed),/.test(shown.stdout));
    expect(shown.stdout).toContain(`job ${started.json.id} (artifact.delete scratch/doomed): succeeded, 1/1 deleted, 0 skipped, 0 failed`);
  });

  test("saves URL and key with mode 0600; later commands use them", async () => {
    const config = join(work, "login", "config.json");
    const login = await mreg(["login", "--key", s.adminKey, "--json"], { MREG_CONFIG: config, MREG_API_KEY: "" });
    expect(login.stderr).toBe("");
    expect(login.json).toMatchObject({ url: s.url, config });
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({ url: s.url, apiKey: s.adminKey });
    const listed = await mreg(["ls", "demo", "--json"], { MREG_CONFIG: config, MREG_URL: "", MREG_API_KEY: "" });
    expect(listed.code).toBe(0);
    expect(listed.json.items.length).toBeGreaterThan(0);
  });

  test("refuses a key the registry does not know", async () => {
    const config = join(work, "login-bad", "config.json");
    const login = await mreg(["login", "--key", "mreg_wrong"], { MREG_CONFIG: config });
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/refused the API key/);
    await expect(stat(config)).rejects.toThrow();
  });
});
