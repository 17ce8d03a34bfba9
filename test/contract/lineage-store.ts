import { beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../lambdas/core/errors.js";
import { AT, change, commit, digest, newVersion, type MakeStores, type Stores } from "./stores.js";

/** What every LineageStore promises. */
export function lineageStoreContract(make: MakeStores): void {
  describe("LineageStore", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
    });

    const run = { project: "vision", id: "train-1" };

    it("creates a run once; a retry updates only what it names", async () => {
      const first = await stores.lineage.saveRun({ ...run, name: "fit", config: { lr: 0.1 }, createdAt: AT, createdBy: "ana" });
      const bare = await stores.lineage.saveRun({ ...run, config: {}, createdAt: "2025-02-01T00:00:00.000Z", createdBy: "bob" });
      const renamed = await stores.lineage.saveRun({ ...run, name: "refit", config: {}, createdAt: AT, createdBy: "bob" });

      expect(first).toEqual({ created: true, run: { ...run, name: "fit", config: { lr: 0.1 }, createdAt: AT, createdBy: "ana" } });
      expect(bare).toEqual({ created: false, run: { ...run, name: "fit", config: { lr: 0.1 }, createdAt: AT, createdBy: "ana" } });
      expect(renamed.run).toMatchObject({ name: "refit", config: { lr: 0.1 }, createdBy: "ana" });
      expect(await stores.lineage.getRuns([run, { project: "vision", id: "nope" }])).toEqual([renamed.run]);
    });

    it("records inputs (creating an unknown run) and finds the runs that used a version", async () => {
      const v0 = await commit(stores, newVersion({ digest: digest(1) }));
      const source = { project: v0.project, artifact: v0.artifact, index: v0.index };

      await stores.lineage.recordInput(run, source, change);
      await stores.lineage.recordInput(run, source, change);
      await stores.lineage.recordInput({ project: "other", id: "eval" }, source, change);

      expect((await stores.lineage.listRunInputs(run, { limit: 10 })).items).toEqual([source]);
      expect((await stores.lineage.listVersionConsumers(source, { limit: 10 })).items).toEqual([{ project: "other", id: "eval" }, run]);
      expect(await stores.lineage.getRuns([run])).toEqual([{ ...run, config: {}, createdAt: AT, createdBy: "alice" }]);
      await expect(stores.lineage.recordInput(run, { ...source, index: 5 }, change)).rejects.toThrow(NotFoundError);
    });

    it("knows what a commit naming the run produced, and only the live versions", async () => {
      await commit(stores, newVersion({ digest: digest(1), runId: "train-1" }));
      await commit(stores, newVersion({ digest: digest(2), runId: "train-1" }));
      await commit(stores, newVersion({ digest: digest(3) }));

      const outputs = (await stores.lineage.listRunOutputs(run, { limit: 10 })).items;
      expect(outputs).toEqual([
        { project: "vision", artifact: "mnist", index: 0 },
        { project: "vision", artifact: "mnist", index: 1 },
      ]);
      expect(await stores.lineage.getRuns([run])).toHaveLength(1);

      await stores.artifacts.deleteVersion({ project: "vision", artifact: "mnist", ...change }, 0);
      expect(
        (await stores.lineage.getVersions([...outputs, { project: "vision", artifact: "mnist", index: 2 }])).map((v) => v.index).sort(),
      ).toEqual([1, 2]);
    });
  });
}
