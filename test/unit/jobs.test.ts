import { beforeEach, describe, expect, it } from "vitest";
import { commitVersion, getArtifact, listArtifactHistory, setArtifactAlias } from "../../lambdas/core/artifact-versions.js";
import { NotFoundError } from "../../lambdas/core/errors.js";
import { advanceJob, createBulkDeleteJob, getJob, planBulkDelete, resolveFilter, runActiveJobs, runJob } from "../../lambdas/core/jobs.js";
import type { Principal } from "../../lambdas/core/model.js";
import { JOBS } from "../../lambdas/settings.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const admin: Principal = { userId: "root", orgRole: "admin" };
const member: Principal = { userId: "alice", orgRole: "member" };
const DAY = 86_400_000;

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

async function commitN(artifact: string, n: number, from = 0, project = "vision") {
  for (let i = from; i < from + n; i++) {
    const content = `${artifact} ${i}`;
    const sha256 = sha256Hex(content);
    deps.blobs.stage(sha256, content);
    await commitVersion(deps, member, { project, artifact }, { type: "model", files: [{ path: "w.bin", size: content.length, sha256 }] });
  }
}

async function link(artifact: string, index: number, aliases: string[], registry = "model") {
  const v = (await deps.artifacts.getVersion("vision", artifact, index))!;
  if (!deps.registries.registries.has(registry)) {
    await deps.registries.createRegistry({
      name: registry,
      visibility: "organization",
      protectedAliases: ["production"],
      createdAt: deps.clock.now().toISOString(),
      createdBy: "root",
    });
  }
  await deps.registries.link({
    registry,
    collection: artifact,
    source: { project: "vision", artifact, index, digest: v.digest },
    type: "model",
    metadata: {},
    size: v.size,
    fileCount: v.fileCount,
    sourceRevision: 0,
    newCollection: { tags: [] },
    aliases,
    actor: "root",
    at: deps.clock.now().toISOString(),
  });
}

const run = (id: string, holder = "runner-1") => runJob(deps, id, { holder });

describe("resolveFilter", () => {
  it("fixes a duration to an absolute time at creation", () => {
    const now = new Date("2026-03-31T00:00:00.000Z");
    expect(resolveFilter({ olderThan: "30d", aliasAbsent: true }, now)).toEqual({
      olderThan: "2026-03-01T00:00:00.000Z",
      aliasAbsent: true,
    });
    expect(resolveFilter({ olderThan: "12h" }, now).olderThan).toBe("2026-03-30T12:00:00.000Z");
    expect(resolveFilter({ olderThan: "2026-01-02T03:04:05Z" }, now).olderThan).toBe("2026-01-02T03:04:05.000Z");
  });
});

