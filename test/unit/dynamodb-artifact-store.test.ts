import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoArtifactStore } from "../../lambdas/adapters/dynamodb/artifact-store.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";
import { ConflictError, NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import type { CommitState, NewVersion } from "../../lambdas/core/ports.js";

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";
const DIGEST = "d".repeat(64);

const ddb = mockClient(DynamoDBDocumentClient);
const cursors = CursorSealer.ephemeral();
let store: DynamoArtifactStore;

beforeEach(() => {
  // Events are stamped when the write is attempted: pin the clock they read.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(AT));
  ddb.reset();
  store = new DynamoArtifactStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE, cursors);
});

const canceled = () =>
  new TransactionCanceledException({
    message: "Transaction cancelled",
    $metadata: {},
    CancellationReasons: [{ Code: "ConditionalCheckFailed" }],
  });

const artifactKey = { PK: "PROJ#vision", SK: "ART#mnist" };
const digestKey = (digest = DIGEST) => ({ PK: "ART#vision#mnist", SK: `DIG#${digest}` });
const versionKey = (index: number) => ({ PK: "ART#vision#mnist", SK: `VER#${String(index).padStart(10, "0")}` });
const aliasKey = (alias: string) => ({ PK: "ART#vision#mnist", SK: `ALIAS#${alias}` });

const newVersion = (extra: Partial<NewVersion> = {}): NewVersion => ({
  project: "vision",
  artifact: "mnist",
  type: "model",
  digest: DIGEST,
  metadata: { acc: 0.9 },
  description: "first",
  size: 42,
  fileCount: 2,
  blobs: [],
  runId: "run-1",
  aliases: [],
  actor: "alice",
  at: AT,
  ...extra,
});

const existingArtifact = (nextIndex: number) => ({
  ...artifactKey,
  entity: "artifact",
  project: "vision",
  name: "mnist",
  type: "model",
  createdAt: AT,
  createdBy: "alice",
  nextIndex,
  latestIndex: nextIndex - 1,
  versionCount: nextIndex,
});

afterEach(() => {
  vi.useRealTimers();
});

/** An audit event item: its sort key is the time plus a unique id. */
const eventPut = (event: Record<string, unknown>) => ({
  Put: {
    TableName: TABLE,
    Item: {
      PK: "HIST#ART#vision#mnist",
      SK: expect.stringMatching(new RegExp(`^${AT.replace(/\./g, "\\.")}#\\S+$`)),
      entity: "event",
      event,
    },
  },
});

function transactItems(call = 0) {
  return ddb.commandCalls(TransactWriteCommand)[call]!.args[0].input.TransactItems!;
}

/** What a version's alias items carry of it: the fields that never change. */
const snapshot = {
  digest: DIGEST,
  type: "model",
  metadata: { acc: 0.9 },
  description: "first",
  createdAt: AT,
  createdBy: "alice",
  size: 42,
  fileCount: 2,
  runId: "run-1",
};

/** A version item as the table holds it. */
const versionItem = (index: number, aliases?: string[]) => ({
  ...versionKey(index),
  entity: "version",
  project: "vision",
  artifact: "mnist",
  index,
  ...snapshot,
  ...(aliases ? { aliases: new Set(aliases) } : {}),
});

const aliasItem = (alias: string, index: number) => ({
  ...aliasKey(alias),
  entity: "alias",
  alias,
  index,
  target: snapshot,
});

/** User JSON reaches the marshaller as Maps, whatever its keys (lambdas/adapters/dynamodb/user-json.ts). */
const storedMetadata = new Map([["acc", 0.9]]);
/** An alias item as the store writes it. */
const writtenAliasItem = (alias: string, index: number) => ({
  ...aliasItem(alias, index),
  target: { ...snapshot, metadata: storedMetadata },
});

/** Reads the state, then commits on it: what the use case does when nothing races. */
async function readAndCommit(version: NewVersion) {
  const state = await store.readCommitState(version.project, version.artifact, version.digest, version.aliases);
  return store.commitVersion(version, state);
}

