import type { Services } from "../composition.js";
import type { FunctionName } from "../contract/routes.js";
import { createApiHandler, type ApiHandler, type Operations } from "../http/api-handler.js";
import type { Observability } from "../observability.js";
import { adminOperations } from "./admin.js";
import { artifactOperations } from "./artifacts.js";
import { automationOperations } from "./automations.js";
import { healthOperations } from "./health.js";
import { lineageOperations } from "./lineage.js";
import { registryOperations } from "./registries.js";

/** Every function of the route table with its operations. */
export const operationsByFunction: { [F in FunctionName]: Operations<F> } = {
  admin: adminOperations,
  artifacts: artifactOperations,
  automations: automationOperations,
  health: healthOperations,
  lineage: lineageOperations,
  registries: registryOperations,
};

/** The entry point of every function, built on one set of services; the local server dispatches through them. */
export function createApiHandlers(services: Services, observability: Observability): Record<FunctionName, ApiHandler> {
  const handlers = {} as Record<FunctionName, ApiHandler>;
  for (const fn of Object.keys(operationsByFunction) as FunctionName[]) {
    handlers[fn] = createApiHandler(fn, operationsByFunction[fn] as Operations<typeof fn>, services, observability);
  }
  return handlers;
}
