import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoRegistryStore } from "../../lambdas/adapters/dynamodb/registry-store.js";
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, ValidationError } from "../../lambdas/core/errors.js";
import type { LinkState, NewLink } from "../../lambdas/core/ports.js";
import { sealKeyCursor, type KeyList } from "../../lambdas/adapters/dynamodb/dynamo-table.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";
const DIGEST = "d".repeat(64);

const ddb = mockClient(DynamoDBDocumentClient);
let store: DynamoRegistryStore;
/** The store's cursor sealer: tests seal cursors for a list as the store would. */
const cursors = CursorSealer.ephemeral();

beforeEach(() => {
  // Events are stamped when the write is attempted: pin the clock they read.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(AT));
  ddb.reset();
  // The collection name search index (collection-search.ts) is written with batch writes.
  ddb.on(BatchWriteCommand).resolves({});
  store = new DynamoRegistryStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE, cursors);
});

afterEach(() => {
  vi.useRealTimers();
});

const pad = (index: number) => String(index).padStart(10, "0");
const COLLECTION = "COL#model#mnist-classifier";
const collectionKey = { PK: "REG#model", SK: "COL#mnist-classifier" };
const linkKey = (index: number) => ({ PK: COLLECTION, SK: `LNK#${pad(index)}` });
const aliasKey = (alias: string) => ({ PK: COLLECTION, SK: `ALIAS#${alias}` });
const sourceKey = (index: number) => ({ PK: COLLECTION, SK: `SRC#train#mnist#${pad(index)}` });
const linkedFromKey = (index: number) => ({ PK: "ART#train#mnist", SK: `LINKED#${pad(index)}#model#mnist-classifier` });
const versionKey = (index: number) => ({ PK: "ART#train#mnist", SK: `VER#${pad(index)}` });
const context = { registry: "model", collection: "mnist-classifier" };
const source = (index: number) => ({ project: "train", artifact: "mnist", index, digest: DIGEST });

const newLink = (extra: Partial<NewLink> = {}): NewLink => ({
  ...context,
  source: source(2),
  sourceRevision: 0,
  type: "model",
  metadata: { acc: 0.9 },
  description: "epoch 2",
  size: 42,
  fileCount: 1,
  newCollection: { description: "digits", tags: [] },
  aliases: [],
  actor: "alice",
  at: AT,
  ...extra,
});

const existingCollection = (nextIndex: number) => ({
  ...collectionKey,
  entity: "collection",
  registry: "model",
  name: "mnist-classifier",
  type: "model",
  nextIndex,
  linkCount: nextIndex,
  latestIndex: nextIndex - 1,
  createdAt: AT,
  createdBy: "alice",
  nameLower: "mnist-classifier",
});

/** An audit event item in the collection's history: its sort key is the time plus a unique id. */
const eventPut = (event: Record<string, unknown>) => ({
  Put: {
    TableName: TABLE,
    Item: {
      PK: "HIST#COL#model#mnist-classifier",
      SK: expect.stringMatching(new RegExp(`^${AT.replace(/\./g, "\\.")}#\\S+$`)),
      entity: "event",
      event,
    },
  },
});

const canceled = (reasons: { Code: string }[] = [{ Code: "ConditionalCheckFailed" }]) =>
  new TransactionCanceledException({ message: "Transaction cancelled", $metadata: {}, CancellationReasons: reasons });

/** Reasons for a transaction of `length` items in which only item `at` failed with `code`. */
const reasonsWith = (length: number, at: number, code: string) => Array.from({ length }, (_, i) => ({ Code: i === at ? code : "None" }));

function transactItems(call = 0) {
  return ddb.commandCalls(TransactWriteCommand)[call]!.args[0].input.TransactItems!;
}

/** A cursor holding `key`, sealed for `list`. */
const encode = (key: Record<string, string>, list: KeyList) => sealKeyCursor(cursors, key, list);

/** An alias item of the collection: it carries its link's source, all a resolve to files needs. */
const aliasItem = (alias: string, index: number, from = source(2)) => ({
  ...aliasKey(alias),
  entity: "alias",
  alias,
  index,
  target: { source: from },
});

/** Reads the state, then links on it: what the use case does when nothing races. */
async function readAndLink(link: NewLink) {
  const state = await store.readLinkState(link.registry, link.collection, link.source, link.aliases);
  return store.linkVersion(link, state);
}

