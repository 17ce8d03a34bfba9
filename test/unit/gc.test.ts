import { beforeEach, describe, expect, it } from "vitest";
import { commitVersion, deleteArtifactVersion } from "../../lambdas/core/artifact-versions.js";
import { BlobBusyError, UnprocessableError } from "../../lambdas/core/errors.js";
import { collectGarbage, estimateReclaim, finishRelease, recountRefs } from "../../lambdas/core/gc.js";
import type { Principal } from "../../lambdas/core/model.js";
import { planUpload } from "../../lambdas/core/upload-blobs.js";
import { projectUsage, usageOf } from "../../lambdas/core/usage.js";
import { deleteCollection } from "../../lambdas/core/collections.js";
import type { CommitRequest } from "../../lambdas/contract/artifacts.js";
import { GC } from "../../lambdas/settings.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const admin: Principal = { userId: "root", orgRole: "admin" };
const HOUR = 3600 * 1000;

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

function uploaded(path: string, content: string) {
  const sha256 = sha256Hex(content);
  deps.blobs.stage(sha256, content);
  return { path, size: Buffer.byteLength(content), sha256 };
}

const commit = (artifact: string, files: CommitRequest["files"]) =>
  commitVersion(deps, admin, { project: "vision", artifact }, { type: "model", files });
const remove = (artifact: string, selector: string, options: { dryRun?: boolean } = {}) =>
  deleteArtifactVersion(deps, admin, { project: "vision", artifact }, selector, false, options);
const gc = (graceHours = 24, dryRun = false) => collectGarbage(deps, { graceHours, dryRun });
const refs = (content: string) => deps.ledger.blobs.get(sha256Hex(content))?.refs;

describe("reference counts", () => {
  it("a new version takes one reference per distinct blob; identical content takes none", async () => {
    await commit("a", [uploaded("x.bin", "shared"), uploaded("copy/x.bin", "shared"), uploaded("y.bin", "own")]);
    expect(refs("shared")).toBe(1);
    expect(refs("own")).toBe(1);

    await commit("b", [uploaded("x.bin", "shared")]);
    expect(refs("shared")).toBe(2);

    const again = await commit("b", [uploaded("x.bin", "shared")]);
    expect(again.created).toBe(false);
    expect(refs("shared")).toBe(2);
  });

  it("a delete gives its references back after the version is gone, exactly once", async () => {
    await commit("a", [uploaded("x.bin", "shared")]);
    await commit("b", [uploaded("x.bin", "shared")]);
    deps.clock.advance(HOUR);

    await remove("a", "v0");

    expect(refs("shared")).toBe(1);
    expect(deps.ledger.releases.size).toBe(0);
    // Running a release that is finished changes nothing.
    await finishRelease(deps, { project: "vision", artifact: "a", index: 0, digest: "whatever", done: 0, at: "x" }).catch(() => false);
    expect(refs("shared")).toBe(1);
  });

  it("a release is chunked and resumes where a crash left it, never releasing a chunk twice", async () => {
    const files = Array.from({ length: GC.releaseChunk + 5 }, (_, i) => uploaded(`f${i}.bin`, `blob ${i}`));
    await commit("big", files);
    const release = await deps.artifacts.deleteVersion(
      { project: "vision", artifact: "big", actor: "root", at: deps.clock.now().toISOString() },
      0,
    );
    // The version is gone, nothing released yet: the crash happened here.
    expect(files.every((f) => deps.ledger.blobs.get(f.sha256)!.refs === 1)).toBe(true);
    const sorted = files.map((f) => f.sha256).sort();
    expect(await deps.ledger.releaseRefs(release, 0, sorted.slice(0, GC.releaseChunk), false, release.at)).toBe(true);
    // A second runner with the stale progress loses.
    expect(await deps.ledger.releaseRefs(release, 0, sorted.slice(0, GC.releaseChunk), false, release.at)).toBe(false);

    const report = await gc(0);

    expect(report.releasesFinished).toBe(1);
    expect(files.every((f) => deps.ledger.blobs.get(f.sha256) === undefined)).toBe(true);
  });
});

