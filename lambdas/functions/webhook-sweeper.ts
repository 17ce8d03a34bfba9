import type { Context } from "aws-lambda";
import { createDeliverySweeper } from "../handlers/webhook-sweeper.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();
const sweep = createDeliverySweeper(services, observability);

/** Scheduled every minute: the webhook deliveries whose next attempt is due. */
export const handler = (event: unknown, context: Context) => {
  observability.logger.addContext(context);
  return sweep(event, context);
};
