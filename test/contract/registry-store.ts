import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import type { CollectionRecord, RegistryRecord, VersionRecord } from "../../lambdas/core/model.js";
import type { LinkState } from "../../lambdas/core/ports.js";
import { AT, change, commit, digest, link, newLink, newVersion, type MakeStores, type Stores } from "./stores.js";

const registry: RegistryRecord = {
  name: "model",
  visibility: "organization",
  protectedAliases: ["production"],
  createdAt: AT,
  createdBy: "root",
};
const collectionChange = { registry: "model", collection: "mnist-classifier", ...change };

/** What every RegistryStore promises. */
export function registryStoreContract(make: MakeStores): void {
  describe("RegistryStore", () => {
    let stores: Stores;
    let versions: VersionRecord[];
    beforeEach(async () => {
      stores = await make();
      await stores.registries.createRegistry(registry);
      versions = [];
      for (const n of [1, 2, 3]) versions.push(await commit(stores, newVersion({ digest: digest(n) })));
    });

    const linksOf = async (collection = "mnist-classifier") =>
      (await stores.registries.listLinks("model", collection, { limit: 100 })).items.map((l) => [
        l.index,
        l.source.index,
        [...l.aliases].sort(),
      ]);

    describe("registries and members", () => {
      it("creates a registry once and lists registries by name", async () => {
        await expect(stores.registries.createRegistry({ ...registry, visibility: "restricted" })).rejects.toThrow(ConflictError);
        await stores.registries.createRegistry({ ...registry, name: "dataset" });

        const first = await stores.registries.listRegistries({ limit: 1 });
        const second = await stores.registries.listRegistries({ limit: 1, cursor: first.nextCursor });
        expect([...first.items, ...second.items].map((r) => [r.name, r.visibility])).toEqual([
          ["dataset", "organization"],
          ["model", "organization"],
        ]);
      });

      it("reads the registry with the caller's membership", async () => {
        await stores.registries.putMember("model", "max", "admin", change);

        expect(await stores.registries.getRegistryAccess("model", "max")).toMatchObject({ registry, role: "admin" });
        expect((await stores.registries.getRegistryAccess("model", "vera")).role).toBeUndefined();
        expect((await stores.registries.getRegistryAccess("model", undefined)).role).toBeUndefined();
        expect(await stores.registries.getMembership("model", "max")).toBe("admin");
        expect(await stores.registries.getMembership("model", "vera")).toBeUndefined();
        expect((await stores.registries.getRegistryAccess("nope", "max")).registry).toBeUndefined();
      });

      it("grants, changes and revokes memberships", async () => {
        await stores.registries.createRegistry({ ...registry, name: "dataset" });
        await stores.registries.putMember("model", "max", "member", change);
        await stores.registries.putMember("model", "max", "admin", change);
        await stores.registries.putMember("dataset", "max", "viewer", change);

        expect(await stores.registries.membershipsOf("max")).toEqual(
          new Map([
            ["model", "admin"],
            ["dataset", "viewer"],
          ]),
        );
        expect(await stores.registries.removeMember("model", "max", change)).toBe(true);
        expect(await stores.registries.removeMember("model", "max", change)).toBe(false);
        expect(await stores.registries.membershipsOf("max")).toEqual(new Map([["dataset", "viewer"]]));
      });
    });

    describe("links", () => {
      it("numbers links in link order, creating the collection on the first, with latest and the aliases", async () => {
        const first = await link(
          stores,
          newLink(versions[2]!, { aliases: ["staging"], newCollection: { description: "digits", tags: ["vision"] } }),
        );
        await link(stores, newLink(versions[0]!));

        expect(first).toMatchObject({ index: 0, aliases: ["latest", "staging"], source: { index: 2, digest: digest(3) } });
        expect(await linksOf()).toEqual([
          [1, 0, ["latest"]],
          [0, 2, ["staging"]],
        ]);
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toMatchObject({
          type: "model",
          description: "digits",
          tags: ["vision"],
          nextIndex: 2,
          linkCount: 2,
          latestIndex: 1,
        });
        expect(await stores.registries.listCollectionAliases("model", "mnist-classifier")).toEqual({ latest: 1, staging: 0 });
        const history = await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 10 });
        expect(history.items.map((e) => e.action).reverse()).toEqual(["collection.created", "link.created", "alias.set", "link.created"]);
        expect(history.items[0]).toMatchObject({ registry: "model", collection: "mnist-classifier", version: "v1" });
      });

      it("reads the link a version already has, so linking it again writes nothing", async () => {
        await link(stores, newLink(versions[1]!));

        const state = await stores.registries.readLinkState("model", "mnist-classifier", versions[1]!, ["staging"]);

        expect(state).toMatchObject({ head: { type: "model", nextIndex: 1 }, existing: 0, attempts: 0 });
        expect(state.holders).toEqual(new Map([["latest", 0]]));
      });

      it("writes nothing on a stale state and answers the current one", async () => {
        const stale = await stores.registries.readLinkState("model", "mnist-classifier", versions[1]!, []);
        await link(stores, newLink(versions[0]!));

        const lost = await stores.registries.linkVersion(newLink(versions[1]!), stale);

        expect(lost).toMatchObject({ created: false, current: { head: { nextIndex: 1 }, attempts: 1 } });
        expect(await linksOf()).toEqual([[0, 0, ["latest"]]]);
        const retried = await stores.registries.linkVersion(newLink(versions[1]!), (lost as { current: LinkState }).current);
        expect(retried).toMatchObject({ created: true, collectionCreated: false, link: { index: 1 } });
      });

      it("refuses to link a version that does not exist, creating nothing", async () => {
        const ghost = { ...versions[0]!, index: 9 };
        await expect(link(stores, newLink(ghost))).rejects.toThrow(NotFoundError);
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toBeUndefined();
      });

      it("resolves a link number or alias to the source it points at", async () => {
        await link(stores, newLink(versions[2]!, { aliases: ["production"] }));
        await link(stores, newLink(versions[1]!));
        const target = (index: number, source: number) => ({
          registry: "model",
          collection: "mnist-classifier",
          index,
          source: { project: "vision", artifact: "mnist", index: source, digest: digest(source + 1) },
        });

        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { alias: "production" })).toEqual(target(0, 2));
        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { alias: "latest" })).toEqual(target(1, 1));
        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { index: 1 })).toEqual(target(1, 1));
        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { index: 5 })).toBeUndefined();
        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { alias: "nope" })).toBeUndefined();

        // The same answers come with the access check.
        expect(
          await stores.registries.getRegistryAccess("model", "max", { collection: "mnist-classifier", alias: "production" }),
        ).toMatchObject({
          registry: { name: "model" },
          target: target(0, 2),
        });
        expect(await stores.registries.getRegistryAccess("model", "max", { collection: "mnist-classifier", index: 7 })).not.toHaveProperty(
          "target",
        );
      });

      it("moves collection aliases to exactly one link and removes them", async () => {
        await link(stores, newLink(versions[0]!));
        await link(stores, newLink(versions[1]!));

        expect(await stores.registries.moveCollectionAliases(collectionChange, 0, ["production"])).toEqual([
          { alias: "production", to: 0 },
        ]);
        expect(await stores.registries.moveCollectionAliases(collectionChange, 1, ["production"])).toEqual([
          { alias: "production", from: 0, to: 1 },
        ]);
        await expect(stores.registries.moveCollectionAliases(collectionChange, 8, ["production"])).rejects.toThrow(NotFoundError);
        expect(await linksOf()).toEqual([
          [1, 1, ["latest", "production"]],
          [0, 0, []],
        ]);
        expect((await stores.registries.getLinkTarget("model", "mnist-classifier", { alias: "production" }))?.index).toBe(1);

        expect(await stores.registries.removeCollectionAlias(collectionChange, "production")).toBe(1);
        expect(await stores.registries.removeCollectionAlias(collectionChange, "production")).toBeUndefined();
        expect(await stores.registries.listCollectionAliases("model", "mnist-classifier")).toEqual({ latest: 1 });
      });

      it("unlinks: burns the number, moves latest back, and finds where a version is linked", async () => {
        await link(stores, newLink(versions[0]!));
        await link(stores, newLink(versions[1]!, { aliases: ["production"] }));
        await link(stores, newLink(versions[1]!, { collection: "other" }));
        expect(await stores.registries.linksOfVersion("vision", "mnist", 1)).toEqual([
          { registry: "model", collection: "mnist-classifier", index: 1 },
          { registry: "model", collection: "other", index: 0 },
        ]);

        await stores.registries.unlink(collectionChange, 1);

        expect(await linksOf()).toEqual([[0, 0, ["latest"]]]);
        expect(await stores.registries.getLinkTarget("model", "mnist-classifier", { alias: "production" })).toBeUndefined();
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toMatchObject({
          nextIndex: 2,
          linkCount: 1,
          latestIndex: 0,
        });
        expect(await stores.registries.linksOfVersion("vision", "mnist", 1)).toEqual([
          { registry: "model", collection: "other", index: 0 },
        ]);
        await expect(stores.registries.unlink(collectionChange, 1)).rejects.toThrow(NotFoundError);
        // The version may be linked again, under a new number.
        expect((await link(stores, newLink(versions[1]!))).index).toBe(2);
      });
    });

    describe("collections and tags", () => {
      const collection = (name: string, tags: string[] = []): CollectionRecord => ({
        registry: "model",
        name,
        type: "model",
        tags,
        nextIndex: 0,
        linkCount: 0,
        createdAt: AT,
        createdBy: "root",
      });

      it("creates a collection once and lists them by name, part of a name or tag", async () => {
        await stores.registries.createCollection(collection("MNIST-digits", ["vision"]));
        await stores.registries.createCollection(collection("cifar", ["vision", "color"]));
        await stores.registries.createCollection(collection("imdb"));
        await expect(stores.registries.createCollection(collection("imdb"))).rejects.toThrow(ConflictError);

        const names = async (query: { q?: string; tag?: string }) =>
          (await stores.registries.listCollections("model", { limit: 10, ...query })).items.map((c) => c.name);
        expect(await names({})).toEqual(["MNIST-digits", "cifar", "imdb"]);
        expect(await names({ q: "mnist" })).toEqual(["MNIST-digits"]);
        expect(await names({ tag: "vision" })).toEqual(["MNIST-digits", "cifar"]);
        expect(await names({ tag: "vision", q: "far" })).toEqual(["cifar"]);
        const first = await stores.registries.listCollections("model", { limit: 2 });
        expect(first.items).toHaveLength(2);
        await expect(stores.registries.listCollections("dataset", { limit: 2, cursor: first.nextCursor })).rejects.toThrow(ValidationError);
      });

      it("tags collections and links once, each change with its event", async () => {
        await link(stores, newLink(versions[0]!));

        expect(await stores.registries.tagCollection(collectionChange, "vision", true)).toBe(true);
        expect(await stores.registries.tagCollection(collectionChange, "vision", true)).toBe(false);
        expect(await stores.registries.tagLink(collectionChange, 0, "best", true)).toBe(true);
        expect(await stores.registries.tagLink(collectionChange, 0, "best", false)).toBe(true);
        expect(await stores.registries.tagLink(collectionChange, 0, "best", false)).toBe(false);
        await expect(stores.registries.tagLink(collectionChange, 4, "best", true)).rejects.toThrow(NotFoundError);
        await expect(stores.registries.tagCollection({ ...collectionChange, collection: "nope" }, "x", true)).rejects.toThrow(
          NotFoundError,
        );

        expect((await stores.registries.getCollection("model", "mnist-classifier"))?.tags).toEqual(["vision"]);
        expect((await stores.registries.listCollections("model", { limit: 10, tag: "vision" })).items.map((c) => c.name)).toEqual([
          "mnist-classifier",
        ]);
        const history = await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 3 });
        expect(history.items.map((e) => [e.action, e.tag, e.version])).toEqual([
          ["tag.removed", "best", "v0"],
          ["tag.added", "best", "v0"],
          ["tag.added", "vision", undefined],
        ]);
      });
    });
  });
}
