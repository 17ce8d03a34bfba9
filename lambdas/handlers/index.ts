import type { Services } from "../composition.js";
import type { FunctionName } from "../contract/routes.js";
import { createApiHandler, type ApiHandler, type Operations } from "../http/api-handler.js";
import type { Observability } from "../observability.js";
import { adminOperations } from "./admin.js";
import { artifactOperations } from "./artifacts.js";
import { automationOperations } from "./automations.js";
import { healthOperations } from "./health.js";
import { hubOperations } from "./hf.js";
import { createHubHandler } from "../http/hf-handler.js";
import { lineageOperations } from "./lineage.js";
import { registryOperations } from "./registries.js";

/** Every function of the route table with its operations; `hf` speaks the Hugging Face dialect (lambdas/http/hf-handler.ts). */
export const operationsByFunction: { [F in Exclude<FunctionName, "hf">]: Operations<F> } = {
  admin: adminOperations,
  artifacts: artifactOperations,
  automations: automationOperations,
  health: healthOperations,
  lineage: lineageOperations,
  registries: registryOperations,
};

/** The entry point of every function, built on one set of services; the local server dispatches through them. */
export function createApiHandlers(services: Services, observability: Observability): Record<FunctionName, ApiHandler> {
  const handlers = { hf: createHubHandler(hubOperations, services, observability) } as Record<FunctionName, ApiHandler>;
  for (const fn of Object.keys(operationsByFunction) as Exclude<FunctionName, "hf">[]) {
    handlers[fn] = createApiHandler(fn, operationsByFunction[fn] as Operations<typeof fn>, services, observability);
  }
  return handlers;
}
