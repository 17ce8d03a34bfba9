import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  deleteCollectionSearchIndex,
  searchCollectionNames,
  writeCollectionSearchIndex,
} from "../../lambdas/adapters/dynamodb/collection-search.js";

const TABLE = "mreg";
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));

beforeEach(() => ddb.reset());

const requests = () => ddb.commandCalls(BatchWriteCommand).flatMap((c) => c.args[0].input.RequestItems![TABLE]!);

describe("the collection name search index", () => {
  it("writes one item per suffix of three characters or more, in batches of at most 25", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    const name = "Resnet50-ImageNet-Classifier-Large";
    await writeCollectionSearchIndex(client, TABLE, "model", name);
    const written = requests().map((r) => r.PutRequest!.Item!);
    expect(written).toHaveLength(name.length - 2);
    expect(written[9]).toEqual({
      PK: "COLSEARCH#model#ima",
      SK: "imagenet-classifier-large#Resnet50-ImageNet-Classifier-Large",
      entity: "collectionSearch",
      registry: "model",
      collection: name,
      position: 9,
    });
    expect(ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems![TABLE]!.length)).toEqual([25, 7]);
  });

  it("indexes nothing for a name too short to hold a query of three characters", async () => {
    await writeCollectionSearchIndex(client, TABLE, "model", "ab");
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it("deletes exactly the items it wrote (for renames and deletes)", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    await writeCollectionSearchIndex(client, TABLE, "model", "mnist-classifier");
    const written = requests().map((r) => ({ PK: r.PutRequest!.Item!.PK, SK: r.PutRequest!.Item!.SK }));
    ddb.resetHistory();
    await deleteCollectionSearchIndex(client, TABLE, "model", "mnist-classifier");
    expect(requests().map((r) => r.DeleteRequest!.Key)).toEqual(written);
  });

  it("writes again what DynamoDB left unprocessed", async () => {
    const left = { [TABLE]: [{ PutRequest: { Item: { PK: "COLSEARCH#model#abc", SK: "abc#abc" } } }] };
    ddb.on(BatchWriteCommand).resolvesOnce({ UnprocessedItems: left }).resolves({});
    await writeCollectionSearchIndex(client, TABLE, "model", "abc");
    expect(ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems)).toEqual([
      { [TABLE]: [{ PutRequest: { Item: expect.objectContaining({ PK: "COLSEARCH#model#abc", SK: "abc#abc" }) } }] },
      left,
    ]);
  });

  it("stops a page after ten queries and hands on the cursor", async () => {
    const item = (name: string, position: number) => ({
      PK: "COLSEARCH#model#aaa",
      SK: `${name.slice(position)}#${name}`,
      collection: name,
      position,
    });
    // Every item is a later occurrence (skipped), so the page never fills.
    ddb.on(QueryCommand).resolves({ Items: [item("xaaaa", 2)], LastEvaluatedKey: { PK: "COLSEARCH#model#aaa", SK: "aaa#xaaaa" } });
    const page = await searchCollectionNames(client, TABLE, "model", "aaa", { limit: 5 });
    expect(page.names).toEqual([]);
    expect(page.nextCursor).toBeDefined();
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(10);
  });
});

describe("indexing collections created before the index", () => {
  it("indexes every collection of every registry once, then records that it ran", async () => {
    const { GetCommand, PutCommand } = await import("@aws-sdk/lib-dynamodb");
    const { ensureCollectionSearchIndex } = await import("../../lambdas/adapters/dynamodb/collection-search.js");
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand, { IndexName: "GSI1" }).resolves({ Items: [{ name: "model" }] });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ":pk": "REG#model", ":prefix": "COL#" } })
      .resolves({ Items: [{ name: "mnist" }, { name: "bert-base" }] });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});

    expect(await ensureCollectionSearchIndex(client, TABLE)).toBe(2);
    expect(new Set(requests().map((r) => r.PutRequest!.Item!.collection))).toEqual(new Set(["mnist", "bert-base"]));
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({
      PK: "MIGRATION",
      SK: "collection-search-index",
      indexed: 2,
    });

    ddb.resetHistory();
    ddb.on(GetCommand).resolves({ Item: { PK: "MIGRATION", SK: "collection-search-index" } });
    expect(await ensureCollectionSearchIndex(client, TABLE)).toBeUndefined();
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });
});
