import { beforeEach, describe, expect, it } from "vitest";
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

    it("gives one verifier the claim on a blob; the others find it busy, then verified", async () => {
      expect(await stores.ledger.claimBlob(SHA, 10, at())).toBe("claimed");
      expect(await stores.ledger.claimBlob(SHA, 10, at(1000))).toBe("busy");
      expect(await stores.ledger.verifiedBlobs([SHA])).toEqual(new Map());

      await stores.ledger.markBlobVerified(SHA, 10, at(2000));

      expect(await stores.ledger.claimBlob(SHA, 10, at(3000))).toBe("verified");
      expect(await stores.ledger.verifiedBlobs([SHA, OTHER, SHA])).toEqual(new Map([[SHA, 10]]));
    });

    it("lets another verifier take over a claim abandoned for more than 15 minutes", async () => {
      await stores.ledger.claimBlob(SHA, 10, at());
      expect(await stores.ledger.claimBlob(SHA, 10, at(15 * 60 * 1000))).toBe("busy");
      expect(await stores.ledger.claimBlob(SHA, 10, at(15 * 60 * 1000 + 1))).toBe("claimed");
    });

    it("releases a claim, but never a verified blob", async () => {
      await stores.ledger.claimBlob(SHA, 10, at());
      await stores.ledger.releaseBlobClaim(SHA);
      expect(await stores.ledger.claimBlob(SHA, 10, at(1))).toBe("claimed");

      await stores.ledger.markBlobVerified(SHA, 10, at(2));
      await stores.ledger.releaseBlobClaim(SHA);
      await stores.ledger.releaseBlobClaim(OTHER);
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
