import { randomUUID } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { MultipartUpload } from "../../core/model.js";
import type { BlobClaim, BlobLedger, BlobRefs, HeldBlobClaim, PendingRelease } from "../../core/ports.js";
import { DynamoTable, TransactionLost, tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { BLOB_CLAIM, UPLOAD_RESUME_SECONDS } from "../../settings.js";

/** Who holds a claim: one id per process (a Lambda execution environment, a local server). */
const THIS_PROCESS = randomUUID();

export interface BlobLedgerOptions {
  /** This process's id on the claims it takes; tests give two ledgers two ids. */
  holder?: string;
  /**
   * Set when this process is the only one using the table (the local server, under its data
   * dir lock: local/data-dir-lock.ts): a claim held by any other process is a crashed
   * server's, so it is taken over at once instead of when its lease runs out.
   */
  soleHolder?: boolean;
  leaseMs?: number;
}

/**
 * Blob claims. Which condition holds which invariant:
 * - One verifier at a time: a claim is written only if no item exists, or the item is a
 *   claim (`state = verifying`) whose holder is gone; a verified blob is never claimed again.
 * - A holder is gone when its lease ran out (it renews every third of the lease while it
 *   verifies: core/upload-blobs.ts), when the claim predates leases and is older than any
 *   verification could run, or, with `soleHolder`, when another process holds it.
 * - A slow holder whose claim was taken over cannot undo the new holder's work: renewing,
 *   marking verified and releasing are all conditioned on the claim's `id`, which every
 *   takeover replaces; and it stops writing to the blob store before its lease could run out
 *   (the claim's AbortSignal in core/upload-blobs.ts), i.e. before anyone may take over.
 */
export class DynamoBlobLedger extends DynamoTable implements BlobLedger {
  private readonly holder: string;
  private readonly soleHolder: boolean;
  private readonly leaseMs: number;

  constructor(client: DynamoDBDocumentClient, tableName: string, options: BlobLedgerOptions = {}) {
    super(client, tableName);
    this.holder = options.holder ?? THIS_PROCESS;
    this.soleHolder = options.soleHolder ?? false;
    this.leaseMs = options.leaseMs ?? BLOB_CLAIM.leaseMs;
  }

  async verifiedBlobs(sha256s: string[]): Promise<Map<string, number>> {
    const items = await this.batchGetItems(sha256s.map(keys.blob), { consistent: true });
    return new Map(items.filter((item) => item.state === "verified").map((item) => [item.sha256 as string, item.size as number]));
  }

  async claimBlob(sha256: string, size: number, at: string): Promise<BlobClaim> {
    const claim: HeldBlobClaim = { sha256, id: randomUUID(), leaseUntil: this.leaseFrom(at) };
    const gone = [
      // The holder stopped renewing: dead, or cut off and no longer writing (it stops before its lease ends).
      "leaseUntil < :at",
      // Claims from before leases: older than the longest verification (settings.ts, BLOB_CLAIM).
      "(attribute_not_exists(leaseUntil) AND claimedAt < :unleasedStale)",
      // The only live process using the table is this one.
      ...(this.soleHolder ? ["attribute_not_exists(holder)", "holder <> :holder"] : []),
    ];
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.blob(sha256),
            entity: "blob",
            sha256,
            size,
            state: "verifying",
            claimedAt: at,
            claimId: claim.id,
            holder: this.holder,
            leaseUntil: claim.leaseUntil,
          },
          ConditionExpression: `attribute_not_exists(PK) OR (#state = :verifying AND (${gone.join(" OR ")}))`,
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: {
            ":verifying": "verifying",
            ":at": at,
            ":unleasedStale": new Date(Date.parse(at) - BLOB_CLAIM.unleasedStaleMs).toISOString(),
            ...(this.soleHolder ? { ":holder": this.holder } : {}),
          },
        }),
      );
      return { status: "claimed", claim };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.get(keys.blob(sha256), true);
      return item?.state === "verified" ? { status: "verified" } : { status: "busy" };
    }
  }

  async renewBlobClaim(claim: HeldBlobClaim, at: string): Promise<HeldBlobClaim | undefined> {
    const leaseUntil = this.leaseFrom(at);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.blob(claim.sha256),
          UpdateExpression: "SET leaseUntil = :leaseUntil",
          // Only the claim as granted: not one taken over since (new id), nor a verified blob.
          ...this.heldCondition(claim),
          ExpressionAttributeValues: { ...this.heldCondition(claim).ExpressionAttributeValues, ":leaseUntil": leaseUntil },
        }),
      );
      return { ...claim, leaseUntil };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return undefined;
    }
  }

  async markBlobVerified(claim: HeldBlobClaim, size: number, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.blob(claim.sha256),
            entity: "blob",
            sha256: claim.sha256,
            size,
            state: "verified",
            verifiedAt: at,
            // No version names it yet: counted from here, and collectable after the grace unless one does.
            refs: 0,
            refsRevision: 0,
            tracked: true,
            releasedAt: at,
            GSI1PK: keys.unreferencedBlobsIndex,
            GSI1SK: at,
          },
          // A holder whose claim was taken over may have verified bytes the new holder has replaced since.
          ...this.heldCondition(claim),
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  async releaseBlobClaim(claim: HeldBlobClaim): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.blob(claim.sha256),
          // Never releases a verified blob, nor the claim of whoever took this one over.
          ...this.heldCondition(claim),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private leaseFrom(at: string): string {
    return new Date(Date.parse(at) + this.leaseMs).toISOString();
  }

  private heldCondition(claim: HeldBlobClaim) {
    return {
      ConditionExpression: "#state = :verifying AND claimId = :claimId",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":verifying": "verifying", ":claimId": claim.id } as Record<string, unknown>,
    };
  }

  async putMultipartUpload(upload: MultipartUpload): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.upload(upload.sha256, upload.uploadId),
          entity: "upload",
          ...upload,
          ttl: Math.floor(Date.parse(upload.createdAt) / 1000) + UPLOAD_RESUME_SECONDS,
        },
      }),
    );
  }

  async getMultipartUpload(sha256: string, uploadId: string): Promise<MultipartUpload | undefined> {
    const item = await this.get(keys.upload(sha256, uploadId), true);
    return item && toUpload(item);
  }

  async findMultipartUpload(sha256: string, size: number, partSize: number): Promise<MultipartUpload | undefined> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        // TTL deletion lags expiry by up to two days; an expired upload may be aborted already.
        FilterExpression: "#size = :size AND partSize = :partSize AND #ttl > :now",
        ExpressionAttributeNames: { "#size": "size", "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":pk": keys.blob(sha256).PK,
          ":prefix": keys.uploadPrefix,
          ":size": size,
          ":partSize": partSize,
          ":now": Math.floor(Date.now() / 1000),
        },
        ConsistentRead: true,
      }),
    );
    const item = result.Items?.[0];
    return item && toUpload(item);
  }

  async deleteMultipartUpload(sha256: string, uploadId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: keys.upload(sha256, uploadId) }));
  }

  async blobRefs(sha256s: string[]): Promise<Map<string, BlobRefs>> {
    const items = await this.batchGetItems(sha256s.map(keys.blob), { consistent: true });
    return new Map(items.map((item) => [item.sha256 as string, toBlobRefs(item)]));
  }

  async unreferencedBlobs(before: string, limit: number): Promise<BlobRefs[]> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: "GSI1",
        KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :before",
        ExpressionAttributeValues: { ":pk": keys.unreferencedBlobsIndex, ":before": before },
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map(toBlobRefs);
  }

  async condemnBlob(blob: BlobRefs, id: string, at: string, leaseUntil: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.blob(blob.sha256),
          UpdateExpression: "SET #state = :condemned, condemnId = :id, condemnedUntil = :leaseUntil, condemnedAt = :at",
          ConditionExpression:
            "(#state = :verified AND tracked = :true AND refs = :zero AND releasedAt = :seen) OR " +
            "(#state = :condemned AND condemnedUntil < :at)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: {
            ":condemned": "condemned",
            ":verified": "verified",
            ":true": true,
            ":zero": 0,
            ":seen": blob.releasedAt ?? "",
            ":id": id,
            ":at": at,
            ":leaseUntil": leaseUntil,
          },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  async dismissBlob(blob: BlobRefs): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.blob(blob.sha256),
          UpdateExpression: "REMOVE GSI1PK, GSI1SK",
          // Only as read: a release meanwhile (new releasedAt) keeps it in the index.
          ConditionExpression: "#state = :verified AND releasedAt = :seen",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":verified": "verified", ":seen": blob.releasedAt ?? "" },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async forgetBlob(sha256: string, id: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.blob(sha256),
          ConditionExpression: "#state = :condemned AND condemnId = :id",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":condemned": "condemned", ":id": id },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  async pendingReleases(limit: number): Promise<PendingRelease[]> {
    const releases: PendingRelease[] = [];
    let start: Item | undefined;
    // Following pages: a recount must see every one of them.
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk",
          ExpressionAttributeValues: { ":pk": keys.releasesPartition },
          ConsistentRead: true,
          Limit: limit - releases.length,
          ExclusiveStartKey: start,
        }),
      );
      releases.push(...(result.Items ?? []).map(toRelease));
      start = result.LastEvaluatedKey;
    } while (start && releases.length < limit);
    return releases;
  }

  async releaseRefs(release: PendingRelease, chunk: number, sha256s: string[], last: boolean, at: string): Promise<boolean> {
    const key = keys.release(release.project, release.artifact, release.index);
    const progress: Tagged = tagged("release", {
      ...(last
        ? {
            Delete: {
              TableName: this.tableName,
              Key: key,
              ConditionExpression: "done = :chunk",
              ExpressionAttributeValues: { ":chunk": chunk },
            },
          }
        : {
            Update: {
              TableName: this.tableName,
              Key: key,
              UpdateExpression: "SET done = :next",
              ConditionExpression: "done = :chunk",
              ExpressionAttributeValues: { ":chunk": chunk, ":next": chunk + 1 },
            },
          }),
    });
    let remaining = [...new Set(sha256s)];
    for (;;) {
      try {
        await this.transact([progress, ...remaining.map((sha256) => giveRef({ tableName: this.tableName, sha256, at }))]);
        return true;
      } catch (error) {
        if (!(error instanceof TransactionLost)) throw error;
        if (error.tags.includes("release")) return false;
        const gone = new Set(error.tags.filter((tag) => tag.startsWith("blob:")).map((tag) => tag.slice("blob:".length)));
        // A conflict with a concurrent write: the same transaction again. A blob item that is gone: without it.
        if (gone.size === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        remaining = remaining.filter((sha256) => !gone.has(sha256));
      }
    }
  }

  async allBlobs(): Promise<BlobRefs[]> {
    const blobs: BlobRefs[] = [];
    let start: Item | undefined;
    do {
      const result = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: "entity = :blob",
          ExpressionAttributeValues: { ":blob": "blob" },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      blobs.push(...(result.Items ?? []).map(toBlobRefs));
      start = result.LastEvaluatedKey;
    } while (start);
    return blobs;
  }

  async setRefs(blob: BlobRefs, refs: number, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.blob(blob.sha256),
          UpdateExpression:
            refs === 0
              ? "SET refs = :refs, tracked = :true, refsRevision = :next, releasedAt = :at, GSI1PK = :index, GSI1SK = :at"
              : "SET refs = :refs, tracked = :true, refsRevision = :next REMOVE GSI1PK, GSI1SK",
          // Over the count read only: any commit or release since bumped the revision.
          ConditionExpression:
            "#state = :verified AND " +
            (blob.refsRevision === 0 ? "(attribute_not_exists(refsRevision) OR refsRevision = :zero)" : "refsRevision = :seen"),
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: {
            ":verified": "verified",
            ":refs": refs,
            ":true": true,
            ":next": blob.refsRevision + 1,
            ...(blob.refsRevision === 0 ? { ":zero": 0 } : { ":seen": blob.refsRevision }),
            ...(refs === 0 ? { ":at": at, ":index": keys.unreferencedBlobsIndex } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }
}

/**
 * Reference tracking and the collector's writes (lambdas/core/gc.ts). Which condition holds
 * which invariant:
 * - A version takes a reference only on a verified blob (`takeRef`, in the commit's own
 *   transaction): never on a condemned one, whose bytes may be gone already.
 * - A blob is condemned only while it is tracked, has no reference and `releasedAt` is the
 *   one the collector read past the grace: a commit (refs + 1) or a release (new releasedAt)
 *   in between makes the condemnation fail. Only a condemned blob's object is deleted, and
 *   its item only after that, by its condemner: until the item is gone a new verification of
 *   the same bytes is refused (`claimBlob` answers busy), so fresh bytes are never deleted.
 * - A release is recorded with the version's delete and released chunk by chunk, each chunk
 *   conditioned on the progress read: every reference is given back exactly once.
 *
 * Here: a version's reference on a blob, taken in the transaction that writes the version.
 */
export function takeRef(tableName: string, sha256: string): Tagged {
  return tagged(`blob:${sha256}`, {
    Update: {
      TableName: tableName,
      Key: keys.blob(sha256),
      // Referenced again: out of the unreferenced index until its next release.
      UpdateExpression: "ADD refs :one, refsRevision :one REMOVE GSI1PK, GSI1SK",
      ConditionExpression: "#state = :verified",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":one": 1, ":verified": "verified" },
    },
  });
}

export interface ReleasedBlobItemOptions {
  tableName: string;
  sha256: string;
  at: string;
}

/**
 * A reference pinned ahead of the commit that holds it (one that does not fit into the
 * commit's transaction): `pinnedAt` tells a recount not to take it for a leak yet.
 */
export function pinRef(tableName: string, sha256: string, at: string): Tagged {
  return tagged(`blob:${sha256}`, {
    Update: {
      TableName: tableName,
      Key: keys.blob(sha256),
      UpdateExpression: "ADD refs :one, refsRevision :one SET pinnedAt = :at REMOVE GSI1PK, GSI1SK",
      ConditionExpression: "#state = :verified",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":one": 1, ":verified": "verified", ":at": at },
    },
  });
}

