import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoArtifactStore } from "../../lambdas/adapters/dynamodb/artifact-store.js";
import { DynamoBlobLedger } from "../../lambdas/adapters/dynamodb/blob-ledger.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";
import { UnprocessableError } from "../../lambdas/core/errors.js";
import type { BlobRefs, NewVersion, PendingRelease } from "../../lambdas/core/ports.js";
import { GC } from "../../lambdas/settings.js";

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";
const sha = (i: number) => i.toString(16).padStart(64, "0");

const ddb = mockClient(DynamoDBDocumentClient);
const doc = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
let ledger: DynamoBlobLedger;
let artifacts: DynamoArtifactStore;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(AT));
  ddb.reset();
  ledger = new DynamoBlobLedger(doc(), TABLE);
  artifacts = new DynamoArtifactStore(doc(), TABLE, CursorSealer.ephemeral());
});

afterEach(() => {
  vi.useRealTimers();
});

const conditionFailed = () => new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
const cancelled = (codes: string[]) =>
  new TransactionCanceledException({ message: "cancelled", $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

const newVersion = (blobs: string[]): NewVersion => ({
  project: "vision",
  artifact: "mnist",
  type: "model",
  digest: "d".repeat(64),
  metadata: {},
  size: 1,
  fileCount: blobs.length,
  blobs,
  aliases: [],
  actor: "alice",
  at: AT,
});

const takeRef = (sha256: string) => ({
  Update: {
    TableName: TABLE,
    Key: { PK: `BLOB#${sha256}`, SK: "BLOB" },
    UpdateExpression: "ADD refs :one, refsRevision :one REMOVE GSI1PK, GSI1SK",
    ConditionExpression: "#state = :verified",
    ExpressionAttributeNames: { "#state": "state" },
    ExpressionAttributeValues: { ":one": 1, ":verified": "verified" },
  },
});

const pinRef = (sha256: string) => ({
  Update: {
    TableName: TABLE,
    Key: { PK: `BLOB#${sha256}`, SK: "BLOB" },
    UpdateExpression: "ADD refs :one, refsRevision :one SET pinnedAt = :at REMOVE GSI1PK, GSI1SK",
    ConditionExpression: "#state = :verified",
    ExpressionAttributeNames: { "#state": "state" },
    ExpressionAttributeValues: { ":one": 1, ":verified": "verified", ":at": AT },
  },
});

const giveRef = (sha256: string) => ({
  Update: {
    TableName: TABLE,
    Key: { PK: `BLOB#${sha256}`, SK: "BLOB" },
    UpdateExpression: "ADD refs :minus, refsRevision :one SET releasedAt = :at, GSI1PK = :index, GSI1SK = :at",
    ConditionExpression: "attribute_exists(PK)",
    ExpressionAttributeValues: { ":minus": -1, ":one": 1, ":at": AT, ":index": "BLOBS#UNREFERENCED" },
  },
});

const firstCommitState = { holders: new Map(), attempts: 0 };

describe("a commit's references", () => {
  it("takes one reference per blob inside the commit's own transaction, conditioned on the blob being verified", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await artifacts.commitVersion(newVersion([sha(2), sha(1), sha(2)]), firstCommitState);

    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    const items = calls[0]!.args[0].input.TransactItems!;
    expect(items.filter((item) => item.Update?.Key?.PK?.toString().startsWith("BLOB#"))).toEqual([takeRef(sha(1)), takeRef(sha(2))]);
  });

  it("answers 422 (not a retry) when a blob is condemned or gone by the time of the write", async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(["None", "None", "None", "None", "None", "None", "ConditionalCheckFailed"]));
    const error = await artifacts.commitVersion(newVersion([sha(1)]), firstCommitState).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it("pins what does not fit into the commit in transactions of its own first, and gives them back when the commit fails", async () => {
    const blobs = Array.from({ length: 250 }, (_, i) => sha(i + 1));
    const written: unknown[][] = [];
    let call = 0;
    ddb.on(TransactWriteCommand).callsFake((input: { TransactItems: unknown[] }) => {
      written.push(input.TransactItems);
      call++;
      // The third transaction is the commit's: a blob in it is gone.
      if (call === 3)
        throw cancelled(input.TransactItems.map((_, i) => (i === input.TransactItems.length - 1 ? "ConditionalCheckFailed" : "None")));
      return {};
    });

    await expect(artifacts.commitVersion(newVersion(blobs), firstCommitState)).rejects.toThrow(UnprocessableError);

    const room = 100 - (8 + 3);
    const pinned = [...blobs].sort().slice(room);
    expect(written[0]).toEqual(pinned.slice(0, GC.pinChunk).map(pinRef));
    expect(written[1]).toEqual(pinned.slice(GC.pinChunk).map(pinRef));
    expect((written[2] as unknown[]).length).toBeLessThanOrEqual(100);
    // Given back: every pinned reference, once.
    const returned = written.slice(3).flat();
    expect(returned).toEqual(pinned.map(giveRef));
  });
});

describe("a delete's release", () => {
  const release: PendingRelease = { project: "vision", artifact: "mnist", index: 3, digest: "d".repeat(64), done: 1, at: AT };
  const releaseKey = { PK: "RELEASES", SK: "REL#vision#mnist#0000000003" };

  it("releases a chunk with its progress in one transaction, conditioned on the progress read", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await ledger.releaseRefs(release, 1, [sha(1), sha(2)], false, AT)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems).toEqual([
      {
        Update: {
          TableName: TABLE,
          Key: releaseKey,
          UpdateExpression: "SET done = :next",
          ConditionExpression: "done = :chunk",
          ExpressionAttributeValues: { ":chunk": 1, ":next": 2 },
        },
      },
      giveRef(sha(1)),
      giveRef(sha(2)),
    ]);
  });

  it("the last chunk deletes the pending release; a runner that lost the race releases nothing", async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(["ConditionalCheckFailed", "None"]));
    expect(await ledger.releaseRefs(release, 1, [sha(1)], true, AT)).toBe(false);
    const [progress] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(progress).toEqual({
      Delete: { TableName: TABLE, Key: releaseKey, ConditionExpression: "done = :chunk", ExpressionAttributeValues: { ":chunk": 1 } },
    });
  });

  it("leaves out a blob item that is gone and releases the rest", async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(["None", "ConditionalCheckFailed", "None"]))
      .resolves({});
    expect(await ledger.releaseRefs(release, 1, [sha(1), sha(2)], false, AT)).toBe(true);
    const retried = ddb.commandCalls(TransactWriteCommand)[1]!.args[0].input.TransactItems!;
    expect(retried).toHaveLength(2);
    expect(retried[1]).toEqual(giveRef(sha(2)));
  });
});

