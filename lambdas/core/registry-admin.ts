import type { MemberResponse, RegistryResponse, UpdateRegistryRequest } from "../contract/registries.js";
import type { RegistryAccess } from "./authorize.js";
import { ConflictError, NotFoundError } from "./errors.js";
import type { MemberRecord, Page, PageRequest, Principal, RegistryEdit, RegistryRecord } from "./model.js";
import type { AutomationStore, Clock, RegistryStore } from "./ports.js";
import type { DeleteDryRun } from "./artifact-versions.js";
import { toRegistryResponse } from "./registries.js";

export interface RegistryAdminDeps {
  registries: RegistryStore;
  automations: AutomationStore;
  clock: Clock;
}

function toMemberResponse(member: MemberRecord): MemberResponse {
  return { user: member.userId, role: member.role, grantedAt: member.grantedAt, grantedBy: member.grantedBy };
}

/** A registry's members with their roles (org admins are admins everywhere without a membership). */
export async function listMembers(
  deps: Pick<RegistryAdminDeps, "registries">,
  access: RegistryAccess,
  page: PageRequest,
): Promise<Page<MemberResponse>> {
  const result = await deps.registries.listMembers(access.registry.name, page);
  return { items: result.items.map(toMemberResponse), nextCursor: result.nextCursor };
}

export function applyRegistryEdit(current: RegistryRecord, request: UpdateRegistryRequest): RegistryEdit {
  const description = request.description === undefined ? current.description : (request.description ?? undefined);
  return {
    ...(description === undefined ? {} : { description }),
    approvalsRequired: request.approvalsRequired ?? current.approvalsRequired ?? 0,
  };
}

/** Registry admins edit its description and how many approvals move a protected alias; audited with both states. */
export async function updateRegistry(
  deps: Pick<RegistryAdminDeps, "registries" | "clock">,
  principal: Principal,
  access: RegistryAccess,
  request: UpdateRegistryRequest,
): Promise<RegistryResponse> {
  const at = deps.clock.now().toISOString();
  const { after } = await deps.registries.updateRegistry(access.registry.name, { actor: principal.userId, at }, (current) =>
    applyRegistryEdit(current, request),
  );
  return toRegistryResponse(after, access.role);
}

/** What deleting a registry does, computed before anything is written (a dry run answers this). */
export interface RegistryDeletePlan {
  registry: string;
  /** A registry is deleted only when it holds none; the first one found, if any. */
  collection?: string;
  members: { user: string; role: string }[];
  automations: { id: string; name: string }[];
}

export async function planRegistryDelete(deps: RegistryAdminDeps, name: string): Promise<RegistryDeletePlan> {
  const { registry } = await deps.registries.getRegistryAccess(name, undefined);
  if (!registry) throw new NotFoundError(`registry ${name} does not exist`);
  const [collections, automations] = await Promise.all([
    deps.registries.listCollections(name, { limit: 1 }),
    deps.automations.automationsOf(name),
  ]);
  const members: MemberRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.registries.listMembers(name, { limit: 1000, ...(cursor ? { cursor } : {}) });
    members.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return {
    registry: name,
    ...(collections.items[0] ? { collection: collections.items[0].name } : {}),
    members: members.map((m) => ({ user: m.userId, role: m.role })),
    automations: automations.map((a) => ({ id: a.id, name: a.name })),
  };
}

/**
 * Deletes an empty registry with its memberships and automations (org admins). The store
 * holds "empty" by a condition: a collection created meanwhile makes the deletion a 409.
 * A default registry (`model`, `dataset`) comes back empty at the next bootstrap.
 */
export async function executeRegistryDelete(
  deps: RegistryAdminDeps,
  principal: Principal,
  plan: RegistryDeletePlan,
): Promise<{ deleted: string; members: string[]; automations: string[] }> {
  if (plan.collection !== undefined) {
    throw new ConflictError(`registry ${plan.registry} holds collections (${plan.collection} among them): delete them first`);
  }
  const at = deps.clock.now().toISOString();
  const removed = await deps.registries.deleteRegistry(plan.registry, { actor: principal.userId, at });
  return { deleted: plan.registry, ...removed };
}

export async function deleteRegistry(
  deps: RegistryAdminDeps,
  principal: Principal,
  name: string,
  options: { dryRun?: boolean } = {},
): Promise<{ deleted: string; members: string[]; automations: string[] } | (DeleteDryRun & { members: string[]; automations: string[] })> {
  const plan = await planRegistryDelete(deps, name);
  if (options.dryRun) {
    if (plan.collection !== undefined) {
      throw new ConflictError(`registry ${plan.registry} holds collections (${plan.collection} among them): delete them first`);
    }
    return {
      dryRun: true,
      versions: [],
      links: [],
      files: 0,
      logicalBytes: 0,
      reclaimableBytes: 0,
      reclaimableBlobs: 0,
      members: plan.members.map((m) => m.user),
      automations: plan.automations.map((a) => a.id),
    };
  }
  return executeRegistryDelete(deps, principal, plan);
}
