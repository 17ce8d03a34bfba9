import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoBlobLedger } from "../../lambdas/adapters/dynamodb/blob-ledger.js";
import { S3BlobStore } from "../../lambdas/adapters/s3/blob-store.js";
import type { Services } from "../../lambdas/composition.js";
import { loadConfig } from "../../lambdas/config.js";
import { createGarbageCollector } from "../../lambdas/handlers/garbage-collector.js";
import { fakeDeps } from "../support/fakes.js";
import { testObservability } from "../support/observability.js";

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const SHA = "c".repeat(64);
const RELEASED = "2025-01-01T00:00:00.000Z";

let services: Services;
let observability: ReturnType<typeof testObservability>;

beforeEach(() => {
  ddb.reset();
  s3.reset();
  const deps = fakeDeps();
  deps.clock.advance(48 * 3600 * 1000);
  services = {
    ...deps,
    config: loadConfig({ MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs" }),
    ledger: new DynamoBlobLedger(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), "mreg"),
    blobs: new S3BlobStore(new S3Client({ region: "us-east-1" }), { bucket: "mreg-blobs", urlExpirySeconds: 900, signChecksums: true }),
  };
  observability = testObservability();
});

describe("the scheduled garbage collector", () => {
  it("condemns an unreferenced blob past the grace, deletes its object, then its item, and counts it", async () => {
    ddb.on(QueryCommand, { KeyConditionExpression: "PK = :pk" }).resolves({ Items: [] });
    ddb.on(QueryCommand, { IndexName: "GSI1" }).resolves({
      Items: [{ sha256: SHA, size: 123, state: "verified", refs: 0, tracked: true, refsRevision: 2, releasedAt: RELEASED }],
    });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});

    const report = await createGarbageCollector(services, observability)();

    expect(report).toMatchObject({ deleted: 1, deletedBytes: 123, skipped: 0 });
    // The cut-off is the grace period (24 h by default) before now.
    expect(ddb.commandCalls(QueryCommand, { IndexName: "GSI1" })[0]!.args[0].input.ExpressionAttributeValues).toEqual({
      ":pk": "BLOBS#UNREFERENCED",
      ":before": "2025-01-02T00:00:00.000Z",
    });
    const condemn = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    const id = condemn.ExpressionAttributeValues![":id"];
    expect(condemn.ExpressionAttributeValues).toMatchObject({ ":seen": RELEASED });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: "mreg-blobs", Key: `blobs/${SHA}` });
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input.ExpressionAttributeValues).toEqual({ ":condemned": "condemned", ":id": id });
    expect(observability.metrics.calls).toContainEqual(["blobsCollected", 1, 123]);
    expect(observability.metrics.flushes).toBe(1);
  });

  it("deletes no object when the condemnation is refused (a commit referenced the blob meanwhile)", async () => {
    ddb.on(QueryCommand, { KeyConditionExpression: "PK = :pk" }).resolves({ Items: [] });
    ddb.on(QueryCommand, { IndexName: "GSI1" }).resolves({
      Items: [{ sha256: SHA, size: 1, state: "verified", refs: 0, tracked: true, refsRevision: 2, releasedAt: RELEASED }],
    });
    const { ConditionalCheckFailedException } = await import("@aws-sdk/client-dynamodb");
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: "no", $metadata: {} }));

    const report = await createGarbageCollector(services, observability)();

    expect(report).toMatchObject({ deleted: 0, skipped: 1 });
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
  });
});
