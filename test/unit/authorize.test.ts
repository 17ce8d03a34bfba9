import { beforeEach, describe, expect, it } from "vitest";
import { authorizeRoute } from "../../lambdas/core/authorize.js";
import { ForbiddenError } from "../../lambdas/core/errors.js";
import type { OrgRole, Permission } from "../../lambdas/core/model.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

/** Org roles against the org- and project-level permissions of the route table. */
const allowed: Record<OrgRole, Permission[]> = {
  viewer: ["public", "org:read", "project:read"],
  member: ["public", "org:read", "project:read", "project:write"],
  admin: ["public", "org:read", "project:read", "project:write", "project:admin", "org:admin"],
};
const permissions: Permission[] = ["public", "org:read", "project:read", "project:write", "project:admin", "org:admin"];

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

describe("authorizeRoute for org roles", () => {
  const cases = (["viewer", "member", "admin"] as const).flatMap((role) =>
    permissions.map((permission) => [role, permission, allowed[role].includes(permission)] as const),
  );

  it.each(cases)("%s with %s: allowed=%s", async (role, permission, expected) => {
    const attempt = authorizeRoute(deps, { userId: "u", orgRole: role }, permission, { project: "p" });
    if (expected) await expect(attempt).resolves.toEqual({});
    else await expect(attempt).rejects.toThrow(ForbiddenError);
  });

  it("refuses a permission no table knows, even to an org admin", async () => {
    await expect(
      authorizeRoute(deps, { userId: "root", orgRole: "admin" }, "billing:admin" as Permission, {}),
    ).rejects.toThrow(ForbiddenError);
  });

  it("refuses a registry permission on a route without a registry", async () => {
    await expect(
      authorizeRoute(deps, { userId: "root", orgRole: "admin" }, "registry:read", { project: "p" }),
    ).rejects.toThrow(ForbiddenError);
  });
});
