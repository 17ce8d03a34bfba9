import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { ensureProjectIndex } from "../../lambdas/adapters/dynamodb/project-index.js";

const TABLE = "mreg";
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));

beforeEach(() => ddb.reset());

describe("indexing projects created before the projects index", () => {
  it("counts each project's artifacts from one scan, writes one item per project, then records that it ran", async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [
          { project: "vision", createdAt: "2025-02-01T00:00:00.000Z", createdBy: "ana" },
          { project: "audio", createdAt: "2025-03-01T00:00:00.000Z", createdBy: "max" },
        ],
        LastEvaluatedKey: { PK: "x", SK: "y" },
      })
      .resolvesOnce({ Items: [{ project: "vision", createdAt: "2025-01-01T00:00:00.000Z", createdBy: "vera" }] });
    ddb.on(PutCommand).resolves({});

    expect(await ensureProjectIndex(client, TABLE)).toBe(2);

    expect(ddb.commandCalls(ScanCommand)[0]!.args[0].input).toMatchObject({
      FilterExpression: "#entity = :artifact",
      ExpressionAttributeValues: { ":artifact": "artifact" },
    });
    expect(ddb.commandCalls(ScanCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual({ PK: "x", SK: "y" });
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item)).toEqual([
      {
        PK: "PROJ#vision",
        SK: "PROJECT",
        entity: "project",
        GSI1PK: "PROJECTS",
        GSI1SK: "vision",
        name: "vision",
        artifactCount: 2,
        createdAt: "2025-01-01T00:00:00.000Z",
        createdBy: "vera",
      },
      {
        PK: "PROJ#audio",
        SK: "PROJECT",
        entity: "project",
        GSI1PK: "PROJECTS",
        GSI1SK: "audio",
        name: "audio",
        artifactCount: 1,
        createdAt: "2025-03-01T00:00:00.000Z",
        createdBy: "max",
      },
      expect.objectContaining({ PK: "MIGRATION", SK: "project-index", indexed: 2 }),
    ]);
  });

  it("does nothing once the marker is there", async () => {
    ddb.on(GetCommand).resolves({ Item: { PK: "MIGRATION", SK: "project-index" } });
    expect(await ensureProjectIndex(client, TABLE)).toBeUndefined();
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
