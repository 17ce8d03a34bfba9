import type { Context } from "aws-lambda";
import { createGarbageCollector } from "../handlers/garbage-collector.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();
const collect = createGarbageCollector(services, observability);

/** Scheduled every hour: pending releases of deleted versions, then unreferenced blobs past their grace. */
export const handler = (_event: unknown, context: Context) => {
  observability.logger.addContext(context);
  return collect();
};
