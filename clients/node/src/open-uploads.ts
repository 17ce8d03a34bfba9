import type { LimitFunction } from "p-limit";
import { MAX_OPEN_UPLOADS_PER_REQUEST, type OpenUpload, type UploadPlan } from "../../../lambdas/contract/artifacts.js";
import { ApiError } from "./errors.js";
import type { ApiClient } from "./api-client.js";
import { putFileRange } from "./http-transfer.js";
import { DEFAULT_RETRY, retryWithBackoff, type RetryOptions } from "./retry.js";

/**
 * Files the hash cache does not know must be read once to be hashed; below this size the
 * hash costs less than the extra plan call, so they are hashed first as before.
 */
export const OPEN_UPLOAD_MIN_BYTES = 64 * 1024 * 1024;

/** A file being sent while it is hashed. */
export interface OpenTransfer {
  /** The file's path in the version. */
  path: string;
  size: number;
  uploadId: string;
  /**
   * Settles once the PUT is over: `sent` when the store took every byte, `stopped` when
   * `stop` ended it first, or the error that made it fail after its retries.
   */
  settled: Promise<"sent" | "stopped" | Error>;
  /** Ends the transfer (its blob turned out to be stored already); a finished one stays sent. */
  stop(): void;
  /** Bytes put on the wire for this file, failed attempts included. */
  sentBytes(): number;
  /** When the store acknowledged the last byte (performance.now()), once sent. */
  sentAt?: number;
}

export interface OpenUploadOptions {
  api: ApiClient;
  /** `/v1/projects/{p}/artifacts/{a}` */
  base: string;
  /** The transfer pool shared with the other uploads of this log. */
  pool: LimitFunction;
  retry?: Partial<RetryOptions>;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
  onRetry?: (what: string, error: unknown, attempt: number) => void;
}

/**
 * Asks the registry for open uploads of `files` and starts sending each one it grants, so
 * their bytes travel while the caller hashes them. Files it leaves out (too large for one
 * PUT) are absent from the answer; a registry without open uploads (it refuses the field)
 * grants none. At most MAX_OPEN_UPLOADS_PER_REQUEST files are asked for; the rest are hashed
 * first. The caller names every open upload's uploadId in its commit.
 */
export async function startOpenUploads(
  files: { path: string; size: number; absolutePath: string }[],
  options: OpenUploadOptions,
): Promise<Map<string, OpenTransfer>> {
  let plan: UploadPlan;
  try {
    plan = await options.api.post<UploadPlan>(
      `${options.base}/uploads`,
      { files: [], open: files.slice(0, MAX_OPEN_UPLOADS_PER_REQUEST).map(({ path, size }) => ({ path, size })) },
      options.signal,
    );
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return new Map();
    throw error;
  }
  const byPath = new Map(files.map((file) => [file.path, file]));
  const transfers = new Map<string, OpenTransfer>();
  for (const upload of plan.open ?? []) {
    const file = byPath.get(upload.path);
    if (!file || file.size !== upload.size) continue;
    transfers.set(upload.path, send(upload, file.absolutePath, options));
  }
  return transfers;
}

function send(upload: OpenUpload, absolutePath: string, options: OpenUploadOptions): OpenTransfer {
  const stopper = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
  let sent = 0;
  const transfer: Omit<OpenTransfer, "settled"> = {
    path: upload.path,
    size: upload.size,
    uploadId: upload.uploadId,
    stop: () => stopper.abort(),
    sentBytes: () => sent,
  };
  const settled = options.pool(async (): Promise<"sent" | "stopped" | Error> => {
    try {
      await retryWithBackoff(
        () =>
          putFileRange(
            upload.url,
            upload.headers,
            { path: absolutePath, start: 0, end: upload.size },
            {
              signal,
              onBytes: (delta) => {
                if (delta > 0) sent += delta;
                options.onBytes?.(delta);
              },
            },
          ),
        {
          ...DEFAULT_RETRY,
          ...options.retry,
          signal,
          onRetry: (error, attempt) => options.onRetry?.(upload.path, error, attempt),
        },
      );
      transfer.sentAt = performance.now();
      return "sent";
    } catch (error) {
      if (stopper.signal.aborted && !options.signal?.aborted) return "stopped";
      return error instanceof Error ? error : new Error(String(error));
    }
  });
  return Object.assign(transfer, { settled });
}
