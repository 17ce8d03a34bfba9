import { describe, expect, test, vi } from "vitest";
import { AbortedError, ApiError, TransferError } from "../../clients/node/src/errors.js";
import { backoffDelay, isTransient, retryWithBackoff } from "../../clients/node/src/retry.js";

const noSleep = { sleep: async () => undefined };

describe("retryWithBackoff", () => {
  test("retries transient failures and returns the first success", async () => {
    const run = vi
      .fn()
      .mockRejectedValueOnce(new TransferError("reset"))
      .mockRejectedValueOnce(new TransferError("busy", 503))
      .mockResolvedValue("done");
    const retried: number[] = [];
    const result = await retryWithBackoff(run, {
      retries: 5,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      ...noSleep,
      onRetry: (_error, attempt) => retried.push(attempt),
    });
    expect(result).toBe("done");
    expect(run).toHaveBeenCalledTimes(3);
    expect(retried).toEqual([1, 2]);
  });

  test("does not retry a final answer", async () => {
    const run = vi.fn().mockRejectedValue(new TransferError("forbidden", 403));
    await expect(retryWithBackoff(run, { retries: 5, baseDelayMs: 1, maxDelayMs: 1, ...noSleep })).rejects.toThrow("forbidden");
    expect(run).toHaveBeenCalledTimes(1);
  });

  test("gives up after the configured retries with the last error", async () => {
    let n = 0;
    const run = vi.fn(async () => {
      throw new TransferError(`attempt ${++n}`, 500);
    });
    await expect(retryWithBackoff(run, { retries: 3, baseDelayMs: 1, maxDelayMs: 1, ...noSleep })).rejects.toThrow("attempt 4");
    expect(run).toHaveBeenCalledTimes(4);
  });

  test("waits with exponential backoff, capped", async () => {
    const waits: number[] = [];
    const run = vi.fn().mockRejectedValue(new TransferError("down", 502));
    await expect(
      retryWithBackoff(run, {
        retries: 6,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        random: () => 1,
        sleep: async (ms) => {
          waits.push(ms);
        },
      }),
    ).rejects.toThrow();
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  test("full jitter: a delay is anywhere between 0 and the ceiling", () => {
    expect(backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 })).toBe(400);
  });

  test("an abort during the wait stops retrying", async () => {
    const stop = new AbortController();
    const run = vi.fn(async () => {
      stop.abort();
      throw new TransferError("reset");
    });
    await expect(
      retryWithBackoff(run, { retries: 5, baseDelayMs: 10_000, maxDelayMs: 10_000, signal: stop.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(run).toHaveBeenCalledTimes(1);
  });
});

test("isTransient: network failures, 408, 429 and 5xx", () => {
  expect(isTransient(new TransferError("reset"))).toBe(true);
  expect(isTransient(new ApiError(0, "unreachable", "down"))).toBe(true);
  for (const status of [408, 429, 500, 502, 503, 504]) expect(isTransient(new ApiError(status, "x", "y"))).toBe(true);
  for (const status of [400, 401, 403, 404, 409, 422]) expect(isTransient(new ApiError(status, "x", "y"))).toBe(false);
  expect(isTransient(new Error("bug"))).toBe(false);
});
