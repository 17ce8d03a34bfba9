import type { Context } from "aws-lambda";
import { createJobRunner } from "../handlers/job-runner.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();
const run = createJobRunner(services, observability);

/** Scheduled every minute: steps of the bulk delete jobs, and the sweep of expired versions. */
export const handler = (event: unknown, context: Context) => {
  observability.logger.addContext(context);
  return run(event, context);
};
