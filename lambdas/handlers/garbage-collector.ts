import type { Services } from "../composition.js";
import { collectGarbage, type GcReport } from "../core/gc.js";
import type { Observability } from "../observability.js";

export type GarbageCollector = () => Promise<GcReport>;

/**
 * One round of the garbage collector (lambdas/core/gc.ts): finishes the releases of deleted
 * versions, then deletes the blobs nothing has referenced for MREG_GC_GRACE_HOURS. Scheduled
 * every hour in AWS (infra/stacks/stateless-stack.ts); a timer in local mode
 * (local/delivery-workers.ts); `POST /v1/admin/gc` runs one by hand.
 */
export function createGarbageCollector(services: Services, observability: Observability): GarbageCollector {
  const { logger, metrics } = observability;
  return async () => {
    const report = await collectGarbage(services, { graceHours: services.config.gcGraceHours });
    metrics.blobsCollected(report.deleted, report.deletedBytes);
    metrics.flush();
    if (report.deleted > 0 || report.releasesFinished > 0 || report.releasesFailed > 0) {
      logger.info("garbage collected", { gc: report });
    }
    if (report.releasesFailed > 0) logger.warn("releases of deleted versions failed; they stay pending for the next round", { gc: report });
    return report;
  };
}
