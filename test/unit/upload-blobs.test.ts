import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BlobBusyError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import { completeUpload, ensureBlobsVerified, partCount, partSizeFor, planUpload } from "../../lambdas/core/upload-blobs.js";
import { MAX_PLANNED_PARTS, S3_LIMITS } from "../../lambdas/contract/limits.js";
import type { PresignedMultipart, PresignedPut } from "../../lambdas/contract/artifacts.js";
import { BLOB_CLAIM } from "../../lambdas/settings.js";
import { fakeDeps, MIB, sha256Hex, type FakeDeps } from "../support/fakes.js";

const file = (path: string, content: string) => ({ path, size: Buffer.byteLength(content), sha256: sha256Hex(content) });

/** A blob of `size` bytes that the tests never materialise: only its declared identity matters. */
const declared = (path: string, size: number, seed = path) => ({ path, size, sha256: sha256Hex(`${seed}:${size}`) });

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps({ multipartThreshold: 8 * MIB, partSize: 5 * MIB });
});

async function verifyStored(content: string): Promise<void> {
  const f = file("x", content);
  deps.blobs.stage(f.sha256, content);
  await ensureBlobsVerified(deps, [f]);
}

describe("planUpload", () => {
  it("lists stored blobs as present and plans only the missing ones", async () => {
    await verifyStored("stored bytes");
    const stored = file("a.txt", "stored bytes");
    const missing = file("b.txt", "new bytes");

    const plan = await planUpload(deps, { files: [stored, missing] });

    expect(plan.present).toEqual([stored.sha256]);
    expect(plan.uploads.map((u) => u.sha256)).toEqual([missing.sha256]);
  });

  it("plans one upload for a blob that several paths share", async () => {
    const a = file("a.txt", "same");
    const b = file("copy/a.txt", "same");
    const plan = await planUpload(deps, { files: [a, b] });
    expect(plan.uploads).toHaveLength(1);
  });

  it("gives a presigned PUT with its headers below the threshold and multipart at it", async () => {
    const small = declared("small.bin", 8 * MIB - 1);
    const large = declared("large.bin", 8 * MIB);

    const plan = await planUpload(deps, { files: [small, large] });

    const put = plan.uploads.find((u) => u.sha256 === small.sha256) as PresignedPut;
    expect(put).toMatchObject({ method: "PUT", size: small.size, url: expect.stringContaining(`staging/${small.sha256}`) });
    expect(put.headers).toEqual({ "x-amz-checksum-sha256": Buffer.from(small.sha256, "hex").toString("base64") });
    const multipart = plan.uploads.find((u) => u.sha256 === large.sha256) as PresignedMultipart;
    expect(multipart).not.toHaveProperty("method");
    expect(multipart.multipart.partSize).toBe(5 * MIB);
    expect(multipart.multipart.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    expect(new Set(multipart.multipart.parts.map((p) => p.url)).size).toBe(2);
  });

  it("raises the part size in whole MiB so a huge file's plan has at most MAX_PLANNED_PARTS parts", async () => {
    const size = MAX_PLANNED_PARTS * 5 * MIB + 1;
    const plan = await planUpload(deps, { files: [declared("huge.bin", size)] });

    const { multipart } = plan.uploads[0] as PresignedMultipart;
    expect(multipart.partSize).toBe(6 * MIB);
    expect(multipart.parts).toHaveLength(Math.ceil(size / (6 * MIB)));
    expect(multipart.parts.length).toBeLessThanOrEqual(MAX_PLANNED_PARTS);
    expect(multipart.parts.at(-1)!.partNumber).toBe(multipart.parts.length);
  });

  it("keeps the configured part size while the file fits in MAX_PLANNED_PARTS parts", () => {
    expect(MAX_PLANNED_PARTS).toBe(1024);
    expect(partSizeFor(MAX_PLANNED_PARTS * 5 * MIB, 5 * MIB)).toBe(5 * MIB);
    expect(partCount(0, 5 * MIB)).toBe(1);
  });

  it("never plans a part larger than S3 takes (5 GiB), up to S3's largest object (5 TiB)", () => {
    const TIB = 1024 ** 4;
    for (const size of [5 * TIB, 5 * TIB - 1, 4.9 * TIB, 1000 * 5 * 1024 * MIB + 1]) {
      const partSize = partSizeFor(size, 16 * MIB);
      expect(partSize).toBeLessThanOrEqual(S3_LIMITS.maxPartSize);
      expect(partCount(size, partSize)).toBeLessThanOrEqual(MAX_PLANNED_PARTS);
      expect(partSize * partCount(size, partSize)).toBeGreaterThanOrEqual(size);
    }
    expect(partSizeFor(5 * TIB, 16 * MIB)).toBe(5 * 1024 * MIB);
    // A configured part size above S3's maximum is held to it.
    expect(partSizeFor(10 * 1024 * MIB, 6 * 1024 * MIB)).toBe(S3_LIMITS.maxPartSize);
    expect(() => partSizeFor(5 * TIB + 1, 16 * MIB)).toThrow(ValidationError);
  });

  it("refuses one sha256 declared with two sizes", async () => {
    const a = { path: "a", size: 10, sha256: sha256Hex("x") };
    const b = { path: "b", size: 11, sha256: sha256Hex("x") };
    await expect(planUpload(deps, { files: [a, b] })).rejects.toThrow(ValidationError);
  });

  it("refuses a declared size that differs from the stored blob's", async () => {
    await verifyStored("twelve bytes");
    const wrong = { path: "a", size: 99, sha256: sha256Hex("twelve bytes") };
    await expect(planUpload(deps, { files: [wrong] })).rejects.toThrow(UnprocessableError);
  });

  it("hands out the same multipart upload again so a client can resume it", async () => {
    const large = declared("large.bin", 12 * MIB);
    const first = (await planUpload(deps, { files: [large] })).uploads[0] as PresignedMultipart;
    const again = (await planUpload(deps, { files: [large] })).uploads[0] as PresignedMultipart;

    expect(again.multipart.uploadId).toBe(first.multipart.uploadId);
    expect(again.multipart.parts.map((p) => p.url)).toEqual(first.multipart.parts.map((p) => p.url));
    expect(deps.blobs.multipart.size).toBe(1);
  });
});

describe("planUpload with open uploads", () => {
  it("opens an upload for each file below the multipart threshold, leaves larger ones out", async () => {
    const plan = await planUpload(deps, {
      files: [],
      open: [
        { path: "small.bin", size: 10 },
        { path: "edge.bin", size: 8 * MIB - 1 },
        { path: "large.bin", size: 8 * MIB },
      ],
    });
    expect(plan.uploads).toEqual([]);
    expect(plan.present).toEqual([]);
    expect(plan.open!.map((o) => [o.path, o.size, o.method])).toEqual([
      ["small.bin", 10, "PUT"],
      ["edge.bin", 8 * MIB - 1, "PUT"],
    ]);
    const ids = plan.open!.map((o) => o.uploadId);
    expect(new Set(ids).size).toBe(2);
    expect(plan.open![0]!.url).toContain(`staging/open/${ids[0]}`);
    expect(deps.ledger.blobs.size).toBe(0);
  });

  it("plans hashed files as usual beside open ones, and leaves open out when not asked", async () => {
    const stored = file("stored.bin", "stored");
    await verifyStored("stored");
    const plan = await planUpload(deps, { files: [stored], open: [{ path: "new.bin", size: 3 }] });
    expect(plan.present).toEqual([stored.sha256]);
    expect(plan.open).toHaveLength(1);
    expect((await planUpload(deps, { files: [stored] })).open).toBeUndefined();
  });
});

describe("ensureBlobsVerified with open uploads", () => {
  async function opened(content: string) {
    const plan = await planUpload(deps, { files: [], open: [{ path: "x", size: Buffer.byteLength(content) }] });
    const { uploadId } = plan.open![0]!;
    deps.blobs.objects.set(`staging/open/${uploadId}`, Buffer.from(content));
    return uploadId;
  }

  it("verifies the bytes an open upload carried and makes them the blob", async () => {
    const f = file("w.bin", "weights");
    const uploadId = await opened("weights");

    await ensureBlobsVerified(deps, [{ ...f, uploadId }]);

    expect(deps.blobs.blob(f.sha256)?.toString()).toBe("weights");
    expect(deps.blobs.objects.has(`staging/open/${uploadId}`)).toBe(false);
    expect(await deps.ledger.verifiedBlobs([f.sha256])).toEqual(new Map([[f.sha256, f.size]]));
  });

  it("refuses other bytes than declared with 422, deletes them and keeps the blob unverified", async () => {
    const f = file("w.bin", "weights");
    const uploadId = await opened("weightz");

    const error = await ensureBlobsVerified(deps, [{ ...f, uploadId }]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("w.bin");
    expect(deps.blobs.objects.has(`staging/open/${uploadId}`)).toBe(false);
    expect(deps.blobs.blob(f.sha256)).toBeUndefined();
    expect(deps.ledger.blobs.has(f.sha256)).toBe(false);
  });

  it("names a file whose open upload holds nothing", async () => {
    const f = file("w.bin", "weights");
    const error = await ensureBlobsVerified(deps, [{ ...f, uploadId: "01J00000000000000000000000" }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("w.bin (sha256");
  });

  it("takes the first named source that holds the bytes: a later open upload, or the staged PUT", async () => {
    const f = file("w.bin", "weights");
    const wrong = await opened("weightz");
    const right = await opened("weights");
    await ensureBlobsVerified(deps, [
      { ...f, uploadId: "01J00000000000000000000000" },
      { ...f, path: "b.bin", uploadId: wrong },
      { ...f, path: "c.bin", uploadId: right },
    ]);
    expect(deps.blobs.blob(f.sha256)?.toString()).toBe("weights");
    expect([...deps.blobs.objects.keys()].filter((k) => k.startsWith("staging/"))).toEqual([]);

    const g = file("g.bin", "gradients");
    deps.blobs.stage(g.sha256, "gradients");
    await ensureBlobsVerified(deps, [{ ...g, uploadId: "01J00000000000000000000001" }]);
    expect(deps.blobs.blob(g.sha256)?.toString()).toBe("gradients");
    expect(deps.blobs.staged(g.sha256)).toBeUndefined();
  });

  it("reports other bytes rather than nothing when no source holds the declared ones", async () => {
    const f = file("w.bin", "weights");
    const wrong = await opened("weightz");
    const error = await ensureBlobsVerified(deps, [{ ...f, uploadId: wrong }]).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`uploaded bytes have sha256 ${sha256Hex("weightz")}`);
    expect(deps.ledger.blobs.has(f.sha256)).toBe(false);
  });

  it("deletes open uploads of a blob that was stored already, and of a second copy of the same bytes", async () => {
    const stored = file("stored.bin", "stored");
    await verifyStored("stored");
    const late = await opened("stored");
    const fresh = file("a.bin", "fresh");
    const first = await opened("fresh");
    const second = await opened("fresh");

    await ensureBlobsVerified(deps, [
      { ...stored, uploadId: late },
      { ...fresh, uploadId: first },
      { ...fresh, path: "b.bin", uploadId: second },
    ]);

    expect(deps.blobs.blob(fresh.sha256)?.toString()).toBe("fresh");
    expect([...deps.blobs.objects.keys()].filter((k) => k.startsWith("staging/"))).toEqual([]);
  });
});

describe("completeUpload", () => {
  const partSize = 5 * MIB;
  const bytes = Buffer.alloc(12 * MIB, 7);
  const sha256 = sha256Hex(bytes);

  async function startUpload(): Promise<string> {
    const plan = await planUpload(deps, { files: [{ path: "model.bin", size: bytes.length, sha256 }] });
    return (plan.uploads[0] as PresignedMultipart).multipart.uploadId;
  }

  function sendParts(uploadId: string, content: Buffer = bytes) {
    return [0, 1, 2].map((i) => ({
      partNumber: i + 1,
      etag: deps.blobs.uploadPart(uploadId, i + 1, content.subarray(i * partSize, (i + 1) * partSize)),
    }));
  }

  it("assembles and verifies the blob, then forgets the upload", async () => {
    const uploadId = await startUpload();
    const parts = sendParts(uploadId).reverse();

    const done = await completeUpload(deps, { sha256, uploadId, parts });

    expect(done).toEqual({ sha256, size: bytes.length, verified: true, alreadyPresent: false });
    expect(deps.blobs.blob(sha256)?.equals(bytes)).toBe(true);
    expect(await deps.ledger.verifiedBlobs([sha256])).toEqual(new Map([[sha256, bytes.length]]));
    expect(await deps.ledger.getMultipartUpload(sha256, uploadId)).toBeUndefined();
    expect((await planUpload(deps, { files: [{ path: "m", size: bytes.length, sha256 }] })).present).toEqual([sha256]);
  });

  it.each([
    ["a missing part", [1, 2]],
    ["a repeated part", [1, 2, 2]],
    ["a part beyond the last", [1, 2, 3, 4]],
    ["numbering from zero", [0, 1, 2]],
  ])("refuses %s", async (_, numbers) => {
    const uploadId = await startUpload();
    const parts = numbers.map((partNumber) => ({ partNumber, etag: `"e${partNumber}"` }));
    await expect(completeUpload(deps, { sha256, uploadId, parts })).rejects.toThrow(ValidationError);
    expect(deps.ledger.blobs.has(sha256)).toBe(false);
  });

  it("answers a retried completion of a finished upload with the verified blob", async () => {
    const uploadId = await startUpload();
    const parts = sendParts(uploadId);
    await completeUpload(deps, { sha256, uploadId, parts });

    const again = await completeUpload(deps, { sha256, uploadId, parts });

    expect(again).toEqual({ sha256, size: bytes.length, verified: true, alreadyPresent: true });
  });

  it("answers 404 for an upload it does not know", async () => {
    await expect(completeUpload(deps, { sha256, uploadId: "nope", parts: [{ partNumber: 1, etag: "e" }] })).rejects.toThrow(NotFoundError);
  });

  it("aborts a second upload of a blob that is already verified and reports it present", async () => {
    const uploadId = await startUpload();
    await deps.ledger.verify(sha256, bytes.length);
    const parts = sendParts(uploadId);

    const done = await completeUpload(deps, { sha256, uploadId, parts });

    expect(done.alreadyPresent).toBe(true);
    expect(deps.blobs.multipart.has(uploadId)).toBe(false);
    expect(deps.blobs.blob(sha256)).toBeUndefined();
    expect(await deps.ledger.getMultipartUpload(sha256, uploadId)).toBeUndefined();
  });

  it("answers 409 blob_busy while another upload of the blob is being verified", async () => {
    const uploadId = await startUpload();
    await deps.ledgerFor({ holder: "other" }).claimBlob(sha256, bytes.length, deps.clock.now().toISOString());
    const error = await completeUpload(deps, { sha256, uploadId, parts: sendParts(uploadId) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobBusyError);
    expect(error).toMatchObject({ code: "blob_busy", message: `sha256 ${sha256} is being verified by another upload; retry shortly` });
    expect(deps.blobs.multipart.has(uploadId)).toBe(true);
  });

  it("rejects other bytes with 422, deletes them and releases the claim", async () => {
    const uploadId = await startUpload();
    const other = Buffer.alloc(bytes.length, 8);

    await expect(completeUpload(deps, { sha256, uploadId, parts: sendParts(uploadId, other) })).rejects.toThrow(UnprocessableError);

    expect(deps.blobs.blob(sha256)).toBeUndefined();
    expect(deps.ledger.blobs.has(sha256)).toBe(false);
    expect(await deps.ledger.verifiedBlobs([sha256])).toEqual(new Map());
    expect(await deps.ledger.getMultipartUpload(sha256, uploadId)).toBeUndefined();
  });

  it("lets the client upload again after its bytes were rejected", async () => {
    const uploadId = await startUpload();
    const other = Buffer.alloc(bytes.length, 8);
    await expect(completeUpload(deps, { sha256, uploadId, parts: sendParts(uploadId, other) })).rejects.toThrow(UnprocessableError);

    const retry = await startUpload();
    const done = await completeUpload(deps, { sha256, uploadId: retry, parts: sendParts(retry) });

    expect(done.verified).toBe(true);
    expect(deps.blobs.blob(sha256)?.equals(bytes)).toBe(true);
  });

  it("keeps the upload open when the store refuses the part list, so the client can retry", async () => {
    const uploadId = await startUpload();
    const parts = sendParts(uploadId);
    const wrongEtag = parts.map((p, i) => (i === 1 ? { ...p, etag: '"bogus"' } : p));

    await expect(completeUpload(deps, { sha256, uploadId, parts: wrongEtag })).rejects.toThrow(UnprocessableError);
    expect(deps.ledger.blobs.has(sha256)).toBe(false);

    const done = await completeUpload(deps, { sha256, uploadId, parts });
    expect(done.alreadyPresent).toBe(false);
  });
});

describe("ensureBlobsVerified", () => {
  it("promotes a staged blob whose bytes match", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weights");

    await ensureBlobsVerified(deps, [f]);

    expect(deps.blobs.blob(f.sha256)?.toString()).toBe("weights");
    expect(deps.blobs.staged(f.sha256)).toBeUndefined();
    expect(await deps.ledger.verifiedBlobs([f.sha256])).toEqual(new Map([[f.sha256, f.size]]));
  });

  it("names every path that was never uploaded", async () => {
    const a = file("dir/a.bin", "a");
    const b = file("dir/b.bin", "b");
    const error = await ensureBlobsVerified(deps, [a, b]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("dir/a.bin");
    expect((error as Error).message).toContain("dir/b.bin");
  });

  it("deletes bytes that do not match their declared sha256 and keeps the blob unverified", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weightz");

    const error = await ensureBlobsVerified(deps, [f]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("w.bin");
    expect(deps.blobs.staged(f.sha256)).toBeUndefined();
    expect(deps.blobs.blob(f.sha256)).toBeUndefined();
    expect(deps.ledger.blobs.has(f.sha256)).toBe(false);
  });

  describe("while another request verifies the same blob", () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Another process claims the blob; `finish` marks it verified as that process would. */
    async function claimElsewhere() {
      const f = file("w.bin", "weights");
      deps.blobs.stage(f.sha256, "weights");
      const other = deps.ledgerFor({ holder: "other" });
      const claimed = await other.claimBlob(f.sha256, f.size, deps.clock.now().toISOString());
      if (claimed.status !== "claimed") throw new Error("not claimed");
      return Object.assign(f, { finish: (size = f.size) => other.markBlobVerified(claimed.claim, size, deps.clock.now().toISOString()) });
    }

    it("waits for it to finish and then accepts the blob", async () => {
      const f = await claimElsewhere();
      let settled = false;
      const pending = ensureBlobsVerified(deps, [f]).finally(() => (settled = true));

      await vi.advanceTimersByTimeAsync(1000);
      expect(settled).toBe(false);
      await f.finish();
      await vi.advanceTimersByTimeAsync(200);

      expect(settled).toBe(true);
      await expect(pending).resolves.toBeUndefined();
    });

    it("still refuses a declared size other than the one the other request verified", async () => {
      const f = await claimElsewhere();
      const outcome = ensureBlobsVerified(deps, [{ path: f.path, sha256: f.sha256, size: f.size + 1 }]).catch((e: unknown) => e);

      await vi.advanceTimersByTimeAsync(300);
      await f.finish();
      await vi.advanceTimersByTimeAsync(200);

      expect(await outcome).toBeInstanceOf(UnprocessableError);
    });

    it("answers 409 blob_busy when it does not finish within 5 seconds, leaving its upload alone", async () => {
      const f = await claimElsewhere();
      const outcome = ensureBlobsVerified(deps, [f]).catch((e: unknown) => e);

      await vi.advanceTimersByTimeAsync(5100);

      const error = await outcome;
      expect(error).toBeInstanceOf(BlobBusyError);
      expect((error as Error).message).toMatch(/^blobs are being verified by another upload; retry shortly: /);
      expect((error as Error).message).toContain("w.bin");
      expect(deps.blobs.staged(f.sha256)).toBeDefined();
    });
  });

  it("refuses a declared size other than the one verified between its read and its claim", async () => {
    const f = file("w.bin", "weights");
    const verifiedMeanwhile = vi.spyOn(deps.ledger, "verifiedBlobs").mockResolvedValueOnce(new Map());
    await deps.ledger.verify(f.sha256, f.size);

    await expect(ensureBlobsVerified(deps, [{ ...f, size: f.size + 1 }])).rejects.toThrow(UnprocessableError);
    expect(verifiedMeanwhile).toHaveBeenCalled();
  });
});

describe("blob claims across processes", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Lets `ms` pass on both the registry's clock and the timers that renew claims. */
  const pass = async (ms: number) => {
    for (let step = 0; step < ms; step += 1000) {
      deps.clock.advance(1000);
      await vi.advanceTimersByTimeAsync(1000);
    }
  };

  it("takes over a claim whose holder stopped renewing it, once its lease ran out", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weights");
    await deps.ledgerFor({ holder: "dead" }).claimBlob(f.sha256, f.size, deps.clock.now().toISOString());
    deps.clock.advance(BLOB_CLAIM.leaseMs - 1);
    const early = ensureBlobsVerified(deps, [f]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5100);
    expect(await early).toBeInstanceOf(BlobBusyError);

    deps.clock.advance(2);
    await ensureBlobsVerified(deps, [f]);

    expect(await deps.ledger.verifiedBlobs([f.sha256])).toEqual(new Map([[f.sha256, f.size]]));
  });

  it("after a restart, takes over at once every claim of the crashed process when it is the table's only user", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weights");
    await deps.ledgerFor({ holder: "crashed" }).claimBlob(f.sha256, f.size, deps.clock.now().toISOString());
    const restarted = { ...deps, ledger: deps.ledgerFor({ holder: "restarted", soleHolder: true }) };

    await ensureBlobsVerified(restarted, [f]);

    expect(await deps.ledger.verifiedBlobs([f.sha256])).toEqual(new Map([[f.sha256, f.size]]));
  });

  it("renews its claim while a long verification runs, so nobody takes it over", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weights");
    const other = deps.ledgerFor({ holder: "other" });
    const attempts: string[] = [];
    deps.blobs.afterHash = async () => {
      // Hashing takes four leases; another process keeps trying meanwhile.
      for (let i = 0; i < 4; i++) {
        await pass(BLOB_CLAIM.leaseMs);
        attempts.push((await other.claimBlob(f.sha256, f.size, deps.clock.now().toISOString())).status);
      }
    };

    await ensureBlobsVerified(deps, [f]);

    expect(attempts).toEqual(["busy", "busy", "busy", "busy"]);
    expect(deps.blobs.blob(f.sha256)?.toString()).toBe("weights");
    expect(await deps.ledger.verifiedBlobs([f.sha256])).toEqual(new Map([[f.sha256, f.size]]));
  });

  it("a holder cut off from the table stops before its lease runs out, writes nothing, and answers blob_busy", async () => {
    const f = file("w.bin", "weights");
    deps.blobs.stage(f.sha256, "weights");
    vi.spyOn(deps.ledger, "renewBlobClaim").mockRejectedValue(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }));
    let takenOver: string | undefined;
    deps.blobs.afterHash = async () => {
      await pass(BLOB_CLAIM.leaseMs + 1000);
      // The lease ran out: another process takes the claim and verifies the blob its own way.
      const other = deps.ledgerFor({ holder: "other" });
      const claimed = await other.claimBlob(f.sha256, f.size, deps.clock.now().toISOString());
      takenOver = claimed.status;
      deps.blobs.objects.set(`blobs/${f.sha256}`, Buffer.from("weights"));
      if (claimed.status === "claimed") await other.markBlobVerified(claimed.claim, f.size, deps.clock.now().toISOString());
    };

    const error = await ensureBlobsVerified(deps, [f]).catch((e: unknown) => e);

    expect(takenOver).toBe("claimed");
    // Verified by the other process meanwhile: the commit goes on with it.
    expect(error).toBeUndefined();
    // The cut-off holder promoted nothing: its staged bytes are where the client put them.
    expect(deps.blobs.staged(f.sha256)?.toString()).toBe("weights");
  });

  it("a holder whose claim was taken over mid-verification deletes and marks nothing", async () => {
    const content = Buffer.alloc(10 * MIB, 3);
    const sha = sha256Hex(content);
    // Other bytes than declared: a holder that still owned its claim would delete them.
    const sent = Buffer.alloc(10 * MIB, 4);
    const plan = await planUpload(deps, { files: [{ path: "big.bin", size: content.length, sha256: sha }] });
    const { uploadId, parts } = (plan.uploads[0] as PresignedMultipart).multipart;
    const etags = parts.map((part) => {
      const start = (part.partNumber - 1) * 5 * MIB;
      return { partNumber: part.partNumber, etag: deps.blobs.uploadPart(uploadId, part.partNumber, sent.subarray(start, start + 5 * MIB)) };
    });
    let renewals = 0;
    const renew = deps.ledger.renewBlobClaim.bind(deps.ledger);
    vi.spyOn(deps.ledger, "renewBlobClaim").mockImplementation(async (claim, at) => {
      renewals += 1;
      // Between two renewals, someone took the claim over (the holder's clock had jumped).
      deps.ledger.blobs.set(sha, { ...deps.ledger.blobs.get(sha)!, claimId: "someone-else" });
      return renew(claim, at);
    });
    deps.blobs.afterHash = () => pass(BLOB_CLAIM.leaseMs / 2);

    const error = await completeUpload(deps, { sha256: sha, uploadId, parts: etags }).catch((e: unknown) => e);

    expect(renewals).toBe(1);
    expect(error).toBeInstanceOf(BlobBusyError);
    // The new holder's claim is intact, nothing is marked verified behind its back, and the
    // blob's key (which the new holder may be writing) was left alone.
    expect(deps.ledger.blobs.get(sha)).toMatchObject({ state: "verifying", claimId: "someone-else" });
    expect(await deps.ledger.verifiedBlobs([sha])).toEqual(new Map());
    expect(deps.blobs.blob(sha)?.equals(sent)).toBe(true);
  });
});
