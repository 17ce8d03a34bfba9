import { beforeEach, describe, expect, it } from "vitest";
import { UnprocessableError } from "../../lambdas/core/errors.js";
import type { BlobLedger } from "../../lambdas/core/ports.js";
import { change, digest, newVersion, type MakeStores, type Stores } from "./stores.js";

const SHA = "c".repeat(64);
const NEVER = "e".repeat(64);
const FAR = "2999-01-01T00:00:00.000Z";

/** What every store promises about blob references (lambdas/core/gc.ts relies on it). */
export function blobReferencesContract(make: MakeStores): void {
  describe("blob references", () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await make();
    });

    const verified = async (ledger: BlobLedger, sha256: string, at: string) => {
      const outcome = await ledger.claimBlob(sha256, 10, at);
      if (outcome.status !== "claimed") throw new Error(`expected a claim, got ${outcome.status}`);
      expect(await ledger.markBlobVerified(outcome.claim, 10, at)).toBe(true);
    };
    const commit = async (index: number, blobs: string[], artifact = "mnist") => {
      const version = newVersion({ digest: digest(index), artifact, blobs });
      const state = await stores.artifacts.readCommitState("vision", artifact, version.digest, []);
      return stores.artifacts.commitVersion(version, state);
    };
    const refsOf = async (sha256: string) => (await stores.ledger.blobRefs([sha256])).get(sha256);
    const unreferenced = async () => (await stores.ledger.unreferencedBlobs(FAR, 100)).map((b) => b.sha256);

    it("a verified blob is tracked with no reference and waits in the unreferenced index until a version names it", async () => {
      await verified(stores.ledger, SHA, "2025-01-01T00:00:00.000Z");
      expect(await refsOf(SHA)).toMatchObject({ refs: 0, tracked: true, state: "verified", releasedAt: "2025-01-01T00:00:00.000Z" });
      expect(await unreferenced()).toEqual([SHA]);
      expect(await stores.ledger.unreferencedBlobs("2024-12-31T00:00:00.000Z", 100)).toEqual([]);

      expect((await commit(1, [SHA])).created).toBe(true);
      expect((await commit(2, [SHA], "other")).created).toBe(true);
      expect(await refsOf(SHA)).toMatchObject({ refs: 2 });
      expect(await unreferenced()).toEqual([]);
    });

    it("a commit naming a blob that is not verified writes nothing", async () => {
      await verified(stores.ledger, SHA, change.at);
      await expect(commit(1, [SHA, NEVER])).rejects.toThrow(UnprocessableError);
      expect(await stores.artifacts.getArtifact("vision", "mnist")).toBeUndefined();
      expect(await refsOf(SHA)).toMatchObject({ refs: 0 });
    });

    it("a delete records its release; each chunk is released once and the last removes it", async () => {
      await verified(stores.ledger, SHA, change.at);
      await commit(1, [SHA]);
      const release = await stores.artifacts.deleteVersion({ project: "vision", artifact: "mnist", ...change }, 0);
      expect(release).toEqual({ project: "vision", artifact: "mnist", index: 0, digest: digest(1), done: 0, at: change.at });
      expect(await stores.ledger.pendingReleases(10)).toEqual([release]);
      // The version is gone, its reference not yet.
      expect(await refsOf(SHA)).toMatchObject({ refs: 1 });

      expect(await stores.ledger.releaseRefs(release, 0, [SHA, NEVER], true, "2025-01-02T00:00:00.000Z")).toBe(true);
      expect(await stores.ledger.releaseRefs(release, 0, [SHA], true, "2025-01-02T00:00:00.000Z")).toBe(false);
      expect(await refsOf(SHA)).toMatchObject({ refs: 0, releasedAt: "2025-01-02T00:00:00.000Z" });
      // A blob item that does not exist is not created by a release.
      expect(await refsOf(NEVER)).toBeUndefined();
      expect(await stores.ledger.pendingReleases(10)).toEqual([]);
      expect(await unreferenced()).toEqual([SHA]);
    });

    it("condemns only as read; a condemned blob takes no reference, cannot be verified again, and goes only under its condemner", async () => {
      await verified(stores.ledger, SHA, change.at);
      const [seen] = await stores.ledger.unreferencedBlobs(FAR, 10);
      expect(await stores.ledger.condemnBlob({ ...seen!, releasedAt: "2024-01-01T00:00:00.000Z" }, "gc-0", change.at, FAR)).toBe(false);
      expect(await stores.ledger.condemnBlob(seen!, "gc-1", change.at, FAR)).toBe(true);
      // Another collector before the lease ran out: refused.
      expect(await stores.ledger.condemnBlob(seen!, "gc-2", change.at, FAR)).toBe(false);

      await expect(commit(1, [SHA])).rejects.toThrow(UnprocessableError);
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map());
      expect((await stores.ledger.claimBlob(SHA, 10, change.at)).status).toBe("busy");

      expect(await stores.ledger.forgetBlob(SHA, "gc-2")).toBe(false);
      expect(await stores.ledger.forgetBlob(SHA, "gc-1")).toBe(true);
      expect(await refsOf(SHA)).toBeUndefined();
      expect((await stores.ledger.claimBlob(SHA, 10, change.at)).status).toBe("claimed");
    });

    it("a referenced blob is not condemned; dismissing takes it out of the index only as read", async () => {
      await verified(stores.ledger, SHA, change.at);
      const [seen] = await stores.ledger.unreferencedBlobs(FAR, 10);
      await commit(1, [SHA]);
      expect(await stores.ledger.condemnBlob(seen!, "gc-1", change.at, FAR)).toBe(false);
      const release = await stores.artifacts.deleteVersion({ project: "vision", artifact: "mnist", ...change }, 0);
      await stores.ledger.releaseRefs(release, 0, [SHA], true, "2025-01-03T00:00:00.000Z");
      // Read before the release: stale, so it stays in the index.
      await stores.ledger.dismissBlob(seen!);
      expect(await unreferenced()).toEqual([SHA]);
    });

    it("a recount writes over the revision it read only, and marks the blob tracked", async () => {
      await verified(stores.ledger, SHA, change.at);
      const [read] = await stores.ledger.allBlobs();
      await commit(1, [SHA]);
      expect(await stores.ledger.setRefs(read!, 0, change.at)).toBe(false);
      const [again] = await stores.ledger.allBlobs();
      expect(await stores.ledger.setRefs(again!, 1, change.at)).toBe(true);
      expect(await refsOf(SHA)).toMatchObject({ refs: 1, tracked: true, refsRevision: again!.refsRevision + 1 });
    });
  });
}
