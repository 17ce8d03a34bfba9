import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
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
  store = new DynamoBlobLedger(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE, { holder: "process-1" });
});

const conditionFailed = () => new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });

describe("blob claims", () => {
  const claimItem = {
    PK: `BLOB#${SHA}`,
    SK: "BLOB",
    entity: "blob",
    sha256: SHA,
    size: 10,
    state: "verifying",
    claimedAt: AT,
    claimId: expect.any(String),
    holder: "process-1",
    leaseUntil: "2025-01-01T00:00:30.000Z",
  };

  it("claims a blob nobody holds, or whose holder's lease ran out, with a lease and the holder's id", async () => {
    ddb.on(PutCommand).resolves({});

    const outcome = await store.claimBlob(SHA, 10, AT);

    expect(outcome).toEqual({ status: "claimed", claim: { sha256: SHA, id: expect.any(String), leaseUntil: "2025-01-01T00:00:30.000Z" } });
    const input = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input).toEqual({
      TableName: TABLE,
      Item: claimItem,
      ConditionExpression:
        "attribute_not_exists(PK) OR (#state = :verifying AND (leaseUntil < :at OR (attribute_not_exists(leaseUntil) AND claimedAt < :unleasedStale)))",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":verifying": "verifying", ":at": AT, ":unleasedStale": "2024-12-31T23:45:00.000Z" },
    });
    expect(input.Item!.claimId).toBe(outcome.status === "claimed" ? outcome.claim.id : undefined);
  });

  it("gives every claim its own id, so a holder that was taken over is told apart from the new one", async () => {
    ddb.on(PutCommand).resolves({});
    const a = await store.claimBlob(SHA, 10, AT);
    const b = await store.claimBlob(SHA, 10, AT);
    expect(a.status === "claimed" && b.status === "claimed" && a.claim.id !== b.claim.id).toBe(true);
  });

  it("as the only process on the table, also takes over claims of any other process at once", async () => {
    ddb.on(PutCommand).resolves({});
    const sole = new DynamoBlobLedger(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE, {
      holder: "process-1",
      soleHolder: true,
    });

    await sole.claimBlob(SHA, 10, AT);

    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression:
        "attribute_not_exists(PK) OR (#state = :verifying AND (leaseUntil < :at OR (attribute_not_exists(leaseUntil) AND claimedAt < :unleasedStale) OR attribute_not_exists(holder) OR holder <> :holder))",
      ExpressionAttributeValues: {
        ":verifying": "verifying",
        ":at": AT,
        ":unleasedStale": "2024-12-31T23:45:00.000Z",
        ":holder": "process-1",
      },
    });
  });

  it.each([
    ["verified", { status: "verified" }],
    ["verifying", { status: "busy" }],
  ] as const)("answers %s → %j when the condition fails", async (state, answer) => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { PK: `BLOB#${SHA}`, SK: "BLOB", state, size: 10 } });

    expect(await store.claimBlob(SHA, 10, AT)).toEqual(answer);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${SHA}`, SK: "BLOB" },
      ConsistentRead: true,
    });
  });

  const claim = { sha256: SHA, id: "claim-1", leaseUntil: "2025-01-01T00:00:30.000Z" };
  const heldCondition = {
    ConditionExpression: "#state = :verifying AND claimId = :claimId",
    ExpressionAttributeNames: { "#state": "state" },
  };

  it("renews only the claim it was granted, from the time given", async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await store.renewBlobClaim(claim, "2025-01-01T00:00:10.000Z")).toEqual({ ...claim, leaseUntil: "2025-01-01T00:00:40.000Z" });
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${SHA}`, SK: "BLOB" },
      UpdateExpression: "SET leaseUntil = :leaseUntil",
      ...heldCondition,
      ExpressionAttributeValues: { ":verifying": "verifying", ":claimId": "claim-1", ":leaseUntil": "2025-01-01T00:00:40.000Z" },
    });

    ddb.on(UpdateCommand).rejects(conditionFailed());
    expect(await store.renewBlobClaim(claim, "2025-01-01T00:00:20.000Z")).toBeUndefined();
  });

  it("marks a blob verified only under the claim it holds", async () => {
    ddb.on(PutCommand).resolves({});
    expect(await store.markBlobVerified(claim, 10, AT)).toBe(true);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        PK: `BLOB#${SHA}`,
        SK: "BLOB",
        entity: "blob",
        sha256: SHA,
        size: 10,
        state: "verified",
        verifiedAt: AT,
        // Tracked from its verification, unreferenced until a commit names it.
        refs: 0,
        refsRevision: 0,
        tracked: true,
        releasedAt: AT,
        GSI1PK: "BLOBS#UNREFERENCED",
        GSI1SK: AT,
      },
      ...heldCondition,
      ExpressionAttributeValues: { ":verifying": "verifying", ":claimId": "claim-1" },
    });

    ddb.on(PutCommand).rejects(conditionFailed());
    expect(await store.markBlobVerified(claim, 10, AT)).toBe(false);
  });

  it("releases only its own claim still being verified", async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    await expect(store.releaseBlobClaim(claim)).resolves.toBeUndefined();
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${SHA}`, SK: "BLOB" },
      ...heldCondition,
      ExpressionAttributeValues: { ":verifying": "verifying", ":claimId": "claim-1" },
    });
  });

  it.each([
    ["throttling", () => Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException", $metadata: {} })],
    ["a network error", () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
  ])("lets %s on any claim write reach the caller instead of answering a claim state", async (_, fault) => {
    ddb.on(PutCommand).rejects(fault());
    ddb.on(UpdateCommand).rejects(fault());
    ddb.on(DeleteCommand).rejects(fault());
    await expect(store.claimBlob(SHA, 10, AT)).rejects.toThrow(fault().message);
    await expect(store.renewBlobClaim(claim, AT)).rejects.toThrow(fault().message);
    await expect(store.markBlobVerified(claim, 10, AT)).rejects.toThrow(fault().message);
    await expect(store.releaseBlobClaim(claim)).rejects.toThrow(fault().message);
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