describe("readCommitState", () => {
  it("reads the artifact, the version holding the digest and the alias holders in one consistent BatchGet", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [existingArtifact(3), { ...digestKey(), entity: "digest", index: 1 }, aliasItem("latest", 2), aliasItem("best", 0)],
      },
    });

    const state = await store.readCommitState("vision", "mnist", DIGEST, ["best"]);

    expect(state).toEqual({
      head: expect.objectContaining({ type: "model", nextIndex: 3, latestIndex: 2, versionCount: 3 }),
      existing: 1,
      holders: new Map([
        ["latest", 2],
        ["best", 0],
      ]),
      attempts: 0,
    });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input).toEqual({
      RequestItems: {
        [TABLE]: {
          Keys: [artifactKey, digestKey(), aliasKey("latest"), aliasKey("best"), retiredKey, { PK: "PROJ#vision", SK: "PROJECT" }],
          ConsistentRead: true,
        },
      },
    });
  });

  it("reads the project's default retention in the same BatchGet: it costs the commit no call", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ PK: "PROJ#vision", SK: "PROJECT", entity: "project", ttlDays: 30 }] } });

    expect(await store.readCommitState("vision", "mnist", DIGEST, [])).toEqual({ projectTtlDays: 30, holders: new Map(), attempts: 0 });
    expect(ddb.calls()).toHaveLength(1);
  });

  it("goes on after the numbers of a deleted artifact of the same name, read in the same BatchGet", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ ...retiredKey, entity: "retired", nextIndex: 7 }] } });

    const state = await store.readCommitState("vision", "mnist", DIGEST, []);

    expect(state).toEqual({ firstIndex: 7, holders: new Map(), attempts: 0 });
    expect(ddb.calls()).toHaveLength(1);
  });
});

const retiredKey = { PK: "ART#vision#mnist", SK: "RETIRED" };

