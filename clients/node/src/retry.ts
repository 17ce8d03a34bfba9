import { AbortedError, ApiError, TransferError, throwIfAborted } from "./errors.js";

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  shouldRetry?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** Injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_RETRY = { retries: 5, baseDelayMs: 250, maxDelayMs: 10_000 } as const;

/**
 * Another upload is verifying a blob the request needs (409 `blob_busy`): it ends when that
 * verification does, or within the claim's lease (30 s) after its holder died. About 95 s
 * at most, 45 s on average, besides the 5 s a commit waits on the server per attempt.
 */
export const BLOB_BUSY_RETRY = { retries: 12, baseDelayMs: 500, maxDelayMs: 10_000 } as const;

/** Exponential backoff with full jitter: attempt n waits a random time up to base·2ⁿ, capped. */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, "baseDelayMs" | "maxDelayMs" | "random">): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.round((options.random ?? Math.random)() * ceiling);
}

export async function retryWithBackoff<T>(run: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? sleepFor;
  const shouldRetry = options.shouldRetry ?? isTransient;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await run(attempt);
    } catch (error) {
      if (error instanceof AbortedError) throw error;
      throwIfAborted(options.signal);
      if (attempt >= options.retries || !shouldRetry(error)) throw error;
      const delay = backoffDelay(attempt, options);
      options.onRetry?.(error, attempt + 1, delay);
      await sleep(delay, options.signal);
    }
  }
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Network failures and the statuses that mean "try again"; every other answer is final. */
export function isTransient(error: unknown): boolean {
  // The registry found its stored data corrupt: asking again gets the same answer.
  if (error instanceof ApiError && error.code === "integrity_error") return false;
  if (error instanceof ApiError || error instanceof TransferError) {
    return !error.status || TRANSIENT_STATUS.has(error.status);
  }
  return false;
}

/** The registry's "retry this same request shortly": recognised by its code, whatever the message says. */
export function isBlobBusy(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409 && error.code === "blob_busy";
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError(signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
