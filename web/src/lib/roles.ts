import type { Role } from "../api/types";

const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2 };

export function atLeast(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

/** What the org role allows, mirroring the route table's permissions (lambdas/contract/routes.ts). */
export function orgAbilities(role: Role | undefined) {
  return {
    createRegistry: atLeast(role, "admin"),
    manageUsers: atLeast(role, "admin"),
    logArtifacts: atLeast(role, "member"),
  };
}

/** What a registry role allows: members link, tag, unlink and move unprotected aliases; admins the rest. */
export function registryAbilities(role: Role | undefined) {
  return {
    read: atLeast(role, "viewer"),
    createCollection: atLeast(role, "member"),
    link: atLeast(role, "member"),
    unlink: atLeast(role, "member"),
    tag: atLeast(role, "member"),
    moveAliases: atLeast(role, "member"),
    manageMembers: atLeast(role, "admin"),
    automations: atLeast(role, "admin"),
  };
}

export type AliasDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether this role may set or remove an alias in a registry, and why not: the same rules
 * the server applies (lambdas/core/registries.ts), so a disabled control can explain itself.
 */
export function aliasPermission(
  alias: string,
  registry: { name: string; protectedAliases: string[] },
  role: Role | undefined,
): AliasDecision {
  if (alias === "latest") return { allowed: false, reason: "latest is maintained by the registry: it always names the newest version." };
  if (!atLeast(role, "member")) return { allowed: false, reason: `Viewers of ${registry.name} cannot move aliases.` };
  if (registry.protectedAliases.includes(alias) && !atLeast(role, "admin")) {
    return {
      allowed: false,
      reason: `${alias} is protected in registry ${registry.name}: only its admins may set or remove it.`,
    };
  }
  return { allowed: true };
}
