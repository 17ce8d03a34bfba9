import { randomUUID } from "node:crypto";
import { TransactionCanceledException, ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError, ValidationError } from "../../core/errors.js";
import {
  LATEST_ALIAS,
  versionLabel,
  type ApiKeyRecord,
  type ArtifactRecord,
  type AuditEvent,
  type MultipartUpload,
  type Page,
  type PageRequest,
  type UserRecord,
  type VersionRecord,
} from "../../core/model.js";
import type {
  AliasChange,
  AliasMove,
  BlobClaim,
  CommitOutcome,
  MetadataStore,
  NewVersion,
} from "../../core/ports.js";
import { keys } from "./keys.js";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
type Item = Record<string, unknown>;

/** How long a blob verification may hold its claim before another upload may take it over. */
const CLAIM_STALE_MS = 15 * 60 * 1000;
const UPLOAD_TTL_SECONDS = 7 * 24 * 3600;
const MAX_TRANSACTION_ATTEMPTS = 40;

export class DynamoMetadataStore implements MetadataStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getArtifact(project: string, artifact: string): Promise<ArtifactRecord | undefined> {
    const item = await this.get(keys.artifact(project, artifact), true);
    return item && toArtifact(item);
  }

  async listArtifacts(project: string, page: PageRequest): Promise<Page<ArtifactRecord>> {
    const { PK, prefix } = keys.artifactsOf(project);
    return this.queryPage(
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": prefix },
      },
      PK,
      page,
      toArtifact,
    );
  }

  async getVersion(project: string, artifact: string, index: number): Promise<VersionRecord | undefined> {
    const item = await this.get(keys.version(project, artifact, index), false);
    return item && toVersion(item);
  }

  async getAliasTarget(project: string, artifact: string, alias: string): Promise<number | undefined> {
    const item = await this.get(keys.alias(project, artifact, alias), false);
    return item?.index as number | undefined;
  }

  async listAliases(project: string, artifact: string): Promise<Record<string, number>> {
    const PK = keys.artifactPartition(project, artifact);
    const aliases: Record<string, number> = {};
    let start: Item | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": PK, ":prefix": keys.aliasPrefix },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) aliases[item.alias as string] = item.index as number;
      start = result.LastEvaluatedKey;
    } while (start);
    return aliases;
  }

  async findVersionByDigest(project: string, artifact: string, digest: string): Promise<number | undefined> {
    const item = await this.get(keys.digest(project, artifact, digest), true);
    return item?.index as number | undefined;
  }

  async listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>> {
    const PK = keys.artifactPartition(project, artifact);
    return this.queryPage(
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": keys.versionPrefix },
        ScanIndexForward: false,
      },
      PK,
      page,
      toVersion,
    );
  }

  async commitVersion(version: NewVersion): Promise<CommitOutcome> {
    const { project, artifact: name } = version;
    return this.withTransactionRetries(async () => {
      const [artifact, digest] = await Promise.all([
        this.get(keys.artifact(project, name), true),
        this.get(keys.digest(project, name, version.digest), true),
      ]);
      if (digest) return { created: false, index: digest.index as number };
      if (artifact && artifact.type !== version.type) {
        throw new ConflictError(`${project}/${name} holds ${String(artifact.type)} versions, not ${version.type}`);
      }
      const index = (artifact?.nextIndex as number | undefined) ?? 0;
      const aliases = [LATEST_ALIAS, ...version.aliases.filter((a) => a !== LATEST_ALIAS)];
      const holders = await this.aliasHolders(project, name, aliases);
      const record: VersionRecord = {
        project,
        artifact: name,
        index,
        digest: version.digest,
        type: version.type,
        aliases,
        metadata: version.metadata,
        description: version.description,
        createdAt: version.at,
        createdBy: version.actor,
        size: version.size,
        fileCount: version.fileCount,
        runId: version.runId,
      };
      const items: TransactItem[] = [
        artifact
          ? {
              Update: {
                TableName: this.tableName,
                Key: keys.artifact(project, name),
                UpdateExpression:
                  "SET nextIndex = :next, latestIndex = :index, versionCount = versionCount + :one",
                ConditionExpression: "nextIndex = :index AND #type = :type",
                ExpressionAttributeNames: { "#type": "type" },
                ExpressionAttributeValues: { ":next": index + 1, ":index": index, ":one": 1, ":type": version.type },
              },
            }
          : {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.artifact(project, name),
                  entity: "artifact",
                  project,
                  name,
                  type: version.type,
                  createdAt: version.at,
                  createdBy: version.actor,
                  nextIndex: index + 1,
                  latestIndex: index,
                  versionCount: 1,
                },
                ConditionExpression: "attribute_not_exists(PK)",
              },
            },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.version(project, name, index), ...versionItem(record) },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.digest(project, name, version.digest), entity: "digest", index },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        ...this.aliasMoveItems(project, name, index, holders, aliases, { newVersion: true }),
        this.eventItem(keys.artifactHistory(project, name), {
          action: "version.created",
          actor: version.actor,
          at: version.at,
          version: versionLabel(index),
          digest: version.digest,
          aliases,
        }),
        ...this.aliasEvents(project, name, version, index, holders, version.aliases),
      ];
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return { created: true, version: record };
    });
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    const { project, artifact } = change;
    return this.withTransactionRetries(async () => {
      if (!(await this.get(keys.version(project, artifact, index), true))) {
        throw new NotFoundError(`${project}/${artifact} has no version ${versionLabel(index)}`);
      }
      const holders = await this.aliasHolders(project, artifact, aliases);
      const moving = aliases.filter((alias) => holders.get(alias) !== index);
      if (moving.length === 0) return [];
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            ...this.aliasMoveItems(project, artifact, index, holders, moving, { newVersion: false }),
            ...this.aliasEvents(project, artifact, change, index, holders, moving),
          ],
        }),
      );
      return moving.map((alias) => ({ alias, from: holders.get(alias), to: index }));
    });
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    const { project, artifact } = change;
    return this.withTransactionRetries(async () => {
      const item = await this.get(keys.alias(project, artifact, alias), true);
      if (!item) return undefined;
      const from = item.index as number;
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: keys.alias(project, artifact, alias),
                ConditionExpression: "#index = :from",
                ExpressionAttributeNames: { "#index": "index" },
                ExpressionAttributeValues: { ":from": from },
              },
            },
            this.dropAliasesItem(project, artifact, from, [alias]),
            this.eventItem(keys.artifactHistory(project, artifact), {
              action: "alias.removed",
              actor: change.actor,
              at: change.at,
              alias,
              from: versionLabel(from),
            }),
          ],
        }),
      );
      return from;
    });
  }

  async deleteVersion(change: AliasChange, index: number): Promise<void> {
    const { project, artifact } = change;
    await this.withTransactionRetries(async () => {
      const item = await this.get(keys.version(project, artifact, index), true);
      if (!item) throw new NotFoundError(`${project}/${artifact} has no version ${versionLabel(index)}`);
      const version = toVersion(item);
      const heldLatest = version.aliases.includes(LATEST_ALIAS);
      const previous = heldLatest ? await this.previousVersion(project, artifact, index) : undefined;
      const condition = {
        ConditionExpression: "#index = :index",
        ExpressionAttributeNames: { "#index": "index" },
        ExpressionAttributeValues: { ":index": index },
      };
      const aliasItems: TransactItem[] = version.aliases.map((alias) =>
        alias === LATEST_ALIAS && previous !== undefined
          ? {
              Put: {
                TableName: this.tableName,
                Item: { ...keys.alias(project, artifact, alias), entity: "alias", alias, index: previous },
                ...condition,
              },
            }
          : { Delete: { TableName: this.tableName, Key: keys.alias(project, artifact, alias), ...condition } },
      );
      const items: TransactItem[] = [
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.version(project, artifact, index),
            ConditionExpression: "attribute_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.tombstone(project, artifact, index),
              entity: "tombstone",
              index,
              digest: version.digest,
              deletedAt: change.at,
              deletedBy: change.actor,
            },
          },
        },
        { Delete: { TableName: this.tableName, Key: keys.digest(project, artifact, version.digest) } },
        ...aliasItems,
        {
          Update: {
            TableName: this.tableName,
            Key: keys.artifact(project, artifact),
            UpdateExpression: heldLatest
              ? previous === undefined
                ? "SET versionCount = versionCount - :one REMOVE latestIndex"
                : "SET versionCount = versionCount - :one, latestIndex = :previous"
              : "SET versionCount = versionCount - :one",
            ExpressionAttributeValues: {
              ":one": 1,
              ...(heldLatest && previous !== undefined ? { ":previous": previous } : {}),
            },
          },
        },
        this.eventItem(keys.artifactHistory(project, artifact), {
          action: "version.deleted",
          actor: change.actor,
          at: change.at,
          version: versionLabel(index),
          digest: version.digest,
          aliases: version.aliases,
        }),
      ];
      if (previous !== undefined) {
        items.push({
          Update: {
            TableName: this.tableName,
            Key: keys.version(project, artifact, previous),
            UpdateExpression: "ADD aliases :aliases",
            ConditionExpression: "attribute_exists(PK)",
            ExpressionAttributeValues: { ":aliases": new Set([LATEST_ALIAS]) },
          },
        });
      }
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    });
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    const PK = keys.artifactHistory(project, artifact);
    return this.queryPage(
      {
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": PK },
        ScanIndexForward: false,
      },
      PK,
      page,
      toEvent,
    );
  }

  async verifiedBlobs(sha256s: string[]): Promise<Map<string, number>> {
    const verified = new Map<string, number>();
    for (let i = 0; i < sha256s.length; i += 100) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> | undefined = {
        [this.tableName]: { Keys: sha256s.slice(i, i + 100).map(keys.blob), ConsistentRead: true },
      };
      for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        const result = await this.client.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of result.Responses?.[this.tableName] ?? []) {
          if (item.state === "verified") verified.set(item.sha256 as string, item.size as number);
        }
        request = result.UnprocessedKeys as typeof request;
      }
    }
    return verified;
  }

  async claimBlob(sha256: string, size: number, at: string): Promise<BlobClaim> {
    const stale = new Date(Date.parse(at) - CLAIM_STALE_MS).toISOString();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.blob(sha256), entity: "blob", sha256, size, state: "verifying", claimedAt: at },
          ConditionExpression: "attribute_not_exists(PK) OR (#state = :verifying AND claimedAt < :stale)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":verifying": "verifying", ":stale": stale },
        }),
      );
      return "claimed";
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.get(keys.blob(sha256), true);
      return item?.state === "verified" ? "verified" : "busy";
    }
  }

  async markBlobVerified(sha256: string, size: number, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.blob(sha256), entity: "blob", sha256, size, state: "verified", verifiedAt: at },
      }),
    );
  }

  async releaseBlobClaim(sha256: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.blob(sha256),
          ConditionExpression: "#state = :verifying",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":verifying": "verifying" },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async putMultipartUpload(upload: MultipartUpload): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.upload(upload.sha256, upload.uploadId),
          entity: "upload",
          ...upload,
          ttl: Math.floor(Date.parse(upload.createdAt) / 1000) + UPLOAD_TTL_SECONDS,
        },
      }),
    );
  }

  async getMultipartUpload(sha256: string, uploadId: string): Promise<MultipartUpload | undefined> {
    const item = await this.get(keys.upload(sha256, uploadId), true);
    return item && toUpload(item);
  }

  async findMultipartUpload(sha256: string, size: number, partSize: number): Promise<MultipartUpload | undefined> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        FilterExpression: "#size = :size AND partSize = :partSize",
        ExpressionAttributeNames: { "#size": "size" },
        ExpressionAttributeValues: {
          ":pk": keys.blob(sha256).PK,
          ":prefix": keys.uploadPrefix,
          ":size": size,
          ":partSize": partSize,
        },
        ConsistentRead: true,
      }),
    );
    const item = result.Items?.[0];
    return item && toUpload(item);
  }

  async deleteMultipartUpload(sha256: string, uploadId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: keys.upload(sha256, uploadId) }));
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const item = await this.get(keys.user(id), false);
    return item && { id: item.id as string, name: item.name as string, orgRole: item.orgRole as UserRecord["orgRole"], createdAt: item.createdAt as string };
  }

  async putUser(user: UserRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.user(user.id), entity: "user", ...user },
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

  async getApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.get(keys.apiKey(keyHash), false);
    if (!item) return undefined;
    return {
      id: item.id as string,
      userId: item.userId as string,
      keyHash: item.keyHash as string,
      createdAt: item.createdAt as string,
      expiresAt: item.expiresAt as string | undefined,
      revokedAt: item.revokedAt as string | undefined,
      lastUsedAt: item.lastUsedAt as string | undefined,
    };
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.apiKey(key.keyHash), entity: "apiKey", ...key },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  async touchApiKey(keyHash: string, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.apiKey(keyHash),
        UpdateExpression: "SET lastUsedAt = :at",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":at": at },
      }),
    );
  }

  private async get(key: { PK: string; SK: string }, consistent: boolean): Promise<Item | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: consistent }),
    );
    return result.Item;
  }

  private async aliasHolders(project: string, artifact: string, aliases: string[]): Promise<Map<string, number>> {
    const holders = new Map<string, number>();
    if (aliases.length === 0) return holders;
    const result = await this.client.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tableName]: {
            Keys: aliases.map((alias) => keys.alias(project, artifact, alias)),
            ConsistentRead: true,
          },
        },
      }),
    );
    if (Object.keys(result.UnprocessedKeys ?? {}).length > 0) {
      throw new TransientContention("alias read throttled");
    }
    for (const item of result.Responses?.[this.tableName] ?? []) {
      holders.set(item.alias as string, item.index as number);
    }
    return holders;
  }

  /** Alias items conditioned on the holder we read, plus the alias sets on both versions. */
  private aliasMoveItems(
    project: string,
    artifact: string,
    index: number,
    holders: Map<string, number>,
    aliases: string[],
    target: { newVersion: boolean },
  ): TransactItem[] {
    const items: TransactItem[] = aliases.map((alias) => {
      const from = holders.get(alias);
      return {
        Put: {
          TableName: this.tableName,
          Item: { ...keys.alias(project, artifact, alias), entity: "alias", alias, index },
          ...(from === undefined
            ? { ConditionExpression: "attribute_not_exists(PK)" }
            : {
                ConditionExpression: "#index = :from",
                ExpressionAttributeNames: { "#index": "index" },
                ExpressionAttributeValues: { ":from": from },
              }),
        },
      };
    });
    const dropped = new Map<number, string[]>();
    for (const alias of aliases) {
      const from = holders.get(alias);
      if (from !== undefined && from !== index) dropped.set(from, [...(dropped.get(from) ?? []), alias]);
    }
    for (const [from, moved] of dropped) items.push(this.dropAliasesItem(project, artifact, from, moved));
    // A brand-new version is written with its aliases; an existing one gains them here.
    if (!target.newVersion) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.version(project, artifact, index),
          UpdateExpression: "ADD aliases :aliases",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":aliases": new Set(aliases) },
        },
      });
    }
    return items;
  }

  private dropAliasesItem(project: string, artifact: string, index: number, aliases: string[]): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.version(project, artifact, index),
        UpdateExpression: "DELETE aliases :aliases",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":aliases": new Set(aliases) },
      },
    };
  }

  private aliasEvents(
    project: string,
    artifact: string,
    change: { actor: string; at: string },
    index: number,
    holders: Map<string, number>,
    aliases: string[],
  ): TransactItem[] {
    return aliases.map((alias) => {
      const from = holders.get(alias);
      return this.eventItem(keys.artifactHistory(project, artifact), {
        action: from === undefined ? "alias.set" : "alias.moved",
        actor: change.actor,
        at: change.at,
        alias,
        ...(from === undefined ? {} : { from: versionLabel(from) }),
        to: versionLabel(index),
      });
    });
  }

  private eventItem(partition: string, event: AuditEvent): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...keys.event(partition, event.at, randomUUID()), entity: "event", event },
      },
    };
  }

  private async previousVersion(project: string, artifact: string, index: number): Promise<number | undefined> {
    const PK = keys.artifactPartition(project, artifact);
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :low AND :high",
        ExpressionAttributeValues: {
          ":pk": PK,
          ":low": keys.versionSortKey(0),
          ":high": keys.versionSortKey(Math.max(0, index - 1)),
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = result.Items?.[0];
    const previous = item?.index as number | undefined;
    return previous !== undefined && previous < index ? previous : undefined;
  }

  private async queryPage<T>(
    input: Omit<QueryCommandInput, "TableName" | "Limit" | "ExclusiveStartKey">,
    partition: string,
    page: PageRequest,
    map: (item: Item) => T,
  ): Promise<Page<T>> {
    const result = await this.client.send(
      new QueryCommand({
        ...input,
        TableName: this.tableName,
        Limit: page.limit,
        ExclusiveStartKey: page.cursor === undefined ? undefined : decodeCursor(page.cursor, partition),
      }),
    );
    return {
      items: (result.Items ?? []).map(map),
      nextCursor: result.LastEvaluatedKey ? encodeCursor(result.LastEvaluatedKey) : undefined,
    };
  }

  /**
   * Reads, decides and writes again while a transaction loses to a concurrent one: the
   * conditions on the write are what guarantee the invariants, this loop only retries.
   */
  private async withTransactionRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = error instanceof TransactionCanceledException || error instanceof TransientContention;
        if (!retryable) throw error;
        if (n >= MAX_TRANSACTION_ATTEMPTS) {
          throw new ConflictError("too many concurrent changes to this artifact; retry", { cause: error });
        }
        await sleep(Math.random() * Math.min(500, 10 * 2 ** Math.min(n, 6)));
      }
    }
  }
}