describe("linkVersion", () => {
  it("writes the first link with its new collection, source, back-reference, count, aliases and events in one transaction", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    ddb.on(TransactWriteCommand).resolves({});

    const outcome = await readAndLink(newLink({ aliases: ["production"] }));

    expect(outcome).toEqual({
      created: true,
      collectionCreated: true,
      link: {
        ...context,
        index: 0,
        source: source(2),
        type: "model",
        aliases: ["latest", "production"],
        tags: [],
        metadata: { acc: 0.9 },
        description: "epoch 2",
        size: 42,
        fileCount: 1,
        linkedAt: AT,
        linkedBy: "alice",
      },
    });
    // The collection, the source's link if any and the alias holders: one consistent read.
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input)).toEqual([
      {
        RequestItems: {
          [TABLE]: {
            Keys: [collectionKey, sourceKey(2), aliasKey("latest"), aliasKey("production")],
            ConsistentRead: true,
          },
        },
      },
    ]);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(transactItems()).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: {
            ...collectionKey,
            entity: "collection",
            registry: "model",
            name: "mnist-classifier",
            nameLower: "mnist-classifier",
            type: "model",
            description: "digits",
            nextIndex: 1,
            linkCount: 1,
            latestIndex: 0,
            createdAt: AT,
            createdBy: "alice",
          },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      // The registry must exist; its generation makes a deletion that read the registry before lose.
      {
        Update: {
          TableName: TABLE,
          Key: { PK: "REG#model", SK: "REGISTRY" },
          UpdateExpression: "ADD #generation :one",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeNames: { "#generation": "generation" },
          ExpressionAttributeValues: { ":one": 1 },
        },
      },
      eventPut({ action: "collection.created", actor: "alice", at: AT, ...context, type: "model" }),
      {
        Put: {
          TableName: TABLE,
          Item: {
            ...linkKey(0),
            entity: "link",
            ...context,
            index: 0,
            source: source(2),
            type: "model",
            aliases: new Set(["latest", "production"]),
            // User JSON reaches the marshaller as Maps, whatever its keys (lambdas/adapters/dynamodb/user-json.ts).
            metadata: new Map([["acc", 0.9]]),
            description: "epoch 2",
            size: 42,
            fileCount: 1,
            linkedAt: AT,
            linkedBy: "alice",
          },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: { ...sourceKey(2), entity: "linkSource", index: 0 },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: aliasItem("latest", 0),
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: aliasItem("production", 0),
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      eventPut({
        action: "link.created",
        actor: "alice",
        at: AT,
        ...context,
        version: "v0",
        source: { project: "train", artifact: "mnist", version: "v2", digest: DIGEST },
        type: "model",
        aliases: ["latest", "production"],
      }),
      eventPut({ action: "alias.set", actor: "alice", at: AT, ...context, alias: "production", to: "v0" }),
      {
        Put: {
          TableName: TABLE,
          Item: { ...linkedFromKey(2), entity: "linkedFrom", ...context, index: 0 },
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: versionKey(2),
          UpdateExpression: "ADD linkCount :one",
          // The version is still at the revision the link copied its description and metadata from.
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(revision)",
          ExpressionAttributeValues: { ":one": 1 },
        },
      },
    ]);
    // The new collection's name went into the search index before the transaction: one item per suffix.
    const indexed = ddb.commandCalls(BatchWriteCommand).flatMap((c) => c.args[0].input.RequestItems![TABLE]!);
    const name = "mnist-classifier";
    // Every suffix long enough to hold a query the index serves (three characters or more).
    expect(indexed.map((r) => [r.PutRequest!.Item!.PK, r.PutRequest!.Item!.SK])).toEqual(
      Array.from({ length: name.length - 2 }, (_, i) => [`COLSEARCH#model#${name.slice(i, i + 3)}`, `${name.slice(i)}#${name}`]),
    );
    expect(indexed[0]!.PutRequest!.Item).toEqual({
      PK: "COLSEARCH#model#mni",
      SK: "mnist-classifier#mnist-classifier",
      entity: "collectionSearch",
      registry: "model",
      collection: "mnist-classifier",
      position: 0,
    });
    expect(ddb.commandCalls(BatchWriteCommand).every((c) => c.args[0].input.RequestItems![TABLE]!.length <= 25)).toBe(true);
  });

  it("numbers a later link on the counter it read and takes latest off the previous holder", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [existingCollection(1), aliasItem("latest", 0, source(1))] } });
    ddb.on(TransactWriteCommand).resolves({});

    const outcome = await readAndLink(newLink());

    expect(outcome).toMatchObject({ created: true, collectionCreated: false, link: { index: 1, aliases: ["latest"] } });
    const items = transactItems();
    expect(items).toEqual([
      {
        Update: {
          TableName: TABLE,
          Key: collectionKey,
          UpdateExpression: "SET nextIndex = :next, latestIndex = :index, linkCount = linkCount + :one",
          ConditionExpression: "nextIndex = :index AND #type = :type",
          ExpressionAttributeNames: { "#type": "type" },
          ExpressionAttributeValues: { ":next": 2, ":index": 1, ":one": 1, ":type": "model" },
        },
      },
      {
        Put: expect.objectContaining({
          Item: expect.objectContaining({ ...linkKey(1), index: 1, aliases: new Set(["latest"]) }),
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      },
      {
        Put: {
          TableName: TABLE,
          Item: { ...sourceKey(2), entity: "linkSource", index: 1 },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: aliasItem("latest", 1),
          ConditionExpression: "#index = :from",
          ExpressionAttributeNames: { "#index": "index" },
          ExpressionAttributeValues: { ":from": 0 },
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: linkKey(0),
          UpdateExpression: "DELETE aliases :aliases",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":aliases": new Set(["latest"]) },
        },
      },
      eventPut(expect.objectContaining({ action: "link.created", version: "v1", aliases: ["latest"] })),
      { Put: { TableName: TABLE, Item: { ...linkedFromKey(2), entity: "linkedFrom", ...context, index: 1 } } },
      {
        Update: {
          TableName: TABLE,
          Key: versionKey(2),
          UpdateExpression: "ADD linkCount :one",
          // The version is still at the revision the link copied its description and metadata from.
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(revision)",
          ExpressionAttributeValues: { ":one": 1 },
        },
      },
    ]);
  });

  it("answers the source's first link as the state read, so the caller writes nothing", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [existingCollection(3), { ...sourceKey(2), entity: "linkSource", index: 1 }] },
    });

    expect(await store.readLinkState("model", "mnist-classifier", source(2), ["staging"])).toMatchObject({
      head: { type: "model", nextIndex: 3 },
      existing: 1,
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("conditions the counter on the collection's type, so a concurrent first link of another type makes this lose", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [existingCollection(1)] } });
    ddb.on(TransactWriteCommand).resolves({});

    await readAndLink(newLink({ type: "dataset" }));

    expect(transactItems()[0]).toHaveProperty("Update.ConditionExpression", "nextIndex = :index AND #type = :type");
    expect(transactItems()[0]).toHaveProperty("Update.ExpressionAttributeValues.:type", "dataset");
  });

  it("answers 404 without retrying when the version check cancelled the transaction and the version is gone", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    ddb.on(GetCommand).resolves({});
    // Items: collection, registry, its event, link, source, latest, link event, back-reference, version count (8).
    ddb.on(TransactWriteCommand).rejects(canceled(reasonsWith(9, 8, "ConditionalCheckFailed")));

    await expect(readAndLink(newLink())).rejects.toThrow(new NotFoundError("train/mnist has no version v2"));

    expect(transactItems()[8]).toHaveProperty("Update.UpdateExpression", "ADD linkCount :one");
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({ TableName: TABLE, Key: versionKey(2), ConsistentRead: true });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it("answers the version as it is now when an edit changed it meanwhile, so the caller copies it again", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    const edited = {
      ...versionKey(2),
      entity: "version",
      project: "train",
      artifact: "mnist",
      index: 2,
      digest: DIGEST,
      type: "model",
      metadata: { acc: 0.95 },
      description: "edited",
      size: 42,
      fileCount: 1,
      createdAt: AT,
      createdBy: "alice",
      revision: 1,
    };
    ddb.on(GetCommand).resolves({ Item: edited });
    ddb.on(TransactWriteCommand).rejects(canceled(reasonsWith(9, 8, "ConditionalCheckFailed")));

    const state = await store.readLinkState("model", "mnist-classifier", source(2), []);
    const outcome = await store.linkVersion(newLink(), state);

    expect(outcome).toMatchObject({ created: false, current: { attempts: 1 }, source: { revision: 1, metadata: { acc: 0.95 } } });
    const again = await store.linkVersion(newLink({ sourceRevision: 1, metadata: { acc: 0.95 } }), { ...state, attempts: 1 });
    expect(again.created).toBe(false);
    expect(transactItems(1)[8]).toHaveProperty("Update.ConditionExpression", "attribute_exists(PK) AND revision = :revision");
    expect(transactItems(1)[8]).toHaveProperty("Update.ExpressionAttributeValues", { ":one": 1, ":revision": 1 });
  });

  it("answers the state read again when another cancellation reason (a concurrent link) stopped it", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] } })
      .resolves({ Responses: { [TABLE]: [existingCollection(1), aliasItem("latest", 0)] } });
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(canceled(reasonsWith(8, 0, "ConditionalCheckFailed")))
      .resolves({});

    const lost = await readAndLink(newLink());
    expect(lost).toMatchObject({ created: false, current: { head: { nextIndex: 1 }, attempts: 1 } });
    const outcome = await store.linkVersion(newLink(), (lost as { current: LinkState }).current);

    expect(outcome).toMatchObject({ created: true, collectionCreated: false, link: { index: 1 } });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
    expect(transactItems(0)[0]).toHaveProperty("Put.ConditionExpression", "attribute_not_exists(PK)");
    expect(transactItems(1)[0]).toHaveProperty("Update.ConditionExpression", "nextIndex = :index AND #type = :type");
    expect(transactItems(1)[0]).toHaveProperty("Update.ExpressionAttributeValues", {
      ":next": 2,
      ":index": 1,
      ":one": 1,
      ":type": "model",
    });
  });
});

