import { ForbiddenError } from "./errors.js";
import type { OrgRole, Principal } from "./model.js";
import type { Permission } from "../routes.js";

const RANK: Record<OrgRole, number> = { viewer: 0, member: 1, admin: 2 };

const REQUIRED_ROLE: Record<Exclude<Permission, "public">, OrgRole> = {
  "project:read": "viewer",
  "project:write": "member",
  "project:admin": "admin",
  "org:admin": "admin",
};

/** Deny by default: a permission this table does not know is refused. */
export function authorize(principal: Principal, permission: Permission): void {
  if (permission === "public") return;
  const required = REQUIRED_ROLE[permission];
  if (required === undefined || RANK[principal.orgRole] < RANK[required]) {
    throw new ForbiddenError(`${principal.userId} (${principal.orgRole}) may not do this; it needs ${permission}`);
  }
}
