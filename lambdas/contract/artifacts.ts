import * as z from "zod";
import { alias, filePath, metadata, name, sha256, size } from "./common.js";
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

export const commitRequest = z.strictObject({
  type: name,
  files: z.array(commitFile).min(1).max(MAX_FILES_PER_REQUEST).superRefine(uniquePaths),
  metadata: metadata.optional(),
  description: z.string().max(4096).optional(),
  aliases: z.array(alias).max(MAX_ALIASES_PER_REQUEST).optional(),
  runId: name.optional(),
});
export type CommitRequest = z.infer<typeof commitRequest>;

export const completeUploadRequest = z.strictObject({
  sha256,
  uploadId: z.string().min(1).max(1024),
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
    description: z.string().max(4096).nullable().optional(),
    metadata: metadata.optional(),
  })
  .refine((request) => request.description !== undefined || request.metadata !== undefined, {
    message: "name description or metadata to change",
  });
export type UpdateVersionRequest = z.infer<typeof updateVersionRequest>;

export const filesQuery = z.object({
  prefix: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  cursor: z.string().max(2048).optional(),
});

export const deleteQuery = z.object({
  force: z.enum(["true", "false"]).optional(),
});

export interface PresignedPut {
  sha256: string;
  size: number;
  method: "PUT";
  url: string;
  headers: Record<string, string>;
}

export interface PresignedMultipart {
  sha256: string;
  size: number;
  multipart: {
    uploadId: string;
    partSize: number;
    parts: { partNumber: number; url: string; headers: Record<string, string> }[];
  };
}

/** A presigned PUT for bytes whose SHA-256 is declared later, at commit, with the uploadId. */
export interface OpenUpload {
  path: string;
  size: number;
  uploadId: string;
  method: "PUT";
  url: string;
  headers: Record<string, string>;
}

export interface UploadPlan {
  uploads: (PresignedPut | PresignedMultipart)[];
  present: string[];
  /**
   * One entry per requested open upload the registry granted (present when `open` was asked
   * for). Files it would take only as multipart are left out: hash those first, then plan them.
   */
  open?: OpenUpload[];
}

export interface CommitResponse {
  version: string;
  index: number;
  digest: string;
  created: boolean;
  aliases: string[];
}

export interface VersionResponse {
  version: string;
  index: number;
  digest: string;
  type: string;
  aliases: string[];
  metadata: Record<string, unknown>;
  description: string | null;
  createdAt: string;
  createdBy: string;
  size: number;
  fileCount: number;
  runId?: string;
  project: string;
  artifact: string;
}

export interface FileResponse {
  path: string;
  size: number;
  sha256?: string;
  ref?: string;
  etag?: string;
  versionId?: string;
  url: string;
}

/** A project: a namespace artifacts are logged into, listed with how many artifacts it holds. */
export interface ProjectResponse {
  name: string;
  artifactCount: number;
  createdAt: string;
  createdBy: string;
}

export interface ArtifactResponse {
  project: string;
  name: string;
  type: string;
  createdAt: string;
  createdBy: string;
  versionCount: number;
  latest: string | null;
  aliases: Record<string, string>;
}
