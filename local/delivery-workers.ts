import { AUDIT_EVENT_FILTER } from "../lambdas/adapters/dynamodb/audit-event-filter.js";
import type { Services } from "../lambdas/composition.js";
import { createStreamConsumer } from "../lambdas/handlers/stream-consumer.js";
import { createGarbageCollector } from "../lambdas/handlers/garbage-collector.js";
import { createDeliverySweeper } from "../lambdas/handlers/webhook-sweeper.js";
import type { Observability } from "../lambdas/observability.js";
import { startStreamPoller } from "./stream-poller.js";

/**
 * What AWS runs beside the API, on one machine: the stream consumer fed by polling DynamoDB
 * Local's stream every `streamPollMs` (MREG_STREAM_POLL_MS), through the same filter as the
 * event source mapping, and the delivery sweeper every `webhookSweepMs`
 * (MREG_WEBHOOK_SWEEP_MS), and the garbage collector every `gcIntervalMs` (MREG_GC_INTERVAL_MS).
 * Started before the server serves, so no change goes unseen.
 */
export async function startDeliveryWorkers(options: {
  services: Services;
  observability: Observability;
  /** Where the stream poller keeps its position across restarts (local/stream-poller.ts). */
  checkpointFile?: string;
  log?: (line: string) => void;
}): Promise<{ stop(): Promise<void> }> {
  const { services, observability, log } = options;
  const { config } = services;
  const endpoint = config.endpoints.dynamodb;
  if (!endpoint || !config.credentials) throw new Error("the local delivery workers need DynamoDB Local's endpoint and credentials");
  const poller = await startStreamPoller({
    endpoint,
    credentials: config.credentials,
    region: config.region,
    tableName: config.tableName,
    intervalMs: config.streamPollMs,
    filter: AUDIT_EVENT_FILTER,
    // The audit trail is in the table; a line per change would flood the local console.
    handler: createStreamConsumer(services, observability, { logAuditEvents: false }),
    checkpointFile: options.checkpointFile,
    log,
  });
  const sweep = createDeliverySweeper(services, observability);
  const sweeper = startTimer("delivery sweep", config.webhookSweepMs, () => sweep(), log);
  const collect = createGarbageCollector(services, observability);
  const collector = startTimer("garbage collection", config.gcIntervalMs, () => collect(), log);
  return {
    async stop() {
      await collector.stop();
      await sweeper.stop();
      await poller.stop();
    },
  };
}

/** Runs `task` every `intervalMs`, never twice at once, until stopped. */
function startTimer(name: string, intervalMs: number, task: () => Promise<unknown>, log?: (line: string) => void) {
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, intervalMs))));
      if (stopped) break;
      try {
        await task();
      } catch (error) {
        log?.(`${name} failed: ${(error as Error).message}`);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
