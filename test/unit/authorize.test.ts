import { beforeEach, describe, expect, it, vi } from "vitest";
import { generateApiKey } from "../../lambdas/core/api-keys.js";
import { admit, authorizeRoute } from "../../lambdas/core/authorize.js";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../lambdas/core/errors.js";
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
    await expect(authorizeRoute(deps, { userId: "root", orgRole: "admin" }, "billing:admin" as Permission, {})).rejects.toThrow(
      ForbiddenError,
    );
  });

  it("refuses a registry permission on a route without a registry", async () => {
    await expect(authorizeRoute(deps, { userId: "root", orgRole: "admin" }, "registry:read", { project: "p" })).rejects.toThrow(
      ForbiddenError,
    );
  });
});

describe("admit", () => {
  const AT = "2025-01-01T00:00:00.000Z";
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    for (const [id, orgRole] of [
      ["vera", "viewer"],
      ["root", "admin"],
    ] as const) {
      const user = { id, name: id, orgRole, status: "active", createdAt: AT } as const;
      await deps.identity.createUser(user);
      const key = generateApiKey();
      await deps.identity.createApiKey({ id: `k-${id}`, userId: id, keyHash: key.keyHash, createdAt: AT }, user);
      keys[id] = `Bearer ${key.secret}`;
    }
    for (const [name, visibility] of [
      ["open", "organization"],
      ["secret", "restricted"],
    ] as const) {
      await deps.registries.createRegistry({ name, visibility, protectedAliases: [], createdAt: AT, createdBy: "root" });
    }
    const version = await deps.artifacts.add({
      project: "p",
      artifact: "a",
      type: "model",
      digest: "d".repeat(64),
      metadata: {},
      size: 1,
      fileCount: 1,
      blobs: [],
      aliases: [],
      actor: "root",
      at: AT,
    });
    for (const registry of ["open", "secret"]) {
      await deps.registries.link({
        registry,
        collection: "c",
        source: { project: "p", artifact: "a", index: 0, digest: version.digest },
        type: "model",
        metadata: {},
        size: 1,
        fileCount: 1,
        sourceRevision: 0,
        newCollection: { tags: [] },
        aliases: ["production"],
        actor: "root",
        at: AT,
      });
    }
  });

  const resolve = (registry: string) => ({ registry, collection: "c", v: "production" });

  it("reads the key and the registry with the version together, and no membership an organization-visible registry does not need", async () => {
    const getMembership = vi.spyOn(deps.registries, "getMembership");

    const admitted = await admit(deps, keys.vera, "registry:read", resolve("open"));

    expect(admitted.principal).toEqual({ userId: "vera", orgRole: "viewer" });
    expect(admitted.registry).toMatchObject({
      registry: { name: "open" },
      role: "viewer",
      version: { collection: "c", alias: "production", target: { index: 0, source: { project: "p", index: 0 } } },
    });
    expect(getMembership).not.toHaveBeenCalled();
  });

  it("reads the membership a restricted registry needs, and hides the registry from a non-member", async () => {
    const getMembership = vi.spyOn(deps.registries, "getMembership");
    await expect(admit(deps, keys.vera, "registry:read", resolve("secret"))).rejects.toThrow(NotFoundError);
    expect(getMembership).toHaveBeenCalledWith("secret", "vera");

    await deps.registries.putMember("secret", "vera", "member", { actor: "root", at: AT });
    expect((await admit(deps, keys.vera, "registry:read", resolve("secret"))).registry).toMatchObject({ role: "member" });
    expect((await admit(deps, keys.root, "registry:read", resolve("secret"))).registry).toMatchObject({ role: "admin" });
  });

  it("answers 401 for a bad key before anything the registry read found", async () => {
    await expect(admit(deps, "Bearer not-a-key", "registry:read", resolve("open"))).rejects.toThrow(UnauthorizedError);
    await expect(admit(deps, "Bearer not-a-key", "registry:read", resolve("nowhere"))).rejects.toThrow(UnauthorizedError);
    await expect(admit(deps, undefined, "registry:read", resolve("open"))).rejects.toThrow(UnauthorizedError);
  });

  it("authenticates, then authorizes, on every other route", async () => {
    expect(await admit(deps, undefined, "public", {})).toEqual({ principal: { userId: "anonymous", orgRole: "viewer" } });
    await expect(admit(deps, keys.vera, "project:write", { project: "p" })).rejects.toThrow(ForbiddenError);
    await expect(admit(deps, keys.vera, "registry:write", resolve("open"))).rejects.toThrow(ForbiddenError);
    expect((await admit(deps, keys.vera, "registry:read", { registry: "open" })).registry).toMatchObject({ role: "viewer" });
    expect(await admit(deps, keys.root, "registry:read", resolve("nowhere")).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });
});
