import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import type { ApiKeyRecord, Page, PageRequest, UserRecord } from "../../core/model.js";
import type { IdentityStore } from "../../core/ports.js";
import { DynamoTable, tagged, type Item } from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * Users and their API keys. A key item carries its user's org role and status, so that
 * authentication is one read; conditions keep the copies in step:
 * - creating a key copies the role and status it read and adds the key's hash to the user's
 *   `keyHashes`, in one transaction that holds only while the user still has them;
 * - a change of a user's role or status (none exists yet) is to write the user and every key
 *   its `keyHashes` names in one transaction (at most 100 items: 99 keys), conditioned on the
 *   `keyHashes` it read.
 * Of a key creation and such a change that race, one loses its condition and is retried, so
 * no key keeps a role its user no longer has. Keys stored before the copy existed carry no
 * role: authentication reads their user instead.
 */
export class DynamoIdentityStore extends DynamoTable implements IdentityStore {
  async getUser(id: string): Promise<UserRecord | undefined> {
    const item = await this.get(keys.user(id), false);
    return item && toUser(item);
  }

  async createUser(user: UserRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.user(user.id), entity: "user", GSI1PK: keys.usersIndex, GSI1SK: user.id, ...user },
          // A user id is taken once.
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConflictError(`user ${user.id} already exists`, { cause: error });
      }
      throw error;
    }
  }

  async listUsers(page: PageRequest): Promise<Page<UserRecord>> {
    return this.queryIndexPage("GSI1", keys.usersIndex, page, toUser);
  }

  async getApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.get(keys.apiKey(keyHash), false);
    return item && toApiKey(item);
  }

  async getApiKeyById(id: string): Promise<ApiKeyRecord | undefined> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: "GSI2",
        KeyConditionExpression: "GSI2PK = :pk AND GSI2SK = :id",
        ExpressionAttributeValues: { ":pk": keys.apiKeysIndex, ":id": id },
        Limit: 1,
      }),
    );
    const item = result.Items?.[0];
    return item && toApiKey(item);
  }

  async createApiKey(key: ApiKeyRecord, user: UserRecord): Promise<void> {
    const status =
      // Users stored before statuses existed are active.
      user.status === "active" ? "(attribute_not_exists(#status) OR #status = :status)" : "#status = :status";
    await this.transact(
      [
        tagged("key", {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.apiKey(key.keyHash),
              entity: "apiKey",
              GSI1PK: keys.apiKeysOfIndex(key.userId),
              GSI1SK: key.id,
              GSI2PK: keys.apiKeysIndex,
              GSI2SK: key.id,
              ...key,
              orgRole: user.orgRole,
              userStatus: user.status,
            },
            // A key hash is stored once.
            ConditionExpression: "attribute_not_exists(PK)",
          },
        }),
        tagged("user", {
          Update: {
            TableName: this.tableName,
            Key: keys.user(user.id),
            UpdateExpression: "ADD keyHashes :hash",
            // The role and status copied onto the key are the user's: a change meanwhile makes this lose.
            ConditionExpression: `orgRole = :role AND ${status}`,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":hash": new Set([key.keyHash]), ":role": user.orgRole, ":status": user.status },
          },
        }),
      ],
      {
        key: (cause) => new ConflictError(`API key ${key.id} already exists`, { cause }),
        user: (cause) => new ConflictError(`user ${user.id} changed while the key was created; retry`, { cause }),
      },
    );
  }

  async listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    if (userId !== undefined) return this.queryIndexPage("GSI1", keys.apiKeysOfIndex(userId), page, toApiKey);
    return this.queryIndexPage("GSI2", keys.apiKeysIndex, page, toApiKey);
  }

  async revokeApiKey(keyHash: string, at: string): Promise<void> {
    // The first revocation's time stays.
    await this.updateKey(keyHash, "SET revokedAt = if_not_exists(revokedAt, :at)", at);
  }

  async touchApiKey(keyHash: string, at: string): Promise<void> {
    await this.updateKey(keyHash, "SET lastUsedAt = :at", at);
  }

  /** Updates an existing key only: an update never creates a key item. */
  private async updateKey(keyHash: string, expression: string, at: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.apiKey(keyHash),
          UpdateExpression: expression,
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":at": at },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new NotFoundError("no such API key", { cause: error });
      throw error;
    }
  }
}

function toUser(item: Item): UserRecord {
  return {
    id: item.id as string,
    name: item.name as string,
    orgRole: item.orgRole as UserRecord["orgRole"],
    status: (item.status as UserRecord["status"] | undefined) ?? "active",
    createdAt: item.createdAt as string,
  };
}

/** Only the fields of the record: the item's key holds the hash, never the secret. */
function toApiKey(item: Item): ApiKeyRecord {
  return {
    id: item.id as string,
    userId: item.userId as string,
    keyHash: item.keyHash as string,
    createdAt: item.createdAt as string,
    expiresAt: item.expiresAt as string | undefined,
    revokedAt: item.revokedAt as string | undefined,
    lastUsedAt: item.lastUsedAt as string | undefined,
    ...(item.orgRole === undefined ? {} : { orgRole: item.orgRole as ApiKeyRecord["orgRole"] }),
    ...(item.userStatus === undefined ? {} : { userStatus: item.userStatus as ApiKeyRecord["userStatus"] }),
  };
}