describe("commitVersion", () => {
  it("writes the first version, its artifact, digest, latest, aliases and events in one transaction", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    ddb.on(TransactWriteCommand).resolves({});

    const outcome = await readAndCommit(newVersion({ aliases: ["best"] }));

    expect(outcome).toMatchObject({ created: true, version: { index: 0, aliases: ["latest", "best"] } });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(1);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(transactItems()).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: { ...existingArtifact(1), latestIndex: 0, versionCount: 1 },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      // A new artifact is counted on its project's item, which the projects index lists.
      {
        Update: {
          TableName: TABLE,
          Key: { PK: "PROJ#vision", SK: "PROJECT" },
          UpdateExpression:
            "SET #entity = :entity, #name = :name, GSI1PK = :index, GSI1SK = :name, " +
            "#createdAt = if_not_exists(#createdAt, :at), #createdBy = if_not_exists(#createdBy, :actor) ADD artifactCount :one",
          ExpressionAttributeNames: { "#entity": "entity", "#name": "name", "#createdAt": "createdAt", "#createdBy": "createdBy" },
          ExpressionAttributeValues: {
            ":entity": "project",
            ":name": "vision",
            ":index": "PROJECTS",
            ":at": AT,
            ":actor": "alice",
            ":one": 1,
          },
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: {
            ...versionKey(0),
            entity: "version",
            project: "vision",
            artifact: "mnist",
            index: 0,
            digest: DIGEST,
            type: "model",
            aliases: new Set(["latest", "best"]),
            metadata: storedMetadata,
            description: "first",
            createdAt: AT,
            createdBy: "alice",
            size: 42,
            fileCount: 2,
            runId: "run-1",
          },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: { ...digestKey(), entity: "digest", index: 0 },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: writtenAliasItem("latest", 0),
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: writtenAliasItem("best", 0),
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      eventPut({
        action: "version.created",
        actor: "alice",
        at: AT,
        version: "v0",
        digest: DIGEST,
        aliases: ["latest", "best"],
      }),
      eventPut({ action: "alias.set", actor: "alice", at: AT, alias: "best", to: "v0" }),
      // The commit names a run: the run (created when unknown) and its output edge, in the same transaction.
      {
        Update: {
          TableName: TABLE,
          Key: { PK: "RUN#vision#run-1", SK: "RUN" },
          UpdateExpression:
            "SET #entity = :entity, #project = :project, #id = :id, #config = if_not_exists(#config, :config), " +
            "#createdAt = if_not_exists(#createdAt, :at), #createdBy = if_not_exists(#createdBy, :actor)",
          ExpressionAttributeNames: {
            "#entity": "entity",
            "#project": "project",
            "#id": "id",
            "#config": "config",
            "#createdAt": "createdAt",
            "#createdBy": "createdBy",
          },
          ExpressionAttributeValues: {
            ":entity": "run",
            ":project": "vision",
            ":id": "run-1",
            ":config": {},
            ":at": AT,
            ":actor": "alice",
          },
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: {
            PK: "RUN#vision#run-1",
            SK: "OUT#mnist#0000000000",
            entity: "runOutput",
            project: "vision",
            artifact: "mnist",
            index: 0,
            at: AT,
          },
        },
      },
    ]);
  });
  it("allocates the next index on the counter it read and moves aliases off their previous holder", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [existingArtifact(1), aliasItem("latest", 0), aliasItem("production", 0)] },
    });
    ddb.on(TransactWriteCommand).resolves({});

    const outcome = await readAndCommit(newVersion({ aliases: ["production"] }));

    expect(outcome).toMatchObject({ created: true, version: { index: 1 } });
    const items = transactItems();
    // Seven for the version and its aliases, two for the run's output edge.
    expect(items).toHaveLength(10);
    // The counter moves only from the index read, and only on an artifact of the version's type.
    expect(items[0]).toEqual({
      Update: {
        TableName: TABLE,
        Key: artifactKey,
        UpdateExpression: "SET nextIndex = :next, latestIndex = :index, versionCount = versionCount + :one",
        ConditionExpression: "nextIndex = :index AND #type = :type",
        ExpressionAttributeNames: { "#type": "type" },
        ExpressionAttributeValues: { ":next": 2, ":index": 1, ":one": 1, ":type": "model" },
      },
    });
    expect(items[1]).toMatchObject({
      Put: { Item: { ...versionKey(1), index: 1 }, ConditionExpression: "attribute_not_exists(PK)" },
    });
    expect(items[2]).toEqual({
      Put: {
        TableName: TABLE,
        Item: { ...digestKey(), entity: "digest", index: 1 },
        ConditionExpression: "attribute_not_exists(PK)",
      },
    });
    for (const [i, alias] of [
      [3, "latest"],
      [4, "production"],
    ] as const) {
      expect(items[i]).toEqual({
        Put: {
          TableName: TABLE,
          Item: writtenAliasItem(alias, 1),
          ConditionExpression: "#index = :from",
          ExpressionAttributeNames: { "#index": "index" },
          ExpressionAttributeValues: { ":from": 0 },
        },
      });
    }
    expect(items[5]).toEqual({
      Update: {
        TableName: TABLE,
        Key: versionKey(0),
        UpdateExpression: "DELETE aliases :aliases",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":aliases": new Set(["latest", "production"]) },
      },
    });
    expect(items[6]).toEqual(
      eventPut({
        action: "version.created",
        actor: "alice",
        at: AT,
        version: "v1",
        digest: DIGEST,
        aliases: ["latest", "production"],
      }),
    );
    expect(items[7]).toEqual(eventPut({ action: "alias.moved", actor: "alice", at: AT, alias: "production", from: "v0", to: "v1" }));
  });

  it("writes nothing and answers the state read again when a concurrent commit wins the transaction", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] } })
      .resolves({ Responses: { [TABLE]: [existingArtifact(1), aliasItem("latest", 0)] } });
    ddb.on(TransactWriteCommand).rejectsOnce(canceled()).resolves({});

    const state = await store.readCommitState("vision", "mnist", DIGEST, []);
    const lost = await store.commitVersion(newVersion(), state);

    expect(lost).toEqual({
      created: false,
      current: {
        head: expect.objectContaining({ nextIndex: 1 }),
        holders: new Map([["latest", 0]]),
        attempts: 1,
      },
    });
    expect(transactItems(0)[0]).toHaveProperty("Put.ConditionExpression", "attribute_not_exists(PK)");

    const outcome = await store.commitVersion(newVersion(), (lost as { current: CommitState }).current);

    expect(outcome).toMatchObject({ created: true, version: { index: 1 } });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
    expect(transactItems(1)[0]).toHaveProperty("Update.ExpressionAttributeValues", {
      ":next": 2,
      ":index": 1,
      ":one": 1,
      ":type": "model",
    });
  });

  it("answers the version holding the digest when a concurrent commit of the same content wins", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] } })
      .resolves({ Responses: { [TABLE]: [existingArtifact(1), { ...digestKey(), entity: "digest", index: 0 }] } });
    ddb.on(TransactWriteCommand).rejects(canceled());

    const outcome = await readAndCommit(newVersion());

    expect(outcome).toMatchObject({ created: false, current: { existing: 0 } });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it("does not retry a failure that is not contention", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    ddb.on(TransactWriteCommand).rejects(new Error("network down"));
    await expect(readAndCommit(newVersion())).rejects.toThrow("network down");
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  describe("under endless contention", () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it("gives up with 409 after 40 attempts", async () => {
      ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
      ddb.on(TransactWriteCommand).rejects(canceled());

      const attempts = (async () => {
        let state = await store.readCommitState("vision", "mnist", DIGEST, []);
        for (;;) {
          const outcome = await store.commitVersion(newVersion(), state);
          if (outcome.created) return outcome;
          state = outcome.current;
        }
      })().catch((e: unknown) => e);
      await vi.runAllTimersAsync();

      expect(await attempts).toBeInstanceOf(ConflictError);
      expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(40);
    });
  });
});

