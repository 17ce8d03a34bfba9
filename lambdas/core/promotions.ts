import type { PromotionRequest, PromotionResponse } from "../contract/registries.js";
import type { RegistryAccess } from "./authorize.js";
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import { LATEST_ALIAS, versionLabel, type Page, type Principal, type PromotionRecord } from "./model.js";
import type { Clock, Ids, PromotionKey, PromotionQuery, PromotionStore, RegistryStore } from "./ports.js";
import { loadLink, type CollectionRef } from "./registries.js";

export interface PromotionDeps {
  registries: RegistryStore;
  promotions: PromotionStore;
  clock: Clock;
  ids: Ids;
}

/** Distinct approvals a promotion needs now: the registry's setting, and at least one (someone other than the asker decides). */
export function approvalsNeeded(access: RegistryAccess): number {
  return Math.max(1, access.registry.approvalsRequired ?? 0);
}

export function toPromotionResponse(promotion: PromotionRecord, approvalsRequired: number): PromotionResponse {
  return {
    id: promotion.id,
    registry: promotion.registry,
    collection: promotion.collection,
    alias: promotion.alias,
    version: versionLabel(promotion.index),
    from: promotion.from === undefined ? null : versionLabel(promotion.from),
    note: promotion.note ?? null,
    status: promotion.status,
    requestedBy: promotion.requestedBy,
    requestedAt: promotion.requestedAt,
    approvals: promotion.approvals,
    approvalsRequired,
    rejection: promotion.rejection ?? null,
    decidedAt: promotion.decidedAt ?? null,
    staleReason: promotion.staleReason ?? null,
  };
}

/**
 * A member asks for a protected alias to move to a version. The request records what the
 * alias names now: approving it moves the alias only from there (otherwise it goes stale).
 */
export async function requestPromotion(
  deps: PromotionDeps,
  principal: Principal,
  access: RegistryAccess,
  ref: CollectionRef,
  request: PromotionRequest,
): Promise<PromotionResponse> {
  if (request.alias === LATEST_ALIAS) throw new ValidationError("the latest alias is maintained by the registry and cannot be promoted");
  if (!access.registry.protectedAliases.includes(request.alias)) {
    throw new UnprocessableError(
      `alias ${request.alias} is not protected in registry ${access.registry.name}: members set it directly (PUT …/aliases/${request.alias})`,
    );
  }
  const link = await loadLink(deps, ref, request.version);
  const from = await deps.promotions.aliasHolder(ref.registry, ref.collection, request.alias);
  if (from === link.index) {
    throw new ConflictError(`${request.alias} already names @${ref.registry}/${ref.collection}:${versionLabel(link.index)}`);
  }
  const promotion: PromotionRecord = {
    id: deps.ids.next(),
    registry: ref.registry,
    collection: ref.collection,
    alias: request.alias,
    index: link.index,
    ...(from === undefined ? {} : { from }),
    ...(request.note === undefined ? {} : { note: request.note }),
    requestedBy: principal.userId,
    requestedAt: deps.clock.now().toISOString(),
    status: "pending",
    approvals: [],
  };
  await deps.promotions.createPromotion(promotion);
  return toPromotionResponse(promotion, approvalsNeeded(access));
}

export async function listPromotions(
  deps: PromotionDeps,
  access: RegistryAccess,
  ref: CollectionRef,
  query: PromotionQuery,
): Promise<Page<PromotionResponse>> {
  const page = await deps.promotions.listPromotions(ref.registry, ref.collection, query);
  return { items: page.items.map((p) => toPromotionResponse(p, approvalsNeeded(access))), nextCursor: page.nextCursor };
}

async function requirePromotion(deps: PromotionDeps, key: PromotionKey): Promise<PromotionRecord> {
  const promotion = await deps.promotions.getPromotion(key);
  if (!promotion) throw new NotFoundError(`@${key.registry}/${key.collection} has no promotion ${key.id}`);
  return promotion;
}

export async function getPromotion(deps: PromotionDeps, access: RegistryAccess, key: PromotionKey): Promise<PromotionResponse> {
  return toPromotionResponse(await requirePromotion(deps, key), approvalsNeeded(access));
}

/** The asker does not decide on their own request. */
function assertNotRequester(principal: Principal, promotion: PromotionRecord): void {
  if (promotion.requestedBy === principal.userId) {
    throw new ForbiddenError(`${principal.userId} asked for promotion ${promotion.id}: another registry admin decides on it`);
  }
}

/**
 * A registry admin other than the asker approves. The approval that brings the count of
 * distinct approvers to what the registry requires moves the alias in the same atomic write,
 * and only if the alias still names what it named at the request; if it does not (or the
 * version was unlinked), the request becomes `stale` and the answer is a 409 saying why.
 */
export async function approvePromotion(
  deps: PromotionDeps,
  principal: Principal,
  access: RegistryAccess,
  key: PromotionKey,
  note?: string,
): Promise<PromotionResponse> {
  assertNotRequester(principal, await requirePromotion(deps, key));
  const required = approvalsNeeded(access);
  const at = deps.clock.now().toISOString();
  const written = await deps.promotions.approvePromotion(
    key,
    { by: principal.userId, at, ...(note === undefined ? {} : { note }) },
    required,
  );
  if (written.status === "stale") {
    throw new ConflictError(
      `promotion ${key.id} is stale: ${written.staleReason ?? "the alias moved since it was requested"}; nothing was moved`,
    );
  }
  return toPromotionResponse(written, required);
}

/** A registry admin other than the asker rejects a pending request; it is decided for good. */
export async function rejectPromotion(
  deps: PromotionDeps,
  principal: Principal,
  access: RegistryAccess,
  key: PromotionKey,
  note?: string,
): Promise<PromotionResponse> {
  assertNotRequester(principal, await requirePromotion(deps, key));
  const at = deps.clock.now().toISOString();
  const written = await deps.promotions.rejectPromotion(key, { by: principal.userId, at, ...(note === undefined ? {} : { note }) });
  return toPromotionResponse(written, approvalsNeeded(access));
}
