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
    deleteRegistry: atLeast(role, "admin"),
    logArtifacts: atLeast(role, "member"),
    editVersions: atLeast(role, "member"),
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
    editDescription: atLeast(role, "member"),
    moveAliases: atLeast(role, "member"),
    requestPromotion: atLeast(role, "member"),
    manageMembers: atLeast(role, "admin"),
    automations: atLeast(role, "admin"),
    editRegistry: atLeast(role, "admin"),
    deleteCollection: atLeast(role, "admin"),
    decidePromotions: atLeast(role, "admin"),
  };
}

export type AliasDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether this role may set or remove an alias in a registry, and why not: the same rules
 * the server applies (lambdas/core/registries.ts), so a disabled control can explain itself.
 */
export function aliasPermission(
  alias: string,
  registry: { name: string; protectedAliases: string[]; approvalsRequired?: number },
  role: Role | undefined,
  action: "move" | "remove" = "move",
): AliasDecision {
  if (alias === "latest") return { allowed: false, reason: "latest is maintained by the registry: it always names the newest version." };
  if (!atLeast(role, "member")) return { allowed: false, reason: `Viewers of ${registry.name} cannot move aliases.` };
  // With approvals required a protected alias moves only through a promotion; admins may still remove it.
  if (action === "move" && registry.protectedAliases.includes(alias) && (registry.approvalsRequired ?? 0) > 0) {
    const n = registry.approvalsRequired!;
    return {
      allowed: false,
      reason: `${alias} is protected in registry ${registry.name} and moves only through a promotion approved by ${n} admin${n === 1 ? "" : "s"}: request one under Promotions.`,
    };
  }
  if (registry.protectedAliases.includes(alias) && !atLeast(role, "admin")) {
    return {
      allowed: false,
      reason: `${alias} is protected in registry ${registry.name}: only its admins may set or remove it.`,
    };
  }
  return { allowed: true };
}

/**
 * Whether this user may approve or reject a promotion request, and why not: registry admins
 * other than the one who asked, while the request is pending (lambdas/core/promotions.ts).
 */
export function promotionDecision(
  promotion: { status: string; requestedBy: string; approvals: { by: string }[] },
  me: string,
  role: Role | undefined,
): AliasDecision {
  if (promotion.status !== "pending") return { allowed: false, reason: `This request is ${promotion.status}.` };
  if (!atLeast(role, "admin")) return { allowed: false, reason: "Only the registry's admins approve or reject promotions." };
  if (promotion.requestedBy === me) return { allowed: false, reason: "You asked for this promotion: another admin must decide it." };
  if (promotion.approvals.some((a) => a.by === me))
    return { allowed: false, reason: "You approved this already: it waits for other admins." };
  return { allowed: true };
}
