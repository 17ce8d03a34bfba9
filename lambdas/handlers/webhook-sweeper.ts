import { getServices, type Services } from "../composition.js";
import { sweepDueDeliveries } from "../core/webhooks.js";
import type { InvocationContext } from "./stream-consumer.js";

/**
 * Attempts the webhook deliveries whose next attempt is due: retries after a backoff, and
 * deliveries whose first attempt the dispatcher left for later. Scheduled every minute in
 * AWS; a timer in local mode.
 */
export function createDeliverySweeper(resolveServices: () => Services = getServices) {
  return async (_event?: unknown, context?: InvocationContext): Promise<{ attempted: number; deferred: number }> => {
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    const report = await sweepDueDeliveries(resolveServices(), { deadline });
    for (const error of report.errors) {
      console.error(
        JSON.stringify({
          level: "error",
          message: "delivery attempt failed; it is retried when its lease ends",
          error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        }),
      );
    }
    return { attempted: report.attempted, deferred: report.deferred };
  };
}

export const handler = createDeliverySweeper();
