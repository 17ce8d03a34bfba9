import { beforeEach, describe, expect, it } from "vitest";
import { authenticate, hashApiKey } from "../../lambdas/core/api-keys.js";
import { BOOTSTRAP_ADMIN, bootstrapAdmin } from "../../lambdas/core/bootstrap-admin.js";
import { ValidationError } from "../../lambdas/core/errors.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

describe("bootstrapAdmin", () => {
  it("creates an org admin with a generated key, shown once", async () => {
    const first = await bootstrapAdmin(deps);

    expect(first.created).toBe(true);
    expect(first.secret).toMatch(/^mreg_/);
    expect(await authenticate(deps, `Bearer ${first.secret}`)).toEqual({ userId: BOOTSTRAP_ADMIN, orgRole: "admin" });
    expect([...deps.identity.apiKeys.keys()]).toEqual([hashApiKey(first.secret!)]);

    const second = await bootstrapAdmin(deps);
    expect(second).toEqual({ created: false, registries: [] });
    expect(deps.identity.apiKeys.size).toBe(1);
  });

  it("uses the given key and stores it once however often it starts", async () => {
    const secret = "my-chosen-admin-key";

    expect(await bootstrapAdmin(deps, secret)).toEqual({ created: true, registries: ["model", "dataset"] });
    expect(await bootstrapAdmin(deps, secret)).toEqual({ created: false, registries: [] });

    expect(deps.identity.apiKeys.size).toBe(1);
    expect(deps.identity.apiKeys.get(hashApiKey(secret))).toMatchObject({ userId: BOOTSTRAP_ADMIN });
    expect(await authenticate(deps, `Bearer ${secret}`)).toEqual({ userId: BOOTSTRAP_ADMIN, orgRole: "admin" });
  });

  it.each(["", "has space", "x".repeat(513), "tab\there"])("refuses the unusable key %j", async (secret) => {
    await expect(bootstrapAdmin(deps, secret)).rejects.toThrow(ValidationError);
    expect(deps.identity.users.size).toBe(0);
  });
});

describe("default registries", () => {
  it("creates model (accepts models, protects production) and dataset (accepts datasets) once", async () => {
    expect((await bootstrapAdmin(deps)).registries).toEqual(["model", "dataset"]);
    expect((await deps.registries.getRegistryAccess("model", undefined)).registry).toMatchObject({
      visibility: "organization",
      artifactTypes: ["model"],
      protectedAliases: ["production"],
      createdBy: BOOTSTRAP_ADMIN,
    });
    expect((await deps.registries.getRegistryAccess("dataset", undefined)).registry).toMatchObject({
      visibility: "organization",
      artifactTypes: ["dataset"],
    });
    expect((await bootstrapAdmin(deps)).registries).toEqual([]);
  });

  it("adds the missing ones to a registry that has its admin already and leaves existing ones as they are", async () => {
    await bootstrapAdmin(deps, "my-chosen-admin-key");
    deps.registries.registries.delete("dataset");
    const own = {
      name: "model",
      visibility: "restricted" as const,
      protectedAliases: [],
      createdAt: "2024-01-01T00:00:00.000Z",
      createdBy: "ana",
    };
    deps.registries.registries.set("model", own);
    const again = await bootstrapAdmin(deps, "my-chosen-admin-key");
    expect(again).toEqual({ created: false, registries: ["dataset"] });
    expect((await deps.registries.getRegistryAccess("model", undefined)).registry).toEqual(own);
    expect(deps.identity.users.size).toBe(1);
  });
});
