import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, ForbiddenError, NotFoundError } from "../../core/errors.js";
import {
  versionLabel,
  type AuditEvent,
  type CollectionEdit,
  type CollectionRecord,
  type LinkLocation,
  type LinkRecord,
  type LinkTarget,
  type MemberRecord,
  type Page,
  type PageRequest,
  type RegistryEdit,
  type RegistryRecord,
  type RegistryRole,
  type SourceVersion,
  type VersionRef,
  type VersionSelector,
} from "../../core/model.js";
import type {
  AliasExpectations,
  AliasMove,
  CollectionChange,
  CollectionQuery,
  CollectionVersionRef,
  Edit,
  Edited,
  LinkOutcome,
  LinkState,
  NewLink,
  RegistryStore,
} from "../../core/ports.js";
import { toVersion } from "./artifact-store.js";
import { TransactionLost, openKeyCursor, sealKeyCursor, tagged, type Item, type Key, type Tagged } from "./dynamo-table.js";
import {
  SEARCH_HEAD,
  batchWrite,
  deleteCollectionSearchIndex,
  searchCollectionNames,
  writeCollectionSearchIndex,
} from "./collection-search.js";
import { keys } from "./keys.js";
import { storableJson } from "./user-json.js";
import { SequenceStore, type SequenceLayout } from "./sequence.js";

/** DynamoDB caps a transaction at 100 items: a registry's deletion goes in chunks below that. */
const DELETE_CHUNK = 96;

/**
 * Bumps the registry's `generation`: every write that adds something to a registry (a
 * collection, a membership, an automation) carries this, so it fails once the registry is
 * gone, and a registry deletion conditioned on the generation it read cannot leave one behind.
 */
export function registryGenerationItem(tableName: string, registry: string): Tagged {
  return tagged("registry", {
    Update: {
      TableName: tableName,
      Key: keys.registry(registry),
      UpdateExpression: "ADD #generation :one",
      ConditionExpression: "attribute_exists(PK)",
      ExpressionAttributeNames: { "#generation": "generation" },
      ExpressionAttributeValues: { ":one": 1 },
    },
  });
}

const registryGone = (registry: string) => (cause: unknown) => new NotFoundError(`registry ${registry} does not exist`, { cause });

/** The source version of a link changed (an edit) or went while the link was written. */
class SourceChanged extends Error {}

