import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../lambdas/core/errors.js";
import type { PromotionRecord, RegistryRecord } from "../../lambdas/core/model.js";
import { AT, change, commit, digest, link, newLink, newVersion, type MakeStores, type Stores } from "./stores.js";

const registry: RegistryRecord = {
  name: "model",
  visibility: "organization",
  protectedAliases: ["production"],
  approvalsRequired: 2,
  createdAt: AT,
  createdBy: "root",
};
const key = (id: string) => ({ registry: "model", collection: "mnist-classifier", id });
const request = (id: string, extra: Partial<PromotionRecord> = {}): PromotionRecord => ({
  id,
  registry: "model",
  collection: "mnist-classifier",
  alias: "production",
  index: 1,
  from: 0,
  requestedBy: "max",
  requestedAt: AT,
  status: "pending",
  approvals: [],
  ...extra,
});
const by = (user: string) => ({ by: user, at: AT });

/** What every PromotionStore promises. */
export function promotionStoreContract(make: MakeStores): void {
  describe("PromotionStore", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
      await stores.registries.createRegistry(registry);
      for (const n of [1, 2, 3]) {
        const version = await commit(stores, newVersion({ digest: digest(n) }));
        await link(stores, newLink(version, n === 1 ? { aliases: ["production"] } : {}));
      }
    });

    const holder = () => stores.promotions.aliasHolder("model", "mnist-classifier", "production");
    const actions = async () =>
      (await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 50 })).items.map((e) => e.action);

    it("stores a request once, reads it, and lists a collection's requests newest first, by status", async () => {
      await stores.promotions.createPromotion(request("p1", { note: "beats v0" }));
      await stores.promotions.createPromotion(request("p2", { index: 2 }));
      await expect(stores.promotions.createPromotion(request("p1"))).rejects.toThrow(ConflictError);
      await stores.promotions.rejectPromotion(key("p2"), by("root"));

      expect(await stores.promotions.getPromotion(key("p1"))).toEqual(request("p1", { note: "beats v0" }));
      expect(await stores.promotions.getPromotion(key("p9"))).toBeUndefined();
      const all = await stores.promotions.listPromotions("model", "mnist-classifier", { limit: 1 });
      const rest = await stores.promotions.listPromotions("model", "mnist-classifier", { limit: 1, cursor: all.nextCursor });
      expect([...all.items, ...rest.items].map((p) => [p.id, p.status])).toEqual([
        ["p2", "rejected"],
        ["p1", "pending"],
      ]);
      expect(
        (await stores.promotions.listPromotions("model", "mnist-classifier", { limit: 10, status: "pending" })).items.map((p) => p.id),
      ).toEqual(["p1"]);
      expect(await holder()).toBe(0);
      expect(await stores.promotions.aliasHolder("model", "mnist-classifier", "staging")).toBeUndefined();
      expect(await actions()).toContain("promotion.requested");
    });

    it("moves the alias with the approval that completes the count of distinct approvers, not before", async () => {
      await stores.promotions.createPromotion(request("p1"));

      const first = await stores.promotions.approvePromotion(key("p1"), by("root"), 2);
      expect(first).toMatchObject({ status: "pending", approvals: [by("root")] });
      expect(await stores.promotions.approvePromotion(key("p1"), by("root"), 2)).toMatchObject({
        status: "pending",
        approvals: [by("root")],
      });
      expect(await holder()).toBe(0);

      const second = await stores.promotions.approvePromotion(key("p1"), { ...by("ana"), note: "ok" }, 2);
      expect(second).toMatchObject({ status: "approved", approvals: [by("root"), { ...by("ana"), note: "ok" }], decidedAt: AT });
      expect(await holder()).toBe(1);
      expect(await stores.promotions.getPromotion(key("p1"))).toMatchObject({ status: "approved" });
      const history = (await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 3 })).items;
      expect(history.map((e) => [e.action, e.alias, e.from, e.to ?? e.version])).toEqual([
        ["promotion.approved", "production", "v0", "v1"],
        ["alias.moved", "production", "v0", "v1"],
        ["promotion.approval", "production", "v0", "v1"],
      ]);
      expect(history[0]).toMatchObject({ promotion: "p1", approvals: ["root", "ana"], required: 2, registry: "model" });
      // Approving again is no change; a decided request takes no other decision.
      expect(await stores.promotions.approvePromotion(key("p1"), by("ana"), 2)).toMatchObject({ status: "approved" });
      await expect(stores.promotions.approvePromotion(key("p1"), by("eve"), 2)).rejects.toThrow(ConflictError);
      await expect(stores.promotions.rejectPromotion(key("p1"), by("eve"))).rejects.toThrow(ConflictError);
    });

    it("goes stale instead of moving when the alias moved since the request, or the version was unlinked", async () => {
      await stores.promotions.createPromotion(request("p1"));
      await stores.promotions.createPromotion(request("p2", { index: 2 }));
      await stores.registries.moveCollectionAliases({ registry: "model", collection: "mnist-classifier", ...change }, 2, ["production"]);

      const stale = await stores.promotions.approvePromotion(key("p1"), by("root"), 1);

      expect(stale).toMatchObject({ status: "stale", staleReason: "production names v2 now, not v0 as when the promotion was requested" });
      expect(await holder()).toBe(2);
      expect(await stores.promotions.getPromotion(key("p1"))).toMatchObject({ status: "stale", approvals: [] });
      await expect(stores.promotions.approvePromotion(key("p1"), by("ana"), 1)).rejects.toThrow(ConflictError);
      expect(await actions()).toContain("promotion.stale");

      await stores.promotions.createPromotion(request("p3", { index: 0, from: 2 }));
      await stores.registries.unlink({ registry: "model", collection: "mnist-classifier", ...change }, 0);
      expect(await stores.promotions.approvePromotion(key("p3"), by("root"), 1)).toMatchObject({
        status: "stale",
        staleReason: "v0 was unlinked",
      });
    });

    it("sets an alias that did not exist when the request expected none", async () => {
      await stores.promotions.createPromotion(request("p1", { alias: "champion", from: undefined }));
      expect(await stores.promotions.approvePromotion(key("p1"), by("root"), 1)).toMatchObject({ status: "approved" });
      expect(await stores.promotions.aliasHolder("model", "mnist-classifier", "champion")).toBe(1);
    });

    it("rejects a pending request once, and answers 404 for one that does not exist", async () => {
      await stores.promotions.createPromotion(request("p1"));
      expect(await stores.promotions.rejectPromotion(key("p1"), { ...by("root"), note: "not yet" })).toMatchObject({
        status: "rejected",
        rejection: { by: "root", at: AT, note: "not yet" },
      });
      expect(await stores.promotions.rejectPromotion(key("p1"), by("root"))).toMatchObject({ status: "rejected" });
      await expect(stores.promotions.approvePromotion(key("p1"), by("ana"), 1)).rejects.toThrow(ConflictError);
      await expect(stores.promotions.approvePromotion(key("nope"), by("ana"), 1)).rejects.toThrow(NotFoundError);
      await expect(stores.promotions.rejectPromotion(key("nope"), by("ana"))).rejects.toThrow(NotFoundError);
      expect(await holder()).toBe(0);
    });

    it("goes with its collection", async () => {
      await stores.promotions.createPromotion(request("p1"));
      for (const index of [0, 1, 2])
        await stores.registries.unlink({ registry: "model", collection: "mnist-classifier", ...change }, index);
      await stores.registries.deleteCollection({ registry: "model", collection: "mnist-classifier", ...change });
      expect(await stores.promotions.getPromotion(key("p1"))).toBeUndefined();
      expect((await stores.promotions.listPromotions("model", "mnist-classifier", { limit: 10 })).items).toEqual([]);
    });
  });
}
