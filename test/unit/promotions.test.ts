import { beforeEach, describe, expect, it } from "vitest";
import { createAutomation } from "../../lambdas/core/automations.js";
import { registryAccess, type RegistryAccess } from "../../lambdas/core/authorize.js";
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import type { Principal } from "../../lambdas/core/model.js";
import { approvePromotion, getPromotion, listPromotions, rejectPromotion, requestPromotion } from "../../lambdas/core/promotions.js";
import { createRegistry, getCollection, linkVersion, setCollectionAlias } from "../../lambdas/core/registries.js";
import { updateRegistry } from "../../lambdas/core/registry-admin.js";
import { createDeliveries, triggerOf } from "../../lambdas/core/webhooks.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const AT = "2025-01-01T00:00:00.000Z";
const root: Principal = { userId: "root", orgRole: "admin" };
const ana: Principal = { userId: "ana", orgRole: "member" };
const bob: Principal = { userId: "bob", orgRole: "member" };
const max: Principal = { userId: "max", orgRole: "member" };
const col = { registry: "model", collection: "mnist-classifier" };

let deps: FakeDeps;
const access: Record<string, RegistryAccess> = {};

/** Registry `model` requiring two approvals; max a member, ana and bob registry admins; links v0..v2, production on v0. */
beforeEach(async () => {
  deps = fakeDeps();
  await createRegistry(deps, root, { name: "model", visibility: "organization", protectedAliases: ["production"], approvalsRequired: 2 });
  await deps.registries.putMember("model", "max", "member", { actor: "root", at: AT });
  for (const user of ["ana", "bob"]) await deps.registries.putMember("model", user, "admin", { actor: "root", at: AT });
  for (const p of [root, ana, bob, max]) access[p.userId] = await registryAccess(deps, p, "model");
  for (let i = 0; i < 3; i++) {
    await deps.artifacts.add({
      project: "train",
      artifact: "mnist",
      type: "model",
      digest: sha256Hex(`w${i}`),
      metadata: { accuracy: 0.9 + i / 100 },
      size: 1,
      fileCount: 1,
      blobs: [],
      aliases: [],
      actor: "max",
      at: AT,
    });
  }
  await updateRegistry(deps, root, access.root!, { approvalsRequired: 0 });
  for (let i = 0; i < 3; i++) {
    await linkVersion(deps, root, await registryAccess(deps, root, "model"), "mnist-classifier", {
      project: "train",
      artifact: "mnist",
      version: `v${i}`,
      ...(i === 0 ? { aliases: ["production"] } : {}),
    });
  }
  await updateRegistry(deps, root, access.root!, { approvalsRequired: 2 });
  for (const p of [root, ana, bob, max]) access[p.userId] = await registryAccess(deps, p, "model");
});

const production = async () => (await getCollection(deps, col)).aliases.production;
const request = (version = "v2", note?: string) =>
  requestPromotion(deps, max, access.max!, col, { alias: "production", version, ...(note ? { note } : {}) });
const key = (id: string) => ({ ...col, id });

describe("requestPromotion", () => {
  it("records what the alias names now, pending, with the approvals the registry requires", async () => {
    expect(await request("v2", "better on the holdout")).toEqual({
      id: "id-000001",
      registry: "model",
      collection: "mnist-classifier",
      alias: "production",
      version: "v2",
      from: "v0",
      note: "better on the holdout",
      status: "pending",
      requestedBy: "max",
      requestedAt: AT,
      approvals: [],
      approvalsRequired: 2,
      rejection: null,
      decidedAt: null,
      staleReason: null,
    });
    expect((await listPromotions(deps, access.max!, col, { limit: 10 })).items.map((p) => p.id)).toEqual(["id-000001"]);
  });

  it("refuses an unprotected alias, latest, a version the collection lacks, and the version the alias names already", async () => {
    const ask = (alias: string, version: string) => requestPromotion(deps, max, access.max!, col, { alias, version });
    await expect(ask("staging", "v1")).rejects.toThrow(UnprocessableError);
    await expect(ask("latest", "v1")).rejects.toThrow(ValidationError);
    await expect(ask("production", "v7")).rejects.toThrow(NotFoundError);
    await expect(ask("production", "v0")).rejects.toThrow(ConflictError);
  });
});

