import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoArtifactStore } from "../../lambdas/adapters/dynamodb/artifact-store.js";
import { DynamoJobStore } from "../../lambdas/adapters/dynamodb/job-store.js";
import { ConflictError } from "../../lambdas/core/errors.js";
import type { JobRecord } from "../../lambdas/core/model.js";

const TABLE = "mreg";
const ddb = mockClient(DynamoDBDocumentClient);
const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
let jobs: DynamoJobStore;
let artifacts: DynamoArtifactStore;

beforeEach(() => {
  ddb.reset();
  jobs = new DynamoJobStore(client(), TABLE);
  artifacts = new DynamoArtifactStore(client(), TABLE);
});

const canceled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: "Transaction cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const job = (extra: Partial<JobRecord> = {}): JobRecord => ({
  id: "01J00000000000000000000000",
  kind: "artifact.delete",
  status: "queued",
  project: "vision",
  artifact: "mnist",
  force: false,
  createdBy: "root",
  orgRole: "admin",
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  progress: { total: 3, done: 0, failed: 0, skipped: 0 },
  cursor: {},
  skipped: [],
  errors: [],
  step: 0,
  ...extra,
});

describe("DynamoJobStore", () => {
  it("creates a job once, in the active index, with its event in the artifact's history", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await jobs.createJob(job());
    const [put, event] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(put!.Put).toMatchObject({
      ConditionExpression: "attribute_not_exists(PK)",
      Item: {
        PK: "JOB#01J00000000000000000000000",
        SK: "JOB",
        GSI1PK: "JOBS#ACTIVE",
        GSI1SK: "2025-01-01T00:00:00.000Z#01J00000000000000000000000",
      },
    });
    expect(event!.Put!.Item).toMatchObject({ PK: "HIST#ART#vision#mnist", event: { action: "job.created", job: job().id } });

    ddb.on(TransactWriteCommand).rejects(canceled("ConditionalCheckFailed", "None"));
    await expect(jobs.createJob(job())).rejects.toThrow(ConflictError);
  });

  it("claims only an active job nobody else holds, and answers undefined when the condition fails", async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { ...job({ status: "running", leaseHolder: "a", leaseUntil: "x" }) } });
    expect(await jobs.claimJob(job().id, "a", "2025-01-01T00:00:01.000Z", "2025-01-01T00:01:01.000Z")).toMatchObject({
      status: "running",
      leaseHolder: "a",
    });
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe(
      "attribute_exists(PK) AND #status IN (:queued, :running) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseHolder = :holder)",
    );
    expect(input.ExpressionAttributeValues).toMatchObject({ ":holder": "a", ":now": "2025-01-01T00:00:01.000Z" });

    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: "held", $metadata: {} }));
    expect(await jobs.claimJob(job().id, "b", "2025-01-01T00:00:01.000Z", "x")).toBeUndefined();
  });

  it("writes a step only over the step before it, under the writer's lease; a finished job leaves the index with its event", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await jobs.saveJob(job({ status: "running", step: 4, leaseHolder: "a" }), "a")).toBe(true);
    const [running] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(running!.Put).toMatchObject({
      ConditionExpression: "#step = :previous AND leaseHolder = :holder",
      ExpressionAttributeValues: { ":previous": 3, ":holder": "a" },
      Item: { GSI1PK: "JOBS#ACTIVE" },
    });

    expect(await jobs.saveJob(job({ status: "succeeded", step: 5 }), "a")).toBe(true);
    const finished = ddb.commandCalls(TransactWriteCommand)[1]!.args[0].input.TransactItems!;
    expect(finished[0]!.Put!.Item).not.toHaveProperty("GSI1PK");
    expect(finished[1]!.Put!.Item).toMatchObject({ event: { action: "job.finished", status: "succeeded" } });

    ddb.on(TransactWriteCommand).rejects(canceled("ConditionalCheckFailed"));
    expect(await jobs.saveJob(job({ status: "running", step: 6 }), "a")).toBe(false);
  });

  it("lists active jobs from the sparse index", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ id: "j1" }, { id: "j2" }] });
    expect(await jobs.activeJobs(25)).toEqual(["j1", "j2"]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({ IndexName: "GSI1", Limit: 25 });
  });
});

describe("DynamoArtifactStore deletes of whole artifacts and projects", () => {
  it("deletes an artifact only with no live version and the next number read, keeping that number", async () => {
    ddb.on(GetCommand).resolves({ Item: { PK: "PROJ#vision", SK: "ART#mnist", versionCount: 0, nextIndex: 5 } });
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(TransactWriteCommand).resolves({});
    expect(await artifacts.deleteArtifact({ project: "vision", artifact: "mnist", actor: "root", at: "t" })).toBe(true);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Delete).toMatchObject({
      ConditionExpression: "versionCount = :zero AND nextIndex = :next",
      ExpressionAttributeValues: { ":zero": 0, ":next": 5 },
    });
    expect(items[1]!.Put!.Item).toMatchObject({ PK: "ART#vision#mnist", SK: "RETIRED", nextIndex: 5 });
    expect(items[2]!.Update).toMatchObject({ Key: { PK: "PROJ#vision", SK: "PROJECT" }, ExpressionAttributeValues: { ":minus": -1 } });
    expect(items[3]!.Put!.Item).toMatchObject({ PK: "HIST#ART#vision#mnist", event: { action: "artifact.deleted" } });
  });

  it("keeps an artifact that still holds a version, and gives up after losing to commits", async () => {
    ddb.on(GetCommand).resolves({ Item: { PK: "PROJ#vision", SK: "ART#mnist", versionCount: 1, nextIndex: 5 } });
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await artifacts.deleteArtifact({ project: "vision", artifact: "mnist", actor: "root", at: "t" })).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);

    ddb.on(GetCommand).resolves({ Item: { PK: "PROJ#vision", SK: "ART#mnist", versionCount: 0, nextIndex: 5 } });
    ddb.on(TransactWriteCommand).rejects(canceled("ConditionalCheckFailed", "None", "None", "None"));
    expect(await artifacts.deleteArtifact({ project: "vision", artifact: "mnist", actor: "root", at: "t" })).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(3);
  });

  it("deletes a project item only while it counts no artifact", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await artifacts.deleteProject("vision", { actor: "root", at: "t" })).toBe(true);
    const [project] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(project!.Delete!.ConditionExpression).toBe(
      "attribute_exists(PK) AND (attribute_not_exists(artifactCount) OR artifactCount = :zero)",
    );
    ddb.on(TransactWriteCommand).rejects(canceled("ConditionalCheckFailed", "None"));
    expect(await artifacts.deleteProject("vision", { actor: "root", at: "t" })).toBe(false);
  });

  it("pages versions after an index and artifacts after a name, with consistent reads", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await artifacts.versionsAfter("vision", "mnist", 24, 25);
    await artifacts.artifactsAfter("vision", "a", 1);
    const [versions, names] = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(versions).toMatchObject({
      ExclusiveStartKey: { PK: "ART#vision#mnist", SK: "VER#0000000024" },
      ExpressionAttributeValues: { ":prefix": "VER#" },
      Limit: 25,
      ConsistentRead: true,
    });
    expect(names).toMatchObject({ ExclusiveStartKey: { PK: "PROJ#vision", SK: "ART#a" }, Limit: 1, ConsistentRead: true });
  });
});