describe("unlink", () => {
  const change = { ...context, actor: "root", at: AT };
  const linkItem = (index: number, aliases?: string[]) => ({
    ...linkKey(index),
    entity: "link",
    ...context,
    index,
    source: source(5),
    type: "model",
    ...(aliases ? { aliases: new Set(aliases) } : {}),
    metadata: {},
    size: 42,
    fileCount: 1,
    linkedAt: AT,
    linkedBy: "alice",
  });

  it("deletes the link, burns its number and hands latest back to the previous link", async () => {
    ddb.on(GetCommand, { Key: linkKey(2) }).resolves({ Item: linkItem(2, ["latest", "production"]) });
    ddb.on(QueryCommand).resolves({ Items: [linkItem(1)] });
    ddb.on(TransactWriteCommand).resolves({});

    await store.unlink(change, 2);

    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: "PK = :pk AND SK BETWEEN :low AND :high",
      ExpressionAttributeValues: { ":pk": COLLECTION, ":low": linkKey(0).SK, ":high": linkKey(1).SK },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    });
    const aliasCondition = {
      ConditionExpression: "#index = :index",
      ExpressionAttributeNames: { "#index": "index" },
      ExpressionAttributeValues: { ":index": 2 },
    };
    expect(transactItems()).toEqual([
      {
        Delete: {
          TableName: TABLE,
          Key: linkKey(2),
          ConditionExpression: "attribute_exists(PK) AND size(aliases) = :aliasCount",
          ExpressionAttributeValues: { ":aliasCount": 2 },
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: {
            PK: COLLECTION,
            SK: `UNL#${pad(2)}`,
            entity: "unlinked",
            index: 2,
            source: source(5),
            unlinkedAt: AT,
            unlinkedBy: "root",
          },
        },
      },
      { Delete: { TableName: TABLE, Key: sourceKey(5) } },
      {
        Put: {
          TableName: TABLE,
          Item: { ...aliasKey("latest"), entity: "alias", alias: "latest", index: 1, target: { source: source(5) } },
          ...aliasCondition,
        },
      },
      { Delete: { TableName: TABLE, Key: aliasKey("production"), ...aliasCondition } },
      {
        Update: {
          TableName: TABLE,
          Key: linkKey(1),
          UpdateExpression: "ADD aliases :aliases",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":aliases": new Set(["latest"]) },
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: collectionKey,
          UpdateExpression: "SET linkCount = linkCount - :one, latestIndex = :previous",
          ExpressionAttributeValues: { ":one": 1, ":previous": 1 },
        },
      },
      eventPut({
        action: "link.removed",
        actor: "root",
        at: AT,
        ...context,
        version: "v2",
        source: { project: "train", artifact: "mnist", version: "v5", digest: DIGEST },
        aliases: ["latest", "production"],
      }),
      { Delete: { TableName: TABLE, Key: linkedFromKey(5) } },
      {
        Update: {
          TableName: TABLE,
          Key: versionKey(5),
          UpdateExpression: "ADD linkCount :minusOne",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":minusOne": -1 },
        },
      },
    ]);
    // The collection counter is never lowered: an unlinked number is never handed out again.
    expect(JSON.stringify(transactItems())).not.toContain("nextIndex");
  });

  it("deletes a link without aliases only while it still has none, and leaves latest alone", async () => {
    ddb.on(GetCommand, { Key: linkKey(1) }).resolves({ Item: linkItem(1) });
    ddb.on(TransactWriteCommand).resolves({});

    await store.unlink(change, 1);

    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    const items = transactItems();
    expect(items[0]).toEqual({
      Delete: { TableName: TABLE, Key: linkKey(1), ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(aliases)" },
    });
    expect(items.filter((i) => i.Put?.Item?.entity === "alias" || i.Delete?.Key?.SK.startsWith("ALIAS#"))).toEqual([]);
    expect(items).toContainEqual({
      Update: {
        TableName: TABLE,
        Key: collectionKey,
        UpdateExpression: "SET linkCount = linkCount - :one",
        ExpressionAttributeValues: { ":one": 1 },
      },
    });
  });

  it("removes latest and the collection's latestIndex when the last remaining link goes", async () => {
    ddb.on(GetCommand, { Key: linkKey(0) }).resolves({ Item: linkItem(0, ["latest"]) });
    ddb.on(TransactWriteCommand).resolves({});

    await store.unlink(change, 0);

    const items = transactItems();
    expect(items).toContainEqual({
      Delete: {
        TableName: TABLE,
        Key: aliasKey("latest"),
        ConditionExpression: "#index = :index",
        ExpressionAttributeNames: { "#index": "index" },
        ExpressionAttributeValues: { ":index": 0 },
      },
    });
    expect(items).toContainEqual({
      Update: {
        TableName: TABLE,
        Key: collectionKey,
        UpdateExpression: "SET linkCount = linkCount - :one REMOVE latestIndex",
        ExpressionAttributeValues: { ":one": 1 },
      },
    });
  });

  it("answers 404 for a link that does not exist, without writing", async () => {
    ddb.on(GetCommand).resolves({});
    await expect(store.unlink(change, 7)).rejects.toThrow(new NotFoundError("model/mnist-classifier has no version v7"));
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
  it("refuses a link that holds a protected alias, without writing, when the caller may not remove it", async () => {
    ddb.on(GetCommand, { Key: linkKey(1) }).resolves({ Item: linkItem(1, ["production"]) });
    await expect(store.unlink(change, 1, ["production"])).rejects.toThrow(ForbiddenError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("holds the protected aliases on the delete's condition, and refuses once one moved onto the link meanwhile", async () => {
    // The first read shows no protected alias; an admin moves production onto the link before the write.
    ddb
      .on(GetCommand, { Key: linkKey(1) })
      .resolvesOnce({ Item: linkItem(1, ["staging"]) })
      .resolves({ Item: linkItem(1, ["staging", "production"]) });
    ddb.on(TransactWriteCommand).rejects(canceled(reasonsWith(7, 0, "ConditionalCheckFailed")));

    await expect(store.unlink(change, 1, ["production", "gold"])).rejects.toThrow(
      "@model/mnist-classifier:v1 holds the protected alias production: only admins of registry model may unlink it",
    );

    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(transactItems()[0]).toEqual({
      Delete: {
        TableName: TABLE,
        Key: linkKey(1),
        ConditionExpression:
          "attribute_exists(PK) AND NOT contains(aliases, :protected0) AND NOT contains(aliases, :protected1) AND size(aliases) = :aliasCount",
        ExpressionAttributeValues: { ":protected0": "production", ":protected1": "gold", ":aliasCount": 1 },
      },
    });
  });
});

describe("tags", () => {
  const change = { ...context, actor: "bob", at: AT };
  const tagKey = { PK: "REGTAG#model#vision", SK: "COL#mnist-classifier" };

  it("adds a collection tag, indexes it and records the event, conditioned on the tag being absent", async () => {
    ddb.on(GetCommand, { Key: collectionKey }).resolves({ Item: existingCollection(1) });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.tagCollection(change, "vision", true)).toBe(true);

    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: collectionKey,
      ConsistentRead: true,
    });
    expect(transactItems()).toEqual([
      {
        Update: {
          TableName: TABLE,
          Key: collectionKey,
          UpdateExpression: "ADD tags :tag",
          ConditionExpression: "attribute_exists(PK) AND (attribute_not_exists(tags) OR NOT contains(tags, :name))",
          ExpressionAttributeValues: { ":tag": new Set(["vision"]), ":name": "vision" },
        },
      },
      { Put: { TableName: TABLE, Item: { ...tagKey, entity: "collectionTag", ...context, tag: "vision" } } },
      eventPut({ action: "tag.added", actor: "bob", at: AT, ...context, tag: "vision" }),
    ]);
  });

  it("removes a collection tag and its index entry, conditioned on the tag being there", async () => {
    ddb.on(GetCommand, { Key: collectionKey }).resolves({ Item: { ...existingCollection(1), tags: new Set(["vision"]) } });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.tagCollection(change, "vision", false)).toBe(true);

    expect(transactItems()).toEqual([
      {
        Update: {
          TableName: TABLE,
          Key: collectionKey,
          UpdateExpression: "DELETE tags :tag",
          ConditionExpression: "attribute_exists(PK) AND contains(tags, :name)",
          ExpressionAttributeValues: { ":tag": new Set(["vision"]), ":name": "vision" },
        },
      },
      { Delete: { TableName: TABLE, Key: tagKey } },
      eventPut({ action: "tag.removed", actor: "bob", at: AT, ...context, tag: "vision" }),
    ]);
  });

  it.each([
    ["adding a tag that is there", new Set(["vision"]), true],
    ["removing a tag that is not there", undefined, false],
  ])("writes nothing and answers false for %s", async (_, tags, add) => {
    ddb.on(GetCommand).resolves({ Item: { ...existingCollection(1), ...(tags ? { tags } : {}) } });

    expect(await store.tagCollection(change, "vision", add)).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("answers false when a concurrent identical change won the condition", async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: existingCollection(1) })
      .resolves({ Item: { ...existingCollection(1), tags: new Set(["vision"]) } });
    ddb.on(TransactWriteCommand).rejects(canceled(reasonsWith(3, 0, "ConditionalCheckFailed")));

    expect(await store.tagCollection(change, "vision", true)).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it("retries, rather than reporting no change, when a conflicting transaction cancelled the write", async () => {
    ddb.on(GetCommand).resolves({ Item: existingCollection(1) });
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(canceled(reasonsWith(3, 0, "TransactionConflict")))
      .resolves({});

    expect(await store.tagCollection(change, "vision", true)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it("tags a link in place, with the version in the event", async () => {
    ddb.on(GetCommand, { Key: linkKey(1) }).resolves({ Item: { ...linkKey(1), index: 1 } });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.tagLink(change, 1, "approved", true)).toBe(true);

    expect(transactItems()).toEqual([
      {
        Update: {
          TableName: TABLE,
          Key: linkKey(1),
          UpdateExpression: "ADD tags :tag",
          ConditionExpression: "attribute_exists(PK) AND (attribute_not_exists(tags) OR NOT contains(tags, :name))",
          ExpressionAttributeValues: { ":tag": new Set(["approved"]), ":name": "approved" },
        },
      },
      eventPut({ action: "tag.added", actor: "bob", at: AT, ...context, version: "v1", tag: "approved" }),
    ]);
  });

  it("answers 404 for a collection or link that does not exist", async () => {
    ddb.on(GetCommand).resolves({});
    await expect(store.tagCollection(change, "vision", true)).rejects.toThrow(NotFoundError);
    await expect(store.tagLink(change, 4, "approved", false)).rejects.toThrow(NotFoundError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});

describe("listCollections", () => {
  const searchItem = (name: string, position = 0) => ({
    PK: `COLSEARCH#model#${name.toLowerCase().slice(position, position + 3)}`,
    SK: `${name.toLowerCase().slice(position)}#${name}`,
    entity: "collectionSearch",
    collection: name,
    position,
  });

  it("finds names containing q through the search index, one query whatever the registry's size, then reads them in one batch", async () => {
    ddb.on(QueryCommand).resolves({ Items: [searchItem("mnist-classifier")] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [existingCollection(1)] } });

    const page = await store.listCollections("model", { limit: 20, q: "MNIST" });

    expect(page.items.map((c) => c.name)).toEqual(["mnist-classifier"]);
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :term)",
        ExpressionAttributeValues: { ":pk": "COLSEARCH#model#mni", ":term": "mnist" },
        Limit: 20,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: [collectionKey] } } },
    ]);
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it("reports a name once, where q first occurs in it, querying on to fill the page", async () => {
    const lastSeen = { PK: "COLSEARCH#model#ana", SK: "ana#banana" };
    ddb
      .on(QueryCommand)
      // "ana" occurs twice in banana (at 1 and 3): the item at 3 is skipped.
      .resolvesOnce({ Items: [searchItem("banana", 3), searchItem("ananas")], LastEvaluatedKey: lastSeen })
      .resolvesOnce({ Items: [searchItem("banana", 1)] });
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: ["ananas", "banana"].map((name) => ({ ...existingCollection(1), SK: `COL#${name}`, name })) },
    });

    const page = await store.listCollections("model", { limit: 5, q: "ana" });

    expect(page.items.map((c) => c.name)).toEqual(["ananas", "banana"]);
    expect(page.nextCursor).toBeUndefined();
    const inputs = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => [i.Limit, i.ExclusiveStartKey])).toEqual([
      [5, undefined],
      [4, lastSeen],
    ]);
  });

  it("drops names whose collection does not exist (a creation that failed after indexing)", async () => {
    ddb.on(QueryCommand).resolves({ Items: [searchItem("gone", 1), searchItem("one-shot", 0)] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ ...existingCollection(1), SK: "COL#one-shot", name: "one-shot" }] } });
    const page = await store.listCollections("model", { limit: 20, q: "one" });
    expect(page.items.map((c) => c.name)).toEqual(["one-shot"]);
  });

  it("answers a query no collection name can contain with nothing, without reading", async () => {
    const page = await store.listCollections("model", { limit: 20, q: "mnist classifier" });
    expect(page).toEqual({ items: [] });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("refuses a search cursor from another registry's index", async () => {
    const foreign = Buffer.from(JSON.stringify({ PK: "COLSEARCH#other#abc", SK: "abc#abc" }), "utf8").toString("base64url");
    await expect(store.listCollections("model", { limit: 5, q: "abc", cursor: foreign })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("matches one or two characters by a filter on the registry's partition, lower-cased, never by a scan", async () => {
    ddb.on(QueryCommand).resolves({ Items: [existingCollection(1)] });

    const page = await store.listCollections("model", { limit: 20, q: "MN" });

    expect(page.items.map((c) => c.name)).toEqual(["mnist-classifier"]);
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        FilterExpression: "contains(nameLower, :q)",
        ExpressionAttributeValues: { ":pk": "REG#model", ":prefix": "COL#", ":q": "mn" },
        Limit: 20,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it("lists a registry's collections without a filter when there is no q", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    await store.listCollections("model", { limit: 20 });

    const input = ddb.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(input.FilterExpression).toBeUndefined();
    expect(input.ExpressionAttributeValues).toEqual({ ":pk": "REG#model", ":prefix": "COL#" });
  });

  it("finds tagged collections through the tag's partition and reads them in one batch", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { PK: "REGTAG#model#vision", SK: "COL#mnist-classifier", collection: "mnist-classifier" },
        { PK: "REGTAG#model#vision", SK: "COL#resnet", collection: "resnet" },
      ],
    });
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [{ ...existingCollection(1), name: "resnet" }, existingCollection(1)] },
    });

    const page = await store.listCollections("model", { limit: 2, tag: "vision", q: "RES" });

    expect(page.items.map((c) => c.name)).toEqual(["resnet"]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      KeyConditionExpression: "PK = :pk",
      ExpressionAttributeValues: { ":pk": "REGTAG#model#vision" },
      Limit: 2,
    });
    expect(ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: [collectionKey, { PK: "REG#model", SK: "COL#resnet" }] } } },
    ]);
  });
});

