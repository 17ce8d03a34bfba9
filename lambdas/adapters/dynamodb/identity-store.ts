import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { MAX_API_KEYS_PER_USER, type ApiKeyRecord, type Page, type PageRequest, type UserEdit, type UserRecord } from "../../core/model.js";
import type { Edit, Edited, IdentityStore } from "../../core/ports.js";
import { DynamoTable, tagged, type Item } from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * Users and their API keys. A key item carries its user's org role and status, so that
 * authentication is one read; conditions keep the copies in step:
 * - creating a key copies the role and status it read and adds the key's hash to the user's
 *   `keyHashes`, in one transaction that holds only while the user still has them and
 *   holds fewer than MAX_API_KEYS_PER_USER keys;
 * - revoking a key takes its hash out of `keyHashes` (a revoked key never authenticates, so
 *   its copy needs no care);
 * - a change of a user's role or status (`updateUser`) writes the user, every key its
 *   `keyHashes` names and the change's audit event in one transaction (at most 100 items:
 *   98 keys), conditioned on the role, status and `keyHashes` it read.
 * Of a key creation and such a change that race, one loses its condition and is retried, so
 * no key keeps a role its user no longer has, and the next request with any of its keys sees
 * the change (nothing caches a key). Keys stored before the copy existed carry no role and
 * are not in `keyHashes`: authentication reads their user instead, so a change reaches them
 * as well.
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
            // The cap keeps a later change of them within one transaction.
            ConditionExpression: `orgRole = :role AND ${status} AND (attribute_not_exists(keyHashes) OR size(keyHashes) < :max)`,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":hash": new Set([key.keyHash]),
              ":role": user.orgRole,
              ":status": user.status,
              ":max": MAX_API_KEYS_PER_USER,
            },
          },
        }),
      ],
      {
        key: (cause) => new ConflictError(`API key ${key.id} already exists`, { cause }),
        user: (cause) => new UserConditionFailed(cause),
      },
    ).catch(async (error: unknown) => {
      if (!(error instanceof UserConditionFailed)) throw error;
      const current = await this.get(keys.user(user.id), true);
      const held = (current?.keyHashes as Set<string> | undefined)?.size ?? 0;
      if (current && held >= MAX_API_KEYS_PER_USER) {
        throw new ConflictError(
          `user ${user.id} holds ${held} API keys, the most one user may (revoked keys do not count): revoke one first`,
          { cause: error },
        );
      }
      throw new ConflictError(`user ${user.id} changed while the key was created; retry`, { cause: error });
    });
  }

  async updateUser(id: string, change: { actor: string; at: string }, edit: Edit<UserRecord, UserEdit>): Promise<Edited<UserRecord>> {
    return this.withTransactionRetries(async () => {
      const item = await this.get(keys.user(id), true);
      if (!item) throw new NotFoundError(`user ${id} does not exist`);
      const before = toUser(item);
      const next = edit(before);
      const after: UserRecord = { ...before, orgRole: next.orgRole, status: next.status };
      if (next.orgRole === before.orgRole && next.status === before.status) return { before, after: before };
      const hashes = [...((item.keyHashes as Set<string> | undefined) ?? [])];
      // Written before statuses existed: the user is active, and has no status to condition on.
      const status = item.status === undefined ? "attribute_not_exists(#status)" : "#status = :readStatus";
      await this.transact([
        tagged("user", {
          Update: {
            TableName: this.tableName,
            Key: keys.user(id),
            UpdateExpression: "SET orgRole = :role, #status = :status",
            // As read: a key created or revoked meanwhile changes keyHashes, so no key is left with the old role.
            ConditionExpression: [
              "orgRole = :readRole",
              status,
              hashes.length === 0
                ? "attribute_not_exists(keyHashes)"
                : `size(keyHashes) = :keyCount AND ${hashes.map((_, i) => `contains(keyHashes, :h${i})`).join(" AND ")}`,
            ].join(" AND "),
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":role": next.orgRole,
              ":status": next.status,
              ":readRole": before.orgRole,
              ...(item.status === undefined ? {} : { ":readStatus": item.status }),
              ...(hashes.length === 0 ? {} : { ":keyCount": hashes.length }),
              ...Object.fromEntries(hashes.map((hash, i) => [`:h${i}`, hash])),
            },
          },
        }),
        ...hashes.map((hash) =>
          tagged(`key:${hash.slice(0, 12)}`, {
            Update: {
              TableName: this.tableName,
              Key: keys.apiKey(hash),
              UpdateExpression: "SET orgRole = :role, userStatus = :status",
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeValues: { ":role": next.orgRole, ":status": next.status },
            },
          }),
        ),
        this.eventItem(keys.userHistory(id), {
          action: "user.updated",
          actor: change.actor,
          at: change.at,
          user: id,
          before: { role: before.orgRole, status: before.status },
          after: { role: next.orgRole, status: next.status },
          keys: hashes.length,
        }),
      ]);
      return { before, after };
    });
  }

  async listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    if (userId !== undefined) return this.queryIndexPage("GSI1", keys.apiKeysOfIndex(userId), page, toApiKey);
    return this.queryIndexPage("GSI2", keys.apiKeysIndex, page, toApiKey);
  }

  async revokeApiKey(key: { keyHash: string; userId: string }, at: string): Promise<void> {
    const revoke = () =>
      this.transact(
        [
          tagged("key", {
            Update: {
              TableName: this.tableName,
              Key: keys.apiKey(key.keyHash),
              // The first revocation's time stays.
              UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :at)",
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeValues: { ":at": at },
            },
          }),
          // No longer counted, nor rewritten by a change of the user (it never authenticates again).
          tagged("user", {
            Update: {
              TableName: this.tableName,
              Key: keys.user(key.userId),
              UpdateExpression: "DELETE keyHashes :hash",
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeValues: { ":hash": new Set([key.keyHash]) },
            },
          }),
        ],
        {
          key: (cause) => new NotFoundError("no such API key", { cause }),
          user: (cause) => new NotFoundError(`user ${key.userId} does not exist`, { cause }),
        },
      );
    await this.withTransactionRetries(revoke);
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

/** The user's condition on a key creation failed: changed meanwhile, or holding the most keys. */
class UserConditionFailed extends Error {
  constructor(cause: unknown) {
    super("the user's condition failed", { cause });
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
