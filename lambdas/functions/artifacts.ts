import { artifactOperations } from "../handlers/artifacts.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `artifacts` function's Lambda entry point. */
export const handler = createApiHandler("artifacts", artifactOperations, services, observability);