describe("the collector's writes", () => {
  const blob: BlobRefs = { sha256: sha(1), size: 5, state: "verified", refs: 0, tracked: true, refsRevision: 4, releasedAt: AT };

  it("queries the sparse unreferenced index up to the grace cut-off", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await ledger.unreferencedBlobs(AT, 10);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      IndexName: "GSI1",
      KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :before",
      ExpressionAttributeValues: { ":pk": "BLOBS#UNREFERENCED", ":before": AT },
      Limit: 10,
    });
  });

  it("condemns only an unreferenced tracked blob whose release is the one read, or a condemnation whose lease ran out", async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(conditionFailed());
    expect(await ledger.condemnBlob(blob, "gc-1", AT, "2025-01-01T00:05:00.000Z")).toBe(true);
    expect(await ledger.condemnBlob(blob, "gc-1", AT, "2025-01-01T00:05:00.000Z")).toBe(false);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe(
      "(#state = :verified AND tracked = :true AND refs = :zero AND releasedAt = :seen) OR (#state = :condemned AND condemnedUntil < :at)",
    );
    expect(input.ExpressionAttributeValues).toMatchObject({ ":seen": AT, ":zero": 0, ":id": "gc-1", ":at": AT });
  });

  it("deletes an item only under its own condemnation", async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    expect(await ledger.forgetBlob(sha(1), "gc-1")).toBe(false);
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { PK: `BLOB#${sha(1)}`, SK: "BLOB" },
      ConditionExpression: "#state = :condemned AND condemnId = :id",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":condemned": "condemned", ":id": "gc-1" },
    });
  });

  it("a recount writes over the revision it read only", async () => {
    ddb.on(UpdateCommand).resolves({});
    await ledger.setRefs(blob, 2, AT);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe("#state = :verified AND refsRevision = :seen");
    expect(input.ExpressionAttributeValues).toMatchObject({ ":seen": 4, ":next": 5, ":refs": 2 });
  });
});
