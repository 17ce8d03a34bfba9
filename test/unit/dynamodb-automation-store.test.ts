import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoAutomationStore } from "../../lambdas/adapters/dynamodb/automation-store.js";
import { sealKeyCursor } from "../../lambdas/adapters/dynamodb/dynamo-table.js";
import { DynamoLineageStore } from "../../lambdas/adapters/dynamodb/lineage-store.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";
import { collectionEventOf } from "../../lambdas/adapters/dynamodb/stream-records.js";
import { NotFoundError } from "../../lambdas/core/errors.js";
import type { DeliveryRecord } from "../../lambdas/core/model.js";
import { toLambdaRecord } from "../../local/stream-poller.js";

const TABLE = "mreg";
const ddb = mockClient(DynamoDBDocumentClient);
const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
let store: DynamoAutomationStore;
const cursors = CursorSealer.ephemeral();

beforeEach(() => {
  ddb.reset();
  store = new DynamoAutomationStore(client(), TABLE, cursors);
});

const conditionFailed = () => new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
const key = { registry: "model", automationId: "A1", id: "D1" };
const delivery: DeliveryRecord = {
  id: "D1",
  registry: "model",
  automationId: "A1",
  event: { type: "LINK_ARTIFACT", collection: "c", version: "v0", actor: "ana", at: "2025-01-01T00:00:00.000Z" },
  body: "{}",
  status: "pending",
  attemptCount: 0,
  maxAttempts: 3,
  attempts: [],
  nextAttemptAt: "2025-01-01T00:00:40.000Z",
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

describe("deliveries", () => {
  it("are written once, in the due index, with a TTL; a second write of the same id is refused quietly", async () => {
    ddb.on(PutCommand).resolvesOnce({}).rejects(conditionFailed());
    expect(await store.createDelivery(delivery)).toBe(true);
    expect(await store.createDelivery(delivery)).toBe(false);
    const input = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe("attribute_not_exists(PK)");
    expect(input.Item).toMatchObject({
      PK: "AUTO#model#A1",
      SK: "DLV#D1",
      entity: "delivery",
      GSI1PK: "DELIVERIES#DUE",
      GSI1SK: "2025-01-01T00:00:40.000Z#D1",
      ttl: Date.parse("2025-01-01T00:00:00.000Z") / 1000 + 30 * 24 * 3600,
    });
  });

  it("are claimed only while pending and due, moving their due time to the lease's end", async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...delivery } })
      .rejects(conditionFailed());
    expect(await store.claimDelivery(key, "2025-01-01T00:01:00.000Z", "2025-01-01T00:01:40.000Z")).toMatchObject({ id: "D1" });
    expect(await store.claimDelivery(key, "2025-01-01T00:01:00.000Z", "2025-01-01T00:01:40.000Z")).toBeUndefined();
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      Key: { PK: "AUTO#model#A1", SK: "DLV#D1" },
      UpdateExpression: "SET nextAttemptAt = :lease, GSI1SK = :dueSk",
      ConditionExpression: "#status = :pending AND nextAttemptAt <= :now",
      ExpressionAttributeValues: {
        ":lease": "2025-01-01T00:01:40.000Z",
        ":dueSk": "2025-01-01T00:01:40.000Z#D1",
        ":pending": "pending",
        ":now": "2025-01-01T00:01:00.000Z",
      },
      ReturnValues: "ALL_NEW",
    });
  });

  it("leave the due index when finished, and only the lease holder may finish them", async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(conditionFailed());
    const finished: DeliveryRecord = { ...delivery, status: "delivered", attemptCount: 1, nextAttemptAt: undefined };
    expect(await store.finishAttempt(finished, "2025-01-01T00:00:40.000Z")).toBe(true);
    expect(await store.finishAttempt(finished, "2025-01-01T00:00:40.000Z")).toBe(false);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).toBe(
      "SET #status = :status, attemptCount = :attemptCount, attempts = :attempts, updatedAt = :updatedAt REMOVE nextAttemptAt, GSI1PK, GSI1SK, #error",
    );
    expect(input.ConditionExpression).toBe("nextAttemptAt = :lease");
  });

  it("are found due through the sparse index, up to now", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ registry: "model", automationId: "A1", id: "D1" }] });
    expect(await store.dueDeliveries("2025-01-01T00:01:00.000Z", 50)).toEqual([key]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      IndexName: "GSI1",
      KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :bound",
      ExpressionAttributeValues: { ":pk": "DELIVERIES#DUE", ":bound": "2025-01-01T00:01:00.000Z~" },
      Limit: 50,
    });
  });
});

