import pLimit, { type LimitFunction } from "p-limit";
import type { CompleteUploadRequest, PresignedMultipart, PresignedPut, UploadPlan } from "../../../lambdas/contract/artifacts.js";
import { ApiError, MregError, TransferError, throwIfAborted } from "./errors.js";
import { putFileRange } from "./http-transfer.js";
import { planParts } from "./plan-parts.js";
import { DEFAULT_RETRY, retryWithBackoff, type RetryOptions } from "./retry.js";
import type { UploadStateStore } from "./upload-state.js";

/** Where the bytes of one blob are read from. */
export interface BlobSource {
  sha256: string;
  size: number;
  /** Absolute path of a file holding these bytes. */
  path: string;
}

export interface UploadedPart {
  sha256: string;
  uploadId: string;
  partNumber: number;
  size: number;
}

export interface UploadBlobsOptions {
  /** Transfers in flight at once, counting single PUTs and parts of every file together. */
  concurrency: number;
  /** A pool to share with other transfers (it then bounds them all); one of `concurrency` otherwise. */
  pool?: LimitFunction;
  completeUpload: (request: CompleteUploadRequest, signal?: AbortSignal) => Promise<unknown>;
  /** Where acknowledged parts are remembered for resuming; without it nothing is resumed. */
  state?: UploadStateStore;
  retry?: Partial<RetryOptions>;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
  /** Called once each part is acknowledged and recorded. */
  onPartUploaded?: (part: UploadedPart) => void;
  onRetry?: (what: string, error: unknown, attempt: number) => void;
  /**
   * Asks the registry for this blob's plan again. Presigned URLs expire (an hour by default):
   * a transfer refused with 403 gets fresh URLs once, for the same uploadId, and tries again.
   */
  refreshUpload?: (blob: BlobSource) => Promise<PresignedPut | PresignedMultipart | undefined>;
}

export interface UploadBlobsResult {
  /** Bytes sent in this run, not counting parts an earlier run had already sent. */
  uploadedBytes: number;
  /** Bytes of parts skipped because an interrupted earlier run had sent them. */
  resumedBytes: number;
  uploadedParts: number;
  resumedParts: number;
  /** Wall time until the last byte was acknowledged. */
  transferMs: number;
  /** Time spent in uploads/complete calls, where the registry assembles and verifies each multipart blob. */
  completeMs: number;
}

/**
 * Sends every blob of an upload plan: single PUTs and the parts of multipart uploads share
 * one bounded pool; each transfer is retried with backoff; each multipart blob is completed
 * as soon as its last part lands. The first hard failure stops the others.
 */
export async function uploadBlobs(
  plan: UploadPlan,
  sources: Map<string, BlobSource>,
  options: UploadBlobsOptions,
): Promise<UploadBlobsResult> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const limit = options.pool ?? pLimit(options.concurrency);
  const result: UploadBlobsResult = {
    uploadedBytes: 0,
    resumedBytes: 0,
    uploadedParts: 0,
    resumedParts: 0,
    transferMs: 0,
    completeMs: 0,
  };
  const started = performance.now();
  let lastByte = started;
  const context: Context = { options, signal, limit, result, markTransfer: () => (lastByte = performance.now()) };
  try {
    await Promise.all(
      plan.uploads.map((upload) => {
        const source = sources.get(upload.sha256);
        if (!source) throw new MregError(`the registry planned an upload of unknown sha256 ${upload.sha256}`);
        if (source.size !== upload.size) {
          throw new MregError(`the registry planned ${upload.size} bytes for ${source.path}, which has ${source.size}`);
        }
        const run = "multipart" in upload ? uploadMultipart(context, upload, source) : uploadSingle(context, upload, source);
        return run.catch((error: unknown) => {
          stop.abort(error);
          throw error;
        });
      }),
    );
  } catch (error) {
    // Report the failure that stopped the rest, not the aborts it caused.
    throw stop.signal.aborted && !options.signal?.aborted ? stop.signal.reason : error;
  }
  result.transferMs = Math.round(lastByte - started);
  return result;
}

interface Context {
  options: UploadBlobsOptions;
  signal: AbortSignal;
  limit: LimitFunction;
  result: UploadBlobsResult;
  markTransfer: () => void;
}

function withRetry<T>(context: Context, what: string, run: () => Promise<T>): Promise<T> {
  return retryWithBackoff(run, {
    ...DEFAULT_RETRY,
    ...context.options.retry,
    signal: context.signal,
    onRetry: (error, attempt) => context.options.onRetry?.(what, error, attempt),
  });
}

function isRefused(error: unknown): boolean {
  return error instanceof TransferError && error.status === 403;
}