describe("collectGarbage", () => {
  it("keeps a shared blob until its last version goes, and only after the grace period", async () => {
    await commit("a", [uploaded("x.bin", "shared"), uploaded("y.bin", "only a")]);
    await commit("b", [uploaded("x.bin", "shared")]);
    const shared = sha256Hex("shared");
    const onlyA = sha256Hex("only a");

    await remove("a", "v0");
    deps.clock.advance(25 * HOUR);
    const first = await gc();
    expect(first).toMatchObject({ deleted: 1, deletedBytes: 6 });
    expect(deps.blobs.blob(onlyA)).toBeUndefined();
    expect(deps.blobs.blob(shared)).toBeDefined();

    await remove("b", "v0");
    deps.clock.advance(23 * HOUR);
    expect((await gc()).deleted).toBe(0);
    deps.clock.advance(2 * HOUR);
    expect(await gc()).toMatchObject({ deleted: 1, deletedBytes: 6 });
    expect(deps.blobs.blob(shared)).toBeUndefined();
    expect(deps.ledger.blobs.has(shared)).toBe(false);
  });

  it("a dry run deletes nothing and answers what a round would", async () => {
    await commit("a", [uploaded("x.bin", "bytes")]);
    await remove("a", "v0");
    const dry = await gc(0, true);
    expect(dry).toMatchObject({ dryRun: true, deleted: 1, deletedBytes: 5 });
    expect(deps.blobs.blob(sha256Hex("bytes"))).toBeDefined();
    expect((await gc(0)).deleted).toBe(1);
  });

  it("collects an upload no commit ever named, after the grace", async () => {
    const file = uploaded("x.bin", "orphan");
    await expect(commit("a", [file, { path: "missing.bin", size: 1, sha256: "f".repeat(64) }])).rejects.toThrow(UnprocessableError);
    expect(refs("orphan")).toBe(0);
    expect((await gc(24)).deleted).toBe(0);
    deps.clock.advance(25 * HOUR);
    expect((await gc(24)).deleted).toBe(1);
  });

  it("a commit that reuses a blob during its grace revives it", async () => {
    await commit("a", [uploaded("x.bin", "reused")]);
    await remove("a", "v0");
    deps.clock.advance(HOUR);
    await commit("b", [uploaded("x.bin", "reused")]);
    deps.clock.advance(48 * HOUR);
    // Referenced again: out of the unreferenced index, which the collector reads.
    expect(await gc()).toMatchObject({ examined: 0, deleted: 0 });
    expect(deps.blobs.blob(sha256Hex("reused"))).toBeDefined();
  });

  it("a commit of a condemned blob fails as not stored; a new upload waits until the item is gone", async () => {
    const file = uploaded("x.bin", "raced");
    await commit("a", [file]);
    await remove("a", "v0");
    const [candidate] = await deps.ledger.unreferencedBlobs(deps.clock.now().toISOString(), 10);
    expect(await deps.ledger.condemnBlob(candidate!, "collector-1", deps.clock.now().toISOString(), "2999-01-01T00:00:00.000Z")).toBe(true);

    // A plan treats it as missing; a commit that checked it earlier loses on the write's condition.
    expect((await planUpload(deps, { files: [file] })).present).toEqual([]);
    const state = await deps.artifacts.readCommitState("vision", "b", "d".repeat(64), []);
    await expect(
      deps.artifacts.commitVersion(
        {
          project: "vision",
          artifact: "b",
          type: "model",
          digest: "d".repeat(64),
          metadata: {},
          size: 5,
          fileCount: 1,
          blobs: [file.sha256],
          aliases: [],
          actor: "root",
          at: "t",
        },
        state,
      ),
    ).rejects.toThrow(/not stored/);
    // A fresh upload of the same bytes cannot be verified while the item is condemned.
    deps.blobs.stage(file.sha256, "raced");
    await expect(commit("b", [file])).rejects.toThrow(BlobBusyError);

    // The collector finishes: object, then item; the next upload verifies anew and commits.
    await deps.blobs.deleteBlob(file.sha256);
    expect(await deps.ledger.forgetBlob(file.sha256, "collector-1")).toBe(true);
    expect((await commit("b", [file])).created).toBe(true);
    expect(deps.blobs.blob(file.sha256)?.toString()).toBe("raced");
    expect(refs("raced")).toBe(1);
  });

  it("takes over a condemnation whose lease ran out (a crashed collector), and not before", async () => {
    await commit("a", [uploaded("x.bin", "crash")]);
    await remove("a", "v0");
    const [candidate] = await deps.ledger.unreferencedBlobs(deps.clock.now().toISOString(), 10);
    const leaseUntil = new Date(deps.clock.now().getTime() + GC.condemnLeaseMs).toISOString();
    await deps.ledger.condemnBlob(candidate!, "dead", deps.clock.now().toISOString(), leaseUntil);
    expect(await gc(0)).toMatchObject({ deleted: 0, skipped: 1 });
    deps.clock.advance(GC.condemnLeaseMs + 1);
    expect(await gc(0)).toMatchObject({ deleted: 1 });
    expect(deps.ledger.blobs.has(sha256Hex("crash"))).toBe(false);
  });

  it("a failed object delete leaves the blob condemned; a round after its lease finishes it", async () => {
    await commit("a", [uploaded("x.bin", "stubborn")]);
    await remove("a", "v0");
    const deleteBlob = deps.blobs.deleteBlob.bind(deps.blobs);
    deps.blobs.deleteBlob = async () => {
      throw new Error("the store is down");
    };
    expect(await gc(0)).toMatchObject({ deleted: 0, skipped: 1 });
    expect(deps.ledger.blobs.get(sha256Hex("stubborn"))?.state).toBe("condemned");
    deps.blobs.deleteBlob = deleteBlob;
    expect(await gc(0)).toMatchObject({ deleted: 0, skipped: 1 });
    deps.clock.advance(GC.condemnLeaseMs + 1);
    expect(await gc(0)).toMatchObject({ deleted: 1 });
    expect(deps.blobs.blob(sha256Hex("stubborn"))).toBeUndefined();
  });

  it("never collects a blob verified before reference tracking, until a recount counts it", async () => {
    const sha = sha256Hex("legacy");
    deps.blobs.objects.set(`blobs/${sha}`, Buffer.from("legacy"));
    deps.ledger.legacy(sha, 6);
    await commit("a", [{ path: "x.bin", size: 6, sha256: sha }]);
    await remove("a", "v0");
    deps.clock.advance(48 * HOUR);
    expect(await gc()).toMatchObject({ deleted: 0, dismissed: 1 });
    expect(deps.blobs.blob(sha)).toBeDefined();

    const report = await recountRefs(deps);
    expect(report).toMatchObject({ updated: 1, changed: 0, missing: [] });
    expect(deps.ledger.blobs.get(sha)).toMatchObject({ tracked: true, refs: 0 });
    deps.clock.advance(25 * HOUR);
    expect((await gc()).deleted).toBe(1);
  });
});

