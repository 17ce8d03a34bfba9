import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError, UnprocessableError } from "../../core/errors.js";
import {
  LATEST_ALIAS,
  versionLabel,
  type AuditEvent,
  type CollectionRecord,
  type LinkLocation,
  type LinkRecord,
  type Page,
  type PageRequest,
  type RegistryRecord,
  type RegistryRole,
  type SourceVersion,
} from "../../core/model.js";
import type {
  AliasMove,
  CollectionChange,
  CollectionQuery,
  LinkOutcome,
  NewLink,
  RegistryStore,
} from "../../core/ports.js";
import { SEARCH_HEAD, searchCollectionNames, writeCollectionSearchIndex } from "./collection-search.js";
import { DynamoTable, type Item, type Sequence, type TransactItem } from "./dynamo-table.js";
import { keys } from "./keys.js";

export class DynamoRegistryStore extends DynamoTable implements RegistryStore {
  async createRegistry(registry: RegistryRecord): Promise<void> {
    try {
      await this.transact([
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.registry(registry.name),
              entity: "registry",
              GSI1PK: keys.registriesIndex,
              GSI1SK: registry.name,
              ...registry,
            },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        this.eventItem(keys.registryHistory(registry.name), {
          action: "registry.created",
          actor: registry.createdBy,
          at: registry.createdAt,
          registry: registry.name,
        }),
      ]);
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        throw new ConflictError(`registry ${registry.name} already exists`, { cause: error });
      }
      throw error;
    }
  }

  async getRegistry(name: string): Promise<RegistryRecord | undefined> {
    const item = await this.get(keys.registry(name), false);
    return item && toRegistry(item);
  }

  async listRegistries(page: PageRequest): Promise<Page<RegistryRecord>> {
    return this.queryIndexPage("GSI1", keys.registriesIndex, page, toRegistry);
  }

  async getRegistryWithMembership(
    name: string,
    userId: string,
  ): Promise<{ registry?: RegistryRecord; role?: RegistryRole }> {
    const items = await this.batchGetItems([keys.registry(name), keys.member(name, userId)]);
    const registry = items.find((i) => i.entity === "registry");
    const member = items.find((i) => i.entity === "member");
    return {
      registry: registry && toRegistry(registry),
      role: member?.role as RegistryRole | undefined,
    };
  }

  async putMember(
    registry: string,
    userId: string,
    role: RegistryRole,
    change: { actor: string; at: string },
  ): Promise<void> {
    await this.transact([
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.member(registry, userId),
            entity: "member",
            registry,
            userId,
            role,
            GSI1PK: keys.membershipsIndex(userId),
            GSI1SK: registry,
            grantedAt: change.at,
            grantedBy: change.actor,
          },
        },
      },
      this.eventItem(keys.registryHistory(registry), {
        action: "member.granted",
        actor: change.actor,
        at: change.at,
        registry,
        user: userId,
        role,
      }),
    ]);
  }

  async removeMember(registry: string, userId: string, change: { actor: string; at: string }): Promise<boolean> {
    try {
      await this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.member(registry, userId),
            ConditionExpression: "attribute_exists(PK)",
          },
        },
        this.eventItem(keys.registryHistory(registry), {
          action: "member.revoked",
          actor: change.actor,
          at: change.at,
          registry,
          user: userId,
        }),
      ]);
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  async membershipsOf(userId: string): Promise<Map<string, RegistryRole>> {
    const roles = new Map<string, RegistryRole>();
    let start: Item | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: "GSI1",
          KeyConditionExpression: "GSI1PK = :pk",
          ExpressionAttributeValues: { ":pk": keys.membershipsIndex(userId) },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) roles.set(item.registry as string, item.role as RegistryRole);
      start = result.LastEvaluatedKey;
    } while (start);
    return roles;
  }

  async createCollection(collection: CollectionRecord): Promise<void> {
    // Name search index first (collection-search.ts): the collection is findable once it exists.
    await writeCollectionSearchIndex(this.client, this.tableName, collection.registry, collection.name);
    try {
      await this.transact(this.newCollectionItems(collection));
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        throw new ConflictError(`collection ${collection.registry}/${collection.name} already exists`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async getCollection(registry: string, name: string): Promise<CollectionRecord | undefined> {
    const item = await this.get(keys.collection(registry, name), false);
    return item && toCollection(item);
  }

  async listCollections(registry: string, query: CollectionQuery): Promise<Page<CollectionRecord>> {
    if (query.tag !== undefined) return this.listCollectionsByTag(registry, query.tag, query);
    // Names are searched in their index; one or two characters (which match most names anyway) by a filter below.
    if (query.q !== undefined && query.q.length >= SEARCH_HEAD) return this.searchCollections(registry, query.q, query);
    const partition = keys.registryPartition(registry);
    const q = query.q?.toLowerCase();
    return this.queryPage(
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        // The name match is a filter on one partition's query, never a scan of the table.
        ...(q
          ? {
              FilterExpression: "contains(nameLower, :q)",
              ExpressionAttributeValues: { ":pk": partition, ":prefix": keys.collectionPrefix, ":q": q },
            }
          : { ExpressionAttributeValues: { ":pk": partition, ":prefix": keys.collectionPrefix } }),
      },
      partition,
      query,
      toCollection,
      keys.collectionPrefix,
    );
  }

  /** Names containing q, from the search index (one query per page whatever the registry's size), then the collections in one batch. */
  private async searchCollections(registry: string, q: string, page: PageRequest): Promise<Page<CollectionRecord>> {
    const { names, nextCursor } = await searchCollectionNames(this.client, this.tableName, registry, q, page);
    if (names.length === 0) return { items: [], nextCursor };
    const found = await this.batchGetItems(names.map((name) => keys.collection(registry, name)));
    const byName = new Map(found.map((item) => [item.name as string, toCollection(item)]));
    return { items: names.flatMap((name) => byName.get(name) ?? []), nextCursor };
  }

  async listCollectionAliases(registry: string, collection: string): Promise<Record<string, number>> {
    return this.listAliasesIn(this.sequence(registry, collection));
  }

  async linkVersion(link: NewLink): Promise<LinkOutcome> {
    const { registry, collection: name, source } = link;
    const sequence = this.sequence(registry, name);
    return this.withTransactionRetries(async () => {
      const [collection, existing] = await Promise.all([
        this.get(keys.collection(registry, name), true),
        this.get(keys.linkSource(registry, name, source.project, source.artifact, source.index), true),
      ]);
      if (existing) return { created: false, index: existing.index as number };
      if (collection && collection.type !== link.type) {
        throw new UnprocessableError(
          `collection ${registry}/${name} holds ${String(collection.type)} versions; ${source.project}/${source.artifact} is ${link.type}`,
        );
      }
      const index = (collection?.nextIndex as number | undefined) ?? 0;
      // A first link creates the collection: name search index first (collection-search.ts).
      if (!collection) await writeCollectionSearchIndex(this.client, this.tableName, registry, name);
      const aliases = [LATEST_ALIAS, ...link.aliases.filter((a) => a !== LATEST_ALIAS)];
      const holders = await this.aliasHolders(sequence, aliases);
      const record: LinkRecord = {
        registry,
        collection: name,
        index,
        source,
        type: link.type,
        aliases,
        tags: [],
        metadata: link.metadata,
        description: link.description,
        size: link.size,
        fileCount: link.fileCount,
        linkedAt: link.at,
        linkedBy: link.actor,
      };
      const newCollection: CollectionRecord = {
        registry,
        name,
        type: link.type,
        description: link.newCollection.description,
        tags: link.newCollection.tags,
        nextIndex: 1,
        linkCount: 1,
        latestIndex: 0,
        createdAt: link.at,
        createdBy: link.actor,
      };
      const items: TransactItem[] = [
        ...(collection
          ? [
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.collection(registry, name),
                  UpdateExpression: "SET nextIndex = :next, latestIndex = :index, linkCount = linkCount + :one",
                  ConditionExpression: "nextIndex = :index AND #type = :type",
                  ExpressionAttributeNames: { "#type": "type" },
                  ExpressionAttributeValues: { ":next": index + 1, ":index": index, ":one": 1, ":type": link.type },
                },
              },
            ]
          : this.newCollectionItems(newCollection)),
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.link(registry, name, index), ...linkItem(record) },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.linkSource(registry, name, source.project, source.artifact, source.index),
              entity: "linkSource",
              index,
            },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.linkedFrom(source.project, source.artifact, source.index, registry, name),
              entity: "linkedFrom",
              registry,
              collection: name,
              index,
            },
          },
        },
        {
          // Counts the link on the version, which must still exist; a delete conditions on the count.
          Update: {
            TableName: this.tableName,
            Key: keys.version(source.project, source.artifact, source.index),
            UpdateExpression: "ADD linkCount :one",
            ConditionExpression: "attribute_exists(PK)",
            ExpressionAttributeValues: { ":one": 1 },
          },
        },
        ...this.aliasMoveItems(sequence, index, holders, aliases, { newItem: true }),
        this.eventItem(sequence.history, {
          action: "link.created",
          actor: link.actor,
          at: link.at,
          ...sequence.context,
          version: versionLabel(index),
          source: sourceLabel(source),
          type: link.type,
          aliases,
        }),
        ...this.aliasEvents(sequence, link, index, holders, link.aliases),
      ];
      try {
        await this.transact(items);
      } catch (error) {
        const reasons = error instanceof TransactionCanceledException ? error.CancellationReasons ?? [] : [];
        const versionCheck = items.findIndex((i) => i.Update?.UpdateExpression === "ADD linkCount :one");
        if (reasons[versionCheck]?.Code === "ConditionalCheckFailed") {
          throw new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`);
        }
        throw error;
      }
      return { created: true, link: record, collectionCreated: !collection };
    });
  }

  async findLinkBySource(
    registry: string,
    collection: string,
    source: Omit<SourceVersion, "digest">,
  ): Promise<number | undefined> {
    const item = await this.get(
      keys.linkSource(registry, collection, source.project, source.artifact, source.index),
      false,
    );
    return item?.index as number | undefined;
  }

  async getLink(registry: string, collection: string, index: number): Promise<LinkRecord | undefined> {
    const item = await this.get(keys.link(registry, collection, index), false);
    return item && toLink(item);
  }

  async getCollectionAliasTarget(registry: string, collection: string, alias: string): Promise<number | undefined> {
    const item = await this.get(keys.collectionAlias(registry, collection, alias), false);
    return item?.index as number | undefined;
  }

  async listLinks(registry: string, collection: string, page: PageRequest): Promise<Page<LinkRecord>> {
    const partition = keys.collectionPartition(registry, collection);
    return this.partitionPage(partition, keys.linkPrefix, page, toLink, "descending");
  }


  async moveCollectionAliases(change: CollectionChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    return this.moveAliasesIn(this.sequence(change.registry, change.collection), change, index, aliases);
  }

  async removeCollectionAlias(change: CollectionChange, alias: string): Promise<number | undefined> {
    return this.removeAliasIn(this.sequence(change.registry, change.collection), change, alias);
  }

  async unlink(change: CollectionChange, index: number): Promise<void> {
    const { registry, collection } = change;
    const sequence = this.sequence(registry, collection);
    await this.withTransactionRetries(async () => {
      const item = await this.get(keys.link(registry, collection, index), true);
      if (!item) throw new NotFoundError(`${registry}/${collection} has no version ${versionLabel(index)}`);
      const link = toLink(item);
      const { source } = link;
      const heldLatest = link.aliases.includes(LATEST_ALIAS);
      const previous = heldLatest ? await this.previousIndex(sequence, index) : undefined;
      await this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.link(registry, collection, index),
            // An alias moved onto this link meanwhile would be left naming nothing: lose that race.
            ConditionExpression:
              "attribute_exists(PK) AND " +
              (link.aliases.length > 0 ? "size(aliases) = :aliasCount" : "attribute_not_exists(aliases)"),
            ...(link.aliases.length > 0 ? { ExpressionAttributeValues: { ":aliasCount": link.aliases.length } } : {}),
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.unlinked(registry, collection, index),
              entity: "unlinked",
              index,
              source,
              unlinkedAt: change.at,
              unlinkedBy: change.actor,
            },
          },
        },
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.linkSource(registry, collection, source.project, source.artifact, source.index),
          },
        },
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.linkedFrom(source.project, source.artifact, source.index, registry, collection),
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: keys.version(source.project, source.artifact, source.index),
            UpdateExpression: "ADD linkCount :minusOne",
            ConditionExpression: "attribute_exists(PK)",
            ExpressionAttributeValues: { ":minusOne": -1 },
          },
        },
        ...this.retireAliasItems(sequence, index, link.aliases, previous),
        {
          Update: {
            TableName: this.tableName,
            Key: keys.collection(registry, collection),
            UpdateExpression: heldLatest
              ? previous === undefined
                ? "SET linkCount = linkCount - :one REMOVE latestIndex"
                : "SET linkCount = linkCount - :one, latestIndex = :previous"
              : "SET linkCount = linkCount - :one",
            ExpressionAttributeValues: {
              ":one": 1,
              ...(heldLatest && previous !== undefined ? { ":previous": previous } : {}),
            },
          },
        },
        this.eventItem(sequence.history, {
          action: "link.removed",
          actor: change.actor,
          at: change.at,
          ...sequence.context,
          version: versionLabel(index),
          source: sourceLabel(source),
          aliases: link.aliases,
        }),
      ]);
    });
  }

  async linksOfVersion(project: string, artifact: string, index: number): Promise<LinkLocation[]> {
    const items = await this.queryAll(keys.artifactPartition(project, artifact), keys.linkedPrefix(index), true);
    return items.map((item) => ({
      registry: item.registry as string,
      collection: item.collection as string,
      index: item.index as number,
    }));
  }

  async tagCollection(change: CollectionChange, tag: string, add: boolean): Promise<boolean> {
    const { registry, collection } = change;
    const tagKey = keys.collectionTag(registry, tag, collection);
    return this.changeTag(
      keys.collection(registry, collection),
      add,
      tag,
      add
        ? { Put: { TableName: this.tableName, Item: { ...tagKey, entity: "collectionTag", registry, collection, tag } } }
        : { Delete: { TableName: this.tableName, Key: tagKey } },
      this.eventItem(keys.collectionHistory(registry, collection), {
        action: add ? "tag.added" : "tag.removed",
        actor: change.actor,
        at: change.at,
        registry,
        collection,
        tag,
      }),
      `collection ${registry}/${collection} does not exist`,
    );
  }

  async tagLink(change: CollectionChange, index: number, tag: string, add: boolean): Promise<boolean> {
    const { registry, collection } = change;
    return this.changeTag(
      keys.link(registry, collection, index),
      add,
      tag,
      undefined,
      this.eventItem(keys.collectionHistory(registry, collection), {
        action: add ? "tag.added" : "tag.removed",
        actor: change.actor,
        at: change.at,
        registry,
        collection,
        version: versionLabel(index),
        tag,
      }),
      `${registry}/${collection} has no version ${versionLabel(index)}`,
    );
  }

  async listCollectionHistory(registry: string, collection: string, page: PageRequest): Promise<Page<AuditEvent>> {
    const partition = keys.collectionHistory(registry, collection);
    return this.partitionPage(partition, undefined, page, (item) => item.event as AuditEvent, "descending");
  }


  /**
   * Adds or removes a tag on an item; the tag set's condition makes a repeated call a no-op
   * that writes no event. Returns whether anything changed. A cancelled write reads again:
   * a conflicting transaction is no proof that the tag is already as asked.
   */
  private async changeTag(
    key: { PK: string; SK: string },
    add: boolean,
    tag: string,
    companion: TransactItem | undefined,
    event: TransactItem,
    missing: string,
  ): Promise<boolean> {
    return this.withTransactionRetries(async () => {
      const current = await this.get(key, true);
      if (!current) throw new NotFoundError(missing);
      const tags = (current.tags as Set<string> | undefined) ?? new Set<string>();
      if (tags.has(tag) === add) return false;
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: key,
            UpdateExpression: add ? "ADD tags :tag" : "DELETE tags :tag",
            ConditionExpression: add
              ? "attribute_exists(PK) AND (attribute_not_exists(tags) OR NOT contains(tags, :name))"
              : "attribute_exists(PK) AND contains(tags, :name)",
            ExpressionAttributeValues: { ":tag": new Set([tag]), ":name": tag },
          },
        },
        ...(companion ? [companion] : []),
        event,
      ]);
      return true;
    });
  }

  private async listCollectionsByTag(
    registry: string,
    tag: string,
    query: CollectionQuery,
  ): Promise<Page<CollectionRecord>> {
    const partition = keys.collectionTagPartition(registry, tag);
    const page = await this.partitionPage(partition, undefined, query, (item) => item.collection as string);
    if (page.items.length === 0) return { items: [], nextCursor: page.nextCursor };
    const found = await this.batchGetItems(page.items.map((name) => keys.collection(registry, name)));
    const byName = new Map(found.map((item) => [item.name as string, toCollection(item)]));
    const q = query.q?.toLowerCase();
    const items = page.items
      .map((name) => byName.get(name))
      .filter((c): c is CollectionRecord => c !== undefined && (!q || c.name.toLowerCase().includes(q)));
    return { items, nextCursor: page.nextCursor };
  }

  private newCollectionItems(collection: CollectionRecord): TransactItem[] {
    const { registry, name } = collection;
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.collection(registry, name),
            entity: "collection",
            ...collection,
            nameLower: name.toLowerCase(),
            ...(collection.tags.length > 0 ? { tags: new Set(collection.tags) } : { tags: undefined }),
          },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      },
      ...collection.tags.map(
        (tag): TransactItem => ({
          Put: {
            TableName: this.tableName,
            Item: { ...keys.collectionTag(registry, tag, name), entity: "collectionTag", registry, collection: name, tag },
          },
        }),
      ),
      this.eventItem(keys.collectionHistory(registry, name), {
        action: "collection.created",
        actor: collection.createdBy,
        at: collection.createdAt,
        registry,
        collection: name,
        type: collection.type,
      }),
    ];
  }

  private sequence(registry: string, collection: string): Sequence {
    return {
      label: `${registry}/${collection}`,
      partition: keys.collectionPartition(registry, collection),
      itemKey: (index) => keys.link(registry, collection, index),
      aliasKey: (alias) => keys.collectionAlias(registry, collection, alias),
      history: keys.collectionHistory(registry, collection),
      context: { registry, collection },
    };
  }
}

function sourceLabel(source: SourceVersion) {
  return { project: source.project, artifact: source.artifact, version: versionLabel(source.index), digest: source.digest };
}

function linkItem(link: LinkRecord): Item {
  return {
    entity: "link",
    registry: link.registry,
    collection: link.collection,
    index: link.index,
    source: link.source,
    type: link.type,
    ...(link.aliases.length > 0 ? { aliases: new Set(link.aliases) } : {}),
    metadata: link.metadata,
    description: link.description,
    size: link.size,
    fileCount: link.fileCount,
    linkedAt: link.linkedAt,
    linkedBy: link.linkedBy,
  };
}

function toLink(item: Item): LinkRecord {
  return {
    registry: item.registry as string,
    collection: item.collection as string,
    index: item.index as number,
    source: item.source as SourceVersion,
    type: item.type as string,
    aliases: [...((item.aliases as Set<string> | undefined) ?? [])],
    tags: [...((item.tags as Set<string> | undefined) ?? [])],
    metadata: (item.metadata as Record<string, unknown> | undefined) ?? {},
    description: item.description as string | undefined,
    size: item.size as number,
    fileCount: item.fileCount as number,
    linkedAt: item.linkedAt as string,
    linkedBy: item.linkedBy as string,
  };
}

function toRegistry(item: Item): RegistryRecord {
  return {
    name: item.name as string,
    description: item.description as string | undefined,
    visibility: item.visibility as RegistryRecord["visibility"],
    artifactTypes: item.artifactTypes as string[] | undefined,
    protectedAliases: (item.protectedAliases as string[] | undefined) ?? [],
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}

function toCollection(item: Item): CollectionRecord {
  return {
    registry: item.registry as string,
    name: item.name as string,
    type: item.type as string,
    description: item.description as string | undefined,
    tags: [...((item.tags as Set<string> | undefined) ?? [])].sort(),
    nextIndex: item.nextIndex as number,
    linkCount: item.linkCount as number,
    latestIndex: item.latestIndex as number | undefined,
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}
