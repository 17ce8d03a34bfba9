import type { RegistryAccess } from "./authorize.js";
import { NotFoundError } from "./errors.js";
import type { Principal, RegistryRole } from "./model.js";
import type { Clock, IdentityStore, RegistryStore } from "./ports.js";

export interface MemberDeps {
  identity: IdentityStore;
  registries: RegistryStore;
  clock: Clock;
}

export async function grantMember(
  deps: MemberDeps,
  principal: Principal,
  access: RegistryAccess,
  userId: string,
  role: RegistryRole,
): Promise<{ registry: string; user: string; role: RegistryRole }> {
  if (!(await deps.identity.getUser(userId))) throw new NotFoundError(`user ${userId} does not exist`);
  const at = deps.clock.now().toISOString();
  await deps.registries.putMember(access.registry.name, userId, role, { actor: principal.userId, at });
  return { registry: access.registry.name, user: userId, role };
}

export async function revokeMember(
  deps: MemberDeps,
  principal: Principal,
  access: RegistryAccess,
  userId: string,
): Promise<{ registry: string; user: string; revoked: true }> {
  const at = deps.clock.now().toISOString();
  const removed = await deps.registries.removeMember(access.registry.name, userId, { actor: principal.userId, at });
  if (!removed) throw new NotFoundError(`${userId} is not a member of registry ${access.registry.name}`);
  return { registry: access.registry.name, user: userId, revoked: true };
}