/** A reference given back: the blob enters the unreferenced index, from `at`, whatever its count (the collector checks it). */
export function giveRef({ tableName, sha256, at }: ReleasedBlobItemOptions): Tagged {
  return tagged(`blob:${sha256}`, {
    Update: {
      TableName: tableName,
      Key: keys.blob(sha256),
      UpdateExpression: "ADD refs :minus, refsRevision :one SET releasedAt = :at, GSI1PK = :index, GSI1SK = :at",
      // Never creates an item for a blob that is gone.
      ConditionExpression: "attribute_exists(PK)",
      ExpressionAttributeValues: { ":minus": -1, ":one": 1, ":at": at, ":index": keys.unreferencedBlobsIndex },
    },
  });
}

/** The pending release a version's delete writes in its own transaction. */
export function releaseItem(tableName: string, release: PendingRelease): Tagged {
  return tagged("release", {
    Put: {
      TableName: tableName,
      Item: { ...keys.release(release.project, release.artifact, release.index), entity: "release", ...release },
      ConditionExpression: "attribute_not_exists(PK)",
    },
  });
}

export function toBlobRefs(item: Item): BlobRefs {
  return {
    sha256: item.sha256 as string,
    size: item.size as number,
    state: item.state as BlobRefs["state"],
    refs: (item.refs as number | undefined) ?? 0,
    tracked: item.tracked === true,
    refsRevision: (item.refsRevision as number | undefined) ?? 0,
    ...(item.releasedAt === undefined ? {} : { releasedAt: item.releasedAt as string }),
    ...(item.pinnedAt === undefined ? {} : { pinnedAt: item.pinnedAt as string }),
    ...(item.condemnId === undefined ? {} : { condemnId: item.condemnId as string, condemnedUntil: item.condemnedUntil as string }),
  };
}

function toRelease(item: Item): PendingRelease {
  return {
    project: item.project as string,
    artifact: item.artifact as string,
    index: item.index as number,
    digest: item.digest as string,
    done: item.done as number,
    at: item.at as string,
  };
}

function toUpload(item: Item): MultipartUpload {
  return {
    sha256: item.sha256 as string,
    size: item.size as number,
    uploadId: item.uploadId as string,
    key: item.key as string,
    partSize: item.partSize as number,
    createdAt: item.createdAt as string,
  };
}
