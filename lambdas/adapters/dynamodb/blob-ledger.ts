import { randomUUID } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { MultipartUpload } from "../../core/model.js";
import type { BlobClaim, BlobLedger, HeldBlobClaim } from "../../core/ports.js";
import { DynamoTable, type Item } from "./dynamo-table.js";
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
          Item: { ...keys.blob(claim.sha256), entity: "blob", sha256: claim.sha256, size, state: "verified", verifiedAt: at },
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
