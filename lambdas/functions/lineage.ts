import { lineageOperations } from "../handlers/lineage.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `lineage` function's Lambda entry point. */
export const handler = createApiHandler("lineage", lineageOperations, services, observability);
