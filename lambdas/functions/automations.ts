import { automationOperations } from "../handlers/automations.js";
import { createApiHandler } from "../http/api-handler.js";
import { Re2AliasPatterns } from "../adapters/regex/re2-alias-patterns.js";
import { createLambdaRuntime } from "./runtime.js";

// This function matches or checks automations' alias patterns: it carries the RE2 engine.
const { services, observability } = createLambdaRuntime({ aliasPatterns: new Re2AliasPatterns() });

/** The `automations` function's Lambda entry point. */
export const handler = createApiHandler("automations", automationOperations, services, observability);
