import { beforeEach, describe, expect, it } from "vitest";
import type { BlobLedger } from "../../lambdas/core/ports.js";
import { BLOB_CLAIM } from "../../lambdas/settings.js";
import type { MakeStores, Stores } from "./stores.js";

const SHA = "a".repeat(64);
const OTHER = "b".repeat(64);

/** What every BlobLedger promises. */
export function blobLedgerContract(make: MakeStores): void {
  describe("BlobLedger", () => {
    let stores: Stores;
    let now: number;
    const at = (offsetMs = 0) => new Date(now + offsetMs).toISOString();
    beforeEach(async () => {
      stores = await make();
      now = Date.now();
    });

    const held = async (ledger: BlobLedger, at: string) => {
      const outcome = await ledger.claimBlob(SHA, 10, at);
      if (outcome.status !== "claimed") throw new Error(`expected a claim, got ${outcome.status}`);
      return outcome.claim;
    };

    it("gives one verifier the claim on a blob; the others find it busy, then verified", async () => {
      const claim = await held(stores.ledger, at());
      expect(claim).toEqual({ sha256: SHA, id: expect.any(String), leaseUntil: at(BLOB_CLAIM.leaseMs) });
      expect(await stores.ledger.claimBlob(SHA, 10, at(1000))).toEqual({ status: "busy" });
      expect(await stores.ledgerFor({ holder: "other" }).claimBlob(SHA, 10, at(1000))).toEqual({ status: "busy" });
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map());

      expect(await stores.ledger.markBlobVerified(claim, 10, at(2000))).toBe(true);

      expect(await stores.ledger.claimBlob(SHA, 10, at(3000))).toEqual({ status: "verified" });
      expect(await stores.ledger.verifiedBlobs([SHA, OTHER, SHA])).toEqual(new Map([[SHA, 10]]));
    });

    it("lets another verifier take over a claim whose lease ran out, and the old holder can no longer touch it", async () => {
      const first = await held(stores.ledger, at());
      const other = stores.ledgerFor({ holder: "other" });
      expect(await other.claimBlob(SHA, 10, at(BLOB_CLAIM.leaseMs))).toEqual({ status: "busy" });
      const second = await held(other, at(BLOB_CLAIM.leaseMs + 1));
      expect(second.id).not.toBe(first.id);

      // The slow first holder wakes up: its renewal, its verification and its release all lose.
      expect(await stores.ledger.renewBlobClaim(first, at(BLOB_CLAIM.leaseMs + 2))).toBeUndefined();
      expect(await stores.ledger.markBlobVerified(first, 10, at(BLOB_CLAIM.leaseMs + 3))).toBe(false);
      await stores.ledger.releaseBlobClaim(first);
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map());
      expect(await stores.ledger.claimBlob(SHA, 10, at(BLOB_CLAIM.leaseMs + 4))).toEqual({ status: "busy" });

      expect(await other.markBlobVerified(second, 10, at(BLOB_CLAIM.leaseMs + 5))).toBe(true);
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map([[SHA, 10]]));
    });

    it("lets exactly one of several takers take over a lapsed claim", async () => {
      await held(stores.ledger, at());
      const takers = ["b", "c", "d"].map((holder) => stores.ledgerFor({ holder }));
      const outcomes = await Promise.all(takers.map((taker) => taker.claimBlob(SHA, 10, at(BLOB_CLAIM.leaseMs + 1))));
      expect(outcomes.map((o) => o.status).sort()).toEqual(["busy", "busy", "claimed"]);
    });

    it("keeps a renewed claim from being taken over", async () => {
      const claim = await held(stores.ledger, at());
      const renewed = await stores.ledger.renewBlobClaim(claim, at(20_000));
      expect(renewed).toEqual({ ...claim, leaseUntil: at(20_000 + BLOB_CLAIM.leaseMs) });
      const other = stores.ledgerFor({ holder: "other" });
      expect(await other.claimBlob(SHA, 10, at(BLOB_CLAIM.leaseMs + 1))).toEqual({ status: "busy" });
      expect(await stores.ledger.markBlobVerified(renewed!, 10, at(BLOB_CLAIM.leaseMs + 2))).toBe(true);
      // A verified blob has no claim left to renew.
      expect(await stores.ledger.renewBlobClaim(renewed!, at(BLOB_CLAIM.leaseMs + 3))).toBeUndefined();
    });

    it("as the only process on its table, takes over every other process's claim at once, never its own", async () => {
      const crashed = stores.ledgerFor({ holder: "crashed-server" });
      const orphan = await held(crashed, at());
      const restarted = stores.ledgerFor({ holder: "restarted-server", soleHolder: true });

      const taken = await held(restarted, at(1));
      expect(await crashed.markBlobVerified(orphan, 10, at(2))).toBe(false);
      // Its own live claim is another request of this process, still verifying.
      expect(await restarted.claimBlob(SHA, 10, at(3))).toEqual({ status: "busy" });
      expect(await restarted.markBlobVerified(taken, 10, at(4))).toBe(true);
    });

    it("releases a claim, but never a verified blob", async () => {
      const claim = await held(stores.ledger, at());
      await stores.ledger.releaseBlobClaim(claim);
      const again = await held(stores.ledger, at(1));

      expect(await stores.ledger.markBlobVerified(again, 10, at(2))).toBe(true);
      await stores.ledger.releaseBlobClaim(again);
      await stores.ledger.releaseBlobClaim({ ...again, sha256: OTHER });
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map([[SHA, 10]]));
    });

    it("keeps multipart uploads: by id, found again by size and part size, deleted", async () => {
      const upload = { sha256: SHA, size: 100, uploadId: "u1", key: `blobs/${SHA}`, partSize: 50, createdAt: at() };
      await stores.ledger.putMultipartUpload(upload);
      await stores.ledger.putMultipartUpload({ ...upload, sha256: OTHER, uploadId: "u2", key: `blobs/${OTHER}` });

      expect(await stores.ledger.getMultipartUpload(SHA, "u1")).toEqual(upload);
      expect(await stores.ledger.getMultipartUpload(SHA, "u2")).toBeUndefined();
      expect(await stores.ledger.findMultipartUpload(SHA, 100, 50)).toEqual(upload);
      expect(await stores.ledger.findMultipartUpload(SHA, 100, 25)).toBeUndefined();
      expect(await stores.ledger.findMultipartUpload(SHA, 101, 50)).toBeUndefined();

      await stores.ledger.deleteMultipartUpload(SHA, "u1");
      expect(await stores.ledger.getMultipartUpload(SHA, "u1")).toBeUndefined();
      expect(await stores.ledger.findMultipartUpload(SHA, 100, 50)).toBeUndefined();
      expect(await stores.ledger.getMultipartUpload(OTHER, "u2")).toBeDefined();
    });
  });
}
