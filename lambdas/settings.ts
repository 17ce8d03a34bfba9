import { GIB, MIB, S3_LIMITS } from "./contract/limits.js";

/**
 * Every limit and default of the registry's configuration, in one place: lambdas/config.ts
 * validates the functions' configuration with these bounds, infra/ deploys from them
 * (bucket lifecycle, context bounds, stream mapping) and local/ starts from them.
 */

const HOUR = 3600;

/** A number setting: its bounds and its default. */
export interface Bounded {
  min: number;
  max: number;
  default: number;
}

/** MREG_URL_EXPIRY_SECONDS: lifetime of presigned URLs. */
export const URL_EXPIRY_SECONDS = {
  min: 60,
  max: S3_LIMITS.maxPresignSeconds,
  default: HOUR,
  /**
   * A URL signed with a Lambda's session credentials dies with the session, whatever it
   * says (reported at 12 hours or sooner; README, "Presigned URLs"): the deployed cap.
   */
  maxInLambda: 12 * HOUR,
} as const;

/** MREG_MULTIPART_THRESHOLD: files this large or larger are planned as multipart uploads. */
export const MULTIPART_THRESHOLD = {
  min: S3_LIMITS.minPartSize,
  max: S3_LIMITS.maxSinglePutSize,
  default: 64 * MIB,
  /**
   * One machine gains nothing from parallel parts, and the emulator completes a multipart
   * upload by writing every part again: single PUTs up to S3's limit (README, Benchmark).
   */
  local: S3_LIMITS.maxSinglePutSize,
} as const;

/** MREG_PART_SIZE: the part size of multipart plans (raised for files of more than 1 000 parts). */
export const PART_SIZE = { min: S3_LIMITS.minPartSize, max: 5 * GIB, default: 16 * MIB } as const satisfies Bounded;

export const WEBHOOK_TIMEOUT_MS = { min: 100, max: 30_000, default: 10_000 } as const satisfies Bounded;
/** Longest wait between two attempts of a webhook delivery, whatever the backoff or Retry-After says. */
export const WEBHOOK_MAX_RETRY_DELAY_MS = HOUR * 1000;
/** Delay before the first retry of a webhook; each later one doubles, up to WEBHOOK_MAX_RETRY_DELAY_MS. */
export const WEBHOOK_BACKOFF_MS = { min: 10, max: WEBHOOK_MAX_RETRY_DELAY_MS, default: 30_000 } as const satisfies Bounded;
export const WEBHOOK_MAX_ATTEMPTS = { min: 1, max: 20, default: 6 } as const satisfies Bounded;

/** Local mode: how often the stream poller reads DynamoDB Local's stream, and the delivery sweeper runs. */
export const STREAM_POLL_MS = { min: 10, max: 60_000, default: 200 } as const satisfies Bounded;
export const WEBHOOK_SWEEP_MS = { min: 10, max: 60_000, default: 1000 } as const satisfies Bounded;

/** MREG_JOB_POLL_MS (local mode): how often the jobs worker looks for queued jobs and expired versions. */
export const JOB_POLL_MS = { min: 10, max: 600_000, default: 1000 } as const satisfies Bounded;
/**
 * MREG_GC_GRACE_HOURS: how long a blob nothing references waits before the collector deletes
 * it (lambdas/core/gc.ts); 0 lets tests collect at once.
 */
export const GC_GRACE_HOURS = { min: 0, max: 24 * 365, default: 24 } as const satisfies Bounded;
/** MREG_GC_INTERVAL_MS, local mode: how often the collector runs (AWS: the schedule in infra/stacks/stateless-stack.ts). */
export const GC_INTERVAL_MS = { min: 100, max: 24 * HOUR * 1000, default: HOUR * 1000 } as const satisfies Bounded;

/** The garbage collector's batch sizes and lease (kept with the contract's limits: core/gc.ts uses them). */
export { GC } from "./contract/limits.js";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "critical", "silent"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
/** MREG_LOG_LEVEL: one line per request at `info`. */
export const DEFAULT_LOG_LEVEL: LogLevelName = "info";

/** API Gateway (REST) answers 504 when a function takes longer than this; the function may still finish. */
export const API_GATEWAY_TIMEOUT_SECONDS = 29;

/** The bucket's lifecycle rules (infra/stacks/stateful-stack.ts). */
export const BUCKET_LIFECYCLE = {
  /** Parts of a multipart upload nobody completed stop costing money after this. */
  abortIncompleteMultipartDays: 1,
  /** Single PUTs and open uploads wait in staging/ until a commit verifies them; abandoned ones go after this. */
  stagingExpiryDays: 3,
} as const;

/**
 * Blob claims (lambdas/adapters/dynamodb/blob-ledger.ts): a verification holds its claim for
 * `leaseMs` from its last renewal and renews it every third of that while it runs, so the
 * claim of a holder that died (a Lambda timeout, a crash) can be taken over within `leaseMs`.
 */
export const BLOB_CLAIM = {
  leaseMs: 30_000,
  /**
   * Claims written before claims had leases (`claimedAt` only) are stale after this: longer
   * than the artifacts function's timeout (infra/function-access.ts), so their holder is gone.
   */
  unleasedStaleMs: 15 * 60 * 1000,
} as const;

/**
 * An unfinished multipart upload is handed out again (to resume it) for this long after its
 * first plan: under the bucket's abort rule, so no plan names an aborted upload.
 */
export const UPLOAD_RESUME_SECONDS = 20 * HOUR;

/**
 * How the stream consumer takes the table's stream, in AWS (the event source mapping in
 * infra/stacks/stateless-stack.ts) and locally (local/stream-poller.ts).
 */
export const STREAM_CONSUMPTION = {
  batchSize: 100,
  /** Retries of a failed batch before its records are given up. */
  retryAttempts: 5,
  maxRecordAgeHours: 6,
} as const;

export { JOBS } from "./contract/limits.js";
