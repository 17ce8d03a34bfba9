import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { blobKey, openUploadKey, stagingKey } from "../../lambdas/adapters/s3/blob-store.js";
import { EmulatorBlobStore, type EmulatorBlobStoreHooks } from "../../local/emulator-blob-store.js";
import { attachEmulatorLedger, type EmulatorLedger } from "../../local/emulator-ledger.js";
import { ConflictError } from "../../lambdas/core/errors.js";
import { startS3Emulator, type S3Emulator } from "../../local/s3-emulator.js";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/**
 * The local BlobStore against a real @20minutes/s3rver running in this process: the fast
 * path (hash from what the emulator wrote, promote by rename) must refuse everything the
 * HTTP path refuses, and hand over to it whenever the emulator's files are not as expected.
 */
const BUCKET = "mreg-blobs";
const MIB = 1024 * 1024;
let directory: string;
let emulator: S3Emulator;
let ledger: EmulatorLedger;
let client: S3Client;

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest("hex");

function store(hooks?: EmulatorBlobStoreHooks, withLedger: EmulatorLedger = ledger) {
  return new EmulatorBlobStore(client, { bucket: BUCKET, urlExpirySeconds: 900, signChecksums: false }, withLedger, hooks);
}

async function put(key: string, bytes: Buffer) {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
}

async function get(key: string): Promise<{ bytes: Buffer; etag: string } | undefined> {
  try {
    const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { bytes: Buffer.from(await result.Body!.transformToByteArray()), etag: result.ETag ?? "" };
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "mreg-emulator-store-"));
  emulator = await startS3Emulator({ directory, buckets: [BUCKET] });
  ledger = emulator.ledger!;
  client = new S3Client({
    region: "us-east-1",
    endpoint: emulator.endpoint,
    forcePathStyle: true,
    credentials: emulator.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
});

afterAll(async () => {
  client?.destroy();
  await emulator?.stop();
  await rm(directory, { recursive: true, force: true });
});

describe("the emulator's layout", () => {
  it("is recognised on the running emulator", () => {
    expect(ledger).toBeDefined();
    expect(ledger.objectPath(BUCKET, "staging/abc")).toBe(join(directory, BUCKET, "staging", "abc._S3rver_object"));
  });

  it("is refused when the store is not s3rver's FilesystemStore or lays files out otherwise", () => {
    expect(attachEmulatorLedger(undefined)).toBeUndefined();
    expect(attachEmulatorLedger({ rootDirectory: "/x" })).toBeUndefined();
    const other = {
      rootDirectory: "/x",
      getResourcePath: (bucket: string, key: string, resource: string) => `/x/${bucket}/${key}.${resource}`,
      putObject: async () => ({ size: 0, md5: "" }),
      copyObject: async () => undefined,
      deleteObject: async () => undefined,
    };
    expect(attachEmulatorLedger(other)).toBeUndefined();
  });
});