describe("batch reads", () => {
  const tagItem = (name: string) => ({ PK: "REGTAG#model#vision", SK: `COL#${name}`, collection: name });
  const collectionItem = (name: string) => ({ ...existingCollection(1), SK: `COL#${name}`, name, nameLower: name });
  /** Answers a BatchGet with every requested collection, as the table would. */
  const answerEveryKey = (input: { RequestItems?: Record<string, { Keys?: Record<string, unknown>[] }> }) => ({
    Responses: {
      [TABLE]: (input.RequestItems?.[TABLE]?.Keys ?? []).map((key) => collectionItem(String(key.SK).slice(4))),
    },
  });

  it("reads a page of more than 100 tagged collections in requests of at most 100 keys, in tag order", async () => {
    const names = Array.from({ length: 150 }, (_, i) => `c${String(i).padStart(3, "0")}`);
    ddb.on(QueryCommand).resolves({ Items: names.map(tagItem) });
    ddb.on(BatchGetCommand).callsFake(answerEveryKey);

    const page = await store.listCollections("model", { limit: 150, tag: "vision" });

    expect(page.items.map((c) => c.name)).toEqual(names);
    const requested = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems![TABLE]!.Keys!.length);
    expect(requested).toEqual([100, 50]);
  });

  it("asks again for tagged collections DynamoDB left unprocessed", async () => {
    ddb.on(QueryCommand).resolves({ Items: [tagItem("alpha"), tagItem("beta")] });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [collectionItem("beta")] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ PK: "REG#model", SK: "COL#alpha" }] } },
      })
      .callsFake(answerEveryKey);

    const page = await store.listCollections("model", { limit: 10, tag: "vision" });

    expect(page.items.map((c) => c.name)).toEqual(["alpha", "beta"]);
    expect(ddb.commandCalls(BatchGetCommand)[1]!.args[0].input).toEqual({
      RequestItems: { [TABLE]: { Keys: [{ PK: "REG#model", SK: "COL#alpha" }] } },
    });
  });

  it("asks again for a membership DynamoDB left unprocessed, rather than hiding the registry from a member", async () => {
    const memberKey = { PK: "REG#secret", SK: "MEMBER#max" };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ PK: "REG#secret", SK: "REGISTRY", entity: "registry", name: "secret", visibility: "restricted" }] },
        UnprocessedKeys: { [TABLE]: { Keys: [memberKey] } },
      })
      .resolves({ Responses: { [TABLE]: [{ ...memberKey, entity: "member", role: "admin" }] } });

    const answer = await store.getRegistryAccess("secret", "max");

    expect(answer).toMatchObject({ registry: { name: "secret" }, role: "admin" });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
  });

  describe("under endless throttling", () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it("gives up with 429 after 8 requests", async () => {
      const keys = [{ PK: "REG#secret", SK: "REGISTRY" }];
      ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] }, UnprocessedKeys: { [TABLE]: { Keys: keys } } });

      const outcome = store.getRegistryAccess("secret", "max").catch((e: unknown) => e);
      await vi.runAllTimersAsync();

      expect(await outcome).toBeInstanceOf(TooManyRequestsError);
      expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(8);
    });
  });
});

