import { createHash } from "node:crypto";
import { mkdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { ConflictError } from "../lambdas/core/errors.js";
import type { StagedBlobCheck } from "../lambdas/core/ports.js";
import { blobKey, S3BlobStore, stagedKeyOf, type BlobStoreOptions } from "../lambdas/adapters/s3/blob-store.js";
import { identityOf, sameIdentity, type EmulatorLedger, type FileIdentity } from "./emulator-ledger.js";

const READ_CHUNK = 8 * 1024 * 1024;

type FileCheck =
  | { status: "verified"; generation: number; identity: FileIdentity; from: "ingest" | "file" }
  | { status: "mismatch"; sha256: string; size: number }
  /** The file changed while it was hashed. */
  | { status: "changed" }
  /** Not where the store should keep it, or being written: let the HTTP path decide. */
  | { status: "unknown" };

export interface EmulatorBlobStoreHooks {
  /** Runs between the hash and the promotion (tests use it to swap the staged bytes). */
  beforePromote?(stagedPath: string): Promise<void> | void;
}

/** How each verification went, for tests and the benchmark. */
export interface EmulatorBlobStoreStats {
  /** Verified from the SHA-256 taken while the emulator wrote the file. */
  ingestHashes: number;
  /** Verified by reading the file from the emulator's directory. */
  fileHashes: number;
  /** Promoted by renaming the hashed file into place (no byte copy). */
  renames: number;
  /** Left to the HTTP path (GetObject, CopyObject with CopySourceIfMatch). */
  fallbacks: number;
}

/**
 * The local stack's BlobStore: the S3 emulator runs in this process, so verification reads
 * what the emulator wrote straight from its directory instead of over HTTP, and promotes a
 * verified staging object by renaming the very file it hashed (no copy). It never trusts
 * more than the HTTP path: the bytes are hashed (while the emulator wrote them, or from the
 * file), and the promotion happens only if no write to that object started since and the
 * file's identity (inode, size, mtime, ctime) is the one that was hashed; a change in between
 * is a conflict, as a failed CopySourceIfMatch is. Whatever it does not recognise (a file not
 * where the store should keep it, a write in flight) goes to the HTTP path of S3BlobStore.
 */
export class EmulatorBlobStore extends S3BlobStore {
  readonly stats: EmulatorBlobStoreStats = { ingestHashes: 0, fileHashes: 0, renames: 0, fallbacks: 0 };

  constructor(
    client: S3Client,
    options: BlobStoreOptions,
    private readonly ledger: EmulatorLedger,
    private readonly hooks: EmulatorBlobStoreHooks = {},
  ) {
    super(client, options);
  }

  override async promoteStagedBlob(sha256: string, size: number, uploadId?: string, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const bucket = this.options.bucket;
    const stagedKey = stagedKeyOf(sha256, uploadId);
    const staged = this.ledger.objectPath(bucket, stagedKey);
    const check = await this.checkFile(staged, sha256, size);
    if (check.status === "unknown") {
      this.stats.fallbacks += 1;
      return super.promoteStagedBlob(sha256, size, uploadId, signal);
    }
    if (check.status === "changed") throw changed(sha256);
    // As the HTTP path: nothing is written once the blob's claim may have passed to another verifier.
    signal?.throwIfAborted();
    if (check.status === "mismatch") {
      await this.deleteObject(stagedKey);
      return { status: "mismatch", sha256: check.sha256, size: check.size };
    }
    await this.hooks.beforePromote?.(staged);
    signal?.throwIfAborted();

    // From here to the rename nothing yields to the event loop, so the emulator (same
    // process) cannot start a write in between: what is renamed is what was hashed.
    const target = this.ledger.objectPath(bucket, blobKey(sha256));
    let now: FileIdentity | undefined;
    try {
      now = identityOf(statSync(staged, { bigint: true }));
    } catch {
      now = undefined;
    }
    if (
      now === undefined ||
      this.ledger.busy(staged) ||
      // A write to the blob's own key in flight (a multipart completion) would land on the renamed file.
      this.ledger.busy(target) ||
      this.ledger.generation(staged) !== check.generation ||
      !sameIdentity(now, check.identity)
    ) {
      throw changed(sha256);
    }
    mkdirSync(dirname(target), { recursive: true });
    for (const side of ["metadata.json", "object.md5"] as const) {
      const from = this.ledger.sidePath(bucket, stagedKey, side);
      const to = this.ledger.sidePath(bucket, blobKey(sha256), side);
      try {
        renameSync(from, to);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        // The store derives a missing MD5 from the bytes; a stale one must not stay.
        try {
          unlinkSync(to);
        } catch {
          // none there either
        }
      }
    }
    renameSync(staged, target);
    this.ledger.moved(staged, target);
    this.stats.renames += 1;
    return { status: "verified" };
  }

  override async verifyBlob(sha256: string, size: number, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const path = this.ledger.objectPath(this.options.bucket, blobKey(sha256));
    const check = await this.checkFile(path, sha256, size);
    if (check.status === "unknown") {
      this.stats.fallbacks += 1;
      return super.verifyBlob(sha256, size, signal);
    }
    if (check.status === "changed") throw changed(sha256);
    signal?.throwIfAborted();
    if (check.status === "mismatch") {
      await this.deleteObject(blobKey(sha256));
      return { status: "mismatch", sha256: check.sha256, size: check.size };
    }
    return { status: "verified" };
  }

  /** The SHA-256 and size of the object file at `path`, if it holds still while they are taken. */
  private async checkFile(path: string, sha256: string, size: number): Promise<FileCheck> {
    if (this.ledger.busy(path)) return { status: "unknown" };
    const generation = this.ledger.generation(path);
    let handle;
    try {
      handle = await open(path, "r");
    } catch {
      return { status: "unknown" };
    }
    try {
      const before = identityOf(await handle.stat({ bigint: true }));
      let actual: { sha256: string; size: number };
      let from: "ingest" | "file";
      const ingested = this.ledger.ingested(path);
      if (ingested && ingested.generation === generation && sameIdentity(ingested.identity, before)) {
        actual = { sha256: ingested.sha256, size: ingested.size };
        from = "ingest";
      } else {
        const hash = createHash("sha256");
        const buffer = Buffer.allocUnsafe(READ_CHUNK);
        let read = 0;
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, read);
          if (bytesRead === 0) break;
          hash.update(buffer.subarray(0, bytesRead));
          read += bytesRead;
        }
        actual = { sha256: hash.digest("hex"), size: read };
        from = "file";
      }
      const after = identityOf(await handle.stat({ bigint: true }));
      const atPath = await stat(path, { bigint: true }).then(identityOf, () => undefined);
      if (
        !sameIdentity(before, after) ||
        atPath === undefined ||
        !sameIdentity(before, atPath) ||
        this.ledger.busy(path) ||
        this.ledger.generation(path) !== generation
      ) {
        return { status: "changed" };
      }
      if (from === "ingest") this.stats.ingestHashes += 1;
      else this.stats.fileHashes += 1;
      if (actual.sha256 !== sha256 || actual.size !== size) return { status: "mismatch", ...actual };
      return { status: "verified", generation, identity: before, from };
    } finally {
      await handle.close();
    }
  }
}

function changed(sha256: string): ConflictError {
  return new ConflictError(`the upload of sha256 ${sha256} changed while it was verified; retry`);
}
