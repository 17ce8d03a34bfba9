import type { Services } from "../lambdas/composition.js";
import { createJobRunner } from "../lambdas/handlers/job-runner.js";
import type { Observability } from "../lambdas/observability.js";

/**
 * What the scheduled job-runner function does in AWS, on one machine: every `jobPollMs`
 * (MREG_JOB_POLL_MS) it advances the queued and running jobs. Jobs are items in the table, so
 * a restart picks up where the last step written left off; the data dir's lock makes this
 * process the only runner, so a job still leased by the previous run is taken over at once.
 */
export function startJobWorker(options: { services: Services; observability: Observability; log?: (line: string) => void }): {
  stop(): Promise<void>;
} {
  const { services, observability, log } = options;
  let stopped = false;
  const run = createJobRunner(services, observability, { soleRunner: services.config.soleServer, stopping: () => stopped });
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, services.config.jobPollMs))));
      if (stopped) break;
      try {
        // No deadline: a stop waits for the step in flight, which is written before the next starts.
        await run();
      } catch (error) {
        log?.(`job runner failed: ${(error as Error).message}`);
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
