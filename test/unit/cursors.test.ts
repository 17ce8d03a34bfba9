import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { tableSecret } from "../../lambdas/adapters/dynamodb/server-secret.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";
import { ValidationError } from "../../lambdas/core/errors.js";

describe("CursorSealer", () => {
  const secret = new Uint8Array(32).fill(7);
  const sealer = new CursorSealer(async () => secret);

  it("opens what it sealed for the same list, and shows nothing of it", async () => {
    const payload = JSON.stringify({ PK: "REG#restricted-team", SK: "REGISTRY" });
    const cursor = await sealer.seal("registries", payload);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(cursor, "base64url").toString("latin1")).not.toContain("restricted");
    expect(await sealer.open("registries", cursor)).toBe(payload);
    // Two seals of one payload differ (a fresh IV each): equal cursors tell nothing either.
    expect(await sealer.seal("registries", payload)).not.toBe(cursor);
  });

  it("refuses a cursor sealed for another list, under another secret, or altered anywhere", async () => {
    const cursor = await sealer.seal("list-a", "after x");
    await expect(sealer.open("list-b", cursor)).rejects.toThrow(new ValidationError("cursor is not valid for this list"));
    await expect(new CursorSealer(async () => new Uint8Array(32).fill(8)).open("list-a", cursor)).rejects.toThrow(ValidationError);
    const bytes = Buffer.from(cursor, "base64url");
    for (let i = 0; i < bytes.length; i++) {
      const altered = Buffer.from(bytes);
      altered[i]! ^= 0x01;
      await expect(sealer.open("list-a", altered.toString("base64url")), `byte ${i}`).rejects.toThrow(ValidationError);
    }
  });

  it.each([[""], ["%%%"], ["a b"], ["AQ"], [Buffer.alloc(40).toString("base64url")], ["eyJQSyI6IlJFRyNhIn0"]])(
    "refuses %j as a cursor with a 400",
    async (cursor) => {
      await expect(sealer.open("list", cursor)).rejects.toThrow(ValidationError);
    },
  );

  it("reads its secret once, and again after a failed read", async () => {
    let reads = 0;
    const flaky = new CursorSealer(async () => {
      reads++;
      if (reads === 1) throw new Error("throttled");
      return secret;
    });
    await expect(flaky.seal("l", "p")).rejects.toThrow("throttled");
    const cursor = await flaky.seal("l", "p");
    expect(await flaky.open("l", cursor)).toBe("p");
    expect(reads).toBe(2);
    // The same secret elsewhere (another Lambda container) opens it.
    expect(await sealer.open("l", cursor)).toBe("p");
  });
});

describe("tableSecret", () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
  const key = { PK: "SECRET", SK: "cursor" };

  beforeEach(() => ddb.reset());

  it("answers the stored secret with one consistent read", async () => {
    const stored = new Uint8Array(32).fill(3);
    ddb.on(GetCommand).resolves({ Item: { ...key, secret: stored } });
    expect(await tableSecret(client, "mreg", "cursor")()).toEqual(stored);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({ TableName: "mreg", Key: key, ConsistentRead: true });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("generates 32 random bytes once, under a condition that keeps the first writer's", async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const secret = await tableSecret(client, "mreg", "cursor")();
    expect(secret).toHaveLength(32);
    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      TableName: "mreg",
      Item: { ...key, entity: "secret", secret },
      ConditionExpression: "attribute_not_exists(PK)",
    });
  });

  it("reads the winner's secret when another writer generated one first", async () => {
    const winner = new Uint8Array(32).fill(9);
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({ Item: { ...key, secret: winner } });
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: "exists", $metadata: {} }));
    expect(await tableSecret(client, "mreg", "cursor")()).toEqual(winner);
  });
});