describe("aliases", () => {
  const change = { project: "vision", artifact: "mnist", actor: "bob", at: AT };

  it("moves an alias onto an existing version, conditioned on the holder it read, in one read and one write", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [versionItem(2), aliasItem("production", 1)] } });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.moveAliases(change, 2, ["production"])).toEqual([{ alias: "production", from: 1, to: 2 }]);

    expect(ddb.calls().map((c) => c.args[0].constructor.name)).toEqual(["BatchGetCommand", "TransactWriteCommand"]);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input).toEqual({
      RequestItems: { [TABLE]: { Keys: [versionKey(2), aliasKey("production")], ConsistentRead: true } },
    });
    expect(transactItems()).toEqual([
      {
        Put: {
          TableName: TABLE,
          // The alias item carries what a read by alias answers: the version's fields that never change.
          Item: writtenAliasItem("production", 2),
          ConditionExpression: "#index = :from",
          ExpressionAttributeNames: { "#index": "index" },
          ExpressionAttributeValues: { ":from": 1 },
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: versionKey(1),
          UpdateExpression: "DELETE aliases :aliases",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":aliases": new Set(["production"]) },
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: versionKey(2),
          UpdateExpression: "ADD aliases :aliases",
          // The alias item carries the version's description and metadata as read: an edit meanwhile makes this lose.
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(revision)",
          ExpressionAttributeValues: { ":aliases": new Set(["production"]) },
        },
      },
      expect.objectContaining({
        Put: expect.objectContaining({
          Item: expect.objectContaining({
            event: { action: "alias.moved", actor: "bob", at: AT, alias: "production", from: "v1", to: "v2" },
          }),
        }),
      }),
    ]);
  });

  it("writes nothing when the alias is already there", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [versionItem(2), aliasItem("production", 2)] } });
    expect(await store.moveAliases(change, 2, ["production"])).toEqual([]);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("answers 404 for a version that does not exist", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [aliasItem("production", 1)] } });
    await expect(store.moveAliases(change, 9, ["production"])).rejects.toThrow(NotFoundError);
  });

  it("removes an alias only from the holder it read", async () => {
    ddb.on(GetCommand, { Key: aliasKey("best") }).resolves({ Item: { alias: "best", index: 3 } });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.removeAlias(change, "best")).toBe(3);

    const items = transactItems()!;
    expect(items[0]).toEqual({
      Delete: {
        TableName: TABLE,
        Key: aliasKey("best"),
        ConditionExpression: "#index = :from",
        ExpressionAttributeNames: { "#index": "index" },
        ExpressionAttributeValues: { ":from": 3 },
      },
    });
    expect(items[1]).toMatchObject({ Update: { Key: versionKey(3), UpdateExpression: "DELETE aliases :aliases" } });
    expect(items[2]).toMatchObject({ Put: { Item: { event: { action: "alias.removed", alias: "best", from: "v3" } } } });
  });
});

