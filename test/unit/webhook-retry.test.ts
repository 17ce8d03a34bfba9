import { describe, expect, it } from "vitest";
import { isRetryable, outcomeOf, retryDelayMs } from "../../lambdas/core/webhook-retry.js";

const status = (statusCode: number) => ({ statusCode, latencyMs: 1 });
const failure = (kind: "timeout" | "network" | "refused") => ({ error: { kind, message: kind }, latencyMs: 1 });

describe("retry policy", () => {
  it("retries timeouts, lost connections, 408, 429 and 5xx; not other answers or refused targets", () => {
    for (const retryable of [status(500), status(502), status(503), status(429), status(408), failure("timeout"), failure("network")]) {
      expect(isRetryable(retryable)).toBe(true);
    }
    for (const final of [status(400), status(401), status(404), status(410), status(301), failure("refused")]) {
      expect(isRetryable(final)).toBe(false);
    }
  });

  it("delivers on 2xx, retries while attempts remain, then fails", () => {
    expect(outcomeOf(status(204), 1, 3)).toBe("delivered");
    expect(outcomeOf(status(500), 1, 3)).toBe("retry");
    expect(outcomeOf(status(500), 2, 3)).toBe("retry");
    expect(outcomeOf(status(500), 3, 3)).toBe("failed");
    expect(outcomeOf(status(404), 1, 3)).toBe("failed");
  });

  it("backs off exponentially with at most 20% jitter, up to the cap", () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n, undefined, () => 0))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(policy, 3, undefined, () => 0.999)).toBeLessThanOrEqual(4800);
    expect(retryDelayMs(policy, 3, undefined, () => 0.999)).toBeGreaterThan(4000);
    expect(retryDelayMs(policy, 20, undefined, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(policy, 1000, undefined, () => 0)).toBe(60_000);
  });

  it("waits at least as long as Retry-After asks, but never past the cap", () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect(retryDelayMs(policy, 1, 30_000, () => 0)).toBe(30_000);
    expect(retryDelayMs(policy, 1, 10, () => 0)).toBe(1000);
    expect(retryDelayMs(policy, 1, 3_600_000, () => 0)).toBe(60_000);
  });
});
