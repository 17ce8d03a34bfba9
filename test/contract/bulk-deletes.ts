import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../lambdas/core/errors.js";
import type { JobRecord } from "../../lambdas/core/model.js";
import { AT, change, commit, digest, link, newLink, newVersion, type MakeStores, type Stores } from "./stores.js";

const project = "vision";
const artifact = "mnist";

const job = (extra: Partial<JobRecord> = {}): JobRecord => ({
  id: "01J00000000000000000000001",
  kind: "artifact.delete",
  status: "queued",
  project,
  artifact,
  force: false,
  createdBy: "alice",
  orgRole: "admin",
  createdAt: AT,
  updatedAt: AT,
  progress: { total: 2, done: 0, failed: 0, skipped: 0 },
  cursor: {},
  skipped: [],
  errors: [],
  step: 0,
  ...extra,
});

/** What the job store and the artifact store's bulk and retention methods promise, whatever keeps the data. */
export function bulkDeleteContract(make: MakeStores): void {
  describe("bulk deletes and retention", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
    });

    describe("JobStore", () => {
      it("creates a job once and lists it active until it finishes", async () => {
        await stores.jobs.createJob(job());
        await expect(stores.jobs.createJob(job())).rejects.toThrow(ConflictError);
        expect(await stores.jobs.getJob(job().id)).toEqual(job());
        expect(await stores.jobs.activeJobs(10)).toEqual([job().id]);
        expect(await stores.jobs.getJob("01J00000000000000000000009")).toBeUndefined();
      });

      it("lets one holder at a time advance a job, each step over the one before", async () => {
        await stores.jobs.createJob(job());
        const claimed = await stores.jobs.claimJob(job().id, "a", AT, "2025-01-01T00:01:00.000Z");
        expect(claimed).toMatchObject({ status: "running", leaseHolder: "a", leaseUntil: "2025-01-01T00:01:00.000Z" });
        expect(await stores.jobs.claimJob(job().id, "b", "2025-01-01T00:00:30.000Z", "x")).toBeUndefined();

        const step1 = { ...claimed!, step: 1, progress: { total: 2, done: 1, failed: 0, skipped: 0 }, cursor: { after: 0 } };
        expect(await stores.jobs.saveJob(step1, "b")).toBe(false);
        expect(await stores.jobs.saveJob(step1, "a")).toBe(true);
        expect(await stores.jobs.saveJob(step1, "a")).toBe(false);
        expect(await stores.jobs.getJob(job().id)).toMatchObject({ step: 1, cursor: { after: 0 }, progress: { done: 1 } });

        // The lease ran out: another holder takes over from the last step written.
        const taken = await stores.jobs.claimJob(job().id, "b", "2025-01-01T00:02:00.000Z", "2025-01-01T00:03:00.000Z");
        expect(taken).toMatchObject({ step: 1, leaseHolder: "b" });
        expect(await stores.jobs.saveJob({ ...step1, step: 2, leaseHolder: "a" }, "a")).toBe(false);
        const { leaseHolder: _h, leaseUntil: _u, ...finished } = { ...taken!, step: 2, status: "succeeded" as const };
        expect(await stores.jobs.saveJob(finished, "b")).toBe(true);
        expect(await stores.jobs.activeJobs(10)).toEqual([]);
        expect(await stores.jobs.claimJob(job().id, "b", "2025-01-01T00:09:00.000Z", "z")).toBeUndefined();
      });
    });

    describe("ArtifactStore", () => {
      it("pages live versions after an index and artifacts after a name, each with its link count", async () => {
        for (let i = 1; i <= 4; i++) await commit(stores, newVersion({ digest: digest(i) }));
        await commit(stores, newVersion({ artifact: "other", digest: digest(9) }));
        await stores.artifacts.deleteVersion({ project, artifact, ...change }, 1);
        const v2 = (await stores.artifacts.getVersion(project, artifact, 2))!;
        await stores.registries.createRegistry({
          name: "model",
          visibility: "organization",
          protectedAliases: [],
          createdAt: AT,
          createdBy: "root",
        });
        await link(stores, newLink(v2));

        const first = await stores.artifacts.versionsAfter(project, artifact, undefined, 2);
        expect(first.map((v) => [v.index, v.linkCount])).toEqual([
          [0, 0],
          [2, 1],
        ]);
        expect((await stores.artifacts.versionsAfter(project, artifact, 2, 2)).map((v) => v.index)).toEqual([3]);
        expect((await stores.artifacts.artifactsAfter(project, undefined, 10)).map((a) => a.name)).toEqual(["mnist", "other"]);
        expect((await stores.artifacts.artifactsAfter(project, "mnist", 10)).map((a) => a.name)).toEqual(["other"]);
      });

      it("deletes an artifact only with no live version; its numbers stay burnt and its history readable", async () => {
        await commit(stores, newVersion({ digest: digest(1) }));
        await commit(stores, newVersion({ digest: digest(2) }));
        const at = { project, artifact, ...change };
        expect(await stores.artifacts.deleteArtifact(at)).toBe(false);
        await stores.artifacts.deleteVersion(at, 0);
        await stores.artifacts.deleteVersion(at, 1);
        expect(await stores.artifacts.deleteArtifact(at)).toBe(true);
        expect(await stores.artifacts.deleteArtifact(at)).toBe(false);
        expect(await stores.artifacts.getArtifact(project, artifact)).toBeUndefined();
        expect(await stores.artifacts.listAliases(project, artifact)).toEqual({});
        const history = await stores.artifacts.listArtifactHistory(project, artifact, { limit: 10 });
        expect(history.items[0]).toMatchObject({ action: "artifact.deleted", actor: "alice" });
        expect((await stores.artifacts.listProjects({ limit: 10 })).items).toEqual([
          expect.objectContaining({ name: project, artifactCount: 0 }),
        ]);

        expect(await stores.artifacts.readCommitState(project, artifact, digest(1), [])).toMatchObject({ firstIndex: 2 });
        const again = await commit(stores, newVersion({ digest: digest(1) }));
        expect(again.index).toBe(2);
        expect(await stores.artifacts.getArtifact(project, artifact)).toMatchObject({ nextIndex: 3, latestIndex: 2, versionCount: 1 });
      });

      it("deletes a project item only once it counts no artifact", async () => {
        await commit(stores, newVersion({ digest: digest(1) }));
        expect(await stores.artifacts.deleteProject(project, change)).toBe(false);
        await stores.artifacts.deleteVersion({ project, artifact, ...change }, 0);
        await stores.artifacts.deleteArtifact({ project, artifact, ...change });
        expect(await stores.artifacts.deleteProject(project, change)).toBe(true);
        expect((await stores.artifacts.listProjects({ limit: 10 })).items).toEqual([]);
      });

      it("keeps a project's default retention, read with the commit state", async () => {
        await expect(stores.artifacts.setProjectRetention(project, 30, change)).rejects.toThrow(NotFoundError);
        await commit(stores, newVersion({ digest: digest(1) }));
        expect(await stores.artifacts.setProjectRetention(project, 30, change)).toMatchObject({ name: project, ttlDays: 30 });
        expect(await stores.artifacts.readCommitState(project, artifact, digest(2), [])).toMatchObject({ projectTtlDays: 30 });
        expect(await stores.artifacts.setProjectRetention(project, undefined, change)).not.toHaveProperty("ttlDays");
        expect(await stores.artifacts.readCommitState(project, artifact, digest(2), [])).not.toHaveProperty("projectTtlDays");
      });

      it("lists expired versions soonest first until kept; a new expiry puts a kept one back", async () => {
        await commit(stores, newVersion({ digest: digest(1), expiresAt: "2025-01-03T00:00:00.000Z" }));
        await commit(stores, newVersion({ digest: digest(2), expiresAt: "2025-01-02T00:00:00.000Z" }));
        await commit(stores, newVersion({ digest: digest(3) }));
        expect(await stores.artifacts.getVersion(project, artifact, 0)).toMatchObject({ expiresAt: "2025-01-03T00:00:00.000Z" });
        expect((await stores.artifacts.getVersionByAlias(project, artifact, "latest"))!.expiresAt).toBeUndefined();

        expect(await stores.artifacts.expiredVersions("2025-01-01T12:00:00.000Z", 10)).toEqual([]);
        const due = await stores.artifacts.expiredVersions("2025-01-05T00:00:00.000Z", 10);
        expect(due.map((v) => [v.index, v.linkCount])).toEqual([
          [1, 0],
          [0, 0],
        ]);

        expect(await stores.artifacts.keepVersion(project, artifact, 1, "linked into @model/x:v0")).toBe(true);
        expect(await stores.artifacts.getVersion(project, artifact, 1)).toMatchObject({ retentionKept: "linked into @model/x:v0" });
        expect((await stores.artifacts.expiredVersions("2025-01-05T00:00:00.000Z", 10)).map((v) => v.index)).toEqual([0]);
        expect(await stores.artifacts.keepVersion(project, artifact, 7, "gone")).toBe(false);

        const { after } = await stores.artifacts.updateVersion({ project, artifact, ...change }, 1, (v) => ({
          metadata: v.metadata,
          description: v.description,
          expiresAt: "2025-01-04T00:00:00.000Z",
        }));
        expect(after.retentionKept).toBeUndefined();
        expect((await stores.artifacts.expiredVersions("2025-01-05T00:00:00.000Z", 10)).map((v) => v.index)).toEqual([0, 1]);
        await stores.artifacts.updateVersion({ project, artifact, ...change }, 0, (v) => ({
          metadata: v.metadata,
          description: v.description,
        }));
        expect((await stores.artifacts.getVersion(project, artifact, 0))!.expiresAt).toBeUndefined();
        expect((await stores.artifacts.expiredVersions("2025-01-05T00:00:00.000Z", 10)).map((v) => v.index)).toEqual([1]);
      });
    });
  });
}
