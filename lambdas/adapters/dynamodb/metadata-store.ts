import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError } from "../../core/errors.js";
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
import { DynamoTable, decodeCursor, encodeCursor, type Item, type Sequence, type TransactItem } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { UPLOAD_RESUME_SECONDS } from "../../settings.js";
import { runOutputItems } from "./run-items.js";

/** How long a blob verification may hold its claim before another upload may take it over. */
const CLAIM_STALE_MS = 15 * 60 * 1000;

export class DynamoMetadataStore extends DynamoTable implements MetadataStore {

  async getArtifact(project: string, artifact: string): Promise<ArtifactRecord | undefined> {
    const item = await this.get(keys.artifact(project, artifact), true);
    return item && toArtifact(item);
  }

  async listArtifacts(project: string, page: PageRequest): Promise<Page<ArtifactRecord>> {
    const { PK, prefix } = keys.artifactsOf(project);
    return this.partitionPage(PK, prefix, page, toArtifact);
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
    return this.listAliasesIn(this.sequence(project, artifact));
  }

  async findVersionByDigest(project: string, artifact: string, digest: string): Promise<number | undefined> {
    const item = await this.get(keys.digest(project, artifact, digest), true);
    return item?.index as number | undefined;
  }

  async listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>> {
    return this.partitionPage(keys.artifactPartition(project, artifact), keys.versionPrefix, page, toVersion, "descending");
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
      const sequence = this.sequence(project, name);
      const holders = await this.aliasHolders(sequence, aliases);
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
        ...this.aliasMoveItems(sequence, index, holders, aliases, { newItem: true }),
        this.eventItem(keys.artifactHistory(project, name), {
          action: "version.created",
          actor: version.actor,
          at: version.at,
          version: versionLabel(index),
          digest: version.digest,
          aliases,
        }),
        ...this.aliasEvents(sequence, version, index, holders, version.aliases),
        // The run → version edge (and the run, when the commit is the first to name it).
        ...(version.runId === undefined
          ? []
          : runOutputItems(this.tableName, { project, artifact: name, index, runId: version.runId, actor: version.actor, at: version.at })),
      ];
      await this.transact(items);
      return { created: true, version: record };
    });
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    return this.moveAliasesIn(this.sequence(change.project, change.artifact), change, index, aliases);
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    return this.removeAliasIn(this.sequence(change.project, change.artifact), change, alias);
  }

  async deleteVersion(change: AliasChange, index: number): Promise<void> {
    const { project, artifact } = change;
    await this.withTransactionRetries(async () => {
      const item = await this.get(keys.version(project, artifact, index), true);
      if (!item) throw new NotFoundError(`${project}/${artifact} has no version ${versionLabel(index)}`);
      const version = toVersion(item);
      if (((item.linkCount as number | undefined) ?? 0) > 0) {
        throw new ConflictError(`${project}/${artifact}:${versionLabel(index)} is linked by a collection`);
      }
      const sequence = this.sequence(project, artifact);
      const heldLatest = version.aliases.includes(LATEST_ALIAS);
      const previous = heldLatest ? await this.previousIndex(sequence, index) : undefined;
      const items: TransactItem[] = [
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.version(project, artifact, index),
            // A link made meanwhile raises linkCount, an alias moved here meanwhile changes the
            // alias set: the delete must lose both races, or a link or alias would name nothing.
            ConditionExpression:
              "attribute_exists(PK) AND (attribute_not_exists(linkCount) OR linkCount = :zero) AND " +
              (version.aliases.length > 0 ? "size(aliases) = :aliasCount" : "attribute_not_exists(aliases)"),
            ExpressionAttributeValues: {
              ":zero": 0,
              ...(version.aliases.length > 0 ? { ":aliasCount": version.aliases.length } : {}),
            },
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
        ...this.retireAliasItems(sequence, index, version.aliases, previous),
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
      await this.transact(items);
    });
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.partitionPage(keys.artifactHistory(project, artifact), undefined, page, toEvent, "descending");
  }


  async verifiedBlobs(sha256s: string[]): Promise<Map<string, number>> {
    const items = await this.batchGetItems(sha256s.map(keys.blob), { consistent: true });
    return new Map(
      items.filter((item) => item.state === "verified").map((item) => [item.sha256 as string, item.size as number]),
    );
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
          ttl: Math.floor(Date.parse(upload.createdAt) / 1000) + UPLOAD_RESUME_SECONDS,
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
        // TTL deletion lags expiry by up to two days; an expired upload may be aborted already.
        FilterExpression: "#size = :size AND partSize = :partSize AND #ttl > :now",
        ExpressionAttributeNames: { "#size": "size", "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":pk": keys.blob(sha256).PK,
          ":prefix": keys.uploadPrefix,
          ":size": size,
          ":partSize": partSize,
          ":now": Math.floor(Date.now() / 1000),
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
    return item && toUser(item);
  }

  async putUser(user: UserRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.user(user.id), entity: "user", GSI1PK: keys.usersIndex, GSI1SK: user.id, ...user },
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

  async getApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
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

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.apiKey(key.keyHash),
          entity: "apiKey",
          GSI1PK: keys.apiKeysOfIndex(key.userId),
          GSI1SK: key.id,
          GSI2PK: keys.apiKeysIndex,
          GSI2SK: key.id,
          ...key,
        },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  async listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    if (userId !== undefined) return this.queryIndexPage("GSI1", keys.apiKeysOfIndex(userId), page, toApiKey);
    return this.queryIndexPage("GSI2", keys.apiKeysIndex, page, toApiKey);
  }

  async revokeApiKey(keyHash: string, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.apiKey(keyHash),
        UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :at)",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":at": at },
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

  private sequence(project: string, artifact: string): Sequence {
    return {
      label: `${project}/${artifact}`,
      partition: keys.artifactPartition(project, artifact),
      itemKey: (index) => keys.version(project, artifact, index),
      aliasKey: (alias) => keys.alias(project, artifact, alias),
      history: keys.artifactHistory(project, artifact),
      context: {},
    };
  }
}

export { decodeCursor, encodeCursor };

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

export function toVersion(item: Item): VersionRecord {
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

function toUser(item: Item): UserRecord {
  return {
    id: item.id as string,
    name: item.name as string,
    orgRole: item.orgRole as UserRecord["orgRole"],
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
  };
}

function toEvent(item: Item): AuditEvent {
  return item.event as AuditEvent;
}
