import { registryOperations } from "../handlers/registries.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `registries` function's Lambda entry point. */
export const handler = createApiHandler("registries", registryOperations, services, observability);