class TransientContention extends Error {}

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/** A cursor is only valid for the partition it came from; anything else is a client error, not a 500. */
export function decodeCursor(cursor: string, partition: string): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (error) {
    throw new ValidationError("cursor is not valid", { cause: error });
  }
  const valid =
    typeof key === "object" &&
    key !== null &&
    Object.values(key).every((v) => typeof v === "string") &&
    (key as Item).PK === partition &&
    typeof (key as Item).SK === "string";
  if (!valid) throw new ValidationError("cursor is not valid for this list");
  return key as Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function versionItem(version: VersionRecord): Item {
  return {
    entity: "version",
    project: version.project,
    artifact: version.artifact,
    index: version.index,
    digest: version.digest,
    type: version.type,
    ...(version.aliases.length > 0 ? { aliases: new Set(version.aliases) } : {}),
    metadata: version.metadata,
    description: version.description,
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    size: version.size,
    fileCount: version.fileCount,
    runId: version.runId,
  };
}

function toVersion(item: Item): VersionRecord {
  const aliases = item.aliases as Set<string> | undefined;
  return {
    project: item.project as string,
    artifact: item.artifact as string,
    index: item.index as number,
    digest: item.digest as string,
    type: item.type as string,
    aliases: aliases ? [...aliases] : [],
    metadata: (item.metadata as Record<string, unknown> | undefined) ?? {},
    description: item.description as string | undefined,
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
    size: item.size as number,
    fileCount: item.fileCount as number,
    runId: item.runId as string | undefined,
  };
}

function toArtifact(item: Item): ArtifactRecord {
  return {
    project: item.project as string,
    name: item.name as string,
    type: item.type as string,
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
    nextIndex: item.nextIndex as number,
    latestIndex: item.latestIndex as number | undefined,
    versionCount: item.versionCount as number,
  };
}

function toUpload(item: Item): MultipartUpload {
  return {
    sha256: item.sha256 as string,
    size: item.size as number,
    uploadId: item.uploadId as string,
    key: item.key as string,
    partSize: item.partSize as number,
    createdAt: item.createdAt as string,
  };
}

function toEvent(item: Item): AuditEvent {
  return item.event as AuditEvent;
}
