import { randomBytes } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SecretSource } from "../../core/cursors.js";
import { keys } from "./keys.js";

const SECRET_BYTES = 32;

/**
 * A secret the deployment generates for itself, kept in its own table: the first function
 * (or local server) that needs it writes 32 random bytes under a condition, everyone after
 * reads those. It lives with the data it protects (the same backups, the same per-data-dir
 * copy in local mode) and costs no other service, grant or cold-start call; anyone who can
 * read it can read the table directly anyway, which is all it hides.
 */
export function tableSecret(client: DynamoDBDocumentClient, tableName: string, name: string): SecretSource {
  const key = keys.serverSecret(name);
  const read = async (): Promise<Uint8Array | undefined> => {
    const result = await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
    const secret = result.Item?.secret;
    return secret instanceof Uint8Array && secret.length === SECRET_BYTES ? secret : undefined;
  };
  return async () => {
    const stored = await read();
    if (stored) return stored;
    const secret = randomBytes(SECRET_BYTES);
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...key, entity: "secret", secret, createdAt: new Date().toISOString() },
          // Generated once: a concurrent first writer wins, the other reads what it wrote.
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return secret;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const won = await read();
      if (!won) throw new Error(`the table's ${name} secret exists but is not ${SECRET_BYTES} bytes`, { cause: error });
      return won;
    }
  };
}
