import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { S3BlobStore, type BlobStoreOptions } from "../../lambdas/adapters/s3/blob-store.js";
import { ConflictError, IntegrityError, UnprocessableError } from "../../lambdas/core/errors.js";
import { canonicalManifest, manifestDigest } from "../../lambdas/core/manifest.js";

const BUCKET = "mreg-blobs";
const s3 = mockClient(S3Client);
const client = new S3Client({
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
});

const bytes = Buffer.from("model weights");
const SHA = createHash("sha256").update(bytes).digest("hex");
const SHA_BASE64 = Buffer.from(SHA, "hex").toString("base64");

function store(options: Partial<BlobStoreOptions> = {}) {
  return new S3BlobStore(client, { bucket: BUCKET, urlExpirySeconds: 900, signChecksums: false, ...options });
}

/** A GetObject body as the SDK hands it out: a stream that can also turn itself into text. */
function body(content: Buffer | string) {
  const buffer = Buffer.from(content);
  return Object.assign(Readable.from([buffer]), { transformToString: async () => buffer.toString("utf8") }) as never;
}

const notFound = () => new NotFound({ message: "Not Found", $metadata: { httpStatusCode: 404 } });
const noSuchKey = () => new NoSuchKey({ message: "The specified key does not exist.", $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  s3.reset();
});

describe("presigned requests", () => {
  it("presigns a PUT to the blob's staging key", async () => {
    const put = await store().presignBlobPut(SHA);

    const url = new URL(put.url);
    expect(url.pathname).toBe(`/staging/${SHA}`);
    expect(url.hostname).toBe(`${BUCKET}.s3.us-east-1.amazonaws.com`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect(put.headers).toEqual({});
    expect(s3.calls()).toHaveLength(0);
  });

  it("binds the declared sha256 into the signature when asked to", async () => {
    const put = await store({ signChecksums: true }).presignBlobPut(SHA);

    const url = new URL(put.url);
    expect(url.pathname).toBe(`/staging/${SHA}`);
    expect(put.headers).toEqual({ "x-amz-checksum-sha256": SHA_BASE64 });
    expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toContain("x-amz-checksum-sha256");
    // The checksum travels as a signed header, not as a query parameter a client could drop.
    expect(url.searchParams.has("x-amz-checksum-sha256")).toBe(false);
  });

  it("presigns part uploads of the blob's own key", async () => {
    const part = await store().presignPartPut(`blobs/${SHA}`, "up-1", 3);
    const url = new URL(part.url);
    expect(url.pathname).toBe(`/blobs/${SHA}`);
    expect(url.searchParams.get("uploadId")).toBe("up-1");
    expect(url.searchParams.get("partNumber")).toBe("3");
  });

  it("names the download after the file, without characters that break the header", async () => {
    const url = new URL(await store().presignBlobGet(SHA, 'we"ird\r\nname.bin'));
    expect(url.pathname).toBe(`/blobs/${SHA}`);
    expect(url.searchParams.get("response-content-disposition")).toBe('attachment; filename="we_ird__name.bin"');
  });
});

describe("promoteStagedBlob", () => {
  it("hashes the staged bytes, copies exactly those bytes to the blob key and deletes the staging object", async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ETag: '"etag-1"' });
    s3.on(GetObjectCommand).resolves({ Body: body(bytes), ETag: '"etag-1"' });
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});

    expect(await store().promoteStagedBlob(SHA, bytes.length)).toEqual({ status: "verified" });

    expect(s3.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: `staging/${SHA}`,
      ChecksumMode: "ENABLED",
    });
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `staging/${SHA}` });
    expect(s3.commandCalls(CopyObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: `blobs/${SHA}`,
      CopySource: `${BUCKET}/staging/${SHA}`,
      CopySourceIfMatch: '"etag-1"',
    });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `staging/${SHA}` });
  });

  it("trusts a full-object SHA-256 that S3 verified and reads nothing", async () => {
    s3.on(HeadObjectCommand).resolves({
      ContentLength: bytes.length,
      ETag: '"etag-2"',
      ChecksumSHA256: SHA_BASE64,
      ChecksumType: "FULL_OBJECT",
    });
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});

    expect(await store().promoteStagedBlob(SHA, bytes.length)).toEqual({ status: "verified" });

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(CopyObjectCommand)[0]!.args[0].input.CopySourceIfMatch).toBe('"etag-2"');
  });

  it.each([
    ["another checksum", { ChecksumSHA256: Buffer.alloc(32).toString("base64") }],
    ["a composite checksum", { ChecksumSHA256: SHA_BASE64, ChecksumType: "COMPOSITE" as const }],
    ["another size", { ChecksumSHA256: SHA_BASE64, ContentLength: bytes.length + 1 }],
  ])("hashes the bytes itself when the head reports %s", async (_, head) => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ETag: '"e"', ...head });
    s3.on(GetObjectCommand).resolves({ Body: body(bytes), ETag: '"e"' });
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});

    await store().promoteStagedBlob(SHA, bytes.length);

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it("deletes staged bytes that do not match and reports what they were", async () => {
    const other = Buffer.from("something else");
    s3.on(HeadObjectCommand).resolves({ ContentLength: other.length, ETag: '"e"' });
    s3.on(GetObjectCommand).resolves({ Body: body(other), ETag: '"e"' });
    s3.on(DeleteObjectCommand).resolves({});

    expect(await store().promoteStagedBlob(SHA, bytes.length)).toEqual({
      status: "mismatch",
      sha256: createHash("sha256").update(other).digest("hex"),
      size: other.length,
    });

    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: `staging/${SHA}` }]);
  });

  it("reports a blob that was never uploaded as missing", async () => {
    s3.on(HeadObjectCommand).rejects(notFound());

    expect(await store().promoteStagedBlob(SHA, bytes.length)).toEqual({ status: "missing" });
    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it("reports missing when the object vanishes between head and read", async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ETag: '"e"' });
    s3.on(GetObjectCommand).rejects(noSuchKey());
    expect(await store().promoteStagedBlob(SHA, bytes.length)).toEqual({ status: "missing" });
  });

  it("lets other failures through", async () => {
    s3.on(HeadObjectCommand).rejects(
      new S3ServiceException({
        name: "InternalError",
        $fault: "server",
        message: "We encountered an internal error",
        $metadata: { httpStatusCode: 500 },
      }),
    );
    await expect(store().promoteStagedBlob(SHA, bytes.length)).rejects.toThrow("internal error");
  });
});