/** A collection's links as a numbered sequence: deduped by source version, counted on the collection item. */
export function linksOf(registry: string, collection: string): SequenceLayout {
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
    const write = () =>
      this.transact(
        [
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
          registryGenerationItem(this.tableName, registry),
          this.eventItem(keys.registryHistory(registry), {
            action: "member.granted",
            actor: change.actor,
            at: change.at,
            registry,
            user: userId,
            role,
          }),
        ],
        { registry: registryGone(registry) },
      );
    await this.withTransactionRetries(write);
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
    await this.withTransactionRetries(() =>
      this.transact(
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
          registry: registryGone(collection.registry),
        },
      ),
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
            // Counts the link on the version, which must still exist at the revision its fields were
            // copied from (an edit meanwhile makes this lose); a delete conditions on the count.
            tagged("source", {
              Update: {
                TableName: this.tableName,
                Key: keys.version(source.project, source.artifact, source.index),
                UpdateExpression: "ADD linkCount :one",
                ConditionExpression:
                  link.sourceRevision === 0
                    ? "attribute_exists(PK) AND attribute_not_exists(revision)"
                    : "attribute_exists(PK) AND revision = :revision",
                ExpressionAttributeValues: { ":one": 1, ...(link.sourceRevision === 0 ? {} : { ":revision": link.sourceRevision }) },
              },
            }),
          ],
        }),
        errors: {
          source: (cause) => new SourceChanged("the source version changed", { cause }),
          registry: registryGone(registry),
        },
        change: link,
      },
      toCollection,
    ).catch(async (error: unknown) => {
      if (!(error instanceof SourceChanged)) throw error;
      const current = await this.get(keys.version(source.project, source.artifact, source.index), true);
      if (!current) {
        throw new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`, { cause: error });
      }
      const state = await this.readLinkState(registry, name, source, link.aliases);
      return { created: false as const, current: { ...state, attempts: expected.attempts + 1 }, source: toVersion(current) };
    });
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

  async moveCollectionAliases(
    change: CollectionChange,
    index: number,
    aliases: string[],
    expected?: AliasExpectations,
  ): Promise<AliasMove[]> {
    return this.moveAliasesIn(linksOf(change.registry, change.collection), change, index, aliases, expected);
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

  async listMembers(registry: string, page: PageRequest): Promise<Page<MemberRecord>> {
    return this.partitionPage(keys.registryPartition(registry), keys.memberPrefix, page, toMember);
  }

  async updateRegistry(
    name: string,
    change: { actor: string; at: string },
    edit: Edit<RegistryRecord, RegistryEdit>,
  ): Promise<Edited<RegistryRecord>> {
    return this.withTransactionRetries(async () => {
      const item = await this.get(keys.registry(name), true);
      if (!item) throw new NotFoundError(`registry ${name} does not exist`);
      const before = toRegistry(item);
      const next = edit(before);
      const after: RegistryRecord = { ...before, description: next.description, approvalsRequired: next.approvalsRequired };
      if (before.description === next.description && (before.approvalsRequired ?? 0) === next.approvalsRequired) {
        return { before, after: before };
      }
      const described = next.description !== undefined;
      await this.transact([
        tagged("registry", {
          Update: {
            TableName: this.tableName,
            Key: keys.registry(name),
            UpdateExpression: `SET #approvals = :approvals${described ? ", #description = :description" : " REMOVE #description"}`,
            // The fields as read: the event's `before` is what this write replaced.
            ConditionExpression: [
              "attribute_exists(PK)",
              before.description === undefined ? "attribute_not_exists(#description)" : "#description = :readDescription",
              before.approvalsRequired === undefined ? "attribute_not_exists(#approvals)" : "#approvals = :readApprovals",
            ].join(" AND "),
            ExpressionAttributeNames: { "#approvals": "approvalsRequired", "#description": "description" },
            ExpressionAttributeValues: {
              ":approvals": next.approvalsRequired,
              ...(described ? { ":description": next.description } : {}),
              ...(before.description === undefined ? {} : { ":readDescription": before.description }),
              ...(before.approvalsRequired === undefined ? {} : { ":readApprovals": before.approvalsRequired }),
            },
          },
        }),
        this.eventItem(keys.registryHistory(name), {
          action: "registry.updated",
          actor: change.actor,
          at: change.at,
          registry: name,
          before: { description: before.description ?? null, approvalsRequired: before.approvalsRequired ?? 0 },
          after: { description: next.description ?? null, approvalsRequired: next.approvalsRequired },
        }),
      ]);
      return { before, after };
    });
  }

  /**
   * Reads the registry's generation, refuses while a collection exists, then deletes its
   * memberships and automations (in chunks, each conditioned on the generation read) and last
   * the registry with its event. A collection, membership or automation added meanwhile
   * bumps the generation, so the chunk or the deletion loses and everything is read again.
   */
  async deleteRegistry(name: string, change: { actor: string; at: string }): Promise<{ members: string[]; automations: string[] }> {
    return this.withTransactionRetries(async () => {
      const item = await this.get(keys.registry(name), true);
      if (!item) throw new NotFoundError(`registry ${name} does not exist`);
      const partition = keys.registryPartition(name);
      const collections = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": partition, ":prefix": keys.collectionPrefix },
          ConsistentRead: true,
          Limit: 1,
        }),
      );
      const first = collections.Items?.[0];
      if (first) {
        throw new ConflictError(`registry ${name} holds collections (${String(first.name)} among them): delete them first`);
      }
      const [members, automations] = await Promise.all([
        this.queryAll(partition, keys.memberPrefix, true),
        this.queryAll(partition, keys.automationPrefix, true),
      ]);
      const generation = item.generation as number | undefined;
      const unchanged = {
        ConditionExpression: generation === undefined ? "attribute_not_exists(#generation)" : "#generation = :generation",
        ExpressionAttributeNames: { "#generation": "generation" },
        ...(generation === undefined ? {} : { ExpressionAttributeValues: { ":generation": generation } }),
      };
      const deletes = [...members, ...automations].map((one) =>
        tagged(`delete:${String(one.SK)}`, { Delete: { TableName: this.tableName, Key: { PK: one.PK, SK: one.SK } } }),
      );
      while (deletes.length > DELETE_CHUNK) {
        const chunk = deletes.splice(0, DELETE_CHUNK);
        await this.transact([
          tagged("registry", { ConditionCheck: { TableName: this.tableName, Key: keys.registry(name), ...unchanged } }),
          ...chunk,
        ]);
      }
      const memberIds = members.map((m) => m.userId as string);
      const automationIds = automations.map((a) => a.id as string);
      await this.transact([
        tagged("registry", { Delete: { TableName: this.tableName, Key: keys.registry(name), ...unchanged } }),
        ...deletes,
        this.eventItem(keys.registryHistory(name), {
          action: "registry.deleted",
          actor: change.actor,
          at: change.at,
          registry: name,
          before: toRegistry(item),
          members: members.map((m) => ({ user: m.userId, role: m.role })),
          automations: automations.map((a) => ({ id: a.id, name: a.name })),
        }),
      ]);
      return { members: memberIds, automations: automationIds };
    });
  }

  async updateCollection(change: CollectionChange, edit: Edit<CollectionRecord, CollectionEdit>): Promise<Edited<CollectionRecord>> {
    const { registry, collection } = change;
    return this.withTransactionRetries(async () => {
      const item = await this.get(keys.collection(registry, collection), true);
      if (!item) throw new NotFoundError(`collection ${registry}/${collection} does not exist`);
      const before = toCollection(item);
      const next = edit(before);
      const tags = [...new Set(next.tags)].sort();
      const after: CollectionRecord = { ...before, description: next.description, tags };
      const added = tags.filter((t) => !before.tags.includes(t));
      const removed = before.tags.filter((t) => !tags.includes(t));
      if (before.description === next.description && added.length === 0 && removed.length === 0) return { before, after: before };
      const described = next.description !== undefined;
      const sets = [...(described ? ["#description = :description"] : []), ...(tags.length > 0 ? ["#tags = :tags"] : [])];
      const removes = [...(described ? [] : ["#description"]), ...(tags.length > 0 ? [] : ["#tags"])];
      await this.transact([
        tagged("collection", {
          Update: {
            TableName: this.tableName,
            Key: keys.collection(registry, collection),
            UpdateExpression: [sets.length > 0 ? `SET ${sets.join(", ")}` : "", removes.length > 0 ? `REMOVE ${removes.join(", ")}` : ""]
              .filter((part) => part !== "")
              .join(" "),
            // The description and tags as read: a concurrent tag change makes this lose, so the tag index stays exact.
            ConditionExpression: [
              "attribute_exists(PK)",
              before.description === undefined ? "attribute_not_exists(#description)" : "#description = :readDescription",
              before.tags.length === 0
                ? "attribute_not_exists(#tags)"
                : `size(#tags) = :tagCount AND ${before.tags.map((_, i) => `contains(#tags, :tag${i})`).join(" AND ")}`,
            ].join(" AND "),
            ExpressionAttributeNames: { "#description": "description", "#tags": "tags" },
            ExpressionAttributeValues: {
              ...(described ? { ":description": next.description } : {}),
              ...(tags.length > 0 ? { ":tags": new Set(tags) } : {}),
              ...(before.description === undefined ? {} : { ":readDescription": before.description }),
              ...(before.tags.length === 0 ? {} : { ":tagCount": before.tags.length }),
              ...Object.fromEntries(before.tags.map((tag, i) => [`:tag${i}`, tag])),
            },
          },
        }),
        ...added.map((tag) =>
          tagged(`tag:${tag}`, {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.collectionTag(registry, tag, collection), entity: "collectionTag", registry, collection, tag },
            },
          }),
        ),
        ...removed.map((tag) =>
          tagged(`tag:${tag}`, { Delete: { TableName: this.tableName, Key: keys.collectionTag(registry, tag, collection) } }),
        ),
        this.eventItem(keys.collectionHistory(registry, collection), {
          action: "collection.updated",
          actor: change.actor,
          at: change.at,
          registry,
          collection,
          before: { description: before.description ?? null, tags: before.tags },
          after: { description: next.description ?? null, tags },
        }),
      ]);
      return { before, after };
    });
  }

  /**
   * Deletes a collection that links nothing. Its tombstones and promotion requests go first,
   * while it still exists (so no new collection of its name can own them yet); then one
   * transaction deletes it, conditioned on linking nothing and on the counter read (a link
   * made meanwhile makes it lose), with its tag index entries and its events; its name's
   * search index entries go last (collection-search.ts).
   */
  async deleteCollection(change: CollectionChange): Promise<void> {
    const { registry, collection } = change;
    const partition = keys.collectionPartition(registry, collection);
    await this.withTransactionRetries(async () => {
      const item = await this.get(keys.collection(registry, collection), true);
      if (!item) throw new NotFoundError(`collection ${registry}/${collection} does not exist`);
      const linkCount = (item.linkCount as number | undefined) ?? 0;
      if (linkCount > 0) {
        throw new ConflictError(
          `collection ${registry}/${collection} links ${linkCount} versions: unlink them first, or delete with ?force=true`,
        );
      }
      const leftovers = [
        ...(await this.queryAll(partition, keys.unlinkedPrefix, true, ["PK", "SK"])),
        ...(await this.queryAll(partition, keys.promotionPrefix, true, ["PK", "SK"])),
      ];
      await batchWrite(
        this.client,
        this.tableName,
        leftovers.map((one) => ({ DeleteRequest: { Key: { PK: one.PK, SK: one.SK } } })),
      );
      const before = toCollection(item);
      const event = {
        action: "collection.deleted",
        actor: change.actor,
        at: change.at,
        registry,
        collection,
        before: { type: before.type, description: before.description ?? null, tags: before.tags, nextIndex: before.nextIndex },
      };
      await this.transact([
        tagged("collection", {
          Delete: {
            TableName: this.tableName,
            Key: keys.collection(registry, collection),
            // Nothing linked, no link made since the read, and the tags read (whose index entries go with it).
            ConditionExpression: [
              "(attribute_not_exists(linkCount) OR linkCount = :zero) AND nextIndex = :next",
              before.tags.length === 0
                ? "attribute_not_exists(tags)"
                : `size(tags) = :tagCount AND ${before.tags.map((_, i) => `contains(tags, :tag${i})`).join(" AND ")}`,
            ].join(" AND "),
            ExpressionAttributeValues: {
              ":zero": 0,
              ":next": item.nextIndex ?? 0,
              ...(before.tags.length === 0 ? {} : { ":tagCount": before.tags.length }),
              ...Object.fromEntries(before.tags.map((tag, i) => [`:tag${i}`, tag])),
            },
          },
        }),
        ...before.tags.map((tag) =>
          tagged(`tag:${tag}`, { Delete: { TableName: this.tableName, Key: keys.collectionTag(registry, tag, collection) } }),
        ),
        this.eventItem(keys.collectionHistory(registry, collection), event),
        this.eventItem(keys.registryHistory(registry), event),
      ]);
    });
    await deleteCollectionSearchIndex(this.client, this.tableName, registry, collection);
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

  /** What a new collection writes besides its own item: the registry's generation, its tag index entries and its creation event. */
  private newCollectionItems(collection: CollectionRecord): Tagged[] {
    const { registry, name } = collection;
    return [
      registryGenerationItem(this.tableName, registry),
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
    ...(item.approvalsRequired === undefined ? {} : { approvalsRequired: item.approvalsRequired as number }),
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}

function toMember(item: Item): MemberRecord {
  return {
    registry: item.registry as string,
    userId: item.userId as string,
    role: item.role as RegistryRole,
    grantedAt: item.grantedAt as string,
    grantedBy: item.grantedBy as string,
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
