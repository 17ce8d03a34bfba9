import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, ForbiddenError, NotFoundError } from "../../core/errors.js";
import {
  versionLabel,
  type AuditEvent,
  type CollectionRecord,
  type LinkLocation,
  type LinkRecord,
  type LinkTarget,
  type Page,
  type PageRequest,
  type RegistryRecord,
  type RegistryRole,
  type SourceVersion,
  type VersionRef,
  type VersionSelector,
} from "../../core/model.js";
import type {
  AliasMove,
  CollectionChange,
  CollectionQuery,
  CollectionVersionRef,
  LinkOutcome,
  LinkState,
  NewLink,
  RegistryStore,
} from "../../core/ports.js";
import { TransactionLost, openKeyCursor, sealKeyCursor, tagged, type Item, type Key, type Tagged } from "./dynamo-table.js";
import { SEARCH_HEAD, searchCollectionNames, writeCollectionSearchIndex } from "./collection-search.js";
import { keys } from "./keys.js";
import { storableJson } from "./user-json.js";
import { SequenceStore, type SequenceLayout } from "./sequence.js";

/** A collection's links as a numbered sequence: deduped by source version, counted on the collection item. */
function linksOf(registry: string, collection: string): SequenceLayout {
  return {
    label: `${registry}/${collection}`,
    head: keys.collection(registry, collection),
    count: "linkCount",
    partition: keys.collectionPartition(registry, collection),
    itemKey: (index) => keys.link(registry, collection, index),
    tombstoneKey: (index) => keys.unlinked(registry, collection, index),
    aliasKey: (alias) => keys.collectionAlias(registry, collection, alias),
    history: keys.collectionHistory(registry, collection),
    context: { registry, collection },
    // A resolve to files needs the source version and its manifest digest, which a link never changes.
    snapshot: (item) => ({ source: item.source }),
  };
}

