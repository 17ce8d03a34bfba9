import { describe, expect, it } from "vitest";
import { aliasPermission, atLeast, orgAbilities, promotionDecision, registryAbilities } from "../../web/src/lib/roles";

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
      editDescription: true,
      requestPromotion: true,
      manageMembers: false,
      automations: false,
      editRegistry: false,
      deleteCollection: false,
      decidePromotions: false,
    });
    expect(Object.values(registryAbilities("admin")).every(Boolean)).toBe(true);
  });

  it("lets only org admins create registries and manage users", () => {
    expect(orgAbilities("member")).toEqual({
      createRegistry: false,
      manageUsers: false,
      deleteRegistry: false,
      logArtifacts: true,
      editVersions: true,
    });
    expect(orgAbilities("viewer").logArtifacts).toBe(false);
    expect(orgAbilities("viewer").editVersions).toBe(false);
    expect(orgAbilities("admin")).toEqual({
      createRegistry: true,
      manageUsers: true,
      deleteRegistry: true,
      logArtifacts: true,
      editVersions: true,
    });
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

  it("sends protected aliases through promotions when the registry requires approvals, admins included, but lets admins remove them", () => {
    const gated = { ...registry, approvalsRequired: 2 };
    expect(aliasPermission("production", gated, "admin")).toEqual({
      allowed: false,
      reason:
        "production is protected in registry model and moves only through a promotion approved by 2 admins: request one under Promotions.",
    });
    expect(aliasPermission("production", gated, "member").allowed).toBe(false);
    expect(aliasPermission("production", gated, "admin", "remove")).toEqual({ allowed: true });
    expect(aliasPermission("production", gated, "member", "remove").allowed).toBe(false);
    expect(aliasPermission("staging", gated, "member")).toEqual({ allowed: true });
  });

  it("lets registry admins other than the asker decide a pending promotion, and says why not otherwise", () => {
    const pending = { status: "pending", requestedBy: "ana", approvals: [{ by: "ola" }] };
    expect(promotionDecision(pending, "admin", "admin")).toEqual({ allowed: true });
    expect(promotionDecision(pending, "ana", "admin")).toEqual({
      allowed: false,
      reason: "You asked for this promotion: another admin must decide it.",
    });
    expect(promotionDecision(pending, "ola", "admin").allowed).toBe(false);
    expect(promotionDecision(pending, "bob", "member")).toEqual({
      allowed: false,
      reason: "Only the registry's admins approve or reject promotions.",
    });
    expect(promotionDecision({ ...pending, status: "approved" }, "admin", "admin")).toEqual({
      allowed: false,
      reason: "This request is approved.",
    });
  });
});
