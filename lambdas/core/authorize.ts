import { NAME_PATTERN } from "../contract/common.js";
import { authenticateKey, bearerKeyHash } from "./api-keys.js";
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
import type { Clock, CollectionVersionRef, IdentityStore, RegistryStore } from "./ports.js";

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
  /**
   * The caller's effective role. On a resolve route (see `admit`) it is the role the
   * registry's baseline gives when that sufficed, a membership above it left unread.
   */
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
 * The aliases a caller of `role` may not make disappear in `registry`: unlinking a link
 * takes its aliases with it, so a link holding a protected alias is unlinked by the
 * registry's admins only. The store holds this on its write (a protected alias moved onto
 * the link meanwhile makes the unlink refuse, not succeed).
 */
export function protectedFrom(registry: RegistryRecord, role: RegistryRole): string[] | undefined {
  return atLeast(role, "admin") || registry.protectedAliases.length === 0 ? undefined : registry.protectedAliases;
}

const ANONYMOUS: Principal = { userId: "anonymous", orgRole: "viewer" };

/**
 * Authenticates a request and authorizes it for its route's permission. A read route that
 * names a collection version (`{collection}`, `{v}`: a resolve) reads the key and, at the
 * same time, the registry with that version; the caller's membership is read only when
 * the registry's baseline does not admit the caller (a restricted registry). So resolving
 * in an organization-visible registry is one round trip. Every other route authenticates,
 * then authorizes.
 */
export async function admit(
  deps: { identity: IdentityStore; registries: RegistryStore; clock: Clock },
  authorization: string | undefined,
  permission: Permission,
  params: Record<string, string>,
  /** Told who is asking as soon as that is known, also when the request is then refused (for the log line). */
  onAuthenticated?: (principal: Principal) => void,
): Promise<{ principal: Principal; registry?: RegistryAccess }> {
  if (permission === "public") {
    onAuthenticated?.(ANONYMOUS);
    return { principal: ANONYMOUS };
  }
  const keyHash = bearerKeyHash(authorization);
  const needed = REGISTRY_ROLE_FOR[permission];
  const name = params.registry;
  const version = needed === "viewer" && name !== undefined && NAME_PATTERN.test(name) ? versionNamedBy(params) : undefined;
  if (version === undefined || name === undefined) {
    const principal = await authenticateKey(deps, keyHash);
    onAuthenticated?.(principal);
    return { principal, ...(await authorizeRoute(deps, principal, permission, params)) };
  }
  const [authenticated, read] = await Promise.allSettled([
    authenticateKey(deps, keyHash),
    deps.registries.getRegistryAccess(name, undefined, version),
  ]);
  // Who is asking is settled first: a bad key is a 401 whatever the registry read answered.
  if (authenticated.status === "rejected") throw authenticated.reason;
  const principal = authenticated.value;
  onAuthenticated?.(principal);
  if (read.status === "rejected") throw read.reason;
  const { registry, target } = read.value;
  const baseline = registry && effectiveRegistryRole(principal, registry, undefined);
  const membership =
    registry && (baseline === undefined || !atLeast(baseline, "viewer"))
      ? await deps.registries.getMembership(name, principal.userId)
      : undefined;
  const role = registry && effectiveRegistryRole(principal, registry, membership);
  if (!registry || role === undefined) throw new NotFoundError(`registry ${name} does not exist`);
  // Resolve routes need no more than a viewer, which every role is; the role is the one established.
  return { principal, registry: { registry, role, version: { ...version, ...(target ? { target } : {}) } } };
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
  if (permission === "user:self") {
    if (principal.orgRole === "admin" || (params.user !== undefined && params.user === principal.userId)) return {};
    throw new ForbiddenError(`${principal.userId} may only see this of themselves; other users' need an org admin`);
  }
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
    throw new ForbiddenError(`${principal.userId} is ${access.role} of registry ${name}; this needs ${registryRole}`);
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