describe("lineage store", () => {
  it("records an input with the run, both edge items and a check that the version still exists", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const lineage = new DynamoLineageStore(client(), TABLE);
    await lineage.recordInput({ project: "p", id: "r1" }, { project: "q", artifact: "data", index: 3 }, { actor: "ana", at: "t" });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => Object.keys(i)[0])).toEqual(["Update", "ConditionCheck", "Put", "Put"]);
    expect(items[1]!.ConditionCheck).toMatchObject({
      Key: { PK: "ART#q#data", SK: "VER#0000000003" },
      ConditionExpression: "attribute_exists(PK)",
    });
    expect(items[2]!.Put!.Item).toMatchObject({ PK: "RUN#p#r1", SK: "IN#q#data#0000000003" });
    expect(items[3]!.Put!.Item).toMatchObject({ PK: "ART#q#data", SK: "USEDBY#0000000003#p#r1", runProject: "p", runId: "r1" });
  });

  it("turns a failed version check into a 404", async () => {
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: "cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "None" }, { Code: "ConditionalCheckFailed" }, { Code: "None" }, { Code: "None" }],
      }),
    );
    const lineage = new DynamoLineageStore(client(), TABLE);
    await expect(
      lineage.recordInput({ project: "p", id: "r1" }, { project: "p", artifact: "data", index: 9 }, { actor: "ana", at: "t" }),
    ).rejects.toThrow(NotFoundError);
  });
});

describe("stream records", () => {
  const historyItem = {
    PK: "HIST#COL#model#mnist",
    SK: "2025-01-01T00:00:00.000Z#01JEVENT0000000000000000001",
    entity: "event",
    event: { action: "link.created", actor: "ana", at: "2025-01-01T00:00:00.000Z", registry: "model", collection: "mnist", version: "v0" },
  };

  it("turn an SDK stream record into the record Lambda hands over, and a collection event out of it", () => {
    const record = toLambdaRecord({
      eventID: "e1",
      eventName: "INSERT",
      dynamodb: {
        ApproximateCreationDateTime: new Date("2025-01-01T00:00:01.000Z"),
        Keys: marshall({ PK: historyItem.PK, SK: historyItem.SK }) as never,
        NewImage: marshall(historyItem) as never,
        SequenceNumber: "42",
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    });
    expect(record).toMatchObject({
      eventID: "e1",
      eventSource: "aws:dynamodb",
      dynamodb: { ApproximateCreationDateTime: 1735689601, SequenceNumber: "42" },
    });
    expect(collectionEventOf(record)).toEqual({
      id: "01JEVENT0000000000000000001",
      registry: "model",
      collection: "mnist",
      event: historyItem.event,
    });
  });

  it("ignore artifact and registry history, other entities and changes that are not inserts", () => {
    const record = (item: Record<string, unknown>, eventName: "INSERT" | "MODIFY" = "INSERT") => ({
      eventName,
      dynamodb: { NewImage: marshall(item) as never },
    });
    expect(collectionEventOf(record({ ...historyItem, PK: "HIST#REG#model" }))).toBeUndefined();
    expect(collectionEventOf(record({ ...historyItem, PK: "HIST#ART#p#a", event: { action: "version.created" } }))).toBeUndefined();
    expect(collectionEventOf(record({ ...historyItem, entity: "delivery" }))).toBeUndefined();
    expect(collectionEventOf(record(historyItem, "MODIFY"))).toBeUndefined();
  });
});

describe("list cursors", () => {
  /** A cursor holding `key`, sealed for the list (partition, sort-key prefix) it names. */
  const cursor = (key: Record<string, string>, sortKeyPrefix: string) => sealKeyCursor(cursors, key, { partition: key.PK!, sortKeyPrefix });

  it("must point inside their own list, not another list of the same partition", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    // A collection cursor (same registry partition) handed to the automation list.
    const collections = await cursor({ PK: "REG#model", SK: "COL#mnist" }, "COL#");
    await expect(store.listAutomations("model", { limit: 10, cursor: collections })).rejects.toThrow(/cursor is not valid/);
    // The consumers of v1 handed to the consumers of v2 (same artifact partition).
    const lineage = new DynamoLineageStore(client(), TABLE, cursors);
    const consumers = await cursor({ PK: "ART#p#a", SK: "USEDBY#0000000001#p#r1" }, "USEDBY#0000000001#");
    await expect(lineage.listVersionConsumers({ project: "p", artifact: "a", index: 2 }, { limit: 10, cursor: consumers })).rejects.toThrow(
      /cursor is not valid/,
    );
    // Sealed for the automation list, but holding a key outside it: refused all the same.
    const outside = await sealKeyCursor(cursors, { PK: "REG#model", SK: "COL#mnist" }, { partition: "REG#model", sortKeyPrefix: "AUTO#" });
    await expect(store.listAutomations("model", { limit: 10, cursor: outside })).rejects.toThrow(/cursor is not valid/);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    await store.listAutomations("model", { limit: 10, cursor: await cursor({ PK: "REG#model", SK: "AUTO#A1" }, "AUTO#") });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input.ExclusiveStartKey).toEqual({ PK: "REG#model", SK: "AUTO#A1" });
  });
});
