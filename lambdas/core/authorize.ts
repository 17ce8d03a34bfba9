import { NAME_PATTERN } from "../contract/common.js";
import { ForbiddenError, NotFoundError, ValidationError } from "./errors.js";
import {
  parseVersionSelector,
  type LinkTarget,
  type OrgRole,
  type Permission,
  type Principal,
  type RegistryRecord,
  type RegistryRole,
} from "./model.js";
import type { CollectionVersionRef, RegistryStore } from "./ports.js";

const RANK: Record<OrgRole | RegistryRole, number> = { viewer: 0, member: 1, admin: 2 };

/** The org role each org- or project-level permission needs. */
const ORG_ROLE_FOR: Partial<Record<Permission, OrgRole>> = {
  "org:read": "viewer",
  "org:admin": "admin",
  "project:read": "viewer",
  "project:write": "member",
  "project:admin": "admin",
};

/** The registry role each registry-level permission needs. */
const REGISTRY_ROLE_FOR: Partial<Record<Permission, RegistryRole>> = {
  "registry:read": "viewer",
  "registry:write": "member",
  "registry:admin": "admin",
};

export interface RegistryAccess {
  registry: RegistryRecord;
  role: RegistryRole;
  /**
   * The collection version a read route's path names (`{collection}`, `{v}`), read in the
   * same batch as the access check so that resolving it costs no read of its own.
   */
  version?: CollectionVersionRef & { target?: LinkTarget };
}

export function atLeast(role: OrgRole | RegistryRole, needed: OrgRole | RegistryRole): boolean {
  return RANK[role] >= RANK[needed];
}

/**
 * The highest role that applies: org admins are admins everywhere; everybody in the org is
 * at least a viewer of an organization-visible registry; a membership may grant more.
 * Undefined means the registry is invisible to this principal.
 */
export function effectiveRegistryRole(
  principal: Principal,
  registry: RegistryRecord,
  membership: RegistryRole | undefined,
): RegistryRole | undefined {
  if (principal.orgRole === "admin") return "admin";
  const baseline: RegistryRole | undefined = registry.visibility === "organization" ? "viewer" : undefined;
  if (baseline === undefined) return membership;
  if (membership === undefined) return baseline;
  return atLeast(membership, baseline) ? membership : baseline;
}

/**
 * Deny by default: a permission that neither table knows is refused, and so is a registry
 * permission on a route without a `{registry}` parameter.
 */
export async function authorizeRoute(
  deps: { registries: RegistryStore },
  principal: Principal,
  permission: Permission,
  params: Record<string, string>,
): Promise<{ registry?: RegistryAccess }> {
  if (permission === "public") return {};
  const orgRole = ORG_ROLE_FOR[permission];
  if (orgRole !== undefined) {
    if (!atLeast(principal.orgRole, orgRole)) {
      throw new ForbiddenError(`${principal.userId} (${principal.orgRole}) may not do this: it needs ${permission}`);
    }
    return {};
  }
  const registryRole = REGISTRY_ROLE_FOR[permission];
  const name = params.registry;
  if (registryRole === undefined || name === undefined) {
    throw new ForbiddenError(`no rule allows this request (${permission})`);
  }
  const version = registryRole === "viewer" ? versionNamedBy(params) : undefined;
  const access = await registryAccess(deps, principal, name, version);
  if (!atLeast(access.role, registryRole)) {
    throw new ForbiddenError(
      `${principal.userId} is ${access.role} of registry ${name}; this needs ${registryRole}`,
    );
  }
  return { registry: access };
}

/** A registry the principal cannot see answers exactly like one that does not exist. */
export async function registryAccess(
  deps: { registries: RegistryStore },
  principal: Principal,
  name: string,
  version?: CollectionVersionRef,
): Promise<RegistryAccess> {
  if (!NAME_PATTERN.test(name)) {
    throw new ValidationError("invalid path: registry must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  }
  const { registry, role: membership, target } = await deps.registries.getRegistryAccess(name, principal.userId, version);
  const role = registry && effectiveRegistryRole(principal, registry, membership);
  if (!registry || role === undefined) throw new NotFoundError(`registry ${name} does not exist`);
  return { registry, role, ...(version ? { version: { ...version, ...(target ? { target } : {}) } } : {}) };
}

/** The collection version path parameters name, when they are well-formed (others fail validation later). */
function versionNamedBy(params: Record<string, string>): CollectionVersionRef | undefined {
  const { collection, v } = params;
  if (collection === undefined || v === undefined || !NAME_PATTERN.test(collection)) return undefined;
  const selector = parseVersionSelector(v);
  if ("alias" in selector && !NAME_PATTERN.test(selector.alias)) return undefined;
  return { collection, ...selector };
}
