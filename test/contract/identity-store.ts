import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import { MAX_API_KEYS_PER_USER, type UserRecord } from "../../lambdas/core/model.js";
import { AT, change, type MakeStores, type Stores } from "./stores.js";

const max: UserRecord = { id: "max", name: "Max", orgRole: "member", status: "active", createdAt: AT };
const key = (n: number, userId = "max") => ({ id: `k${n}`, userId, keyHash: n.toString(16).padStart(64, "f"), createdAt: AT });

/** What every IdentityStore promises. */
export function identityStoreContract(make: MakeStores): void {
  describe("IdentityStore", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
      await stores.identity.createUser(max);
    });

    it("creates a user once", async () => {
      await expect(stores.identity.createUser({ ...max, orgRole: "admin" })).rejects.toThrow(ConflictError);
      expect(await stores.identity.getUser("max")).toEqual(max);
      expect(await stores.identity.getUser("nobody")).toBeUndefined();
    });

    it("pages users by id", async () => {
      for (const id of ["vera", "ana"]) await stores.identity.createUser({ ...max, id, name: id });
      const first = await stores.identity.listUsers({ limit: 2 });
      const second = await stores.identity.listUsers({ limit: 2, cursor: first.nextCursor });
      expect([...first.items, ...second.items].map((u) => u.id)).toEqual(["ana", "max", "vera"]);
      await expect(stores.identity.listApiKeys(undefined, { limit: 2, cursor: first.nextCursor })).rejects.toThrow(ValidationError);
    });

    it("stores a key with its user's role and status, so one read authorizes", async () => {
      await stores.identity.createApiKey(key(1), max);

      expect(await stores.identity.getApiKey(key(1).keyHash)).toEqual({ ...key(1), orgRole: "member", userStatus: "active" });
      expect(await stores.identity.getApiKeyById("k1")).toMatchObject({ keyHash: key(1).keyHash, orgRole: "member" });
      expect(await stores.identity.getApiKey(key(2).keyHash)).toBeUndefined();
      expect(await stores.identity.getApiKeyById("k2")).toBeUndefined();
    });

    it("refuses a key whose user's role or status is not what the caller read, or whose user does not exist", async () => {
      await expect(stores.identity.createApiKey(key(1), { ...max, orgRole: "admin" })).rejects.toThrow(ConflictError);
      await expect(stores.identity.createApiKey(key(2), { ...max, status: "deactivated" })).rejects.toThrow(ConflictError);
      await expect(stores.identity.createApiKey(key(3, "ghost"), { ...max, id: "ghost" })).rejects.toThrow(ConflictError);
      expect((await stores.identity.listApiKeys(undefined, { limit: 10 })).items).toEqual([]);
    });

    it("stores a key hash once", async () => {
      await stores.identity.createApiKey(key(1), max);
      await expect(stores.identity.createApiKey({ ...key(1), id: "k9" }, max)).rejects.toThrow(ConflictError);
      expect(await stores.identity.getApiKey(key(1).keyHash)).toMatchObject({ id: "k1" });
    });

    it("lists keys by user or all of them, revokes once and records use", async () => {
      await stores.identity.createUser({ ...max, id: "vera" });
      await stores.identity.createApiKey(key(1), max);
      await stores.identity.createApiKey(key(2, "vera"), { ...max, id: "vera" });
      await stores.identity.createApiKey(key(3), max);

      expect((await stores.identity.listApiKeys("max", { limit: 10 })).items.map((k) => k.id)).toEqual(["k1", "k3"]);
      const first = await stores.identity.listApiKeys(undefined, { limit: 2 });
      const second = await stores.identity.listApiKeys(undefined, { limit: 2, cursor: first.nextCursor });
      expect([...first.items, ...second.items].map((k) => k.id)).toEqual(["k1", "k2", "k3"]);

      await stores.identity.revokeApiKey(key(1), "2025-02-01T00:00:00.000Z");
      await stores.identity.revokeApiKey(key(1), "2025-03-01T00:00:00.000Z");
      await stores.identity.touchApiKey(key(3).keyHash, "2025-02-02T00:00:00.000Z");
      expect(await stores.identity.getApiKey(key(1).keyHash)).toMatchObject({ revokedAt: "2025-02-01T00:00:00.000Z" });
      expect(await stores.identity.getApiKey(key(3).keyHash)).toMatchObject({ lastUsedAt: "2025-02-02T00:00:00.000Z" });
      await expect(stores.identity.revokeApiKey(key(9), AT)).rejects.toThrow(NotFoundError);
      await expect(stores.identity.touchApiKey(key(9).keyHash, AT)).rejects.toThrow(NotFoundError);
    });

    it("changes a user's role and status on the user and on every key it holds, at once", async () => {
      await stores.identity.createApiKey(key(1), max);
      await stores.identity.createApiKey(key(2), max);

      const lowered = await stores.identity.updateUser("max", change, (current) => ({ ...current, orgRole: "viewer" }));
      expect(lowered).toEqual({ before: max, after: { ...max, orgRole: "viewer" } });
      expect(await stores.identity.getUser("max")).toEqual({ ...max, orgRole: "viewer" });
      for (const n of [1, 2])
        expect(await stores.identity.getApiKey(key(n).keyHash)).toMatchObject({ orgRole: "viewer", userStatus: "active" });

      await stores.identity.updateUser("max", change, (current) => ({ ...current, status: "deactivated" }));
      for (const n of [1, 2])
        expect(await stores.identity.getApiKey(key(n).keyHash)).toMatchObject({ orgRole: "viewer", userStatus: "deactivated" });
      // A key made for the user as read before the change is refused.
      await expect(stores.identity.createApiKey(key(3), max)).rejects.toThrow(ConflictError);

      const same = await stores.identity.updateUser("max", change, (current) => current);
      expect(same.after).toEqual(same.before);
      await expect(stores.identity.updateUser("ghost", change, (current) => current)).rejects.toThrow(NotFoundError);
    });

    it("lets a user hold at most MAX_API_KEYS_PER_USER unrevoked keys", async () => {
      for (let n = 1; n <= MAX_API_KEYS_PER_USER; n++) await stores.identity.createApiKey(key(n), max);

      await expect(stores.identity.createApiKey(key(500), max)).rejects.toThrow(/holds 98 API keys.*revoke one first/);
      await stores.identity.revokeApiKey(key(1), AT);
      await stores.identity.createApiKey(key(500), max);
      // Every key the user holds is rewritten by one change (one transaction in the table).
      await stores.identity.updateUser("max", change, (current) => ({ ...current, orgRole: "admin" }));
      expect(await stores.identity.getApiKey(key(500).keyHash)).toMatchObject({ orgRole: "admin" });
      expect(await stores.identity.getApiKey(key(MAX_API_KEYS_PER_USER).keyHash)).toMatchObject({ orgRole: "admin" });
      expect(await stores.identity.getApiKey(key(1).keyHash)).toMatchObject({ orgRole: "member", revokedAt: AT });
    });
  });
}
