import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoIdentityStore } from "../../lambdas/adapters/dynamodb/identity-store.js";
import { ConflictError } from "../../lambdas/core/errors.js";

const TABLE = "mreg";
const AT = "2025-01-01T00:00:00.000Z";

const ddb = mockClient(DynamoDBDocumentClient);
let store: DynamoIdentityStore;

beforeEach(() => {
  ddb.reset();
  store = new DynamoIdentityStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), TABLE);
});

const conditionFailed = () => new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });

describe("users", () => {
  it("refuses to overwrite a user with 409", async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    await expect(
      store.createUser({ id: "admin", name: "Administrator", orgRole: "admin", status: "active", createdAt: AT }),
    ).rejects.toThrow(ConflictError);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.ConditionExpression).toBe("attribute_not_exists(PK)");
  });
});

describe("API keys", () => {
  const max = { id: "max", name: "max", orgRole: "member", status: "active", createdAt: AT } as const;
  const key = { id: "k1", userId: "max", keyHash: "f".repeat(64), createdAt: AT };
  const canceled = (codes: string[]) =>
    new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });

  it.each([
    [["ConditionalCheckFailed", "None"], "API key k1 already exists"],
    [["None", "ConditionalCheckFailed"], "user max changed while the key was created; retry"],
  ])("maps a cancelled key creation to a 409 by the failed item's name (%j)", async (codes, message) => {
    ddb.on(TransactWriteCommand).rejects(canceled(codes));
    ddb.on(GetCommand).resolves({ Item: { PK: "USER#max", SK: "USER", ...max, orgRole: "admin", keyHashes: new Set(["a".repeat(64)]) } });
    await expect(store.createApiKey(key, max)).rejects.toThrow(new ConflictError(message));
  });

  it("tells a user holding the most keys apart from one that changed, by reading the user after the condition failed", async () => {
    ddb.on(TransactWriteCommand).rejects(canceled(["None", "ConditionalCheckFailed"]));
    const held = new Set(Array.from({ length: 98 }, (_, i) => i.toString(16).padStart(64, "0")));
    ddb.on(GetCommand).resolves({ Item: { PK: "USER#max", SK: "USER", ...max, keyHashes: held } });
    await expect(store.createApiKey(key, max)).rejects.toThrow(/holds 98 API keys, the most one user may.*revoke one first/);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({ Key: { PK: "USER#max", SK: "USER" }, ConsistentRead: true });
  });

  it("reads a key with the role and status it carries, in one GetItem", async () => {
    ddb.on(GetCommand).resolves({
      Item: { PK: `APIKEY#${key.keyHash}`, SK: "APIKEY", entity: "apiKey", ...key, orgRole: "member", userStatus: "active" },
    });
    expect(await store.getApiKey(key.keyHash)).toEqual({ ...key, orgRole: "member", userStatus: "active" });
    expect(ddb.calls()).toHaveLength(1);
  });
});
