import type { Services } from "../lambdas/composition.js";
import { createStreamConsumer } from "../lambdas/handlers/stream-consumer.js";
import { createDeliverySweeper } from "../lambdas/handlers/webhook-sweeper.js";
import { startStreamPoller } from "./stream-poller.js";

export const DEFAULT_STREAM_POLL_MS = 200;
export const DEFAULT_SWEEP_MS = 1000;

/**
 * What AWS runs beside the API, on one machine: the stream consumer fed by polling DynamoDB
 * Local's stream (MREG_STREAM_POLL_MS) and the delivery sweeper on a timer
 * (MREG_WEBHOOK_SWEEP_MS). Started before the server serves, so no change goes unseen.
 */
export async function startDeliveryWorkers(options: {
  services: Services;
  endpoint: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}): Promise<{ stop(): Promise<void> }> {
  const env = options.env ?? process.env;
  const { services, log } = options;
  const poller = await startStreamPoller({
    endpoint: options.endpoint,
    region: services.config.AWS_REGION,
    tableName: services.config.MREG_TABLE_NAME,
    intervalMs: intervalFrom(env, "MREG_STREAM_POLL_MS", DEFAULT_STREAM_POLL_MS),
    // The audit trail is in the table; a line per change would flood the local console.
    handler: createStreamConsumer(() => services, { logAuditEvents: false }),
    log,
  });
  const sweep = createDeliverySweeper(() => services);
  const sweeper = startTimer(intervalFrom(env, "MREG_WEBHOOK_SWEEP_MS", DEFAULT_SWEEP_MS), () => sweep(), log);
  return {
    async stop() {
      await sweeper.stop();
      await poller.stop();
    },
  };
}

function intervalFrom(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const value = env[variable];
  if (value === undefined || value === "") return fallback;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 10 || ms > 60_000) throw new Error(`${variable} must be 10-60000 ms, not ${value}`);
  return ms;
}

/** Runs `task` every `intervalMs`, never twice at once, until stopped. */
function startTimer(intervalMs: number, task: () => Promise<unknown>, log?: (line: string) => void) {
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
        log?.(`delivery sweep failed: ${(error as Error).message}`);
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
