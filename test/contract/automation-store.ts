import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../lambdas/core/errors.js";
import type { AutomationRecord, DeliveryRecord } from "../../lambdas/core/model.js";
import { AT, change, type MakeStores, type Stores } from "./stores.js";

const automation = (id: string, registry = "model"): AutomationRecord => ({
  id,
  registry,
  name: `hook ${id}`,
  event: "LINK_ARTIFACT",
  url: "https://ci.example.com/hook",
  secret: "a shared secret of 16+",
  createdAt: AT,
  createdBy: "root",
});

const delivery = (id: string, nextAttemptAt?: string): DeliveryRecord => ({
  id,
  registry: "model",
  automationId: "a1",
  event: { type: "LINK_ARTIFACT", collection: "c", version: "v0", actor: "ana", at: AT },
  body: `{"id":"${id}"}`,
  status: "pending",
  attemptCount: 0,
  maxAttempts: 3,
  attempts: [],
  ...(nextAttemptAt ? { nextAttemptAt } : {}),
  createdAt: AT,
  updatedAt: AT,
});

const T = (minute: number) => `2025-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`;
const key = (id: string) => ({ registry: "model", automationId: "a1", id });

/** What every AutomationStore promises. */
export function automationStoreContract(make: MakeStores): void {
  describe("AutomationStore", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
      for (const name of ["model", "dataset"]) {
        await stores.registries.createRegistry({
          name,
          visibility: "organization",
          protectedAliases: [],
          createdAt: AT,
          createdBy: "root",
        });
      }
    });

    it("keeps a registry's automations: read, listed, matched and deleted once", async () => {
      await stores.automations.createAutomation(automation("a1"));
      await stores.automations.createAutomation(automation("a2"));
      await stores.automations.createAutomation(automation("a3", "dataset"));
      await expect(stores.automations.createAutomation({ ...automation("a1"), name: "other" })).rejects.toThrow(ConflictError);

      expect(await stores.automations.getAutomation("model", "a1")).toEqual(automation("a1"));
      const first = await stores.automations.listAutomations("model", { limit: 1 });
      const second = await stores.automations.listAutomations("model", { limit: 1, cursor: first.nextCursor });
      expect([...first.items, ...second.items].map((a) => a.id)).toEqual(["a1", "a2"]);
      expect((await stores.automations.automationsOf("dataset")).map((a) => a.id)).toEqual(["a3"]);

      expect(await stores.automations.deleteAutomation("model", "a1", change)).toBe(true);
      expect(await stores.automations.deleteAutomation("model", "a1", change)).toBe(false);
      expect(await stores.automations.getAutomation("model", "a1")).toBeUndefined();
      await expect(stores.automations.createAutomation(automation("a9", "nope"))).rejects.toThrow(NotFoundError);
    });

    it("writes a delivery once and lists deliveries newest first", async () => {
      expect(await stores.automations.createDelivery(delivery("d1", T(1)))).toBe(true);
      expect(await stores.automations.createDelivery({ ...delivery("d1", T(9)), body: "other" })).toBe(false);
      await stores.automations.createDelivery(delivery("d2", T(2)));

      expect(await stores.automations.getDelivery(key("d1"))).toEqual(delivery("d1", T(1)));
      expect((await stores.automations.listDeliveries("model", "a1", { limit: 10 })).items.map((d) => d.id)).toEqual(["d2", "d1"]);
    });

    it("hands out due deliveries in due order under a lease, and lets only the lease holder finish", async () => {
      await stores.automations.createDelivery(delivery("d2", T(2)));
      await stores.automations.createDelivery(delivery("d1", T(1)));
      await stores.automations.createDelivery(delivery("d3", T(30)));

      expect(await stores.automations.dueDeliveries(T(5), 10)).toEqual([key("d1"), key("d2")]);
      expect(await stores.automations.dueDeliveries(T(5), 1)).toEqual([key("d1")]);

      const leased = await stores.automations.claimDelivery(key("d1"), T(5), T(10));
      expect(leased).toMatchObject({ id: "d1", nextAttemptAt: T(10) });
      expect(await stores.automations.claimDelivery(key("d1"), T(6), T(11))).toBeUndefined();
      expect(await stores.automations.claimDelivery(key("d3"), T(6), T(11))).toBeUndefined();
      expect(await stores.automations.dueDeliveries(T(6), 10)).toEqual([key("d2")]);

      const done = { ...leased!, status: "delivered" as const, attemptCount: 1, updatedAt: T(7) };
      expect(await stores.automations.finishAttempt(done, T(9))).toBe(false);
      expect(await stores.automations.finishAttempt(done, T(10))).toBe(true);
      expect(await stores.automations.getDelivery(key("d1"))).toMatchObject({ status: "delivered", attemptCount: 1 });
      expect(await stores.automations.dueDeliveries(T(59), 10)).toEqual([key("d2"), key("d3")]);
    });

    it("leases a finished delivery for one more attempt, never a pending one", async () => {
      await stores.automations.createDelivery(delivery("d1", T(1)));
      expect(await stores.automations.claimForReplay(key("d1"), T(2), T(3))).toBeUndefined();

      const leased = (await stores.automations.claimDelivery(key("d1"), T(2), T(3)))!;
      await stores.automations.finishAttempt({ ...leased, status: "failed", attemptCount: 3, error: "gave up", updatedAt: T(2) }, T(3));

      expect(await stores.automations.claimForReplay(key("d1"), T(4), T(5))).toMatchObject({
        status: "pending",
        nextAttemptAt: T(5),
        attemptCount: 3,
        maxAttempts: 4,
      });
      expect(await stores.automations.claimForReplay(key("d1"), T(4), T(5))).toBeUndefined();
    });
  });
}
