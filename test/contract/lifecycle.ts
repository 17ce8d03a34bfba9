import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, PreconditionFailedError, UnprocessableError } from "../../lambdas/core/errors.js";
import type { AutomationRecord, CollectionRecord, RegistryRecord, VersionRecord } from "../../lambdas/core/model.js";
import { AT, change, commit, digest, link, newLink, newVersion, type MakeStores, type Stores } from "./stores.js";

const registry: RegistryRecord = {
  name: "model",
  visibility: "organization",
  protectedAliases: ["production"],
  createdAt: AT,
  createdBy: "root",
};
const aliasChange = { project: "vision", artifact: "mnist", ...change };
const collectionChange = { registry: "model", collection: "mnist-classifier", ...change };
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
const automation = (id: string): AutomationRecord => ({
  id,
  registry: "model",
  name: `hook ${id}`,
  event: "LINK_ARTIFACT",
  url: "https://hooks.example.com/",
  createdAt: AT,
  createdBy: "root",
});

/** What the stores promise about edits, admin deletes, compare-and-swap alias moves and the projects index. */
export function lifecycleContract(make: MakeStores): void {
  describe("lifecycle", () => {
    let stores: Stores;
    let versions: VersionRecord[];
    beforeEach(async () => {
      stores = await make();
      await stores.registries.createRegistry(registry);
      versions = [];
      for (const n of [1, 2, 3]) versions.push(await commit(stores, newVersion({ digest: digest(n) })));
    });

    describe("projects index", () => {
      it("lists each project once, by name, counting the artifacts created in it", async () => {
        await commit(stores, newVersion({ artifact: "cifar", digest: digest(7) }));
        await commit(stores, newVersion({ project: "audio", artifact: "wav2vec", digest: digest(8) }));

        const first = await stores.artifacts.listProjects({ limit: 1 });
        const second = await stores.artifacts.listProjects({ limit: 1, cursor: first.nextCursor });
        expect([...first.items, ...second.items]).toEqual([
          { name: "audio", artifactCount: 1, createdAt: AT, createdBy: "alice" },
          { name: "vision", artifactCount: 2, createdAt: AT, createdBy: "alice" },
        ]);
        if (second.nextCursor) expect((await stores.artifacts.listProjects({ limit: 1, cursor: second.nextCursor })).items).toEqual([]);
      });
    });

    describe("compare-and-swap alias moves", () => {
      it("moves an artifact alias only from the version expected, and sets one expected absent only once", async () => {
        await stores.artifacts.moveAliases(aliasChange, 0, ["production"]);

        const stale = stores.artifacts.moveAliases(aliasChange, 2, ["production"], new Map([["production", 1]]));
        await expect(stale).rejects.toThrow(PreconditionFailedError);
        await expect(stale).rejects.toMatchObject({ details: { alias: "production", current: "v0" } });
        await expect(stores.artifacts.moveAliases(aliasChange, 2, ["production"], new Map([["production", null]]))).rejects.toThrow(
          PreconditionFailedError,
        );
        expect(await stores.artifacts.listAliases("vision", "mnist")).toMatchObject({ production: 0 });

        expect(await stores.artifacts.moveAliases(aliasChange, 2, ["production"], new Map([["production", 0]]))).toEqual([
          { alias: "production", from: 0, to: 2 },
        ]);
        expect(await stores.artifacts.moveAliases(aliasChange, 1, ["best"], new Map([["best", null]]))).toEqual([{ alias: "best", to: 1 }]);
        const history = await stores.artifacts.listArtifactHistory("vision", "mnist", { limit: 2 });
        expect(history.items.map((e) => [e.action, e.alias, e.to])).toEqual([
          ["alias.set", "best", "v1"],
          ["alias.moved", "production", "v2"],
        ]);
      });

      it("holds a collection alias to the link expected", async () => {
        await link(stores, newLink(versions[0]!, { aliases: ["production"] }));
        await link(stores, newLink(versions[1]!));

        await expect(
          stores.registries.moveCollectionAliases(collectionChange, 1, ["production"], new Map([["production", 1]])),
        ).rejects.toMatchObject({ code: "precondition_failed", details: { current: "v0" } });
        expect(await stores.registries.moveCollectionAliases(collectionChange, 1, ["production"], new Map([["production", 0]]))).toEqual([
          { alias: "production", from: 0, to: 1 },
        ]);
      });
    });

    describe("version edits", () => {
      it("sets description and metadata on the version and every copy: read by alias, links, with one event", async () => {
        await stores.artifacts.moveAliases(aliasChange, 1, ["best"]);
        await link(stores, newLink(versions[1]!, { aliases: ["production"] }));

        const edited = await stores.artifacts.updateVersion(aliasChange, 1, (current) => ({
          metadata: { ...current.metadata, f1: 0.8 },
          description: "the good one",
        }));

        expect(edited.before).toMatchObject({ index: 1, metadata: { acc: 0.9 }, description: "weights" });
        expect(edited.after).toMatchObject({ index: 1, metadata: { acc: 0.9, f1: 0.8 }, description: "the good one", revision: 1 });
        expect(await stores.artifacts.getVersion("vision", "mnist", 1)).toMatchObject({ metadata: { acc: 0.9, f1: 0.8 }, revision: 1 });
        expect(await stores.artifacts.getVersionByAlias("vision", "mnist", "best")).toMatchObject({
          index: 1,
          description: "the good one",
          metadata: { acc: 0.9, f1: 0.8 },
        });
        expect(await stores.registries.getLink("model", "mnist-classifier", 0)).toMatchObject({
          description: "the good one",
          metadata: { acc: 0.9, f1: 0.8 },
        });
        const [event] = (await stores.artifacts.listArtifactHistory("vision", "mnist", { limit: 1 })).items;
        expect(event).toMatchObject({
          action: "version.updated",
          version: "v1",
          before: { description: "weights", metadata: { acc: 0.9 } },
          after: { description: "the good one", metadata: { acc: 0.9, f1: 0.8 } },
        });
      });

      it("removes a description, writes nothing for an edit that changes nothing, and answers 404 for a missing version", async () => {
        await stores.artifacts.updateVersion(aliasChange, 0, (current) => ({ metadata: current.metadata }));
        expect((await stores.artifacts.getVersion("vision", "mnist", 0))?.description).toBeUndefined();
        const events = (await stores.artifacts.listArtifactHistory("vision", "mnist", { limit: 50 })).items.length;

        const same = await stores.artifacts.updateVersion(aliasChange, 0, (current) => ({ metadata: current.metadata }));
        expect(same.after).toEqual(same.before);
        expect((await stores.artifacts.listArtifactHistory("vision", "mnist", { limit: 50 })).items).toHaveLength(events);
        await expect(stores.artifacts.updateVersion(aliasChange, 9, (c) => ({ metadata: c.metadata }))).rejects.toThrow(NotFoundError);
        await expect(
          stores.artifacts.updateVersion(aliasChange, 0, () => {
            throw new UnprocessableError("refused by the edit");
          }),
        ).rejects.toThrow("refused by the edit");
      });

      it("refuses a link whose copies were read before an edit, answering the version as it is now", async () => {
        await stores.artifacts.updateVersion(aliasChange, 2, () => ({ metadata: { acc: 0.99 } }));
        const stale = newLink(versions[2]!);
        const state = await stores.registries.readLinkState("model", "mnist-classifier", stale.source, []);

        const lost = await stores.registries.linkVersion(stale, state);

        expect(lost).toMatchObject({ created: false, source: { index: 2, revision: 1, metadata: { acc: 0.99 } } });
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toBeUndefined();
        const fresh = (lost as { source: VersionRecord }).source;
        expect(await link(stores, newLink(fresh))).toMatchObject({ index: 0, metadata: { acc: 0.99 } });
      });
    });

    describe("collection edits and deletes", () => {
      it("edits the description and the whole tag set, keeping the tag index exact, with one event", async () => {
        await stores.registries.createCollection({ ...collection("mnist-classifier", ["old", "vision"]), description: "v1 card" });

        const edited = await stores.registries.updateCollection(collectionChange, () => ({
          description: "# Card",
          tags: ["vision", "new"],
        }));

        expect(edited.before).toMatchObject({ description: "v1 card", tags: ["old", "vision"] });
        expect(edited.after).toMatchObject({ description: "# Card", tags: ["new", "vision"] });
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toMatchObject({
          description: "# Card",
          tags: ["new", "vision"],
        });
        const tagged = async (tag: string) =>
          (await stores.registries.listCollections("model", { limit: 10, tag })).items.map((c) => c.name);
        expect(await tagged("new")).toEqual(["mnist-classifier"]);
        expect(await tagged("old")).toEqual([]);
        expect((await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 1 })).items[0]).toMatchObject({
          action: "collection.updated",
          before: { description: "v1 card", tags: ["old", "vision"] },
          after: { description: "# Card", tags: ["new", "vision"] },
        });
        await stores.registries.updateCollection(collectionChange, () => ({ tags: [] }));
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toMatchObject({ tags: [] });
        expect((await stores.registries.getCollection("model", "mnist-classifier"))?.description).toBeUndefined();
        await expect(stores.registries.updateCollection({ ...collectionChange, collection: "nope" }, (c) => c)).rejects.toThrow(
          NotFoundError,
        );
      });

      it("refuses to delete a collection that links a version; once unlinked it goes, with its index entries, keeping its history", async () => {
        await link(stores, newLink(versions[0]!, { newCollection: { tags: ["vision"] } }));
        await stores.registries.tagCollection(collectionChange, "digits", true);

        await expect(stores.registries.deleteCollection(collectionChange)).rejects.toThrow(ConflictError);
        await stores.registries.unlink(collectionChange, 0);
        await stores.registries.deleteCollection(collectionChange);

        expect(await stores.registries.getCollection("model", "mnist-classifier")).toBeUndefined();
        expect((await stores.registries.listCollections("model", { limit: 10 })).items).toEqual([]);
        expect((await stores.registries.listCollections("model", { limit: 10, tag: "vision" })).items).toEqual([]);
        expect((await stores.registries.listCollections("model", { limit: 10, q: "classifier" })).items).toEqual([]);
        const history = await stores.registries.listCollectionHistory("model", "mnist-classifier", { limit: 1 });
        expect(history.items[0]).toMatchObject({ action: "collection.deleted", registry: "model", collection: "mnist-classifier" });
        await expect(stores.registries.deleteCollection(collectionChange)).rejects.toThrow(NotFoundError);

        // The name is free again: a new collection starts from v0.
        expect((await link(stores, newLink(versions[1]!))).index).toBe(0);
        expect(await stores.registries.getCollection("model", "mnist-classifier")).toMatchObject({ nextIndex: 1, tags: [] });
      });
    });

    describe("registry edits and deletes", () => {
      it("edits the description and the approvals a promotion needs, with one event", async () => {
        const edited = await stores.registries.updateRegistry("model", change, () => ({ description: "models", approvalsRequired: 2 }));

        expect(edited.before.approvalsRequired ?? 0).toBe(0);
        expect(edited.after).toMatchObject({ description: "models", approvalsRequired: 2 });
        expect((await stores.registries.getRegistryAccess("model", undefined)).registry).toMatchObject({
          description: "models",
          approvalsRequired: 2,
        });
        await expect(stores.registries.updateRegistry("nope", change, (r) => ({ approvalsRequired: 0, ...r }))).rejects.toThrow(
          NotFoundError,
        );
      });

      it("lists members with their roles", async () => {
        await stores.registries.putMember("model", "vera", "viewer", change);
        await stores.registries.putMember("model", "max", "admin", change);

        const first = await stores.registries.listMembers("model", { limit: 1 });
        const second = await stores.registries.listMembers("model", { limit: 1, cursor: first.nextCursor });
        expect([...first.items, ...second.items]).toEqual([
          { registry: "model", userId: "max", role: "admin", grantedAt: AT, grantedBy: "alice" },
          { registry: "model", userId: "vera", role: "viewer", grantedAt: AT, grantedBy: "alice" },
        ]);
      });

      it("deletes only an empty registry, with its members and automations; nothing is added to it afterwards", async () => {
        await stores.registries.putMember("model", "max", "member", change);
        await stores.automations.createAutomation(automation("a1"));
        await stores.registries.createCollection(collection("cifar"));

        await expect(stores.registries.deleteRegistry("model", change)).rejects.toThrow(ConflictError);
        await stores.registries.deleteCollection({ ...collectionChange, collection: "cifar" });

        expect(await stores.registries.deleteRegistry("model", change)).toEqual({ members: ["max"], automations: ["a1"] });
        expect((await stores.registries.getRegistryAccess("model", "max")).registry).toBeUndefined();
        expect(await stores.registries.membershipsOf("max")).toEqual(new Map());
        expect(await stores.automations.automationsOf("model")).toEqual([]);
        await expect(stores.registries.deleteRegistry("model", change)).rejects.toThrow(NotFoundError);
        await expect(stores.registries.createCollection(collection("late"))).rejects.toThrow(NotFoundError);
        await expect(stores.registries.putMember("model", "max", "admin", change)).rejects.toThrow(NotFoundError);
        await expect(link(stores, newLink(versions[0]!))).rejects.toThrow(NotFoundError);
      });
    });
  });
}
