import * as z from "zod";
import type { RegistryAccess } from "../core/authorize.js";
import {
  createAutomation,
  deleteAutomation,
  getAutomation,
  getDelivery,
  listAutomations,
  listDeliveries,
  replayDelivery,
} from "../core/automations.js";
import { ForbiddenError } from "../core/errors.js";
import { deliveryOutcome as outcomeOf } from "../observability.js";
import { created, ok, type ApiRequest, type Operations } from "../http/api-handler.js";
import { parse } from "../http/validate.js";
import { createAutomationRequest, deliveryId } from "../contract/automations.js";
import { name, pageQuery } from "../contract/common.js";

function access(request: ApiRequest): RegistryAccess {
  if (!request.registry) throw new ForbiddenError("no registry access was established for this route");
  return request.registry;
}

function automationId(request: ApiRequest): string {
  return parse(z.object({ id: name }), request.params, "path").id;
}

function deliveryParam(request: ApiRequest): string {
  return parse(z.object({ delivery: deliveryId }), request.params, "path").delivery;
}

/** The operations of the `automations` function, by the names lambdas/contract/routes.ts gives them. */
export const automationOperations: Operations<"automations"> = {
  createAutomation: async (request) =>
    created(
      await createAutomation(
        request.services,
        request.principal,
        access(request),
        parse(createAutomationRequest, request.body, "automation"),
      ),
    ),
  listAutomations: async (request) =>
    ok(await listAutomations(request.services, access(request), parse(pageQuery, request.query, "query"))),
  getAutomation: async (request) => ok(await getAutomation(request.services, access(request), automationId(request))),
  deleteAutomation: async (request) =>
    ok(await deleteAutomation(request.services, request.principal, access(request), automationId(request))),
  listDeliveries: async (request) =>
    ok(await listDeliveries(request.services, access(request), automationId(request), parse(pageQuery, request.query, "query"))),
  getDelivery: async (request) => ok(await getDelivery(request.services, access(request), automationId(request), deliveryParam(request))),
  replayDelivery: async (request) => {
    const replayed = await replayDelivery(request.services, access(request), automationId(request), deliveryParam(request));
    request.metrics.webhookDeliveries(outcomeOf(replayed.status), 1);
    return ok(replayed);
  },
};
