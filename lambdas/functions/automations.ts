import { automationOperations } from "../handlers/automations.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `automations` function's Lambda entry point. */
export const handler = createApiHandler("automations", automationOperations, services, observability);