describe("cursors", () => {
  it("refuses a collections cursor from another registry with 400, sending no query", async () => {
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: { PK: "REG#other", SK: "COL#x" } });
    const foreign = (await store.listCollections("other", { limit: 1 })).nextCursor;
    ddb.resetHistory();

    await expect(store.listCollections("model", { limit: 1, cursor: foreign })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("refuses a links cursor from another collection, and accepts its own", async () => {
    const own = await encode({ PK: COLLECTION, SK: linkKey(4).SK }, { partition: COLLECTION, sortKeyPrefix: "LNK#" });
    ddb.on(QueryCommand).resolves({ Items: [] });

    await expect(store.listLinks("model", "other", { limit: 1, cursor: own })).rejects.toThrow(ValidationError);
    await store.listLinks("model", "mnist-classifier", { limit: 1, cursor: own });

    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": COLLECTION, ":prefix": "LNK#" },
        ScanIndexForward: false,
        Limit: 1,
        ExclusiveStartKey: { PK: COLLECTION, SK: linkKey(4).SK },
      },
    ]);
  });

  it("refuses a registries cursor from another index partition", async () => {
    const users = await encode(
      { PK: "USER#max", SK: "USER", GSI1PK: "USERS", GSI1SK: "max" },
      { index: "GSI1", partition: "USERS", partitionAttribute: "GSI1PK" },
    );
    await expect(store.listRegistries({ limit: 1, cursor: users })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("refuses a history cursor from another collection", async () => {
    const other = await encode({ PK: "HIST#COL#model#other", SK: `${AT}#01J` }, { partition: "HIST#COL#model#other" });
    await expect(store.listCollectionHistory("model", "mnist-classifier", { limit: 1, cursor: other })).rejects.toThrow(ValidationError);
  });
});

describe("registries and members", () => {
  const registryItem = {
    PK: "REG#secret",
    SK: "REGISTRY",
    entity: "registry",
    GSI1PK: "REGISTRIES",
    GSI1SK: "secret",
    name: "secret",
    visibility: "restricted",
    protectedAliases: ["production"],
    createdAt: AT,
    createdBy: "root",
  };
  const memberKey = { PK: "REG#secret", SK: "MEMBER#max" };

  it("reads the registry and the caller's membership in one BatchGet", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [{ ...memberKey, entity: "member", role: "member" }, registryItem] },
    });

    expect(await store.getRegistryAccess("secret", "max")).toEqual({
      registry: {
        name: "secret",
        visibility: "restricted",
        protectedAliases: ["production"],
        createdAt: AT,
        createdBy: "root",
      },
      role: "member",
    });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input).toEqual({
      RequestItems: { [TABLE]: { Keys: [{ PK: "REG#secret", SK: "REGISTRY" }, memberKey] } },
    });
  });

  it("answers no role to a non-member and no registry when there is none", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [registryItem] } })
      .resolves({ Responses: {} });

    expect(await store.getRegistryAccess("secret", "vera")).toMatchObject({ role: undefined });
    expect(await store.getRegistryAccess("nope", "vera")).toEqual({ registry: undefined, role: undefined });
  });

  it("reads the collection alias a path names in the same BatchGet, answering its link's source", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [
          registryItem,
          {
            PK: "COL#secret#mnist-classifier",
            SK: "ALIAS#production",
            entity: "alias",
            alias: "production",
            index: 3,
            target: { source: source(2) },
          },
        ],
      },
    });

    expect(await store.getRegistryAccess("secret", "max", { collection: "mnist-classifier", alias: "production" })).toEqual({
      registry: expect.objectContaining({ name: "secret" }),
      role: undefined,
      target: { registry: "secret", collection: "mnist-classifier", index: 3, source: source(2) },
    });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input).toEqual({
      RequestItems: {
        [TABLE]: {
          Keys: [{ PK: "REG#secret", SK: "REGISTRY" }, memberKey, { PK: "COL#secret#mnist-classifier", SK: "ALIAS#production" }],
        },
      },
    });
  });

  it("reads a numbered collection version as its link, and answers no target for one that does not exist", async () => {
    const link = { PK: "COL#secret#mnist-classifier", SK: `LNK#${pad(4)}`, entity: "link", index: 4, source: source(1) };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [registryItem, link] } })
      .resolves({ Responses: { [TABLE]: [registryItem] } });

    expect((await store.getRegistryAccess("secret", "max", { collection: "mnist-classifier", index: 4 })).target).toEqual({
      registry: "secret",
      collection: "mnist-classifier",
      index: 4,
      source: source(1),
    });
    expect(await store.getRegistryAccess("secret", "max", { collection: "mnist-classifier", index: 5 })).not.toHaveProperty("target");
  });

  it("creates a registry once, listed in the registries index", async () => {
    ddb.on(TransactWriteCommand).resolvesOnce({}).rejects(canceled());
    const { PK: _pk, SK: _sk, entity: _e, GSI1PK: _g, GSI1SK: _s, ...record } = registryItem;

    await store.createRegistry({ ...record, visibility: "restricted" });
    await expect(store.createRegistry({ ...record, visibility: "restricted" })).rejects.toThrow(ConflictError);

    expect(transactItems()[0]).toEqual({
      Put: { TableName: TABLE, Item: registryItem, ConditionExpression: "attribute_not_exists(PK)" },
    });
  });

  it("answers false when revoking someone who is no member", async () => {
    ddb.on(TransactWriteCommand).rejects(canceled());

    expect(await store.removeMember("secret", "vera", { actor: "root", at: AT })).toBe(false);
    expect(transactItems()[0]).toEqual({
      Delete: { TableName: TABLE, Key: { PK: "REG#secret", SK: "MEMBER#vera" }, ConditionExpression: "attribute_exists(PK)" },
    });
  });

  it("finds where a version is linked with one consistent query of its artifact's partition", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ ...linkedFromKey(2), ...context, index: 0 }] });

    expect(await store.linksOfVersion("train", "mnist", 2)).toEqual([{ ...context, index: 0 }]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
      ExpressionAttributeValues: { ":pk": "ART#train#mnist", ":prefix": `LINKED#${pad(2)}#` },
      ExclusiveStartKey: undefined,
      ConsistentRead: true,
    });
  });
});
