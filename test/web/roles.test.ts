import { describe, expect, it } from "vitest";
import { aliasPermission, atLeast, orgAbilities, registryAbilities } from "../../web/src/lib/roles";

const registry = { name: "model", protectedAliases: ["production"] };

describe("role gating", () => {
  it("ranks roles", () => {
    expect(atLeast("admin", "member")).toBe(true);
    expect(atLeast("member", "admin")).toBe(false);
    expect(atLeast(undefined, "viewer")).toBe(false);
  });

  it("gives viewers of a registry no action, members the curation, admins everything", () => {
    expect(
      Object.entries(registryAbilities("viewer"))
        .filter(([, allowed]) => allowed)
        .map(([name]) => name),
    ).toEqual(["read"]);
    expect(registryAbilities("member")).toMatchObject({
      link: true,
      unlink: true,
      tag: true,
      moveAliases: true,
      manageMembers: false,
      automations: false,
    });
    expect(Object.values(registryAbilities("admin")).every(Boolean)).toBe(true);
  });

  it("lets only org admins create registries and manage users", () => {
    expect(orgAbilities("member")).toEqual({ createRegistry: false, manageUsers: false, logArtifacts: true });
    expect(orgAbilities("viewer").logArtifacts).toBe(false);
    expect(orgAbilities("admin")).toEqual({ createRegistry: true, manageUsers: true, logArtifacts: true });
  });

  it("refuses a protected alias to members, with the reason, and allows it to admins", () => {
    expect(aliasPermission("production", registry, "member")).toEqual({
      allowed: false,
      reason: "production is protected in registry model: only its admins may set or remove it.",
    });
    expect(aliasPermission("production", registry, "admin")).toEqual({ allowed: true });
    expect(aliasPermission("staging", registry, "member")).toEqual({ allowed: true });
  });

  it("refuses every alias to viewers and latest to everyone", () => {
    expect(aliasPermission("staging", registry, "viewer").allowed).toBe(false);
    expect(aliasPermission("latest", registry, "admin")).toMatchObject({ allowed: false, reason: expect.stringContaining("maintained") });
  });
});