describe("getVersionByAlias", () => {
  it("answers from one query of the alias items: the one named carries the version, those naming its index are its aliases", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [aliasItem("best", 1), aliasItem("latest", 2), aliasItem("production", 1)],
    });

    expect(await store.getVersionByAlias("vision", "mnist", "production")).toEqual({
      project: "vision",
      artifact: "mnist",
      index: 1,
      ...snapshot,
      aliases: ["best", "production"],
    });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      TableName: TABLE,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
      ExpressionAttributeValues: { ":pk": "ART#vision#mnist", ":prefix": "ALIAS#" },
    });
  });

  it("answers nothing for an alias nobody holds", async () => {
    ddb.on(QueryCommand).resolves({ Items: [aliasItem("latest", 2)] });
    expect(await store.getVersionByAlias("vision", "mnist", "production")).toBeUndefined();
  });

  it("reads the version of an alias item written before alias items carried it", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ ...aliasKey("best"), entity: "alias", alias: "best", index: 1 }] });
    ddb.on(GetCommand, { Key: versionKey(1) }).resolves({ Item: versionItem(1, ["best"]) });

    expect(await store.getVersionByAlias("vision", "mnist", "best")).toMatchObject({ index: 1, digest: DIGEST, aliases: ["best"] });
  });
});

describe("deleteVersion", () => {
  const change = { project: "vision", artifact: "mnist", actor: "root", at: AT };

  it("tombstones the version and hands latest back to the previous one", async () => {
    ddb.on(GetCommand, { Key: versionKey(2) }).resolves({
      Item: { ...versionKey(2), index: 2, digest: DIGEST, aliases: new Set(["latest"]) },
    });
    ddb.on(QueryCommand).resolves({ Items: [versionItem(1)] });
    ddb.on(TransactWriteCommand).resolves({});

    await store.deleteVersion(change, 2);

    const items = transactItems()!;
    expect(items).toContainEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: "ART#vision#mnist",
          SK: "DEL#0000000002",
          entity: "tombstone",
          index: 2,
          digest: DIGEST,
          deletedAt: AT,
          deletedBy: "root",
        },
      },
    });
    expect(items).toContainEqual({ Delete: { TableName: TABLE, Key: digestKey() } });
    expect(items).toContainEqual({
      Put: {
        TableName: TABLE,
        Item: writtenAliasItem("latest", 1),
        ConditionExpression: "#index = :index",
        ExpressionAttributeNames: { "#index": "index" },
        ExpressionAttributeValues: { ":index": 2 },
      },
    });
    expect(items).toContainEqual(
      expect.objectContaining({
        Update: expect.objectContaining({ Key: versionKey(1), UpdateExpression: "ADD aliases :aliases" }),
      }),
    );
    expect(items).toContainEqual({
      Update: {
        TableName: TABLE,
        Key: artifactKey,
        UpdateExpression: "SET versionCount = versionCount - :one, latestIndex = :previous",
        ExpressionAttributeValues: { ":one": 1, ":previous": 1 },
      },
    });
    const versionDelete = items.find((i) => i.Delete && i.Delete.Key?.SK === versionKey(2).SK);
    expect(versionDelete?.Delete?.ConditionExpression).toContain("attribute_exists(PK)");
    // The artifact counter is never lowered: a deleted number is never handed out again.
    expect(JSON.stringify(items)).not.toContain("nextIndex");
  });
});

describe("deleteVersion against a concurrent alias move", () => {
  const change = { project: "vision", artifact: "mnist", actor: "root", at: AT };
  const versionDelete = () => transactItems().find((i) => i.Delete && i.Delete.Key?.SK === versionKey(1).SK)!.Delete!;

  it("deletes only while the version holds the aliases it read, so none is left pointing at nothing", async () => {
    ddb.on(GetCommand, { Key: versionKey(1) }).resolves({
      Item: { ...versionKey(1), index: 1, digest: DIGEST, aliases: new Set(["best", "production"]) },
    });
    ddb.on(TransactWriteCommand).resolves({});

    await store.deleteVersion(change, 1);

    expect(versionDelete().ConditionExpression).toMatch(/ AND size\(aliases\) = :aliasCount$/);
    expect(versionDelete().ExpressionAttributeValues).toMatchObject({ ":aliasCount": 2 });
  });

  it("deletes a version without aliases only while it still has none", async () => {
    ddb.on(GetCommand, { Key: versionKey(1) }).resolves({ Item: { ...versionKey(1), index: 1, digest: DIGEST } });
    ddb.on(TransactWriteCommand).resolves({});

    await store.deleteVersion(change, 1);

    expect(versionDelete().ConditionExpression).toMatch(/ AND attribute_not_exists\(aliases\)$/);
  });

  it("reads again and takes the newly moved alias with it", async () => {
    ddb
      .on(GetCommand, { Key: versionKey(1) })
      .resolvesOnce({ Item: { ...versionKey(1), index: 1, digest: DIGEST } })
      .resolves({ Item: { ...versionKey(1), index: 1, digest: DIGEST, aliases: new Set(["production"]) } });
    ddb.on(TransactWriteCommand).rejectsOnce(canceled()).resolves({});

    await store.deleteVersion(change, 1);

    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
    expect(transactItems(1)).toContainEqual({
      Delete: {
        TableName: TABLE,
        Key: aliasKey("production"),
        ConditionExpression: "#index = :index",
        ExpressionAttributeNames: { "#index": "index" },
        ExpressionAttributeValues: { ":index": 1 },
      },
    });
  });
});