describe("recountRefs", () => {
  it("restores counts from the manifests, counting unfinished releases, and leaves blobs changed meanwhile alone", async () => {
    await commit("a", [uploaded("x.bin", "one"), uploaded("y.bin", "two")]);
    await commit("b", [uploaded("x.bin", "one")]);
    // A leak (a crash between a pin and its commit) and a pending release.
    deps.ledger.blobs.get(sha256Hex("one"))!.refs = 7;
    await deps.artifacts.deleteVersion({ project: "vision", artifact: "b", actor: "root", at: "t" }, 0);

    const report = await recountRefs(deps);

    expect(report.updated).toBe(1);
    // "one": a's version and b's pending release.
    expect(refs("one")).toBe(2);
    expect(refs("two")).toBe(1);
    await gc(0);
    expect(refs("one")).toBe(1);
  });

  it("does not lower a count a commit pinned lately (its version may not be written yet), and does after an hour", async () => {
    await commit("a", [uploaded("x.bin", "pinned")]);
    const blob = deps.ledger.blobs.get(sha256Hex("pinned"))!;
    // A larger commit's pin, its version not written yet.
    blob.refs = 2;
    blob.pinnedAt = deps.clock.now().toISOString();
    expect(await recountRefs(deps)).toMatchObject({ updated: 0, pinned: 1 });
    expect(refs("pinned")).toBe(2);
    deps.clock.advance(2 * HOUR);
    expect(await recountRefs(deps)).toMatchObject({ updated: 1, pinned: 0 });
    expect(refs("pinned")).toBe(1);
  });

  it("a blob whose revision moved since it was read is not overwritten", async () => {
    await commit("a", [uploaded("x.bin", "moving")]);
    const [blob] = await deps.ledger.allBlobs();
    await commit("b", [uploaded("x.bin", "moving")]);
    expect(await deps.ledger.setRefs(blob!, 0, "t")).toBe(false);
    expect(refs("moving")).toBe(2);
  });
});

