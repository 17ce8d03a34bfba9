import type { Services } from "../composition.js";
import { sweepDueDeliveries } from "../core/webhooks.js";
import type { Observability } from "../observability.js";
import { logError, recordDeliveries, type InvocationContext } from "./stream-consumer.js";

export type DeliverySweeper = (event?: unknown, context?: InvocationContext) => Promise<{ attempted: number; deferred: number }>;

/**
 * Attempts the webhook deliveries whose next attempt is due: retries after a backoff, and
 * deliveries whose first attempt the dispatcher left for later. Scheduled every minute in
 * AWS; a timer in local mode.
 */
export function createDeliverySweeper(services: Services, observability: Observability): DeliverySweeper {
  const { logger, metrics } = observability;
  return async (_event, context) => {
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    const report = await sweepDueDeliveries(services, { deadline });
    recordDeliveries(metrics, report);
    metrics.flush();
    for (const error of report.errors) logError(logger, "delivery attempt failed; it is retried when its lease ends", error);
    return { attempted: report.attempted, deferred: report.deferred };
  };
}