describe("pages and cursors", () => {
  it("pages versions newest first and turns LastEvaluatedKey into a cursor for the same list", async () => {
    const last = { PK: "ART#vision#mnist", SK: "VER#0000000003" };
    ddb.on(QueryCommand).resolvesOnce({ Items: [], LastEvaluatedKey: last }).resolves({ Items: [] });

    const first = await store.listVersions("vision", "mnist", { limit: 2 });
    await store.listVersions("vision", "mnist", { limit: 2, cursor: first.nextCursor });

    const [one, two] = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(one).toMatchObject({
      TableName: TABLE,
      KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
      ExpressionAttributeValues: { ":pk": "ART#vision#mnist", ":prefix": "VER#" },
      ScanIndexForward: false,
      Limit: 2,
    });
    expect(one!.ExclusiveStartKey).toBeUndefined();
    expect(two!.ExclusiveStartKey).toEqual(last);
  });

  it("refuses a cursor from another partition with 400 and sends no query", async () => {
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: { PK: "ART#vision#other", SK: "VER#0000000001" } });
    const foreign = (await store.listVersions("vision", "other", { limit: 1 })).nextCursor;
    ddb.resetHistory();

    await expect(store.listVersions("vision", "mnist", { limit: 1, cursor: foreign })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it.each([
    ["garbage", "%%%not-base64"],
    ["JSON that is not a key", Buffer.from("[1,2]").toString("base64url")],
    ["a key with non-string values", Buffer.from(JSON.stringify({ PK: "ART#vision#mnist", SK: { S: "x" } })).toString("base64url")],
    ["truncated JSON", Buffer.from('{"PK":"ART#vision#mnist"').toString("base64url")],
  ])("refuses %s as a cursor with 400", async (_, cursor) => {
    await expect(store.listVersions("vision", "mnist", { limit: 1, cursor })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it.each([
    ["JSON that is not a key", "[1,2]"],
    ["a key with non-string values", JSON.stringify({ PK: "ART#vision#mnist", SK: { S: "x" } })],
    ["truncated JSON", '{"PK":"ART#vision#mnist"'],
    ["a key of another partition", JSON.stringify({ PK: "ART#vision#other", SK: "VER#0000000001" })],
    ["a key of another list in the partition", JSON.stringify({ PK: "ART#vision#mnist", SK: "ALIAS#best" })],
    ["a key with the index key missing", JSON.stringify({ PK: "ART#vision#mnist" })],
  ])("refuses a cursor sealed for the list but holding %s", async (_, payload) => {
    const list = `key\u0000table\u0000ART#vision#mnist\u0000VER#`;
    const cursor = await cursors.seal(list, payload);
    await expect(store.listVersions("vision", "mnist", { limit: 1, cursor })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("hands out cursors that say nothing of the key they hold, and refuses one altered by a bit", async () => {
    const last = { PK: "ART#vision#mnist", SK: "VER#0000000007" };
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: last });
    const cursor = (await store.listVersions("vision", "mnist", { limit: 1 })).nextCursor!;
    expect(Buffer.from(cursor, "base64url").toString("latin1")).not.toContain("VER#");
    expect(cursor).not.toContain(Buffer.from(JSON.stringify(last)).toString("base64url").slice(0, 12));
    const bytes = Buffer.from(cursor, "base64url");
    bytes[bytes.length - 20]! ^= 1;
    ddb.resetHistory();
    await expect(store.listVersions("vision", "mnist", { limit: 1, cursor: bytes.toString("base64url") })).rejects.toThrow(ValidationError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    await store.listVersions("vision", "mnist", { limit: 1, cursor });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input.ExclusiveStartKey).toEqual(last);
  });
});
