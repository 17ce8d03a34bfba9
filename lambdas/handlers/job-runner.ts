import type { Services } from "../composition.js";
import { runActiveJobs } from "../core/jobs.js";
import { sweepExpired } from "../core/retention.js";
import type { Observability } from "../observability.js";
import { logError, type InvocationContext } from "./stream-consumer.js";

export type JobRunner = (event?: unknown, context?: InvocationContext) => Promise<{ finished: number; expired: number; kept: number }>;

/** Time left for the step in flight when a Lambda invocation stops starting new ones. */
const STEP_MARGIN_MS = 30_000;

/**
 * Advances the queued and running jobs, then sweeps the expired versions (lambdas/core/retention.ts).
 * Advances the queued and running jobs (bulk deletes, lambdas/core/jobs.ts), each step written
 * before the next. Scheduled every minute in AWS: an invocation stops starting steps when its
 * time nears its end, and the next one resumes from the last step written (a job left leased
 * by a crashed invocation is taken over when its lease runs out). A timer in local mode.
 */
export function createJobRunner(
  services: Services,
  observability: Observability,
  options: { soleRunner?: boolean; stopping?: () => boolean } = {},
): JobRunner {
  const { logger } = observability;
  // One holder per container: a lease it holds stays its own across invocations.
  const holder = services.ids.next();
  return async (_event, context) => {
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - STEP_MARGIN_MS : undefined;
    const report = await runActiveJobs(services, { holder, deadline, soleRunner: options.soleRunner, stopping: options.stopping });
    for (const error of report.errors) logError(logger, "job step failed; the job resumes from its last step", error);
    const sweep = await sweepExpired(services, {
      stopping: () => options.stopping?.() === true || (deadline !== undefined && Date.now() >= deadline),
    });
    for (const error of sweep.errors) logError(logger, "expired version not swept; the next sweep tries again", error);
    if (sweep.deleted + sweep.kept > 0) logger.info("retention sweep", { deleted: sweep.deleted, kept: sweep.kept });
    return { finished: report.finished, expired: sweep.deleted, kept: sweep.kept };
  };
}