export class DynamoRegistryStore extends SequenceStore implements RegistryStore {
  async createRegistry(registry: RegistryRecord): Promise<void> {
    await this.transact(
      [
        tagged("registry", {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.registry(registry.name),
              entity: "registry",
              GSI1PK: keys.registriesIndex,
              GSI1SK: registry.name,
              ...registry,
            },
            // A registry name is taken once.
            ConditionExpression: "attribute_not_exists(PK)",
          },
        }),
        this.eventItem(keys.registryHistory(registry.name), {
          action: "registry.created",
          actor: registry.createdBy,
          at: registry.createdAt,
          registry: registry.name,
        }),
      ],
      { registry: (cause) => new ConflictError(`registry ${registry.name} already exists`, { cause }) },
    );
  }

  async listRegistries(page: PageRequest, visible: (registry: RegistryRecord) => boolean = () => true): Promise<Page<RegistryRecord>> {
    const list = { index: "GSI1" as const, partition: keys.registriesIndex, partitionAttribute: "GSI1PK" };
    let start = page.cursor === undefined ? undefined : await openKeyCursor(this.cursors, page.cursor, list);
    const items: RegistryRecord[] = [];
    let last: Item | undefined;
    // Registries are few (org admins create them): the query goes on until the page is full
    // of visible ones and one more visible one shows there is a next page, or the end.
    for (;;) {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: "GSI1",
          KeyConditionExpression: "GSI1PK = :pk",
          ExpressionAttributeValues: { ":pk": keys.registriesIndex },
          Limit: Math.max(page.limit + 1, 100),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) {
        const registry = toRegistry(item);
        if (!visible(registry)) continue;
        if (items.length === page.limit) {
          // The next page starts after the last registry this one holds, never at a hidden one.
          const after = { PK: last!.PK, SK: last!.SK, GSI1PK: last!.GSI1PK, GSI1SK: last!.GSI1SK };
          return { items, nextCursor: await sealKeyCursor(this.cursors, after, list) };
        }
        items.push(registry);
        last = item;
      }
      start = result.LastEvaluatedKey;
      if (start === undefined) return { items };
    }
  }

  async getRegistryAccess(
    name: string,
    userId: string | undefined,
    version?: CollectionVersionRef,
  ): Promise<{ registry?: RegistryRecord; role?: RegistryRole; target?: LinkTarget }> {
    const wanted = version && selectedKey(name, version.collection, version);
    const items = await this.batchGetItems([
      keys.registry(name),
      ...(userId === undefined ? [] : [keys.member(name, userId)]),
      ...(wanted ? [wanted] : []),
    ]);
    const registry = items.find((i) => i.entity === "registry");
    const member = items.find((i) => i.entity === "member");
    const selected = wanted && items.find((i) => i.PK === wanted.PK && i.SK === wanted.SK);
    const target = version && selected ? await this.targetOf(name, version.collection, selected) : undefined;
    return {
      registry: registry && toRegistry(registry),
      role: member?.role as RegistryRole | undefined,
      ...(target ? { target } : {}),
    };
  }

  async getMembership(registry: string, userId: string): Promise<RegistryRole | undefined> {
    return (await this.get(keys.member(registry, userId), false))?.role as RegistryRole | undefined;
  }

  async putMember(registry: string, userId: string, role: RegistryRole, change: { actor: string; at: string }): Promise<void> {
    await this.transact([
      tagged("member", {
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
      }),
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
        tagged("member", {
          Delete: {
            TableName: this.tableName,
            Key: keys.member(registry, userId),
            // Revoked once: the event is written only when a membership went.
            ConditionExpression: "attribute_exists(PK)",
          },
        }),
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
      if (error instanceof TransactionLost && error.tags.includes("member")) return false;
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
    await this.transact(
      [
        tagged("collection", {
          Put: {
            TableName: this.tableName,
            Item: collectionItem(collection),
            // A collection name is taken once in its registry.
            ConditionExpression: "attribute_not_exists(PK)",
          },
        }),
        ...this.newCollectionItems(collection),
      ],
      {
        collection: (cause) => new ConflictError(`collection ${collection.registry}/${collection.name} already exists`, { cause }),
      },
    );
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
    const { names, nextCursor } = await searchCollectionNames(this.client, this.tableName, registry, q, page, this.cursors);
    if (names.length === 0) return { items: [], nextCursor };
    const found = await this.batchGetItems(names.map((name) => keys.collection(registry, name)));
    const byName = new Map(found.map((item) => [item.name as string, toCollection(item)]));
    return { items: names.flatMap((name) => byName.get(name) ?? []), nextCursor };
  }

  async listCollectionAliases(registry: string, collection: string): Promise<Record<string, number>> {
    return this.listAliasesOf(linksOf(registry, collection));
  }

  async readLinkState(registry: string, collection: string, source: VersionRef, aliases: string[]): Promise<LinkState> {
    const dedupe = keys.linkSource(registry, collection, source.project, source.artifact, source.index);
    return this.readState(linksOf(registry, collection), dedupe, aliases, toCollection);
  }

  async linkVersion(link: NewLink, expected: LinkState): Promise<LinkOutcome> {
    const { registry, collection: name, source } = link;
    const record = (index: number, aliases: string[]): LinkRecord => ({
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
    });
    const newCollection: CollectionRecord = {
      registry,
      name,
      type: link.type,
      description: link.newCollection.description,
      tags: link.newCollection.tags,
      nextIndex: 0,
      linkCount: 0,
      createdAt: link.at,
      createdBy: link.actor,
    };
    // A first link creates the collection: name search index first (collection-search.ts).
    if (!expected.head) await writeCollectionSearchIndex(this.client, this.tableName, registry, name);
    const outcome = await this.append(
      linksOf(registry, name),
      expected,
      {
        dedupe: {
          key: keys.linkSource(registry, name, source.project, source.artifact, source.index),
          entity: "linkSource",
        },
        type: link.type,
        aliases: link.aliases,
        newHead: { item: collectionItem(newCollection), with: this.newCollectionItems(newCollection) },
        at: (index) => ({
          item: linkItem(record(index, [])),
          event: { action: "link.created", source: sourceLabel(source), type: link.type },
          with: [
            tagged("linkedFrom", {
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
            }),
            // Counts the link on the version, which must still exist; a delete conditions on the count.
            tagged("source", {
              Update: {
                TableName: this.tableName,
                Key: keys.version(source.project, source.artifact, source.index),
                UpdateExpression: "ADD linkCount :one",
                ConditionExpression: "attribute_exists(PK)",
                ExpressionAttributeValues: { ":one": 1 },
              },
            }),
          ],
        }),
        errors: {
          source: (cause) =>
            new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`, { cause }),
        },
        change: link,
      },
      toCollection,
    );
    if (!outcome.created) return outcome;
    return { created: true, link: record(outcome.index, outcome.aliases), collectionCreated: !expected.head };
  }

  async getLinkTarget(registry: string, collection: string, selector: VersionSelector): Promise<LinkTarget | undefined> {
    const item = await this.get(selectedKey(registry, collection, selector), false);
    return item && this.targetOf(registry, collection, item);
  }

  async getLink(registry: string, collection: string, index: number): Promise<LinkRecord | undefined> {
    const item = await this.get(keys.link(registry, collection, index), false);
    return item && toLink(item);
  }

  async listLinks(registry: string, collection: string, page: PageRequest): Promise<Page<LinkRecord>> {
    const partition = keys.collectionPartition(registry, collection);
    return this.partitionPage(partition, keys.linkPrefix, page, toLink, "descending");
  }

  async moveCollectionAliases(change: CollectionChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    return this.moveAliasesIn(linksOf(change.registry, change.collection), change, index, aliases);
  }

  async removeCollectionAlias(change: CollectionChange, alias: string): Promise<number | undefined> {
    return this.removeAliasIn(linksOf(change.registry, change.collection), change, alias);
  }

  async unlink(change: CollectionChange, index: number, protectedAliases: string[] = []): Promise<void> {
    const { registry, collection } = change;
    const sourceOf = (item: Item) => item.source as SourceVersion;
    const guarded = [...new Set(protectedAliases)];
    await this.retire(linksOf(registry, collection), change, index, {
      // Decided on the link as read, on every attempt; the condition below makes a protected
      // alias moved onto the link after that read fail the write, and the next attempt refuse.
      check: (item) => {
        const held = [...((item.aliases as Set<string> | undefined) ?? [])].filter((alias) => guarded.includes(alias));
        if (held.length > 0) {
          throw new ForbiddenError(
            `@${registry}/${collection}:${versionLabel(index)} holds the protected alias ${held.join(", ")}: ` +
              `only admins of registry ${registry} may unlink it`,
          );
        }
      },
      ...(guarded.length === 0
        ? {}
        : {
            condition: {
              expression: guarded.map((_, i) => `NOT contains(aliases, :protected${i})`).join(" AND "),
              values: Object.fromEntries(guarded.map((alias, i) => [`:protected${i}`, alias])),
            },
          }),
      tombstone: (item) => ({
        entity: "unlinked",
        index,
        source: sourceOf(item),
        unlinkedAt: change.at,
        unlinkedBy: change.actor,
      }),
      dedupe: (item) => {
        const source = sourceOf(item);
        return keys.linkSource(registry, collection, source.project, source.artifact, source.index);
      },
      event: (item) => ({ action: "link.removed", source: sourceLabel(sourceOf(item)) }),
      with: (item) => {
        const source = sourceOf(item);
        return [
          tagged("linkedFrom", {
            Delete: {
              TableName: this.tableName,
              Key: keys.linkedFrom(source.project, source.artifact, source.index, registry, collection),
            },
          }),
          tagged("source", {
            Update: {
              TableName: this.tableName,
              Key: keys.version(source.project, source.artifact, source.index),
              UpdateExpression: "ADD linkCount :minusOne",
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeValues: { ":minusOne": -1 },
            },
          }),
        ];
      },
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
      tagged(
        "tagIndex",
        add
          ? { Put: { TableName: this.tableName, Item: { ...tagKey, entity: "collectionTag", registry, collection, tag } } }
          : { Delete: { TableName: this.tableName, Key: tagKey } },
      ),
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
    companion: Tagged | undefined,
    event: Tagged,
    missing: string,
  ): Promise<boolean> {
    return this.withTransactionRetries(async () => {
      const current = await this.get(key, true);
      if (!current) throw new NotFoundError(missing);
      const tags = (current.tags as Set<string> | undefined) ?? new Set<string>();
      if (tags.has(tag) === add) return false;
      await this.transact([
        tagged("tags", {
          Update: {
            TableName: this.tableName,
            Key: key,
            UpdateExpression: add ? "ADD tags :tag" : "DELETE tags :tag",
            // The change is made once: a repeated or concurrent identical change loses here and writes no event.
            ConditionExpression: add
              ? "attribute_exists(PK) AND (attribute_not_exists(tags) OR NOT contains(tags, :name))"
              : "attribute_exists(PK) AND contains(tags, :name)",
            ExpressionAttributeValues: { ":tag": new Set([tag]), ":name": tag },
          },
        }),
        ...(companion ? [companion] : []),
        event,
      ]);
      return true;
    });
  }

  private async listCollectionsByTag(registry: string, tag: string, query: CollectionQuery): Promise<Page<CollectionRecord>> {
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

  /** What a new collection writes besides its own item: its tag index entries and its creation event. */
  private newCollectionItems(collection: CollectionRecord): Tagged[] {
    const { registry, name } = collection;
    return [
      ...collection.tags.map((tag) =>
        tagged("tagIndex", {
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

  /** A link item or an alias item as what it resolves to; alias items from before they carried their link's source read the link. */
  private async targetOf(registry: string, collection: string, item: Item): Promise<LinkTarget | undefined> {
    const index = item.index as number;
    const source = item.entity === "alias" ? (item.target as Item | undefined)?.source : item.source;
    if (source !== undefined) return { registry, collection, index, source: source as SourceVersion };
    const link = await this.getLink(registry, collection, index);
    return link && { registry, collection, index, source: link.source };
  }
}

/** The item a version selector reads: the link itself for a number, the alias item for an alias. */
function selectedKey(registry: string, collection: string, selector: VersionSelector): Key {
  return "index" in selector ? keys.link(registry, collection, selector.index) : keys.collectionAlias(registry, collection, selector.alias);
}

function collectionItem(collection: CollectionRecord): Item {
  return {
    ...keys.collection(collection.registry, collection.name),
    entity: "collection",
    ...collection,
    nameLower: collection.name.toLowerCase(),
    ...(collection.tags.length > 0 ? { tags: new Set(collection.tags) } : { tags: undefined }),
  };
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
    metadata: storableJson(link.metadata),
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
