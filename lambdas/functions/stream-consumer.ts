import type { Context, DynamoDBStreamEvent } from "aws-lambda";
import { createStreamConsumer } from "../handlers/stream-consumer.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();
const consume = createStreamConsumer(services, observability);

/** The table stream's consumer: audit event log lines and webhook deliveries. */
export const handler = (event: DynamoDBStreamEvent, context: Context) => {
  observability.logger.addContext(context);
  return consume(event, context);
};