describe("artifact delete", () => {
  it("queues a job with the version count as total, then deletes every version and the artifact", async () => {
    await commitN("mnist", 3);
    const job = await createBulkDeleteJob(deps, admin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, false);
    expect(job).toMatchObject({ status: "queued", kind: "artifact.delete", progress: { total: 3, done: 0, failed: 0, skipped: 0 } });
    expect(deps.jobs.events.map((e) => e.action)).toEqual(["job.created"]);

    const finished = await run(job.id);

    expect(finished).toMatchObject({ status: "succeeded", progress: { total: 3, done: 3, failed: 0, skipped: 0 } });
    await expect(getArtifact(deps, { project: "vision", artifact: "mnist" })).rejects.toThrow(NotFoundError);
    const history = await listArtifactHistory(deps, { project: "vision", artifact: "mnist" }, { limit: 20 });
    expect(history.items.map((e) => e.action).filter((a) => a !== "alias.moved")).toEqual(
      expect.arrayContaining(["artifact.deleted", "version.deleted", "version.created"]),
    );
    expect(history.items.filter((e) => e.action === "version.deleted")).toHaveLength(3);
    expect(deps.jobs.events.map((e) => e.action)).toEqual(["job.created", "job.finished"]);
    expect((await deps.artifacts.listProjects({ limit: 10 })).items).toEqual([
      expect.objectContaining({ name: "vision", artifactCount: 0 }),
    ]);
  });

  it("never hands out a number twice when the name is used again", async () => {
    await commitN("mnist", 2);
    const job = await createBulkDeleteJob(deps, admin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, false);
    await run(job.id);
    await commitN("mnist", 1, 7);
    expect((await getArtifact(deps, { project: "vision", artifact: "mnist" })).latest).toBe("v2");
  });

  it("skips linked versions and keeps the artifact unless forced; forced, protected aliases still need a registry admin", async () => {
    await commitN("mnist", 3);
    await link("mnist", 0, []);
    await link("mnist", 1, ["production"]);
    // A registry member who is no registry admin: an org member with project rights.
    const projectAdmin: Principal = { userId: "bob", orgRole: "member" };
    await deps.registries.putMember("model", "bob", "member", { actor: "root", at: deps.clock.now().toISOString() });

    const plain = await createBulkDeleteJob(deps, projectAdmin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, false);
    const first = await run(plain.id);
    expect(first).toMatchObject({ status: "succeeded", progress: { done: 1, skipped: 2 } });
    expect(first!.skipped.map((s) => s.version)).toEqual(["vision/mnist:v0", "vision/mnist:v1"]);
    expect(first!.skipped[0]!.reason).toContain("linked into @model/mnist:v0");
    expect(await getArtifact(deps, { project: "vision", artifact: "mnist" })).toMatchObject({ versionCount: 2 });

    const plan = await planBulkDelete(deps, projectAdmin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, true);
    expect(plan.versions.map((v) => v.version)).toEqual(["v0"]);
    expect(plan.links).toEqual(["@model/mnist:v0"]);
    expect(plan.skipped).toEqual([{ version: "vision/mnist:v1", reason: expect.stringContaining("protected alias production") }]);
    expect(plan.artifacts).toEqual([]);

    const forced = await createBulkDeleteJob(deps, projectAdmin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, true);
    const second = await run(forced.id);
    expect(second).toMatchObject({ status: "succeeded", progress: { done: 1, skipped: 1 } });
    expect(await deps.registries.getLink("model", "mnist", 1)).toBeDefined();
    expect(await deps.registries.getLink("model", "mnist", 0)).toBeUndefined();

    // An org admin is an admin of every registry: the protected link goes too.
    const byAdmin = await createBulkDeleteJob(deps, admin, { kind: "artifact.delete", project: "vision", artifact: "mnist" }, true);
    expect(await run(byAdmin.id)).toMatchObject({ status: "succeeded", progress: { done: 1, skipped: 0 } });
    await expect(getArtifact(deps, { project: "vision", artifact: "mnist" })).rejects.toThrow(NotFoundError);
  });

  it("refuses an artifact that does not exist", async () => {
    await expect(createBulkDeleteJob(deps, admin, { kind: "artifact.delete", project: "vision", artifact: "nope" }, false)).rejects.toThrow(
      NotFoundError,
    );
  });
});