describe("promoteStagedBlob", () => {
  beforeEach(() => undefined);

  it("verifies the staged bytes from the hash taken as the emulator wrote them, and renames them into place", async () => {
    const bytes = randomBytes(3 * MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    const blobs = store();

    await expect(blobs.promoteStagedBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });

    expect(blobs.stats).toEqual({ ingestHashes: 1, fileHashes: 0, renames: 1, fallbacks: 0 });
    expect(await exists(stagingKey(sha))).toBe(false);
    const stored = await get(blobKey(sha));
    expect(stored?.bytes.equals(bytes)).toBe(true);
    expect(stored?.etag).toBe(`"${md5(bytes)}"`);
  });

  it("refuses bytes that do not match the declared SHA-256 and deletes them", async () => {
    const declared = randomBytes(MIB);
    const sent = randomBytes(MIB);
    const sha = sha256(declared);
    await put(stagingKey(sha), sent);
    const blobs = store();

    await expect(blobs.promoteStagedBlob(sha, declared.length)).resolves.toEqual({
      status: "mismatch",
      sha256: sha256(sent),
      size: sent.length,
    });
    expect(await exists(stagingKey(sha))).toBe(false);
    expect(await exists(blobKey(sha))).toBe(false);
  });

  it("refuses the right bytes with the wrong size", async () => {
    const bytes = randomBytes(1000);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    await expect(store().promoteStagedBlob(sha, 999)).resolves.toMatchObject({ status: "mismatch", size: 1000 });
    expect(await exists(blobKey(sha))).toBe(false);
  });

  it("refuses a staging object overwritten through the emulator between the hash and the promotion", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    // A stale presigned URL replays other bytes onto the staging key after they were hashed.
    const blobs = store({ beforePromote: () => put(stagingKey(sha), randomBytes(MIB)) });

    await expect(blobs.promoteStagedBlob(sha, bytes.length)).rejects.toBeInstanceOf(ConflictError);
    expect(await exists(blobKey(sha))).toBe(false);
    // The next attempt hashes what is there now, and refuses it.
    await expect(store().promoteStagedBlob(sha, bytes.length)).resolves.toMatchObject({ status: "mismatch" });
    expect(await exists(blobKey(sha))).toBe(false);
  });

  it("refuses a staging file swapped behind the emulator's back between the hash and the promotion", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    const blobs = store({
      beforePromote: async (path) => {
        const tampered = Buffer.from(bytes);
        tampered[0] = tampered[0]! ^ 0xff;
        await writeFile(path, tampered);
      },
    });

    await expect(blobs.promoteStagedBlob(sha, bytes.length)).rejects.toBeInstanceOf(ConflictError);
    expect(await exists(blobKey(sha))).toBe(false);
  });

  it("hashes the file itself when it changed since the emulator wrote it", async () => {
    const bytes = randomBytes(2 * MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), randomBytes(2 * MIB));
    // Rewritten outside the emulator: its ingest hash no longer describes the file.
    await writeFile(ledger.objectPath(BUCKET, stagingKey(sha)), bytes);
    const blobs = store();

    await expect(blobs.promoteStagedBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });
    expect(blobs.stats).toMatchObject({ ingestHashes: 0, fileHashes: 1, renames: 1 });
    expect((await get(blobKey(sha)))?.bytes.equals(bytes)).toBe(true);

    const other = randomBytes(MIB);
    const otherSha = sha256(other);
    await put(stagingKey(otherSha), other);
    await writeFile(ledger.objectPath(BUCKET, stagingKey(otherSha)), randomBytes(MIB));
    await expect(store().promoteStagedBlob(otherSha, other.length)).resolves.toMatchObject({ status: "mismatch" });
    expect(await exists(blobKey(otherSha))).toBe(false);
  });

  it("refuses to rename onto the blob's key while the emulator writes to it", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    const target = ledger.objectPath(BUCKET, blobKey(sha));
    const writing: EmulatorLedger = { ...ledger, busy: (p) => p === target || ledger.busy(p) };
    await expect(store(undefined, writing).promoteStagedBlob(sha, bytes.length)).rejects.toBeInstanceOf(ConflictError);
    expect(await exists(blobKey(sha))).toBe(false);
    await expect(store().promoteStagedBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });
  });

  it("answers missing when nothing was staged", async () => {
    const blobs = store();
    await expect(blobs.promoteStagedBlob("0".repeat(64), 10)).resolves.toEqual({ status: "missing" });
  });

  it("falls back to the HTTP path when the emulator's files are not where the ledger expects them", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    const elsewhere = await mkdtemp(join(tmpdir(), "mreg-not-the-emulator-"));
    const lost: EmulatorLedger = {
      ...ledger,
      objectPath: (bucket, key) => join(elsewhere, bucket, key),
      sidePath: (bucket, key, resource) => join(elsewhere, bucket, `${key}.${resource}`),
    };
    try {
      const blobs = store(undefined, lost);
      await expect(blobs.promoteStagedBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });
      expect(blobs.stats).toEqual({ ingestHashes: 0, fileHashes: 0, renames: 0, fallbacks: 1 });
      expect((await get(blobKey(sha)))?.bytes.equals(bytes)).toBe(true);
      expect(await exists(stagingKey(sha))).toBe(false);

      // The HTTP path refuses wrong bytes as before.
      const wrong = randomBytes(MIB);
      const wrongSha = sha256(randomBytes(MIB));
      await put(stagingKey(wrongSha), wrong);
      await expect(blobs.promoteStagedBlob(wrongSha, wrong.length)).resolves.toMatchObject({ status: "mismatch" });
      expect(await exists(blobKey(wrongSha))).toBe(false);
      expect(blobs.stats.fallbacks).toBe(2);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("falls back to the HTTP path while the emulator is still writing the staging object", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(stagingKey(sha), bytes);
    const path = ledger.objectPath(BUCKET, stagingKey(sha));
    const writing: EmulatorLedger = { ...ledger, busy: (p) => p === path || ledger.busy(p) };
    const blobs = store(undefined, writing);
    await expect(blobs.promoteStagedBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });
    expect(blobs.stats.fallbacks).toBe(1);
    expect((await get(blobKey(sha)))?.bytes.equals(bytes)).toBe(true);
  });
});

