import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MregClient } from "../../clients/node/src/mreg-client.js";
import { createS3Client } from "../../lambdas/composition.js";
import { LOCAL_BUCKET } from "../../local/stack.js";
import { sha256 } from "../support/files.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Open uploads against the embedded registry: bytes sent while the client hashes them,
 * verified at commit from what the store took, never trusted on the client's word.
 */
let s: TestStack;
let dir: string;
let client: MregClient;
const base = (artifact: string) => `/v1/projects/open/artifacts/${artifact}`;

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) } });
  dir = await mkdtemp(join(tmpdir(), "mreg-open-"));
  client = new MregClient({ url: s.url, apiKey: s.adminKey, cacheDir: join(dir, "cache") });
});
afterAll(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A file written an hour ago, so the hash cache may keep it. */
async function checkpoint(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const past = new Date(Date.now() - 3_600_000);
  await utimes(path, past, past);
  return path;
}

async function stagedKeys(): Promise<string[]> {
  const s3 = createS3Client(s.stack.config);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET, Prefix: "staging/" }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

const log = (artifact: string, path: string, extra: Record<string, unknown> = {}) =>
  client.logArtifact({ project: "open", name: artifact, paths: [path], openUploadMinBytes: MIB, hashFirst: false, ...extra });

describe("logging a file while it is hashed", () => {
  const bytes = randomBytes(3 * MIB);

  test("sends it once through an open upload, verifies it at commit, and leaves nothing staged", async () => {
    const path = await checkpoint("model.bin", bytes);
    const result = await log("cnn", path);
    expect(result).toMatchObject({
      created: true,
      version: "v0",
      sentWhileHashing: 1,
      uploadedBytes: bytes.length,
      hashedBytes: bytes.length,
    });
    const used = await client.useArtifact("open/cnn:v0", { dir: join(dir, "out") });
    expect(sha256(await readFile(join(used.path, "model.bin")))).toBe(sha256(bytes));
    expect(await stagedKeys()).toEqual([]);
  });

  test("re-logging it unchanged reads and sends nothing", async () => {
    const result = await log("cnn", join(dir, "model.bin"));
    expect(result).toMatchObject({
      created: false,
      version: "v0",
      uploadedBytes: 0,
      hashedBytes: 0,
      sentWhileHashing: 0,
      discardedBytes: 0,
    });
  });

  test("the same bytes under a new path are not stored twice: the open upload is stopped or discarded", async () => {
    const copy = await checkpoint("copy.bin", bytes);
    const result = await log("cnn-copy", copy);
    expect(result).toMatchObject({ created: true, reusedBytes: bytes.length, sentWhileHashing: 0 });
    expect(result.uploadedBytes).toBe(0);
    expect(result.discardedBytes).toBeLessThanOrEqual(bytes.length);
    expect(await stagedKeys()).toEqual([]);
  });

  test("--hash-first sends no byte before the file is hashed", async () => {
    const path = await checkpoint("second.bin", randomBytes(2 * MIB));
    const result = await log("second", path, { hashFirst: true });
    expect(result).toMatchObject({ created: true, sentWhileHashing: 0, uploadedBytes: 2 * MIB });
  });

  test("files the registry takes only as multipart are hashed first", async () => {
    const path = await checkpoint("large.bin", randomBytes(6 * MIB));
    const result = await log("large", path);
    expect(result).toMatchObject({ created: true, sentWhileHashing: 0, uploadedBytes: 6 * MIB });
  });
});

describe("the registry trusts an open upload only once it has checked the bytes", () => {
  test("other bytes than the declared ones are refused with 422 and deleted; the right ones then commit", async () => {
    const declared = randomBytes(MIB);
    const plan = await s.api("POST", `${base("checked")}/uploads`, { open: [{ path: "w.bin", size: declared.length }] });
    expect(plan.status).toBe(200);
    const [open] = plan.body.open;
    expect(open).toMatchObject({ path: "w.bin", size: declared.length, method: "PUT" });
    const other = randomBytes(MIB);
    expect((await fetch(open.url, { method: "PUT", headers: open.headers, body: other })).status).toBe(200);

    const file = { path: "w.bin", size: declared.length, sha256: sha256(declared), uploadId: open.uploadId };
    const refused = await s.api("POST", `${base("checked")}/versions`, { type: "model", files: [file] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain(`uploaded bytes have sha256 ${sha256(other)}`);
    expect(await stagedKeys()).toEqual([]);
    expect(
      (await s.api("POST", `${base("checked")}/uploads`, { files: [file].map(({ uploadId: _uploadId, ...f }) => f) })).body.present,
    ).toEqual([]);

    const again = (await s.api("POST", `${base("checked")}/uploads`, { open: [{ path: "w.bin", size: declared.length }] })).body.open[0];
    expect((await fetch(again.url, { method: "PUT", headers: again.headers, body: declared })).status).toBe(200);
    const committed = await s.api("POST", `${base("checked")}/versions`, { type: "model", files: [{ ...file, uploadId: again.uploadId }] });
    expect(committed.status).toBe(201);
  });

  test("an uploadId the store holds nothing for is a 422 naming the file", async () => {
    const bytes = randomBytes(1024);
    const file = { path: "ghost.bin", size: bytes.length, sha256: sha256(bytes), uploadId: "01JD3Q5W8Z6N4K2M1P0R9S7T5V" };
    const refused = await s.api("POST", `${base("ghost")}/versions`, { type: "model", files: [file] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain("ghost.bin");
  });

  test("a plan naming neither files nor open uploads is a 400", async () => {
    const refused = await s.api("POST", `${base("empty")}/uploads`, { open: [] });
    expect(refused.status).toBe(400);
  });
});
