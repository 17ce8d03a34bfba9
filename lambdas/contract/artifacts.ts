import * as z from "zod";
import { filePath, manifestPathClashes, metadata, name, settableAlias, sha256, size, text } from "./common.js";
import { S3_LIMITS } from "./limits.js";

export const MAX_FILES_PER_REQUEST = 10_000;
export const MAX_ALIASES_PER_REQUEST = 10;

function uniquePaths(files: { path: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const [i, file] of files.entries()) {
    if (seen.has(file.path)) {
      ctx.addIssue({ code: "custom", message: `duplicate path ${file.path}`, path: [i, "path"] });
    }
    seen.add(file.path);
  }
}

export const blobFile = z.strictObject({ path: filePath, size, sha256 });

/** Open uploads in one plan: each carries a presigned URL, and a Lambda answer is capped at 6 MB. */
export const MAX_OPEN_UPLOADS_PER_REQUEST = 1_000;

/** Names an open upload: the registry hands these out in upload plans (a ULID). */
export const openUploadId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "must be an uploadId from an upload plan's open uploads");

/**
 * `files` are blobs named by their SHA-256; `open` asks for uploads of files whose hash the
 * client has not finished yet, so their bytes can be sent while they are hashed.
 */
export const uploadPlanRequest = z
  .strictObject({
    files: z.array(blobFile).max(MAX_FILES_PER_REQUEST).superRefine(uniquePaths).default([]),
    open: z
      .array(z.strictObject({ path: filePath, size }))
      .max(MAX_OPEN_UPLOADS_PER_REQUEST)
      .superRefine(uniquePaths)
      .optional(),
  })
  .refine((request) => request.files.length + (request.open?.length ?? 0) > 0, {
    message: "name at least one file in files or open",
    path: ["files"],
  });
export type UploadPlanRequest = z.infer<typeof uploadPlanRequest>;

export const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, "must be s3://bucket/key");

export const referenceFile = z.strictObject({ path: filePath, ref: s3Uri });

/** A blob file may name the open upload that carried its bytes; the commit verifies them there. */
export const commitBlobFile = z.strictObject({ path: filePath, size, sha256, uploadId: openUploadId.optional() });

export const commitFile = z.union([commitBlobFile, referenceFile]);

/** A manifest every client OS can write out: no two paths in one place (common.ts, manifestPathClashes). */
function writablePaths(files: { path: string }[], ctx: z.RefinementCtx): void {
  for (const clash of manifestPathClashes(files.map((f) => f.path))) {
    ctx.addIssue({ code: "custom", message: clash.message, path: [clash.index, "path"] });
  }
}

/** An absolute time with its zone, as the registry writes times. */
export const isoTime = z.iso.datetime({ offset: true });
export const ttlDays = z.int().min(1).max(36_500);

export const commitRequest = z
  .strictObject({
    type: name,
    files: z.array(commitFile).min(1).max(MAX_FILES_PER_REQUEST).superRefine(uniquePaths).superRefine(writablePaths),
    metadata: metadata.optional(),
    description: text(4096).optional(),
    aliases: z.array(settableAlias).max(MAX_ALIASES_PER_REQUEST).optional(),
    runId: name.optional(),
    /** Retention: the version expires at this time, or `ttlDays` after the commit; the project's default otherwise. */
    expiresAt: isoTime.optional(),
    ttlDays: ttlDays.optional(),
  })
  .refine((request) => request.expiresAt === undefined || request.ttlDays === undefined, {
    message: "name expiresAt or ttlDays, not both",
    path: ["ttlDays"],
  });
export type CommitRequest = z.infer<typeof commitRequest>;

export const completeUploadRequest = z.strictObject({
  sha256,
  // S3's upload ids are printable ASCII of a few hundred characters at most; the ledger keys
  // an upload by it, and DynamoDB refuses sort keys over 1 024 bytes.
  uploadId: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[\x21-\x7e]+$/, "must be an uploadId from an upload plan"),
  parts: z
    .array(z.strictObject({ partNumber: z.int().min(1).max(S3_LIMITS.maxParts), etag: z.string().min(1).max(256) }))
    .min(1)
    .max(S3_LIMITS.maxParts),
});
export type CompleteUploadRequest = z.infer<typeof completeUploadRequest>;

/**
 * `expectedVersion` makes the move a compare-and-swap: the alias must name that version now
 * (`v3` or `3`), or with `null` must not exist yet; otherwise the answer is 412 and nothing changes.
 */
export const setAliasRequest = z.strictObject({
  version: z.union([z.string().min(1).max(64), z.int().min(0)]),
  expectedVersion: z.union([z.string().min(1).max(64), z.int().min(0), z.null()]).optional(),
});
export type SetAliasRequest = z.infer<typeof setAliasRequest>;

/**
 * An edit of a version's description and metadata (its files never change). Metadata is
 * merged into what the version holds, key by key; a key set to null is removed. Each value
 * follows the same rules as metadata at commit.
 */
export const updateVersionRequest = z
  .strictObject({
    description: text(4096).nullable().optional(),
    metadata: metadata.optional(),
    /** Retention: a new expiry (the sweep decides on the version again), or null for none. */
    expiresAt: isoTime.nullable().optional(),
  })
  .refine((request) => request.description !== undefined || request.metadata !== undefined || request.expiresAt !== undefined, {
    message: "name description, metadata or expiresAt to change",
  });
export type UpdateVersionRequest = z.infer<typeof updateVersionRequest>;

export const filesQuery = z.object({
  prefix: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  // A sealed path: paths are up to 1024 characters, up to 3 bytes each in UTF-8.
  cursor: z.string().max(8192).optional(),
});

export const deleteQuery = z.object({
  force: z.enum(["true", "false"]).optional(),
  /** Answers what the delete would remove and free, writing nothing. */
  dryRun: z.enum(["true", "false"]).optional(),
});

/** `POST /v1/admin/gc`: one round of the garbage collector, or (`dryRun`) what it would delete. */
export const gcQuery = z.object({ dryRun: z.enum(["true", "false"]).optional() });

// What the artifact routes answer: schemas in lambdas/contract/responses.ts, types inferred from them.
export type {
  ArtifactResponse,
  CommitResponse,
  FileResponse,
  FilesPage,
  OpenUpload,
  PresignedMultipart,
  PresignedPut,
  ProjectResponse,
  UploadPlan,
  VersionResponse,
} from "./responses.js";
