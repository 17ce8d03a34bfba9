import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { MultipartUpload } from "../../core/model.js";
import type { BlobClaim, BlobLedger } from "../../core/ports.js";
import { DynamoTable, type Item } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { UPLOAD_RESUME_SECONDS } from "../../settings.js";

/** How long a blob verification may hold its claim before another upload may take it over. */
const CLAIM_STALE_MS = 15 * 60 * 1000;

export class DynamoBlobLedger extends DynamoTable implements BlobLedger {
  async verifiedBlobs(sha256s: string[]): Promise<Map<string, number>> {
    const items = await this.batchGetItems(sha256s.map(keys.blob), { consistent: true });
    return new Map(items.filter((item) => item.state === "verified").map((item) => [item.sha256 as string, item.size as number]));
  }

  async claimBlob(sha256: string, size: number, at: string): Promise<BlobClaim> {
    const stale = new Date(Date.parse(at) - CLAIM_STALE_MS).toISOString();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.blob(sha256), entity: "blob", sha256, size, state: "verifying", claimedAt: at },
          // One verifier at a time: a claim is taken only when nobody holds one, or its holder went quiet.
          ConditionExpression: "attribute_not_exists(PK) OR (#state = :verifying AND claimedAt < :stale)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":verifying": "verifying", ":stale": stale },
        }),
      );
      return "claimed";
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.get(keys.blob(sha256), true);
      return item?.state === "verified" ? "verified" : "busy";
    }
  }

  async markBlobVerified(sha256: string, size: number, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.blob(sha256), entity: "blob", sha256, size, state: "verified", verifiedAt: at },
      }),
    );
  }

  async releaseBlobClaim(sha256: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.blob(sha256),
          // Never releases a verified blob.
          ConditionExpression: "#state = :verifying",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":verifying": "verifying" },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
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
