import { healthOperations } from "../handlers/health.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `health` function's Lambda entry point. */
export const handler = createApiHandler("health", healthOperations, services, observability);
