import { DynamoDBClient, TransactionCanceledException, type CancellationReason } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoArtifactStore } from "../../lambdas/adapters/dynamodb/artifact-store.js";
import { commitVersion, listArtifactHistory, listVersions } from "../../lambdas/core/artifact-versions.js";
import type { Principal } from "../../lambdas/core/model.js";
import type { NewVersion } from "../../lambdas/core/ports.js";
import { errorResponse } from "../../lambdas/http/errors.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

/**
 * Faults in the middle of a commit, as Lambda meets them: throttling, cancelled transactions,
 * network errors around the one write, a function timing out before or after it. What must
 * hold: the version exists entirely or not at all, and doing the same commit again gives the
 * same version.
 */

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";
const DIGEST = "d".repeat(64);
const ddb = mockClient(DynamoDBDocumentClient);
let store: DynamoArtifactStore;

const newVersion = (): NewVersion => ({
  project: "vision",
  artifact: "mnist",
  type: "model",
  digest: DIGEST,
  metadata: {},
  size: 1,
  fileCount: 1,
  blobs: [],
  aliases: ["best"],
  actor: "alice",
  at: AT,
});

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(", ")}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code): CancellationReason => ({ Code })),
  });

const digestItem = { PK: "ART#vision#mnist", SK: `DIG#${DIGEST}`, entity: "digest", index: 0 };
const artifactItem = {
  PK: "PROJ#vision",
  SK: "ART#mnist",
  entity: "artifact",
  project: "vision",
  name: "mnist",
  type: "model",
  createdAt: AT,
  createdBy: "alice",
  nextIndex: 1,
  latestIndex: 0,
  versionCount: 1,
};

async function readAndCommit() {
  const version = newVersion();
  const state = await store.readCommitState(version.project, version.artifact, version.digest, version.aliases);
  return store.commitVersion(version, state);
}

/** Every write of a commit is in its one transaction: no other write command is ever sent. */
function expectNoWritesOutsideTheTransaction() {
  expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
}

describe("the commit's transaction under faults (DynamoDB adapter)", () => {
  beforeEach(() => {
    ddb.reset();
    store = new DynamoArtifactStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE);
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
  });

  it("writes the artifact, its project's count, the version, its digest, head, aliases and event in one TransactWriteItems and nothing else", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await readAndCommit()).toMatchObject({ created: true });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    const kinds = items.map(
      (item) => (item.Put?.Item?.entity as string | undefined) ?? (item.Update?.Key?.SK === "PROJECT" ? "project" : "head"),
    );
    expect(kinds).toEqual(["artifact", "project", "version", "digest", "alias", "alias", "event", "event"]);
    expectNoWritesOutsideTheTransaction();
  });

  it.each([
    ["ThrottlingException", "Rate of requests exceeds the allowed throughput."],
    ["ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded."],
  ])("a transaction refused with %s writes nothing and reaches the caller as 429", async (name, message) => {
    ddb.on(TransactWriteCommand).rejects(awsError(name, message));

    const error = await readAndCommit().catch((e: unknown) => e);

    expect(errorResponse(error, "r").status).toBe(429);
    expect(errorResponse(error, "r").body.error.code).toBe("too_many_requests");
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expectNoWritesOutsideTheTransaction();
  });

  it.each([
    ["a conflicting transaction", ["None", "TransactionConflict", "None", "None", "None", "None", "None"]],
    ["throttling of one item", ["None", "None", "ThrottlingError", "None", "None", "None", "None"]],
    ["a concurrent commit of other content", ["ConditionalCheckFailed", "ConditionalCheckFailed", "None", "None", "None", "None", "None"]],
  ])("a transaction cancelled by %s is decided again on the state read again", async (_, codes) => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(...codes))
      .resolves({});

    const lost = await readAndCommit();

    expect(lost).toMatchObject({ created: false, current: { attempts: 1 } });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expectNoWritesOutsideTheTransaction();
  });

  it("a cancellation the table would repeat on every attempt (ValidationError) is not retried", async () => {
    const refusal = cancelled("None", "ValidationError", "None", "None", "None", "None", "None");
    ddb.on(TransactWriteCommand).rejects(refusal);

    await expect(readAndCommit()).rejects.toBe(refusal);

    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(1);
  });

  it("a network error on the transaction reaches the caller unretried; whether it applied, the next read tells", async () => {
    ddb.on(TransactWriteCommand).rejects(Object.assign(new Error("socket hang up"), { code: "ECONNRESET", $metadata: {} }));

    const error = await readAndCommit().catch((e: unknown) => e);

    expect((error as Error).message).toBe("socket hang up");
    expect(errorResponse(error, "r").status).toBe(500);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expectNoWritesOutsideTheTransaction();
  });

  it("the SDK's own retry of a transaction that had applied (its answer lost) finds the same version, not a second one", async () => {
    // Every conditional item fails: the head's counter moved on, the version and digest exist.
    ddb.on(TransactWriteCommand).rejects(cancelled("ConditionalCheckFailed", "ConditionalCheckFailed", "ConditionalCheckFailed", "None"));
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] } })
      .resolves({ Responses: { [TABLE]: [artifactItem, digestItem] } });

    const outcome = await readAndCommit();

    expect(outcome).toMatchObject({ created: false, current: { existing: 0 } });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});

