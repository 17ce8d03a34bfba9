import { vi } from "vitest";
import { createLogger, type BusinessMetrics, type Observability } from "../../lambdas/observability.js";

export interface RecordingMetrics extends BusinessMetrics {
  /** Every call, in order: [method, ...arguments]. */
  calls: unknown[][];
  flushes: number;
}

export function recordingMetrics(): RecordingMetrics {
  const calls: unknown[][] = [];
  const metrics: RecordingMetrics = {
    calls,
    flushes: 0,
    versionCommitted: () => void calls.push(["versionCommitted"]),
    bytesVerified: (bytes) => void calls.push(["bytesVerified", bytes]),
    linkCreated: () => void calls.push(["linkCreated"]),
    webhookDeliveries: (outcome, count) => void calls.push(["webhookDeliveries", outcome, count]),
    blobsCollected: (count, bytes) => void calls.push(["blobsCollected", count, bytes]),
    flush: () => void metrics.flushes++,
  };
  return metrics;
}

/**
 * Captures what is written to stdout and stderr (where Powertools writes its JSON lines,
 * errors on stderr) until `restore`; `lines` are the writes that parse as JSON, in order.
 */
export function captureStdout(): { lines(): Record<string, any>[]; text(): string; restore(): void } {
  const writes: string[] = [];
  const capture = (chunk: unknown) => {
    writes.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  return {
    text: () => writes.join(""),
    lines: () =>
      writes
        .join("")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, any>];
          } catch {
            return [];
          }
        }),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

/** A logger at `level` (quiet unless a test listens) and recording metrics. */
export function testObservability(level: "debug" | "info" | "silent" = "silent"): Observability & { metrics: RecordingMetrics } {
  return { logger: createLogger({ logLevel: level }), metrics: recordingMetrics() };
}
