import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoBlobLedger } from "../../lambdas/adapters/dynamodb/blob-ledger.js";

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";
const SHA = "a".repeat(64);

const ddb = mockClient(DynamoDBDocumentClient);
let store: DynamoBlobLedger;

beforeEach(() => {
  ddb.reset();
  store = new DynamoBlobLedger(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE);
});

const conditionFailed = () => new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });

describe("blob claims", () => {
  it("claims a blob nobody holds, or whose claim went stale", async () => {
    ddb.on(PutCommand).resolves({});

    expect(await store.claimBlob(SHA, 10, AT)).toBe("claimed");

    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: { PK: `BLOB#${SHA}`, SK: "BLOB", entity: "blob", sha256: SHA, size: 10, state: "verifying", claimedAt: AT },
      ConditionExpression: "attribute_not_exists(PK) OR (#state = :verifying AND claimedAt < :stale)",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":verifying": "verifying", ":stale": "2024-12-31T23:45:00.000Z" },
    });
  });

  it.each([
    ["verified", "verified"],
    ["verifying", "busy"],
  ] as const)("answers %s → %s when the condition fails", async (state, answer) => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { PK: `BLOB#${SHA}`, SK: "BLOB", state, size: 10 } });

    expect(await store.claimBlob(SHA, 10, AT)).toBe(answer);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${SHA}`, SK: "BLOB" },
      ConsistentRead: true,
    });
  });

  it("releases only a claim still being verified", async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    await expect(store.releaseBlobClaim(SHA)).resolves.toBeUndefined();
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${SHA}`, SK: "BLOB" },
      ConditionExpression: "#state = :verifying",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":verifying": "verifying" },
    });
  });

  it("counts only verified blobs and asks again for unprocessed keys", async () => {
    const other = "b".repeat(64);
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ sha256: SHA, size: 10, state: "verified" }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ PK: `BLOB#${other}`, SK: "BLOB" }], ConsistentRead: true } },
      })
      .resolves({ Responses: { [TABLE]: [{ sha256: other, size: 5, state: "verifying" }] } });

    expect(await store.verifiedBlobs([SHA, other])).toEqual(new Map([[SHA, 10]]));
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems![TABLE]).toEqual({
      Keys: [
        { PK: `BLOB#${SHA}`, SK: "BLOB" },
        { PK: `BLOB#${other}`, SK: "BLOB" },
      ],
      ConsistentRead: true,
    });
  });
});

describe("multipart upload records", () => {
  it("expire before the bucket aborts incomplete uploads (one day), so no plan names an aborted upload", async () => {
    ddb.on(PutCommand).resolves({});
    const createdAt = "2026-01-01T00:00:00.000Z";
    await store.putMultipartUpload({ sha256: "a".repeat(64), size: 1, uploadId: "u", key: "blobs/x", partSize: 5, createdAt });
    const item = ddb.commandCalls(PutCommand)[0]!.args[0].input.Item!;
    const lifetime = (item.ttl as number) - Date.parse(createdAt) / 1000;
    expect(lifetime).toBeGreaterThan(3600);
    expect(lifetime).toBeLessThan(24 * 3600);
  });
});