describe("dry runs and usage", () => {
  it("a version delete's dry run writes nothing, and its numbers are what the delete then frees", async () => {
    await commit("a", [uploaded("x.bin", "shared"), uploaded("y.bin", "mine!")]);
    await commit("b", [uploaded("x.bin", "shared")]);

    const dry = await remove("a", "v0", { dryRun: true });
    expect(dry).toEqual({
      dryRun: true,
      versions: ["vision/a:v0"],
      links: [],
      files: 2,
      logicalBytes: 11,
      reclaimableBytes: 5,
      reclaimableBlobs: 1,
    });
    expect(deps.artifacts.events("vision", "a").map((e) => e.action)).toEqual(["version.created"]);

    await remove("a", "v0");
    const freed = await gc(0);
    expect(freed.deletedBytes).toBe(5);
  });

  it("estimateReclaim counts blobs every one of whose references is among the versions given", async () => {
    await commit("a", [uploaded("x.bin", "shared")]);
    await commit("b", [uploaded("x.bin", "shared")]);
    const a = (await deps.artifacts.getVersion("vision", "a", 0))!;
    const b = (await deps.artifacts.getVersion("vision", "b", 0))!;
    expect((await estimateReclaim(deps, [a])).reclaimableBytes).toBe(0);
    expect(await estimateReclaim(deps, [a, b])).toEqual({ files: 2, logicalBytes: 12, reclaimableBytes: 6, reclaimableBlobs: 1 });
  });

  it("a collection's dry run names the links and frees nothing", async () => {
    await deps.registries.createRegistry({ name: "models", createdAt: "t", createdBy: "root", protectedAliases: [] } as never);
    await deps.registries.createCollection({ registry: "models", name: "m", createdAt: "t", createdBy: "root", tags: [] } as never);
    const dry = await deleteCollection(deps, admin, { registry: "models", collection: "m" }, { force: false, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, versions: [], links: [], reclaimableBytes: 0 });
    expect(await deps.registries.getCollection("models", "m")).toBeDefined();
  });

  it("usage counts logical and stored bytes, and drops after a delete", async () => {
    await commit("a", [uploaded("x.bin", "shared"), uploaded("y.bin", "mine!")]);
    await commit("b", [uploaded("x.bin", "shared")]);
    expect(await projectUsage(deps, "vision")).toEqual({
      project: "vision",
      logicalBytes: 17,
      storedBytes: 11,
      dedupRatio: 1.545,
      versions: 2,
      files: 3,
      blobs: 2,
    });
    await remove("a", "v0");
    expect(await usageOf(deps)).toMatchObject({ logicalBytes: 6, storedBytes: 6, versions: 1, blobs: 1 });
  });
});
