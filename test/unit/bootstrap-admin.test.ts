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
    expect(second).toEqual({ created: false });
    expect(deps.identity.apiKeys.size).toBe(1);
  });

  it("uses the given key and stores it once however often it starts", async () => {
    const secret = "my-chosen-admin-key";

    expect(await bootstrapAdmin(deps, secret)).toEqual({ created: true });
    expect(await bootstrapAdmin(deps, secret)).toEqual({ created: false });

    expect(deps.identity.apiKeys.size).toBe(1);
    expect(deps.identity.apiKeys.get(hashApiKey(secret))).toMatchObject({ userId: BOOTSTRAP_ADMIN });
    expect(await authenticate(deps, `Bearer ${secret}`)).toEqual({ userId: BOOTSTRAP_ADMIN, orgRole: "admin" });
  });

  it.each(["", "has space", "x".repeat(513), "tab\there"])("refuses the unusable key %j", async (secret) => {
    await expect(bootstrapAdmin(deps, secret)).rejects.toThrow(ValidationError);
    expect(deps.identity.users.size).toBe(0);
  });
});
