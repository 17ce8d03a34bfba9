import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
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
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { ulid } from "ulid";
import { ConflictError, UnprocessableError } from "../../core/errors.js";
import { missingManifest, storedManifestText, verifyStoredManifest } from "../../core/manifest.js";
import type { ManifestEntry } from "../../core/model.js";
import type { BlobStore, ObjectHead, PresignedRequest, StagedBlobCheck } from "../../core/ports.js";
import { GetPresigner } from "./get-presigner.js";

export interface BlobStoreOptions {
  bucket: string;
  /** Lifetime of every presigned URL. */
  urlExpirySeconds: number;
  /**
   * Bind the declared SHA-256 into presigned PUTs (`x-amz-checksum-sha256`), so that S3
   * itself refuses other bytes. Real S3 verifies it; the local emulators do not.
   */
  signChecksums: boolean;
}

export const blobKey = (sha256: string) => `blobs/${sha256}`;
export const stagingKey = (sha256: string) => `staging/${sha256}`;
/** Open uploads live beside staged ones, so the same grants and lifecycle rule cover them. */
export const openUploadKey = (uploadId: string) => `staging/open/${uploadId}`;
/** Where the single-PUT upload of a blob waits for verification. */
export const stagedKeyOf = (sha256: string, uploadId?: string) => (uploadId === undefined ? stagingKey(sha256) : openUploadKey(uploadId));
const manifestKey = (digest: string) => `manifests/${digest}.json`;

/** Manifests are immutable (named by their digest), so a warm function can keep them. */
const MANIFEST_CACHE_ENTRIES = 64;

export class S3BlobStore implements BlobStore {
  private readonly manifests = new Map<string, ManifestEntry[]>();
  private readonly gets: GetPresigner;

  constructor(
    private readonly client: S3Client,
    protected readonly options: BlobStoreOptions,
  ) {
    this.gets = new GetPresigner(client, options.bucket);
  }

  async presignBlobPut(sha256: string, options: { bindChecksum?: boolean } = {}): Promise<PresignedRequest> {
    const checksum = hexToBase64(sha256);
    const bind = this.options.signChecksums && (options.bindChecksum ?? true);
    const command = new PutObjectCommand({
      Bucket: this.options.bucket,
      Key: stagingKey(sha256),
      ...(bind ? { ChecksumSHA256: checksum } : {}),
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: this.options.urlExpirySeconds,
      ...(bind
        ? {
            signableHeaders: new Set(["x-amz-checksum-sha256"]),
            unhoistableHeaders: new Set(["x-amz-checksum-sha256"]),
          }
        : {}),
    });
    return { url, headers: bind ? { "x-amz-checksum-sha256": checksum } : {} };
  }