describe("approvePromotion", () => {
  it("moves the alias only once the second distinct admin approves", async () => {
    const { id } = await request();

    const once = await approvePromotion(deps, ana, access.ana!, key(id));
    expect(once).toMatchObject({ status: "pending", approvals: [{ by: "ana", at: AT }] });
    expect(await production()).toBe("v0");
    // The same admin again counts once.
    expect((await approvePromotion(deps, ana, access.ana!, key(id))).approvals).toHaveLength(1);
    expect(await production()).toBe("v0");

    const twice = await approvePromotion(deps, bob, access.bob!, key(id), "ship it");
    expect(twice).toMatchObject({ status: "approved", decidedAt: AT, approvals: [{ by: "ana" }, { by: "bob", note: "ship it" }] });
    expect(await production()).toBe("v2");
    const history = await deps.registries.listCollectionHistory("model", "mnist-classifier", { limit: 4 });
    expect(history.items.map((e) => e.action)).toEqual(["promotion.approved", "alias.moved", "promotion.approval", "promotion.requested"]);
    expect(history.items[1]).toMatchObject({ alias: "production", from: "v0", to: "v2", actor: "bob", promotion: id });
  });

  it("lets neither the asker decide, nor anyone decide a decided request", async () => {
    await deps.registries.putMember("model", "max", "admin", { actor: "root", at: AT });
    const maxAdmin = await registryAccess(deps, max, "model");
    const { id } = await request();
    await expect(approvePromotion(deps, max, maxAdmin, key(id))).rejects.toThrow(ForbiddenError);
    await expect(rejectPromotion(deps, max, maxAdmin, key(id))).rejects.toThrow(ForbiddenError);

    expect(await rejectPromotion(deps, ana, access.ana!, key(id), "needs eval")).toMatchObject({
      status: "rejected",
      rejection: { by: "ana", note: "needs eval" },
    });
    await expect(approvePromotion(deps, bob, access.bob!, key(id))).rejects.toThrow(ConflictError);
    expect(await production()).toBe("v0");
    await expect(approvePromotion(deps, bob, access.bob!, key("nope"))).rejects.toThrow(NotFoundError);
  });

  it("goes stale, moving nothing, when the alias moved since the request", async () => {
    const { id } = await request();
    await approvePromotion(deps, ana, access.ana!, key(id));
    // Another route moved it meanwhile: the registry stopped requiring approvals for a while.
    await updateRegistry(deps, root, access.root!, { approvalsRequired: 0 });
    await setCollectionAlias(deps, root, await registryAccess(deps, root, "model"), col, "production", "v1");
    await updateRegistry(deps, root, access.root!, { approvalsRequired: 2 });

    await expect(approvePromotion(deps, bob, access.bob!, key(id))).rejects.toThrow(/is stale: production names v1 now, not v0/);
    expect(await production()).toBe("v1");
    expect(await getPromotion(deps, access.max!, key(id))).toMatchObject({ status: "stale", approvals: [{ by: "ana" }] });
    expect((await listPromotions(deps, access.max!, col, { limit: 10, status: "stale" })).items).toHaveLength(1);
  });

  it("needs one admin's approval when the registry requires none", async () => {
    await updateRegistry(deps, root, access.root!, { approvalsRequired: 0 });
    const open = await registryAccess(deps, ana, "model");
    access.max = await registryAccess(deps, max, "model");
    const { id, approvalsRequired } = await request("v1");
    expect(approvalsRequired).toBe(1);
    expect(await approvePromotion(deps, ana, open, key(id))).toMatchObject({ status: "approved" });
    expect(await production()).toBe("v1");
  });
});

describe("promotion automations", () => {
  it("maps promotion.requested and promotion.approved to PROMOTION_REQUESTED and PROMOTION_APPROVED", () => {
    const base = {
      actor: "max",
      at: AT,
      registry: "model",
      collection: "c",
      promotion: "p1",
      alias: "production",
      version: "v2",
      from: "v0",
    };
    expect(triggerOf({ ...base, action: "promotion.requested", note: "n" })).toEqual({
      type: "PROMOTION_REQUESTED",
      version: "v2",
      index: 2,
      alias: "production",
      previousVersion: "v0",
      promotion: { id: "p1", requestedBy: "max", note: "n" },
    });
    expect(triggerOf({ ...base, action: "promotion.approved", approvals: ["ana", "bob"] })).toMatchObject({
      type: "PROMOTION_APPROVED",
      promotion: { id: "p1", approvals: ["ana", "bob"] },
    });
    expect(triggerOf({ ...base, action: "promotion.approval" })).toBeUndefined();
    expect(triggerOf({ ...base, action: "promotion.rejected" })).toBeUndefined();
  });

  it("delivers a promotion request to the automations that listen for it, with the request in the payload", async () => {
    for (const event of ["PROMOTION_REQUESTED", "PROMOTION_APPROVED"] as const) {
      await createAutomation(deps, root, access.root!, {
        name: event,
        event,
        aliasPattern: "production",
        url: "https://hooks.example.com/",
      });
    }
    const { id } = await request("v2", "please");
    const [event] = (await deps.registries.listCollectionHistory("model", "mnist-classifier", { limit: 1 })).items;
    const written = await createDeliveries(deps, { id: "01J00000000000000000000000", ...col, event: event! });
    expect(written.map((d) => d.delivery.event.type)).toEqual(["PROMOTION_REQUESTED"]);
    expect(JSON.parse(written[0]!.delivery.body)).toMatchObject({
      event_type: "PROMOTION_REQUESTED",
      alias: "production",
      version: "v2",
      previous_version: "v0",
      metadata: { accuracy: 0.92 },
      promotion: { id, requestedBy: "max", note: "please" },
    });
  });
});