describe("filtered version delete", () => {
  it("combines olderThan, aliasAbsent and notLinked; the dry run lists exactly what the job deletes", async () => {
    await commitN("mnist", 4);
    deps.clock.advance(40 * DAY);
    await commitN("mnist", 2, 4);
    // v0..v3 are 40 days old; v5 holds latest; v1 holds `best`; v2 is linked.
    await setArtifactAlias(deps, member, { project: "vision", artifact: "mnist" }, "best", "v1");
    await link("mnist", 2, []);
    const target = {
      kind: "versions.delete" as const,
      project: "vision",
      artifact: "mnist",
      filter: { olderThan: "30d", aliasAbsent: true, notLinked: true },
    };

    const plan = await planBulkDelete(deps, admin, target, false);
    expect(plan).toMatchObject({ dryRun: true, kind: "versions.delete", skipped: [], links: [], artifacts: [], files: 2 });
    expect(plan.versions.map((v) => v.version)).toEqual(["v0", "v3"]);
    expect(plan.logicalBytes).toBe(plan.versions.reduce((sum, v) => sum + v.size, 0));
    // Each version's blob is its own: all of it is reclaimable.
    expect(plan.reclaimableBytes).toBe(plan.logicalBytes);
    // v0's bytes logged again elsewhere are no longer freed by deleting v0.
    const shared = "mnist 0";
    await commitVersion(
      deps,
      member,
      { project: "vision", artifact: "copy" },
      { type: "model", files: [{ path: "w.bin", size: shared.length, sha256: sha256Hex(shared) }] },
    );
    const again = await planBulkDelete(deps, admin, target, false);
    expect(again.reclaimableBytes).toBe(plan.logicalBytes - shared.length);
    expect(deps.jobs.jobs.size).toBe(0);

    const job = await createBulkDeleteJob(deps, admin, target, false);
    expect(job.progress.total).toBeUndefined();
    expect(job.filter).toEqual({
      olderThan: new Date(deps.clock.now().getTime() - 30 * DAY).toISOString(),
      aliasAbsent: true,
      notLinked: true,
    });
    expect(await run(job.id)).toMatchObject({ status: "succeeded", progress: { done: 2, skipped: 0 } });
    const left = await deps.artifacts.versionsAfter("vision", "mnist", undefined, 10);
    expect(left.map((v) => v.index)).toEqual([1, 2, 4, 5]);
  });
});

describe("project delete", () => {
  it("deletes every artifact, then the project, in steps that each write their progress", async () => {
    await commitN("a", JOBS.stepVersions + 3);
    await commitN("b", 2);
    const job = await createBulkDeleteJob(deps, admin, { kind: "project.delete", project: "vision" }, false);
    expect(job.progress.total).toBe(JOBS.stepVersions + 5);

    const claimed = (await deps.jobs.claimJob(job.id, "r", deps.clock.now().toISOString(), "9999"))!;
    const afterOne = await advanceJob(deps, claimed);
    expect(afterOne).toMatchObject({ status: "running", step: 1, cursor: { artifact: "a", after: JOBS.stepVersions - 1 } });
    expect(afterOne.progress.done).toBe(JOBS.stepVersions);
    // A step whose state was never written (a crash): the next run starts from the last step
    // written and finds the versions it deleted gone, so `done` counts them no more.
    expect((await getJob(deps, job.id)).progress.done).toBe(0);

    const finished = await runJob(deps, job.id, { holder: "r" });
    expect(finished).toMatchObject({ status: "succeeded", progress: { done: 5, failed: 0, skipped: 0 } });
    expect(await deps.artifacts.artifactsAfter("vision", undefined, 10)).toEqual([]);
    expect((await deps.artifacts.listProjects({ limit: 10 })).items).toEqual([]);
    expect(deps.artifacts.projectEvents.map((e) => e.action)).toEqual(["project.deleted"]);
  });

  it("resumes after a runner stops midway, and a second runner cannot take a leased job", async () => {
    await commitN("a", JOBS.stepVersions * 3);
    const job = await createBulkDeleteJob(deps, admin, { kind: "project.delete", project: "vision" }, false);
    let steps = 0;
    const partial = await runJob(deps, job.id, { holder: "first", stopping: () => steps++ >= 1 });
    expect(partial).toMatchObject({ status: "running", progress: { done: JOBS.stepVersions } });

    expect(await runJob(deps, job.id, { holder: "second" })).toBeUndefined();
    deps.clock.advance(JOBS.leaseMs + 1);
    const report = await runActiveJobs(deps, { holder: "second" });
    expect(report).toEqual({ finished: 1, errors: [] });
    expect((await getJob(deps, job.id)).progress).toMatchObject({ done: JOBS.stepVersions * 3, failed: 0 });
  });
});
