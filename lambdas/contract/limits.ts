/** Limits a client plans with as much as the server: S3's and the upload plan's. */
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

export const S3_LIMITS = {
  /** Every part of a multipart upload but the last is at least this large. */
  minPartSize: 5 * MIB,
  /** The largest single PUT, and the largest object one CopyObject promotes. */
  maxSinglePutSize: 5 * GIB,
  /** The largest part of a multipart upload. */
  maxPartSize: 5 * GIB,
  /** A SigV4 presigned URL lives at most a week. */
  maxPresignSeconds: 7 * 24 * 3600,
  /** Parts of one multipart upload, numbered from 1. */
  maxParts: 10_000,
  /** The largest object: anything larger cannot be a real file. */
  maxObjectSize: 5 * 1024 * GIB,
} as const;

/** Lambda's synchronous payload limit: request bodies larger than this are refused before parsing. */
export const MAX_BODY_BYTES = 6 * MIB;

/**
 * S3 allows 10 000 parts, but every part's URL travels in the plan, and a Lambda response
 * is capped at 6 MB: 1 024 URLs (~1.5 KB each) keep the largest plan near 1.5 MB, and are
 * just enough for the largest object (5 TiB) in parts of the largest size (5 GiB).
 */
export const MAX_PLANNED_PARTS = S3_LIMITS.maxObjectSize / S3_LIMITS.maxPartSize;

/** Bulk delete jobs (lambdas/core/jobs.ts): how they step, and how much a job and a dry run answer. */
export const JOBS = {
  /** Versions one step handles; a step is written before the next starts, so a crash redoes at most this many. */
  stepVersions: 25,
  /** Deletes in flight within a step. */
  stepConcurrency: 8,
  /** How long a runner holds a job between two steps before another may take it over. */
  leaseMs: 60_000,
  /** Skipped versions and errors a job keeps in its item (it is one DynamoDB item: 400 KB at most). */
  maxReported: 100,
  /** Versions a dry run lists at most; a larger delete is previewed by a narrower filter. */
  maxDryRunVersions: 20_000,
} as const;

/** The garbage collector and the releases of deleted versions' blob references (lambdas/core/gc.ts). */
export const GC = {
  /** Blobs one round condemns and deletes at most; the next round goes on. */
  batch: 500,
  /** Pending releases one round finishes at most. */
  releases: 100,
  /**
   * A condemned blob is its condemner's for this long: it deletes the object and then the
   * item within it, and only after it may another collector take over (a crashed one's).
   */
  condemnLeaseMs: 5 * 60 * 1000,
  /** Blob references one release transaction takes back: DynamoDB's 100 items less the release item. */
  releaseChunk: 99,
  /** Blob references a commit pins per transaction before its own, when they do not all fit into it. */
  pinChunk: 100,
} as const;