describe("open uploads", () => {
  /** A ULID: 48-bit time and 80 random bits in 26 characters of Crockford's base32. */
  const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
  const UPLOAD_ID = "01J9ZQ4X3K8N5V7T2M6R0B1C9D";
  const OPEN_KEY = `staging/open/${UPLOAD_ID}`;
  const deletedKeys = () => s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key);

  function headOpen(head: { ContentLength?: number; ETag?: string } = {}) {
    s3.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ETag: '"open-etag"', ...head });
    s3.on(DeleteObjectCommand).resolves({});
  }

  it("presigns a PUT to a fresh open key, with no checksum bound in", async () => {
    // Configured as createS3Client configures it: with the SDK's default a CRC32 of the
    // empty body would be hoisted into every presigned PUT, and S3 would refuse any bytes.
    const production = new S3Client({
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const blobs = new S3BlobStore(production, { bucket: BUCKET, urlExpirySeconds: 900, signChecksums: true });
    const first = await blobs.presignOpenPut();
    const second = await blobs.presignOpenPut();

    expect(first.uploadId).toMatch(ULID);
    expect(second.uploadId).toMatch(ULID);
    expect(second.uploadId).not.toBe(first.uploadId);
    const url = new URL(first.url);
    expect(url.hostname).toBe(`${BUCKET}.s3.us-east-1.amazonaws.com`);
    expect(url.pathname).toBe(`/staging/open/${first.uploadId}`);
    expect(new URL(second.url).pathname).toBe(`/staging/open/${second.uploadId}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
    // Nothing is known of the bytes yet: no checksum header to send, none signed or hoisted.
    expect(first.headers).toEqual({});
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect([...url.searchParams.keys()].filter((k) => k.toLowerCase().includes("checksum"))).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
  });

  it("discards an open upload by deleting its key", async () => {
    s3.on(DeleteObjectCommand).resolves({});
    await store().discardOpenUpload(UPLOAD_ID);
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: OPEN_KEY }]);
  });

  it("promotes exactly the headed bytes when the copy reports the declared SHA-256, reading nothing", async () => {
    headOpen();
    s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"blob-etag"', ChecksumSHA256: SHA_BASE64 } });

    expect(await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).toStrictEqual({ status: "verified" });

    expect(s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: OPEN_KEY }]);
    expect(s3.commandCalls(CopyObjectCommand).map((c) => c.args[0].input)).toEqual([
      {
        Bucket: BUCKET,
        Key: `blobs/${SHA}`,
        CopySource: `${BUCKET}/${OPEN_KEY}`,
        CopySourceIfMatch: '"open-etag"',
        ChecksumAlgorithm: "SHA256",
      },
    ]);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(deletedKeys()).toEqual([OPEN_KEY]);
  });

  it("deletes the copy and the open object when the copy reports another SHA-256", async () => {
    const other = createHash("sha256").update("other bytes").digest();
    headOpen();
    s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ChecksumSHA256: other.toString("base64") } });

    expect(await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).toStrictEqual({
      status: "mismatch",
      sha256: other.toString("hex"),
      size: bytes.length,
    });

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(deletedKeys().sort()).toEqual([`blobs/${SHA}`, OPEN_KEY].sort());
  });

  it("hashes the copied blob when the copy reports no checksum, and keeps it when it matches", async () => {
    headOpen();
    s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"blob-etag"' } });
    s3.on(GetObjectCommand).resolves({ Body: body(bytes), ETag: '"blob-etag"' });

    expect(await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).toStrictEqual({ status: "verified" });

    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: `blobs/${SHA}` }]);
    expect(deletedKeys()).toEqual([OPEN_KEY]);
  });

  it("hashes the copied blob when the copy reports no checksum, and deletes it when it does not match", async () => {
    const other = Buffer.from("model weighs!");
    expect(other.length).toBe(bytes.length);
    headOpen();
    s3.on(CopyObjectCommand).resolves({});
    s3.on(GetObjectCommand).resolves({ Body: body(other), ETag: '"blob-etag"' });

    expect(await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).toStrictEqual({
      status: "mismatch",
      sha256: createHash("sha256").update(other).digest("hex"),
      size: other.length,
    });

    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([`blobs/${SHA}`]);
    expect(deletedKeys().sort()).toEqual([`blobs/${SHA}`, OPEN_KEY].sort());
  });

  it("answers missing for an open upload that was never sent, touching nothing", async () => {
    s3.on(HeadObjectCommand).rejects(notFound());

    expect(await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).toStrictEqual({ status: "missing" });

    expect(s3.commandCalls(HeadObjectCommand)[0]!.args[0].input.Key).toBe(OPEN_KEY);
    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it("refuses an open upload of another size without copying or hashing it, and deletes it", async () => {
    headOpen({ ContentLength: bytes.length + 5 });

    const check = await store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID);

    expect(check).toStrictEqual({ status: "mismatch", size: bytes.length + 5 });
    expect(check).not.toHaveProperty("sha256");
    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(deletedKeys()).toEqual([OPEN_KEY]);
  });

  it("turns a failed CopySourceIfMatch (the open object changed since the head) into a conflict", async () => {
    headOpen();
    s3.on(CopyObjectCommand).rejects(
      new S3ServiceException({
        name: "PreconditionFailed",
        $fault: "client",
        message: "At least one of the pre-conditions you specified did not hold",
        $metadata: { httpStatusCode: 412 },
      }),
    );

    await expect(store().promoteStagedBlob(SHA, bytes.length, UPLOAD_ID)).rejects.toBeInstanceOf(ConflictError);

    expect(s3.commandCalls(CopyObjectCommand)[0]!.args[0].input.CopySourceIfMatch).toBe('"open-etag"');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(deletedKeys()).not.toContain(`blobs/${SHA}`);
  });
});

describe("multipart", () => {
  it("creates uploads on the blob key", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "up-1" });
    expect(await store().createMultipartUpload(SHA)).toEqual({ uploadId: "up-1", key: `blobs/${SHA}` });
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `blobs/${SHA}` });
  });

  it("completes with the parts in the order given", async () => {
    s3.on(CompleteMultipartUploadCommand).resolves({});
    await store().completeMultipartUpload(`blobs/${SHA}`, "up-1", [
      { partNumber: 1, etag: '"a"' },
      { partNumber: 2, etag: '"b"' },
    ]);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: `blobs/${SHA}`,
      UploadId: "up-1",
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"a"' },
          { PartNumber: 2, ETag: '"b"' },
        ],
      },
    });
  });

  it("turns the store's refusal of a part list into 422", async () => {
    s3.on(CompleteMultipartUploadCommand).rejects(
      new S3ServiceException({
        name: "InvalidPart",
        $fault: "client",
        message: "One or more of the specified parts could not be found",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(store().completeMultipartUpload(`blobs/${SHA}`, "up-1", [{ partNumber: 1, etag: "x" }])).rejects.toThrow(
      UnprocessableError,
    );
  });

  it("treats aborting an upload that is already gone as done", async () => {
    s3.on(AbortMultipartUploadCommand).rejects(
      new S3ServiceException({ name: "NoSuchUpload", $fault: "client", message: "gone", $metadata: { httpStatusCode: 404 } }),
    );
    await expect(store().abortMultipartUpload(`blobs/${SHA}`, "up-1")).resolves.toBeUndefined();
  });

  it("deletes an assembled blob whose bytes do not match", async () => {
    s3.on(GetObjectCommand).resolves({ Body: body("not the weights"), ETag: '"e"' });
    s3.on(DeleteObjectCommand).resolves({});

    expect(await store().verifyBlob(SHA, bytes.length)).toMatchObject({ status: "mismatch" });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `blobs/${SHA}` });
  });

  it("keeps an assembled blob that matches", async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(bytes), ETag: '"e"' });
    expect(await store().verifyBlob(SHA, bytes.length)).toEqual({ status: "verified" });
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });
});

describe("headReference", () => {
  it("answers size, the ETag without quotes and the version id", async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: 1234, ETag: '"abc-2"', VersionId: "ver-9" });

    expect(await store().headReference("datasets", "mnist/train.csv")).toEqual({ size: 1234, etag: "abc-2", versionId: "ver-9" });
    expect(s3.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({ Bucket: "datasets", Key: "mnist/train.csv" });
  });

  it("leaves out the version id of an unversioned bucket", async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: 1, ETag: '"e"', VersionId: "null" });
    expect(await store().headReference("datasets", "k")).toEqual({ size: 1, etag: "e" });
  });

  it.each([
    ["404", notFound()],
    [
      "403 (no access looks like absence)",
      new S3ServiceException({ name: "Forbidden", $fault: "client", message: "", $metadata: { httpStatusCode: 403 } }),
    ],
    ["a missing bucket", new S3ServiceException({ name: "NoSuchBucket", $fault: "client", message: "", $metadata: {} })],
  ])("answers undefined for %s", async (_, error) => {
    s3.on(HeadObjectCommand).rejects(error);
    expect(await store().headReference("datasets", "k")).toBeUndefined();
  });
});

describe("manifests", () => {
  const entries = [{ path: "a.bin", size: 1, sha256: SHA }];
  const digest = manifestDigest(canonicalManifest(entries));
  const stored = (content: unknown) => ({ Body: body(typeof content === "string" ? content : JSON.stringify(content)) });

  it("writes the manifest as JSON under its digest", async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().putManifest(digest, entries);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: `manifests/${digest}.json`,
      Body: JSON.stringify({ digest, entries }),
      ContentType: "application/json",
    });
  });

  it("reads a manifest once per warm instance: it can never change", async () => {
    s3.on(GetObjectCommand).callsFake(async () => stored({ digest, entries }));
    const blobs = store();
    expect(await blobs.getManifest(digest)).toEqual(entries);
    expect(await blobs.getManifest(digest)).toEqual(entries);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `manifests/${digest}.json` });
  });

  it.each([
    ["other entries", { digest, entries: [{ path: "a.bin", size: 1, sha256: "f".repeat(64) }] }],
    ["an extra entry", { digest, entries: [...entries, { path: "b.bin", size: 1, sha256: SHA }] }],
    ["a size changed", { digest, entries: [{ path: "a.bin", size: 2, sha256: SHA }] }],
    ["bytes that are not JSON", "{"],
    ["no entries", { digest }],
  ])("refuses a stored manifest with %s, and caches nothing of it", async (_, content) => {
    s3.on(GetObjectCommand).resolvesOnce(stored(content)).resolves(stored({ digest, entries }));
    const blobs = store();
    const error = await blobs.getManifest(digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toContain(digest);
    // Restored in the store: the next read verifies it again and serves it.
    expect(await blobs.getManifest(digest)).toEqual(entries);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  it("serves only the fields the digest covers, in canonical order", async () => {
    s3.on(GetObjectCommand).resolves(stored({ digest, entries: [{ sha256: SHA, url: "https://evil.example/", size: 1, path: "a.bin" }] }));
    expect(await store().getManifest(digest)).toEqual(entries);
  });

  it.each([
    ["NoSuchKey", noSuchKey()],
    [
      "403 (no s3:ListBucket: a missing key looks forbidden)",
      new S3ServiceException({ name: "AccessDenied", $fault: "client", message: "", $metadata: { httpStatusCode: 403 } }),
    ],
  ])("answers an integrity error for a manifest that is gone (%s)", async (_, error) => {
    s3.on(GetObjectCommand).rejects(error);
    await expect(store().getManifest(digest)).rejects.toThrow(IntegrityError);
    await expect(store().getManifest(digest)).rejects.toThrow(/missing from the store/);
  });

  it("lets other store failures through as they are", async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({ name: "SlowDown", $fault: "server", message: "", $metadata: { httpStatusCode: 503 } }),
    );
    const error = await store()
      .getManifest(digest)
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(IntegrityError);
    expect((error as Error).name).toBe("SlowDown");
  });
});
