import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, utimes, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IntegrityError } from "../../clients/node/src/errors.js";
import { MregClient } from "../../clients/node/src/mreg-client.js";
import { createS3Client } from "../../lambdas/composition.js";
import { LOCAL_BUCKET } from "../../local/stack.js";
import { readTree, runMreg, type CliResult } from "../support/cli.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Someone with write access to the bucket (here: the store's own key pair, as a bucket
 * writer in AWS would hold) changes what a version's manifest or blob holds. The registry
 * refuses to serve a manifest that does not hash to the version's digest; the clients refuse
 * bytes that do not hash to the manifest; nothing tampered reaches a user's disk.
 */
let s: TestStack;
let work: string;
let writer: S3Client;

const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

function mreg(args: string[]): Promise<CliResult> {
  return runMreg(args, {
    cwd: work,
    env: {
      HOME: work,
      MREG_URL: s.url,
      MREG_API_KEY: s.adminKey,
      MREG_CACHE_DIR: join(work, "cache"),
      MREG_CONFIG: join(work, "config.json"),
    },
  });
}

async function logVersion(name: string): Promise<{ digest: string; dir: string }> {
  const dir = join(work, `src-${name}`);
  await mkdir(join(dir, "nested"), { recursive: true });
  await writeFile(join(dir, "model.bin"), `weights of ${name}`);
  await writeFile(join(dir, "nested", "config.json"), '{"layers": 4}');
  const past = new Date(Date.now() - 60_000);
  for (const file of ["model.bin", "nested/config.json"]) await utimes(join(dir, file), past, past);
  const logged = await mreg(["log", dir, "-p", "demo", "-n", name, "--json"]);
  expect(logged.code, logged.stderr).toBe(0);
  const version = await s.api("GET", `/v1/projects/demo/artifacts/${name}/versions/v0`);
  return { digest: version.body.digest, dir };
}

async function putObject(key: string, body: string | Buffer) {
  await writer.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key, Body: body }));
}

async function readObject(key: string): Promise<string> {
  const result = await writer.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
  return result.Body!.transformToString();
}

const exists = (path: string) =>
  readdir(path).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  s = await startTestStack();
  work = await mkdtemp(join(tmpdir(), "mreg-integrity-"));
  writer = createS3Client(s.stack.config);
});

afterAll(async () => {
  writer?.destroy();
  await s?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("a manifest changed in the store", () => {
  test("is refused by the API on every route that reads it, and by mreg use, which writes nothing", async () => {
    const { digest } = await logVersion("swapped");
    const link = await s.api("POST", "/v1/registries/model/collections/swapped/links", {
      project: "demo",
      artifact: "swapped",
      version: "v0",
    });
    expect(link.status).toBe(201);
    const original = await readObject(`manifests/${digest}.json`);
    const evil = "#!/bin/sh\necho owned\n";
    await putObject(`blobs/${sha256(evil)}`, evil);
    await putObject(
      `manifests/${digest}.json`,
      JSON.stringify({ digest, entries: [{ path: "model.bin", size: evil.length, sha256: sha256(evil) }] }),
    );

    for (const path of [
      "/v1/projects/demo/artifacts/swapped/versions/v0/files",
      "/v1/registries/model/collections/swapped/versions/latest/files",
    ]) {
      const answer = await s.api("GET", path);
      expect(answer.status, path).toBe(500);
      expect(answer.body.error.code).toBe("integrity_error");
      expect(answer.body.error.message).toContain("demo/swapped:v0");
      expect(answer.body.error.message).toContain(digest);
    }
    const used = await mreg(["use", "demo/swapped:v0", "--dir", join(work, "out-swapped")]);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/^mreg: demo\/swapped:v0: the stored manifest with digest [0-9a-f]{64} was modified outside the registry/);
    expect(await exists(join(work, "out-swapped"))).toBe(false);
    const linked = await mreg(["use", "@model/swapped:latest", "--dir", join(work, "out-linked")]);
    expect(linked.code).toBe(1);
    expect(await exists(join(work, "out-linked"))).toBe(false);

    // Nothing of the bad read was kept: the restored manifest is served at once.
    await putObject(`manifests/${digest}.json`, original);
    expect((await s.api("GET", "/v1/projects/demo/artifacts/swapped/versions/v0/files")).status).toBe(200);
  });

  test("that is gone is an integrity error too", async () => {
    const { digest } = await logVersion("deleted");
    await writer.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKET, Key: `manifests/${digest}.json` }));
    const answer = await s.api("GET", "/v1/projects/demo/artifacts/deleted/versions/v0/files");
    expect(answer.status).toBe(500);
    expect(answer.body.error).toMatchObject({ code: "integrity_error" });
    expect(answer.body.error.message).toContain("missing from the store");
  });
});

describe("a blob changed in the store", () => {
  test("is refused by mreg use and the SDK, and no file of the version is left behind", async () => {
    const { dir } = await logVersion("bad-blob");
    await putObject(`blobs/${sha256("weights of bad-blob")}`, "weights of evil!!!");
    const out = join(work, "out-blob");

    const used = await mreg(["use", "demo/bad-blob:v0", "--dir", out, "--concurrency", "1"]);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/^mreg: model\.bin: received .*expected/);
    expect(await readTree(out).catch(() => ({}))).toEqual({});

    const sdk = new MregClient({ url: s.url, apiKey: s.adminKey, cacheDir: join(work, "sdk-cache") });
    const error = await sdk.useArtifact("demo/bad-blob:v0", { dir: join(work, "out-sdk") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(await readTree(join(work, "out-sdk")).catch(() => ({}))).toEqual({});
    expect(await readdir(join(work, "sdk-cache", "blobs"), { recursive: true }).catch(() => [])).not.toContain(
      join(sha256("weights of bad-blob").slice(0, 2), sha256("weights of bad-blob")),
    );

    // The bytes put back, the same command succeeds.
    await putObject(`blobs/${sha256("weights of bad-blob")}`, "weights of bad-blob");
    expect((await mreg(["use", "demo/bad-blob:v0", "--dir", out])).code).toBe(0);
    expect(await readTree(out)).toEqual(await readTree(dir));
  });
});
