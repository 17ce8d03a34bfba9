import { describe, expect, test, vi } from "vitest";
import { AbortedError, ApiError, TransferError } from "../../clients/node/src/errors.js";
import { ApiClient } from "../../clients/node/src/api-client.js";
import { BLOB_BUSY_RETRY, backoffDelay, isBlobBusy, isTransient, retryWithBackoff } from "../../clients/node/src/retry.js";
import { BLOB_CLAIM } from "../../lambdas/settings.js";

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

describe("a request answered 409 blob_busy", () => {
  const busy = {
    status: 409,
    ok: false,
    text: async () =>
      JSON.stringify({
        error: { code: "blob_busy", message: "blobs are being verified by another upload; retry shortly: w.bin", requestId: "r" },
      }),
  };
  const created = { status: 201, ok: true, text: async () => JSON.stringify({ version: "v0", created: true }) };

  function client(answers: { status: number; ok: boolean; text(): Promise<string> }[], waits: number[] = []) {
    const fetch = vi.fn(async () => answers.shift() ?? created);
    const api = new ApiClient({
      url: "http://registry.test",
      apiKey: "k",
      fetch: fetch as unknown as typeof globalThis.fetch,
      retry: { sleep: async (ms) => void waits.push(ms) },
      blobBusyRetry: { random: () => 1 },
    });
    return { api, fetch };
  }

  test("is sent again with a growing backoff until the blob is verified, by the SDK and the CLI alike", async () => {
    const waits: number[] = [];
    const { api, fetch } = client([busy, busy, busy], waits);
    await expect(api.post("/v1/projects/p/artifacts/a/versions", { files: [] })).resolves.toEqual({ version: "v0", created: true });
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([500, 1000, 2000]);
  });

  test("gives up after its retries (more than the claim's lease) with the registry's message", async () => {
    const waits: number[] = [];
    const { api, fetch } = client(
      Array.from({ length: 20 }, () => busy),
      waits,
    );
    const error = await api.post("/v1/x", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 409,
      code: "blob_busy",
      message: "blobs are being verified by another upload; retry shortly: w.bin",
    });
    expect(fetch).toHaveBeenCalledTimes(1 + BLOB_BUSY_RETRY.retries);
    expect(waits.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThan(BLOB_CLAIM.leaseMs);
  });

  test("is recognised by its code: another 409 saying the same words is final", async () => {
    const conflict = {
      status: 409,
      ok: false,
      text: async () =>
        JSON.stringify({
          error: { code: "conflict", message: "blobs are being verified by another upload; retry shortly", requestId: "r" },
        }),
    };
    const { api, fetch } = client([conflict]);
    await expect(api.post("/v1/x", {})).rejects.toMatchObject({ status: 409, code: "conflict" });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(isBlobBusy(new ApiError(409, "blob_busy", "m"))).toBe(true);
    expect(isBlobBusy(new ApiError(409, "conflict", "retry shortly"))).toBe(false);
  });
});
