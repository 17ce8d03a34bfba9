import { Logger } from "@aws-lambda-powertools/logger";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { Config } from "./config.js";
import type { BlobStore } from "./core/ports.js";

/** The `service` of every log line, trace and metric. */
export const SERVICE_NAME = "mreg";
/** The CloudWatch namespace of the business metrics. */
export const METRICS_NAMESPACE = "mreg";

/** What became of one webhook delivery attempt. */
export type DeliveryOutcome = "delivered" | "retry" | "failed";

/** The outcome of the attempt that left a delivery in `status`: a pending one waits for its retry. */
export function deliveryOutcome(status: "pending" | "delivered" | "failed"): DeliveryOutcome {
  return status === "pending" ? "retry" : status;
}

/**
 * The business metrics, recorded at the edge from what the use cases answered (core knows
 * nothing of them): CloudWatch EMF in Lambda (lambdas/functions/runtime.ts), nothing locally.
 */
export interface BusinessMetrics {
  versionCommitted(): void;
  bytesVerified(bytes: number): void;
  linkCreated(): void;
  webhookDeliveries(outcome: DeliveryOutcome, count: number): void;
  /** Blobs the garbage collector deleted, and their bytes. */
  blobsCollected(count: number, bytes: number): void;
  /** Writes what one invocation recorded. */
  flush(): void;
}

export const noMetrics: BusinessMetrics = {
  versionCommitted: () => undefined,
  bytesVerified: () => undefined,
  linkCreated: () => undefined,
  webhookDeliveries: () => undefined,
  blobsCollected: () => undefined,
  flush: () => undefined,
};

/** What a handler factory needs besides services: built once per Lambda container or local stack. */
export interface Observability {
  logger: Logger;
  metrics: BusinessMetrics;
  /** Lambda only; locally there is no X-Ray daemon to send to. */
  tracer?: Tracer;
}

/** Structured JSON lines on stdout at `config.logLevel`, in Lambda and locally alike. */
export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return new Logger({ serviceName: SERVICE_NAME, logLevel: config.logLevel.toUpperCase() as Uppercase<Config["logLevel"]> });
}

/** Local mode: the same logger, no metrics, no tracing. */
export function localObservability(config: Pick<Config, "logLevel">): Observability {
  return { logger: createLogger(config), metrics: noMetrics };
}

/**
 * Counts the bytes the blob store verified (a staged or open upload promoted, a multipart
 * upload checked), whichever use case asked: a commit's answer does not say which of its
 * blobs were new. Every other method is the store's own.
 */
export function meterVerifiedBytes(blobs: BlobStore, metrics: Pick<BusinessMetrics, "bytesVerified">): BlobStore {
  const promoteStagedBlob: BlobStore["promoteStagedBlob"] = async (sha256, size, uploadId) => {
    const check = await blobs.promoteStagedBlob(sha256, size, uploadId);
    if (check.status === "verified") metrics.bytesVerified(size);
    return check;
  };
  const verifyBlob: BlobStore["verifyBlob"] = async (sha256, size) => {
    const check = await blobs.verifyBlob(sha256, size);
    if (check.status === "verified") metrics.bytesVerified(size);
    return check;
  };
  return new Proxy(blobs, {
    get(target, property) {
      if (property === "promoteStagedBlob") return promoteStagedBlob;
      if (property === "verifyBlob") return verifyBlob;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
