import type { RegistryAccess } from "./authorize.js";
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import type { AutomationRecord, DeliveryRecord, Page, PageRequest, Principal } from "./model.js";
import type { AliasPatterns, Ids } from "./ports.js";
import { MAX_TEMPLATE_LENGTH, validateTemplate } from "./webhook-payload.js";
import { parseWebhookUrl } from "./webhook-targets.js";
import { attemptDelivery, type WebhookDeps } from "./webhooks.js";
import type { AutomationResponse, CreateAutomationRequest, DeliveryResponse } from "../contract/automations.js";

export type AutomationDeps = WebhookDeps & { ids: Ids };

export function toAutomationResponse(automation: AutomationRecord): AutomationResponse {
  return {
    id: automation.id,
    registry: automation.registry,
    name: automation.name,
    event: automation.event,
    collection: automation.collection ?? null,
    aliasPattern: automation.aliasPattern ?? null,
    url: automation.url,
    hasSecret: automation.secret !== undefined,
    payloadTemplate: automation.payloadTemplate ?? null,
    createdAt: automation.createdAt,
    createdBy: automation.createdBy,
  };
}

export function toDeliveryResponse(delivery: DeliveryRecord, withPayload = false): DeliveryResponse {
  return {
    id: delivery.id,
    automationId: delivery.automationId,
    status: delivery.status,
    event: delivery.event,
    attemptCount: delivery.attemptCount,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.status === "pending" ? (delivery.nextAttemptAt ?? null) : null,
    error: delivery.error ?? null,
    createdAt: delivery.createdAt,
    updatedAt: delivery.updatedAt,
    ...(withPayload ? { payload: parsePayload(delivery.body) } : {}),
  };
}

/** The body as sent; the text itself when a template rendered something that is not JSON. */
function parsePayload(body: string): unknown {
  return isJson(body) ? (JSON.parse(body) as unknown) : body;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A pattern is matched against every alias event of the registry, by an engine that runs in
 * linear time (lambdas/adapters/regex/re2-alias-patterns.ts): what it cannot take (RE2's
 * syntax has no backreferences or lookaround) is refused here, when the automation is made.
 */
export function checkAliasPattern(patterns: AliasPatterns, pattern: string): void {
  const problem = patterns.problem(pattern);
  if (problem !== undefined) {
    throw new ValidationError(
      `aliasPattern is not a valid RE2 regular expression: ${problem} (backreferences, lookahead and lookbehind are not supported)`,
    );
  }
}

export async function createAutomation(
  deps: AutomationDeps,
  principal: Principal,
  access: RegistryAccess,
  request: CreateAutomationRequest,
): Promise<AutomationResponse> {
  if (request.aliasPattern !== undefined) {
    if (request.event === "LINK_ARTIFACT") {
      throw new ValidationError(
        "aliasPattern applies to alias and promotion automations only (ADD_ARTIFACT_ALIAS, PROMOTION_REQUESTED, PROMOTION_APPROVED)",
      );
    }
    checkAliasPattern(deps.aliasPatterns, request.aliasPattern);
  }
  const template =
    request.payloadTemplate === undefined
      ? undefined
      : typeof request.payloadTemplate === "string"
        ? request.payloadTemplate
        : JSON.stringify(request.payloadTemplate);
  if (template !== undefined) {
    if (template.length > MAX_TEMPLATE_LENGTH) {
      throw new ValidationError(`payloadTemplate must be at most ${MAX_TEMPLATE_LENGTH} characters`);
    }
    validateTemplate(template);
  }
  const url = parseWebhookUrl(request.url);
  await deps.webhooks.checkTarget(url.href);
  const automation: AutomationRecord = {
    id: deps.ids.next(),
    registry: access.registry.name,
    name: request.name,
    event: request.event,
    collection: request.collection,
    aliasPattern: request.aliasPattern,
    url: url.href,
    secret: request.secret,
    payloadTemplate: template,
    createdAt: deps.clock.now().toISOString(),
    createdBy: principal.userId,
  };
  await deps.automations.createAutomation(automation);
  return toAutomationResponse(automation);
}

export async function listAutomations(deps: AutomationDeps, access: RegistryAccess, page: PageRequest): Promise<Page<AutomationResponse>> {
  const result = await deps.automations.listAutomations(access.registry.name, page);
  return { items: result.items.map(toAutomationResponse), nextCursor: result.nextCursor };
}

async function requireAutomation(deps: AutomationDeps, access: RegistryAccess, id: string): Promise<AutomationRecord> {
  const automation = await deps.automations.getAutomation(access.registry.name, id);
  if (!automation) throw new NotFoundError(`registry ${access.registry.name} has no automation ${id}`);
  return automation;
}

export async function getAutomation(deps: AutomationDeps, access: RegistryAccess, id: string): Promise<AutomationResponse> {
  return toAutomationResponse(await requireAutomation(deps, access, id));
}

/** Deleting stops the automation: its pending deliveries are given up at their next attempt. */
export async function deleteAutomation(
  deps: AutomationDeps,
  principal: Principal,
  access: RegistryAccess,
  id: string,
): Promise<{ deleted: string }> {
  const at = deps.clock.now().toISOString();
  if (!(await deps.automations.deleteAutomation(access.registry.name, id, { actor: principal.userId, at }))) {
    throw new NotFoundError(`registry ${access.registry.name} has no automation ${id}`);
  }
  return { deleted: id };
}

export async function listDeliveries(
  deps: AutomationDeps,
  access: RegistryAccess,
  id: string,
  page: PageRequest,
): Promise<Page<DeliveryResponse>> {
  await requireAutomation(deps, access, id);
  const result = await deps.automations.listDeliveries(access.registry.name, id, page);
  return { items: result.items.map((d) => toDeliveryResponse(d)), nextCursor: result.nextCursor };
}

async function requireDelivery(deps: AutomationDeps, access: RegistryAccess, id: string, deliveryId: string) {
  await requireAutomation(deps, access, id);
  const key = { registry: access.registry.name, automationId: id, id: deliveryId };
  const delivery = await deps.automations.getDelivery(key);
  if (!delivery) throw new NotFoundError(`automation ${id} has no delivery ${deliveryId}`);
  return { key, delivery };
}

export async function getDelivery(deps: AutomationDeps, access: RegistryAccess, id: string, deliveryId: string): Promise<DeliveryResponse> {
  return toDeliveryResponse((await requireDelivery(deps, access, id, deliveryId)).delivery, true);
}

/**
 * Sends a finished delivery (failed or delivered) again, now, with the same id and body
 * and a fresh timestamp and signature: one attempt, logged with the others.
 */
export async function replayDelivery(
  deps: AutomationDeps,
  access: RegistryAccess,
  id: string,
  deliveryId: string,
): Promise<DeliveryResponse> {
  const { key, delivery } = await requireDelivery(deps, access, id, deliveryId);
  if (!isJson(delivery.body)) {
    throw new UnprocessableError(`delivery ${deliveryId} has no JSON payload to send: ${delivery.error ?? "fix the template"}`);
  }
  const replayed = await attemptDelivery(deps, key, { replay: true });
  if (!replayed) {
    throw new ConflictError(
      `delivery ${deliveryId} is pending: its next attempt is due at ${delivery.nextAttemptAt ?? "once its lease ends"}`,
    );
  }
  return toDeliveryResponse(replayed, true);
}