  async presignOpenPut(): Promise<PresignedRequest & { uploadId: string }> {
    const uploadId = ulid();
    const url = await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.options.bucket, Key: openUploadKey(uploadId) }), {
      expiresIn: this.options.urlExpirySeconds,
    });
    return { uploadId, url, headers: {} };
  }

  async discardOpenUpload(uploadId: string): Promise<void> {
    await this.deleteObject(openUploadKey(uploadId));
  }

  async createMultipartUpload(sha256: string): Promise<{ uploadId: string; key: string }> {
    // Multipart uploads write the blob's own key: only this server can complete them, and
    // it does so holding the blob's claim, then hashes the result before trusting it.
    const key = blobKey(sha256);
    const result = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.options.bucket, Key: key }));
    if (!result.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
    return { uploadId: result.UploadId, key };
  }

  async presignPartPut(key: string, uploadId: string, partNumber: number): Promise<PresignedRequest> {
    const url = await getSignedUrl(
      this.client,
      new UploadPartCommand({ Bucket: this.options.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }),
      { expiresIn: this.options.urlExpirySeconds },
    );
    return { url, headers: {} };
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.options.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (error) {
      if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode ?? 500) < 500) {
        throw new UnprocessableError(`the store refused to complete the upload: ${error.name}`, { cause: error });
      }
      throw error;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) throw error;
    }
  }

  async promoteStagedBlob(sha256: string, size: number, uploadId?: string, signal?: AbortSignal): Promise<StagedBlobCheck> {
    if (uploadId !== undefined) return this.promoteOpenUpload(sha256, size, uploadId, signal);
    const staged = stagingKey(sha256);
    const trusted = await this.storeVerifiedChecksum(staged, sha256, size);
    const check = trusted ?? (await this.hashObject(staged, sha256, size));
    if (check.status === "missing") return check;
    // Hashing may take minutes: write nothing once the blob's claim may have passed to another verifier.
    signal?.throwIfAborted();
    if (check.status === "mismatch") {
      await this.deleteObject(staged);
      return check;
    }
    // Copy only the bytes that were hashed: a stale URL may have overwritten the staging key since.
    await this.copyObject(staged, blobKey(sha256), check.etag, sha256);
    await this.deleteObject(staged);
    return { status: "verified" };
  }

  /**
   * An open upload was sent before its hash was known, so no checksum was signed in. S3
   * computes a SHA-256 as it copies the bytes to the blob's key (nothing is read here);
   * a store that reports none has the copy hashed. The blob's claim is held meanwhile, and
   * no manifest names the key before it is marked verified; a mismatch deletes the copy.
   */
  private async promoteOpenUpload(sha256: string, size: number, uploadId: string, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const source = openUploadKey(uploadId);
    const target = blobKey(sha256);
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: source }));
    } catch (error) {
      if (isMissing(error)) return { status: "missing" };
      throw error;
    }
    if (head.ContentLength !== size || !head.ETag) {
      await this.deleteObject(source);
      return { status: "mismatch", size: head.ContentLength ?? 0 };
    }
    signal?.throwIfAborted();
    const copied = await this.copyObject(source, target, head.ETag, sha256, "SHA256");
    const reported = copied.CopyObjectResult?.ChecksumSHA256;
    const check =
      reported === undefined
        ? await this.hashObject(target, sha256, size)
        : reported === hexToBase64(sha256)
          ? ({ status: "verified" } as const)
          : ({ status: "mismatch", sha256: Buffer.from(reported, "base64").toString("hex"), size } as const);
    // The blob's key may hold another verifier's bytes by now: leave it to that verifier.
    signal?.throwIfAborted();
    if (check.status !== "verified") await this.deleteObject(target);
    await this.deleteObject(source);
    return check.status === "verified" ? { status: "verified" } : check;
  }

  private async copyObject(source: string, target: string, etag: string, sha256: string, checksum?: "SHA256") {
    try {
      return await this.client.send(
        new CopyObjectCommand({
          Bucket: this.options.bucket,
          Key: target,
          CopySource: `${this.options.bucket}/${source}`,
          CopySourceIfMatch: etag,
          ...(checksum ? { ChecksumAlgorithm: checksum } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) {
        throw new ConflictError(`the upload of sha256 ${sha256} changed while it was verified; retry`, { cause: error });
      }
      throw error;
    }
  }

  async verifyBlob(sha256: string, size: number, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const key = blobKey(sha256);
    const check = await this.hashObject(key, sha256, size);
    // Deleting the blob's key once another verifier may own it could delete bytes it verified.
    signal?.throwIfAborted();
    if (check.status === "mismatch") await this.deleteObject(key);
    return check.status === "verified" ? { status: "verified" } : check;
  }

  async presignBlobGet(sha256: string, filename: string): Promise<string> {
    return this.gets.url(
      blobKey(sha256),
      { "response-content-disposition": `attachment; filename="${filename.replace(/["\\\r\n]/g, "_")}"` },
      this.options.urlExpirySeconds,
    );
  }

  async deleteBlob(sha256: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: blobKey(sha256) }), { abortSignal: signal });
  }

  async putManifest(digest: string, entries: ManifestEntry[]): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: manifestKey(digest),
        Body: storedManifestText(digest, entries),
        ContentType: "application/json",
      }),
    );
  }

  /** Verified against `digest` on every read from the store; the cache holds only verified manifests. */
  async getManifest(digest: string): Promise<ManifestEntry[]> {
    const cached = this.manifests.get(digest);
    if (cached) return cached;
    let text: string;
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: manifestKey(digest) }));
      text = await result.Body!.transformToString();
    } catch (error) {
      // Without s3:ListBucket (infra/function-access.ts grants none), S3 answers a missing key with 403.
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (error instanceof NoSuchKey || status === 404 || status === 403) throw missingManifest(digest, { cause: error });
      throw error;
    }
    const entries = verifyStoredManifest(digest, text);
    if (this.manifests.size >= MANIFEST_CACHE_ENTRIES) {
      this.manifests.delete(this.manifests.keys().next().value!);
    }
    this.manifests.set(digest, entries);
    return entries;
  }

  async headReference(bucket: string, key: string): Promise<ObjectHead | undefined> {
    if (bucket === this.options.bucket) {
      // The registry's own objects are reached through versions, never as references.
      throw new UnprocessableError(`s3://${bucket}/${key}: references must point outside the registry's bucket`);
    }
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        size: head.ContentLength ?? 0,
        etag: stripQuotes(head.ETag ?? ""),
        ...(head.VersionId && head.VersionId !== "null" ? { versionId: head.VersionId } : {}),
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async presignReferenceGet(bucket: string, key: string, versionId?: string): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }), {
      expiresIn: this.options.urlExpirySeconds,
    });
  }

  /**
   * S3 verifies a SHA-256 checksum sent with a PUT and reports it back; when it matches the
   * declared one the bytes need not be read again. Emulators report none, so they are hashed.
   */
  private async storeVerifiedChecksum(
    key: string,
    sha256: string,
    size: number,
  ): Promise<{ status: "verified"; etag: string } | { status: "missing" } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key, ChecksumMode: "ENABLED" }));
      const fullObject = head.ChecksumType === undefined || head.ChecksumType === "FULL_OBJECT";
      if (head.ChecksumSHA256 === hexToBase64(sha256) && fullObject && head.ContentLength === size && head.ETag) {
        return { status: "verified", etag: head.ETag };
      }
      return undefined;
    } catch (error) {
      if (isMissing(error)) return { status: "missing" };
      throw error;
    }
  }

  private async hashObject(
    key: string,
    sha256: string,
    size: number,
  ): Promise<{ status: "verified"; etag: string } | { status: "missing" } | { status: "mismatch"; sha256: string; size: number }> {
    let result;
    try {
      result = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
    } catch (error) {
      if (isMissing(error)) return { status: "missing" };
      throw error;
    }
    const hash = createHash("sha256");
    let actualSize = 0;
    for await (const chunk of result.Body as Readable) {
      hash.update(chunk as Buffer);
      actualSize += (chunk as Buffer).length;
    }
    const actual = hash.digest("hex");
    if (actual !== sha256 || actualSize !== size) return { status: "mismatch", sha256: actual, size: actualSize };
    return { status: "verified", etag: result.ETag ?? "" };
  }

  protected async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, "hex").toString("base64");
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

function isMissing(error: unknown): boolean {
  if (error instanceof NoSuchKey || error instanceof NotFound) return true;
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  return status === 404 || status === 403 || (error as { name?: string }).name === "NoSuchBucket";
}
