import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import type { CommitState } from "../../lambdas/core/ports.js";
import { AT, change, commit, digest, link, newLink, newVersion, type MakeStores, type Stores } from "./stores.js";

const project = "vision";
const artifact = "mnist";
const aliasChange = { project, artifact, ...change };

/** What every ArtifactStore promises, whatever keeps the data. */
export function artifactStoreContract(make: MakeStores): void {
  describe("ArtifactStore", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
    });

    const versionsOf = async () =>
      (await stores.artifacts.listVersions(project, artifact, { limit: 100 })).items.map((v) => [v.index, [...v.aliases].sort()]);

    describe("commits", () => {
      it("reads the state of an artifact that does not exist yet", async () => {
        expect(await stores.artifacts.readCommitState(project, artifact, digest(1), ["best"])).toEqual({
          holders: new Map(),
          attempts: 0,
        });
      });

      it("creates v0 with latest and the requested aliases, the artifact and the events", async () => {
        const version = await commit(stores, newVersion({ digest: digest(1), aliases: ["best"], runId: "run-1" }));

        expect(version).toEqual({
          project,
          artifact,
          index: 0,
          digest: digest(1),
          type: "model",
          aliases: ["latest", "best"],
          metadata: { acc: 0.9 },
          description: "weights",
          createdAt: AT,
          createdBy: "alice",
          size: 42,
          fileCount: 2,
          runId: "run-1",
        });
        expect({ ...(await stores.artifacts.getVersion(project, artifact, 0)), aliases: undefined }).toEqual({
          ...version,
          aliases: undefined,
        });
        expect(await stores.artifacts.getArtifact(project, artifact)).toEqual({
          project,
          name: artifact,
          type: "model",
          createdAt: AT,
          createdBy: "alice",
          nextIndex: 1,
          latestIndex: 0,
          versionCount: 1,
        });
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({ latest: 0, best: 0 });
        const history = await stores.artifacts.listArtifactHistory(project, artifact, { limit: 10 });
        expect(history.items.map((e) => [e.action, e.actor, e.version ?? e.to])).toEqual([
          ["alias.set", "alice", "v0"],
          ["version.created", "alice", "v0"],
        ]);
        expect(history.items[1]).toMatchObject({ digest: digest(1), aliases: ["latest", "best"] });
      });

      it("numbers versions without gaps, moving latest and the requested aliases to each new one", async () => {
        await commit(stores, newVersion({ digest: digest(1), aliases: ["best"] }));
        await commit(stores, newVersion({ digest: digest(2) }));
        const third = await commit(stores, newVersion({ digest: digest(3), aliases: ["best"] }));

        expect(third.index).toBe(2);
        expect(await versionsOf()).toEqual([
          [2, ["best", "latest"]],
          [1, []],
          [0, []],
        ]);
        expect(await stores.artifacts.getArtifact(project, artifact)).toMatchObject({ nextIndex: 3, latestIndex: 2, versionCount: 3 });
        const moved = (await stores.artifacts.listArtifactHistory(project, artifact, { limit: 1 })).items[0];
        expect(moved).toMatchObject({ action: "alias.moved", alias: "best", from: "v0", to: "v2" });
      });

      it("reads what a commit decides on: the artifact and its type, the version holding the digest, the alias holders", async () => {
        await commit(stores, newVersion({ digest: digest(1), aliases: ["best"] }));
        await commit(stores, newVersion({ digest: digest(2) }));

        const state = await stores.artifacts.readCommitState(project, artifact, digest(1), ["best", "other"]);

        expect(state).toEqual({
          head: expect.objectContaining({ type: "model", nextIndex: 2 }),
          existing: 0,
          holders: new Map([
            ["latest", 1],
            ["best", 0],
          ]),
          attempts: 0,
        });
      });

      it("writes nothing on a stale state and answers the current one, on which the next try succeeds", async () => {
        const stale = await stores.artifacts.readCommitState(project, artifact, digest(2), ["best"]);
        await commit(stores, newVersion({ digest: digest(1), aliases: ["best"] }));

        const lost = await stores.artifacts.commitVersion(newVersion({ digest: digest(2), aliases: ["best"] }), stale);

        expect(lost).toEqual({
          created: false,
          current: {
            head: expect.objectContaining({ nextIndex: 1 }),
            holders: new Map([
              ["latest", 0],
              ["best", 0],
            ]),
            attempts: 1,
          },
        });
        expect(await versionsOf()).toEqual([[0, ["best", "latest"]]]);
        const current = (lost as { current: CommitState }).current;
        const retried = await stores.artifacts.commitVersion(newVersion({ digest: digest(2), aliases: ["best"] }), current);
        expect(retried).toMatchObject({ created: true, version: { index: 1, aliases: ["latest", "best"] } });
        expect(await versionsOf()).toEqual([
          [1, ["best", "latest"]],
          [0, []],
        ]);
      });

      it("answers the version that took the same content meanwhile", async () => {
        const stale = await stores.artifacts.readCommitState(project, artifact, digest(1), []);
        await commit(stores, newVersion({ digest: digest(1) }));

        const lost = await stores.artifacts.commitVersion(newVersion({ digest: digest(1) }), stale);

        expect(lost).toMatchObject({ created: false, current: { existing: 0 } });
        expect(await versionsOf()).toEqual([[0, ["latest"]]]);
      });

      it("never writes a version of another type than the artifact's: the state shows the type to refuse", async () => {
        const stale = await stores.artifacts.readCommitState(project, artifact, digest(2), []);
        await commit(stores, newVersion({ digest: digest(1), type: "dataset" }));

        const lost = await stores.artifacts.commitVersion(newVersion({ digest: digest(2) }), stale);
        expect(lost).toMatchObject({ created: false, current: { head: { type: "dataset" } } });
        // Even a caller that ignores it cannot add a model version to a dataset artifact.
        const again = await stores.artifacts.commitVersion(newVersion({ digest: digest(2) }), (lost as { current: CommitState }).current);
        expect(again).toMatchObject({ created: false });
        expect(await versionsOf()).toEqual([[0, ["latest"]]]);
      });
    });

    describe("reads by alias", () => {
      beforeEach(async () => {
        await commit(stores, newVersion({ digest: digest(1), aliases: ["best", "production"] }));
        await commit(stores, newVersion({ digest: digest(2), metadata: { acc: 0.95 } }));
      });

      it("answers the version an alias names with all its aliases", async () => {
        expect(await stores.artifacts.getVersionByAlias(project, artifact, "production")).toMatchObject({
          index: 0,
          digest: digest(1),
          metadata: { acc: 0.9 },
          createdBy: "alice",
        });
        expect((await stores.artifacts.getVersionByAlias(project, artifact, "production"))!.aliases.sort()).toEqual(["best", "production"]);
        expect(await stores.artifacts.getVersionByAlias(project, artifact, "latest")).toMatchObject({
          index: 1,
          aliases: ["latest"],
          metadata: { acc: 0.95 },
        });
      });

      it("answers nothing for an alias nobody holds", async () => {
        expect(await stores.artifacts.getVersionByAlias(project, artifact, "staging")).toBeUndefined();
        expect(await stores.artifacts.getVersionByAlias(project, "other", "latest")).toBeUndefined();
      });

      it("follows an alias that moved", async () => {
        await stores.artifacts.moveAliases(aliasChange, 1, ["production"]);
        expect(await stores.artifacts.getVersionByAlias(project, artifact, "production")).toMatchObject({ index: 1 });
        expect((await stores.artifacts.getVersionByAlias(project, artifact, "production"))!.aliases.sort()).toEqual([
          "latest",
          "production",
        ]);
        expect((await stores.artifacts.getVersionByAlias(project, artifact, "best"))!.aliases).toEqual(["best"]);
      });
    });

    describe("aliases", () => {
      beforeEach(async () => {
        for (const n of [1, 2, 3]) await commit(stores, newVersion({ digest: digest(n) }));
      });

      it("moves aliases so that exactly one version holds each, reporting where they were", async () => {
        expect(await stores.artifacts.moveAliases(aliasChange, 0, ["production", "best"])).toEqual([
          { alias: "production", to: 0 },
          { alias: "best", to: 0 },
        ]);
        expect(await stores.artifacts.moveAliases(aliasChange, 1, ["production"])).toEqual([{ alias: "production", from: 0, to: 1 }]);
        expect(await stores.artifacts.moveAliases(aliasChange, 1, ["production"])).toEqual([]);

        expect(await versionsOf()).toEqual([
          [2, ["latest"]],
          [1, ["production"]],
          [0, ["best"]],
        ]);
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({ latest: 2, production: 1, best: 0 });
        const history = await stores.artifacts.listArtifactHistory(project, artifact, { limit: 1 });
        expect(history.items[0]).toMatchObject({ action: "alias.moved", alias: "production", from: "v0", to: "v1" });
      });

      it("refuses to point an alias at a version that does not exist", async () => {
        await expect(stores.artifacts.moveAliases(aliasChange, 7, ["production"])).rejects.toThrow(NotFoundError);
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({ latest: 2 });
      });

      it("removes an alias, answering the version it left", async () => {
        await stores.artifacts.moveAliases(aliasChange, 1, ["production"]);

        expect(await stores.artifacts.removeAlias(aliasChange, "production")).toBe(1);
        expect(await stores.artifacts.removeAlias(aliasChange, "production")).toBeUndefined();

        expect(await versionsOf()).toEqual([
          [2, ["latest"]],
          [1, []],
          [0, []],
        ]);
        const history = await stores.artifacts.listArtifactHistory(project, artifact, { limit: 1 });
        expect(history.items[0]).toMatchObject({ action: "alias.removed", alias: "production", from: "v1" });
      });
    });

    describe("deletes", () => {
      beforeEach(async () => {
        for (const n of [1, 2, 3]) await commit(stores, newVersion({ digest: digest(n) }));
        await stores.artifacts.moveAliases(aliasChange, 2, ["production"]);
      });

      it("burns the number, takes the version's aliases with it and moves latest back", async () => {
        await stores.artifacts.deleteVersion(aliasChange, 2);

        expect(await versionsOf()).toEqual([
          [1, ["latest"]],
          [0, []],
        ]);
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({ latest: 1 });
        expect(await stores.artifacts.getArtifact(project, artifact)).toMatchObject({ nextIndex: 3, latestIndex: 1, versionCount: 2 });
        expect((await stores.artifacts.listArtifactHistory(project, artifact, { limit: 1 })).items[0]).toMatchObject({
          action: "version.deleted",
          version: "v2",
          digest: digest(3),
        });

        // Its content may be committed again: under a new number.
        expect((await commit(stores, newVersion({ digest: digest(3) }))).index).toBe(3);
      });

      it("leaves latest alone when another version holds it, and removes it with the last version", async () => {
        await stores.artifacts.deleteVersion(aliasChange, 0);
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({ latest: 2, production: 2 });

        await stores.artifacts.deleteVersion(aliasChange, 2);
        await stores.artifacts.deleteVersion(aliasChange, 1);
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({});
        const remaining = await stores.artifacts.getArtifact(project, artifact);
        expect(remaining).toMatchObject({ nextIndex: 3, versionCount: 0 });
        expect(remaining?.latestIndex).toBeUndefined();
      });

      it("answers 404 for a version that does not exist or is deleted", async () => {
        await expect(stores.artifacts.deleteVersion(aliasChange, 9)).rejects.toThrow(NotFoundError);
        await stores.artifacts.deleteVersion(aliasChange, 0);
        await expect(stores.artifacts.deleteVersion(aliasChange, 0)).rejects.toThrow(NotFoundError);
      });

      it("refuses a version a collection links, and deletes it once unlinked", async () => {
        const v1 = (await stores.artifacts.getVersion(project, artifact, 1))!;
        await stores.registries.createRegistry({
          name: "model",
          visibility: "organization",
          protectedAliases: [],
          createdAt: AT,
          createdBy: "root",
        });
        await link(stores, newLink(v1));

        await expect(stores.artifacts.deleteVersion(aliasChange, 1)).rejects.toThrow(ConflictError);
        expect(await stores.artifacts.getVersion(project, artifact, 1)).toBeDefined();

        await stores.registries.unlink({ registry: "model", collection: "mnist-classifier", ...change }, 0);
        await stores.artifacts.deleteVersion(aliasChange, 1);
        expect(await stores.artifacts.getVersion(project, artifact, 1)).toBeUndefined();
      });
    });

    describe("lists", () => {
      it("pages versions newest first with cursors bound to their list", async () => {
        for (const n of [1, 2, 3]) await commit(stores, newVersion({ digest: digest(n) }));
        await commit(stores, newVersion({ artifact: "other", digest: digest(1) }));

        const first = await stores.artifacts.listVersions(project, artifact, { limit: 2 });
        const second = await stores.artifacts.listVersions(project, artifact, { limit: 2, cursor: first.nextCursor });

        expect([...first.items, ...second.items].map((v) => v.index)).toEqual([2, 1, 0]);
        expect(second.nextCursor).toBeUndefined();
        await expect(stores.artifacts.listVersions(project, "other", { limit: 2, cursor: first.nextCursor })).rejects.toThrow(
          ValidationError,
        );
        await expect(stores.artifacts.listVersions(project, artifact, { limit: 2, cursor: "garbage" })).rejects.toThrow(ValidationError);
      });

      it("pages a project's artifacts by name", async () => {
        for (const name of ["c", "a", "b"]) await commit(stores, newVersion({ artifact: name, digest: digest(1) }));
        await commit(stores, newVersion({ project: "elsewhere", artifact: "z", digest: digest(1) }));

        const first = await stores.artifacts.listArtifacts(project, { limit: 2 });
        const second = await stores.artifacts.listArtifacts(project, { limit: 2, cursor: first.nextCursor });

        expect([...first.items, ...second.items].map((a) => a.name)).toEqual(["a", "b", "c"]);
        expect(await stores.artifacts.listArtifacts("nobody", { limit: 2 })).toEqual({ items: [] });
      });

      it("lists history newest first", async () => {
        await commit(stores, newVersion({ digest: digest(1) }));
        await commit(stores, newVersion({ digest: digest(2) }));
        await stores.artifacts.moveAliases(aliasChange, 0, ["best"]);

        const history = await stores.artifacts.listArtifactHistory(project, artifact, { limit: 10 });

        expect(history.items.map((e) => `${e.action} ${e.version ?? e.to}`)).toEqual([
          "alias.set v0",
          "version.created v1",
          "version.created v0",
        ]);
      });
    });
  });
}
