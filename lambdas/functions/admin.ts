import { adminOperations } from "../handlers/admin.js";
import { createApiHandler } from "../http/api-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `admin` function's Lambda entry point. */
export const handler = createApiHandler("admin", adminOperations, services, observability);
