import type { Context, DynamoDBStreamEvent } from "aws-lambda";
import { createStreamConsumer } from "../handlers/stream-consumer.js";
import { Re2AliasPatterns } from "../adapters/regex/re2-alias-patterns.js";
import { createLambdaRuntime } from "./runtime.js";

// This function matches or checks automations' alias patterns: it carries the RE2 engine.
const { services, observability } = createLambdaRuntime({ aliasPatterns: new Re2AliasPatterns() });
const consume = createStreamConsumer(services, observability);

/** The table stream's consumer: audit event log lines and webhook deliveries. */
export const handler = (event: DynamoDBStreamEvent, context: Context) => {
  observability.logger.addContext(context);
  return consume(event, context);
};