describe("open uploads", () => {
  /** Sends the bytes as a client does: a plain PUT to the presigned URL, before any hash is known. */
  async function openUpload(bytes: Buffer): Promise<string> {
    const { uploadId, url, headers } = await store().presignOpenPut();
    const response = await fetch(url, { method: "PUT", headers, body: new Uint8Array(bytes) });
    expect(response.status).toBe(200);
    return uploadId;
  }

  it("promotes an open upload from the hash taken as the emulator wrote it, by renaming it into place", async () => {
    const bytes = randomBytes(3 * MIB);
    const sha = sha256(bytes);
    const uploadId = await openUpload(bytes);
    expect(existsSync(ledger.objectPath(BUCKET, openUploadKey(uploadId)))).toBe(true);
    const blobs = store();

    await expect(blobs.promoteStagedBlob(sha, bytes.length, uploadId)).resolves.toEqual({ status: "verified" });

    expect(blobs.stats).toEqual({ ingestHashes: 1, fileHashes: 0, renames: 1, fallbacks: 0 });
    expect(await exists(openUploadKey(uploadId))).toBe(false);
    expect(existsSync(ledger.objectPath(BUCKET, openUploadKey(uploadId)))).toBe(false);
    expect(existsSync(ledger.sidePath(BUCKET, openUploadKey(uploadId), "metadata.json"))).toBe(false);
    const stored = await get(blobKey(sha));
    expect(stored?.bytes.equals(bytes)).toBe(true);
    expect(stored?.etag).toBe(`"${md5(bytes)}"`);
  });

  it("refuses an open upload whose bytes are not the declared ones and deletes it", async () => {
    const declared = randomBytes(MIB);
    const sent = randomBytes(MIB);
    const sha = sha256(declared);
    const uploadId = await openUpload(sent);
    const blobs = store();

    await expect(blobs.promoteStagedBlob(sha, declared.length, uploadId)).resolves.toEqual({
      status: "mismatch",
      sha256: sha256(sent),
      size: sent.length,
    });
    expect(blobs.stats).toMatchObject({ ingestHashes: 1, renames: 0, fallbacks: 0 });
    expect(await exists(openUploadKey(uploadId))).toBe(false);
    expect(existsSync(ledger.objectPath(BUCKET, openUploadKey(uploadId)))).toBe(false);
    expect(await exists(blobKey(sha))).toBe(false);
  });

  it("answers missing for an open upload that never arrived", async () => {
    const { uploadId } = await store().presignOpenPut();
    const blobs = store();
    await expect(blobs.promoteStagedBlob(sha256(randomBytes(8)), 8, uploadId)).resolves.toEqual({ status: "missing" });
    expect(blobs.stats.renames).toBe(0);
  });

  it("promotes an open upload over HTTP (copy, then hash the copy) when the ledger cannot be trusted", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    const uploadId = await openUpload(bytes);
    const elsewhere = await mkdtemp(join(tmpdir(), "mreg-not-the-emulator-"));
    const lost: EmulatorLedger = {
      ...ledger,
      objectPath: (bucket, key) => join(elsewhere, bucket, key),
      sidePath: (bucket, key, resource) => join(elsewhere, bucket, `${key}.${resource}`),
    };
    try {
      const blobs = store(undefined, lost);
      await expect(blobs.promoteStagedBlob(sha, bytes.length, uploadId)).resolves.toEqual({ status: "verified" });
      expect(blobs.stats).toEqual({ ingestHashes: 0, fileHashes: 0, renames: 0, fallbacks: 1 });
      expect((await get(blobKey(sha)))?.bytes.equals(bytes)).toBe(true);
      expect(await exists(openUploadKey(uploadId))).toBe(false);

      const wrong = randomBytes(MIB);
      const wrongSha = sha256(randomBytes(MIB));
      const wrongId = await openUpload(wrong);
      await expect(blobs.promoteStagedBlob(wrongSha, wrong.length, wrongId)).resolves.toEqual({
        status: "mismatch",
        sha256: sha256(wrong),
        size: wrong.length,
      });
      expect(await exists(blobKey(wrongSha))).toBe(false);
      expect(await exists(openUploadKey(wrongId))).toBe(false);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});

describe("the ledger", () => {
  async function until(condition: () => boolean, timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  /** Sends 256 KiB of a declared 4 MiB to `url`, waits until the emulator writes, then drops the connection. */
  async function cutShort(url: string, path: string, watching: EmulatorLedger): Promise<void> {
    const target = new URL(url);
    const req = request({
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: "PUT",
      headers: { "content-length": String(4 * MIB) },
    });
    req.on("error", () => undefined);
    req.write(randomBytes(256 * 1024));
    // The emulator has started writing the object in place: part of a body is on disk.
    expect(await until(() => existsSync(path) && watching.busy(path))).toBe(true);
    req.destroy();
    expect(await until(() => !watching.busy(path))).toBe(true);
  }

  it("leaves nothing behind for a PUT whose client stopped sending mid-body", async () => {
    const { uploadId, url } = await store().presignOpenPut();
    const key = openUploadKey(uploadId);
    const path = ledger.objectPath(BUCKET, key);

    await cutShort(url, path, ledger);

    expect(existsSync(path)).toBe(false);
    expect(existsSync(ledger.sidePath(BUCKET, key, "object.md5"))).toBe(false);
    expect(existsSync(ledger.sidePath(BUCKET, key, "metadata.json"))).toBe(false);
    expect(await exists(key)).toBe(false);
    await expect(store().promoteStagedBlob(sha256(randomBytes(8)), 4 * MIB, uploadId)).resolves.toEqual({ status: "missing" });
  });

  it("does so for objects it does not hash too", async () => {
    const other = await mkdtemp(join(tmpdir(), "mreg-emulator-unhashed-"));
    const unhashed = await startS3Emulator({ directory: other, buckets: [BUCKET], hashObject: () => false });
    try {
      const otherClient = new S3Client({
        region: "us-east-1",
        endpoint: unhashed.endpoint,
        forcePathStyle: true,
        credentials: unhashed.credentials,
        requestChecksumCalculation: "WHEN_REQUIRED",
      });
      const url = await getSignedUrl(otherClient, new PutObjectCommand({ Bucket: BUCKET, Key: "manifests/cut.json" }), { expiresIn: 60 });
      const path = unhashed.ledger!.objectPath(BUCKET, "manifests/cut.json");

      await cutShort(url, path, unhashed.ledger!);

      expect(existsSync(path)).toBe(false);
    } finally {
      await unhashed.stop();
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe("verifyBlob after a multipart upload", () => {
  async function multipart(sha: string, parts: Buffer[]) {
    const blobs = store();
    const { uploadId, key } = await blobs.createMultipartUpload(sha);
    const etags = [];
    for (const [index, part] of parts.entries()) {
      const result = await client.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: part }),
      );
      etags.push({ PartNumber: index + 1, ETag: result.ETag! });
    }
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags } }),
    );
  }

  it("verifies the assembled object from the hash taken while the emulator assembled it", async () => {
    const parts = [randomBytes(5 * MIB), randomBytes(2 * MIB)];
    const whole = Buffer.concat(parts);
    const sha = sha256(whole);
    await multipart(sha, parts);
    const blobs = store();

    await expect(blobs.verifyBlob(sha, whole.length)).resolves.toEqual({ status: "verified" });
    expect(blobs.stats).toMatchObject({ ingestHashes: 1, fileHashes: 0, fallbacks: 0 });
  });

  it("deletes an assembled object that does not match", async () => {
    const parts = [randomBytes(5 * MIB), randomBytes(MIB)];
    const sha = sha256(randomBytes(16));
    await multipart(sha, parts);

    await expect(store().verifyBlob(sha, 6 * MIB)).resolves.toMatchObject({ status: "mismatch" });
    expect(await exists(blobKey(sha))).toBe(false);
    expect(existsSync(ledger.objectPath(BUCKET, blobKey(sha)))).toBe(false);
  });

  it("hashes the file when the emulator did not write it in this process (a restart)", async () => {
    const bytes = randomBytes(MIB);
    const sha = sha256(bytes);
    await put(blobKey(sha), bytes);
    await writeFile(ledger.objectPath(BUCKET, blobKey(sha)), await readFile(ledger.objectPath(BUCKET, blobKey(sha))));
    const blobs = store();
    await expect(blobs.verifyBlob(sha, bytes.length)).resolves.toEqual({ status: "verified" });
    expect(blobs.stats).toMatchObject({ ingestHashes: 0, fileHashes: 1 });
  });
});