describe("a commit cut short (use case over in-memory stores)", () => {
  const alice: Principal = { userId: "alice", orgRole: "member" };
  const ref = { project: "vision", artifact: "mnist" };
  let deps: FakeDeps;
  let files: { path: string; size: number; sha256: string }[];

  beforeEach(() => {
    deps = fakeDeps();
    files = [
      { path: "a.bin", size: 1, sha256: sha256Hex("a") },
      { path: "b.bin", size: 1, sha256: sha256Hex("b") },
    ];
    deps.blobs.stage(sha256Hex("a"), "a");
    deps.blobs.stage(sha256Hex("b"), "b");
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const commit = () => commitVersion(deps, alice, ref, { type: "model", files, aliases: ["best"] });
  const versions = async () => (await listVersions(deps, ref, { limit: 10 })).items.map((v) => v.version);
  const created = async () => (await listArtifactHistory(deps, ref, { limit: 10 })).items.filter((e) => e.action === "version.created");

  it("a Lambda timeout before the transaction leaves no version and no event; the retry creates it once", async () => {
    const timeout = new Error("Task timed out after 29.00 seconds");
    vi.spyOn(deps.artifacts, "commitVersion").mockRejectedValueOnce(timeout);

    await expect(commit()).rejects.toBe(timeout);
    expect(await deps.artifacts.getArtifact("vision", "mnist")).toBeUndefined();

    expect(await commit()).toMatchObject({ version: "v0", created: true, aliases: ["best", "latest"] });
    expect(await commit()).toMatchObject({ version: "v0", created: false });
    expect(await versions()).toEqual(["v0"]);
    expect(await created()).toHaveLength(1);
  });

  it("a Lambda timeout after the transaction (the answer lost): the retry answers the same version", async () => {
    const original = deps.artifacts.commitVersion.bind(deps.artifacts);
    vi.spyOn(deps.artifacts, "commitVersion").mockImplementationOnce(async (version, state) => {
      await original(version, state);
      throw new Error("Task timed out after 29.00 seconds");
    });

    await expect(commit()).rejects.toThrow("Task timed out");

    const again = await commit();
    expect(again).toMatchObject({ version: "v0", index: 0, created: false, aliases: ["best", "latest"] });
    expect(await versions()).toEqual(["v0"]);
    expect(await created()).toHaveLength(1);
  });

  it("a blob store failure before the transaction writes no version; the blobs verified so far stay verified", async () => {
    vi.spyOn(deps.blobs, "putManifest").mockRejectedValueOnce(
      Object.assign(new Error("We encountered an internal error"), { name: "InternalError" }),
    );

    await expect(commit()).rejects.toThrow("internal error");
    expect(await deps.artifacts.getArtifact("vision", "mnist")).toBeUndefined();
    expect((await deps.ledger.verifiedBlobs(files.map((f) => f.sha256))).size).toBe(2);

    expect(await commit()).toMatchObject({ version: "v0", created: true });
  });
});