async function uploadSingle(context: Context, upload: PresignedPut, source: BlobSource): Promise<void> {
  await context.limit(async () => {
    throwIfAborted(context.signal);
    const put = (target: PresignedPut) =>
      withRetry(context, source.path, () =>
        putFileRange(
          target.url,
          target.headers ?? {},
          { path: source.path, start: 0, end: source.size },
          {
            signal: context.signal,
            onBytes: context.options.onBytes,
          },
        ),
      );
    try {
      await put(upload);
    } catch (error) {
      if (!isRefused(error) || !context.options.refreshUpload) throw error;
      const fresh = await context.options.refreshUpload(source);
      if (fresh === undefined) return; // stored meanwhile by someone else
      if ("multipart" in fresh) throw changedUpload(source);
      await put(fresh);
    }
    context.markTransfer();
    context.result.uploadedBytes += source.size;
  });
}

function changedUpload(source: BlobSource): MregError {
  return new MregError(`the registry changed the upload of ${source.path} while it was being sent; run the command again`);
}

async function uploadMultipart(context: Context, upload: PresignedMultipart, source: BlobSource): Promise<void> {
  const { uploadId, partSize } = upload.multipart;
  const parts = planParts(source.size, upload.multipart);
  const state = context.options.state;
  let refreshing: Promise<void> | undefined;
  // Fetched at most once per blob however many parts find their URL expired.
  const refreshUrls = () =>
    (refreshing ??= (async () => {
      const fresh = await context.options.refreshUpload!(source);
      if (fresh === undefined || !("multipart" in fresh) || fresh.multipart.uploadId !== uploadId) throw changedUpload(source);
      const urls = new Map(planParts(source.size, fresh.multipart).map((p) => [p.partNumber, p]));
      for (const part of parts) Object.assign(part, { url: urls.get(part.partNumber)!.url, headers: urls.get(part.partNumber)!.headers });
    })());
  const skipped = { bytes: 0, parts: 0 };
  const sendParts = async (skip: Map<number, string>) => {
    const etags = new Map(skip);
    for (const part of parts) {
      if (skip.has(part.partNumber)) {
        skipped.bytes += part.end - part.start;
        skipped.parts += 1;
        context.options.onBytes?.(part.end - part.start);
      }
    }
    context.result.resumedBytes += skipped.bytes;
    context.result.resumedParts += skipped.parts;
    await Promise.all(
      parts
        .filter((part) => !skip.has(part.partNumber))
        .map((part) =>
          context.limit(async () => {
            throwIfAborted(context.signal);
            const send = () =>
              withRetry(context, `${source.path} part ${part.partNumber}`, () =>
                putFileRange(
                  part.url,
                  part.headers,
                  { path: source.path, start: part.start, end: part.end },
                  {
                    signal: context.signal,
                    onBytes: context.options.onBytes,
                  },
                ),
              );
            const { etag } = await send().catch(async (error: unknown) => {
              if (!isRefused(error) || !context.options.refreshUpload) throw error;
              await refreshUrls();
              return send();
            });
            if (!etag) throw new MregError(`the store sent no ETag for part ${part.partNumber} of ${source.path}`);
            context.markTransfer();
            etags.set(part.partNumber, etag);
            await state?.recordPart(source.sha256, uploadId, partSize, part.partNumber, etag);
            context.result.uploadedBytes += part.end - part.start;
            context.result.uploadedParts += 1;
            context.options.onPartUploaded?.({ sha256: source.sha256, uploadId, partNumber: part.partNumber, size: part.end - part.start });
          }),
        ),
    );
    return etags;
  };
  const complete = async (etags: Map<number, string>) => {
    throwIfAborted(context.signal);
    const startedAt = performance.now();
    try {
      await withRetry(context, `completing ${source.path}`, () =>
        context.options.completeUpload(
          {
            sha256: source.sha256,
            uploadId,
            parts: [...etags].sort(([a], [b]) => a - b).map(([partNumber, etag]) => ({ partNumber, etag })),
          },
          context.signal,
        ),
      );
    } finally {
      context.result.completeMs += Math.round(performance.now() - startedAt);
    }
  };

  const resumed = (await state?.completedParts(source.sha256, uploadId, partSize)) ?? new Map<number, string>();
  const etags = await sendParts(resumed);
  try {
    await complete(etags);
  } catch (error) {
    // Parts remembered from an earlier run may be gone from the store (an aborted upload):
    // forget them and send the whole blob once more under the same uploadId.
    if (!(resumed.size > 0 && error instanceof ApiError && error.status === 422)) throw error;
    await state?.forget(uploadId);
    context.result.resumedBytes -= skipped.bytes;
    context.result.resumedParts -= skipped.parts;
    context.options.onBytes?.(-skipped.bytes);
    skipped.bytes = skipped.parts = 0;
    await complete(await sendParts(new Map()));
  }
  await state?.forget(uploadId);
}
