import { ConflictError, NotFoundError, UnprocessableError } from "../../core/errors.js";
import { GC } from "../../settings.js";
import {
  versionLabel,
  type ArtifactRecord,
  type AuditEvent,
  type Page,
  type PageRequest,
  type ProjectRecord,
  type VersionEdit,
  type VersionRecord,
} from "../../core/model.js";
import type {
  AliasChange,
  AliasExpectations,
  AliasMove,
  ArtifactStore,
  CommitOutcome,
  CommitState,
  Edit,
  Edited,
  NewVersion,
  PendingRelease,
} from "../../core/ports.js";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { giveRef, pinRef, releaseItem, takeRef } from "./blob-ledger.js";
import { TransactionLost, tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { storableJson } from "./user-json.js";
import { projectCountItem, toProject } from "./project-index.js";
import { runOutputItems } from "./run-items.js";
import { SequenceStore, type SequenceLayout } from "./sequence.js";

/** DynamoDB's caps on one transaction: 100 items and 4 MB; an edit stays clear of the bytes with room for overhead. */
const MAX_TRANSACTION_ITEMS = 100;
const MAX_EDIT_BYTES = 3 * 1024 * 1024;

/** An artifact's versions as a numbered sequence: deduped by manifest digest, counted on the artifact item. */
function versionsOf(project: string, artifact: string): SequenceLayout {
  return {
    label: `${project}/${artifact}`,
    head: keys.artifact(project, artifact),
    count: "versionCount",
    partition: keys.artifactPartition(project, artifact),
    itemKey: (index) => keys.version(project, artifact, index),
    tombstoneKey: (index) => keys.tombstone(project, artifact, index),
    aliasKey: (alias) => keys.alias(project, artifact, alias),
    history: keys.artifactHistory(project, artifact),
    retiredKey: keys.retiredArtifact(project, artifact),
    context: {},
    snapshot: versionSnapshot,
    // Alias items carry the description and metadata, which edits change.
    revisioned: true,
  };
}

export class DynamoArtifactStore extends SequenceStore implements ArtifactStore {
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

  /**
   * One query of the artifact's alias items: the one named carries its version's fields, and
   * the others naming the same index are that version's aliases (the version item's alias
   * set is written in the same transactions, so both agree).
   */
  async getVersionByAlias(project: string, artifact: string, alias: string): Promise<VersionRecord | undefined> {
    const items = await this.aliasItems(versionsOf(project, artifact));
    const named = items.find((item) => item.alias === alias);
    if (!named) return undefined;
    const index = named.index as number;
    // Alias items written before they carried their version: read the version itself.
    if (named.target === undefined) return this.getVersion(project, artifact, index);
    const aliases = items.filter((item) => item.index === index).map((item) => item.alias as string);
    return toVersion({ ...(named.target as Item), project, artifact, index, aliases: new Set(aliases) });
  }

  async listAliases(project: string, artifact: string): Promise<Record<string, number>> {
    return this.listAliasesOf(versionsOf(project, artifact));
  }

  async listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>> {
    return this.partitionPage(keys.artifactPartition(project, artifact), keys.versionPrefix, page, toVersion, "descending");
  }

  /** The project item rides along in the same BatchGet: its default retention costs the commit no call. */
  async readCommitState(project: string, artifact: string, digest: string, aliases: string[]): Promise<CommitState> {
    let ttlDays: number | undefined;
    const state = await this.readState(versionsOf(project, artifact), keys.digest(project, artifact, digest), aliases, toArtifact, {
      key: keys.project(project),
      read: (item) => (ttlDays = item?.ttlDays as number | undefined),
    });
    return ttlDays === undefined ? state : { ...state, projectTtlDays: ttlDays };
  }

  /**
   * The version, its digest entry, aliases, events, and one reference on each of its blobs,
   * in one transaction. Blobs that do not fit into it (DynamoDB takes 100 items) are pinned
   * first in transactions of their own, and given back when the commit does not create the
   * version; a crash in between leaves them counted one too many (a leak, never a loss).
   */
  async commitVersion(version: NewVersion, expected: CommitState): Promise<CommitOutcome> {
    const blobs = [...new Set(version.blobs)].sort();
    // Everything else the commit writes, at most: head (+ project count), item, dedupe, event, run edges, and per alias an item, a set update and an event.
    const others = 8 + 3 * (version.aliases.length + 1);
    const room = Math.max(0, MAX_TRANSACTION_ITEMS - others);
    const inside = blobs.slice(0, room);
    const pinned = blobs.slice(room);
    await this.pinRefs(pinned, version.at);
    let created = false;
    try {
      const outcome = await this.commitWithRefs(version, expected, inside);
      created = outcome.created;
      return outcome;
    } finally {
      if (!created) await this.unpinRefs(pinned, version.at);
    }
  }

  /** Takes references in transactions of their own, each conditioned like the commit's; undone when one fails. */
  private async pinRefs(sha256s: string[], at: string): Promise<void> {
    const done: string[] = [];
    try {
      for (let i = 0; i < sha256s.length; i += GC.pinChunk) {
        const chunk = sha256s.slice(i, i + GC.pinChunk);
        await this.transact(
          chunk.map((sha256) => pinRef(this.tableName, sha256, at)),
          Object.fromEntries(chunk.map((sha256) => [`blob:${sha256}`, () => notStored(sha256)])),
        );
        done.push(...chunk);
      }
    } catch (error) {
      await this.unpinRefs(done, new Date().toISOString());
      throw error;
    }
  }

  private async unpinRefs(sha256s: string[], at: string): Promise<void> {
    for (let i = 0; i < sha256s.length; i += GC.pinChunk) {
      const chunk = sha256s.slice(i, i + GC.pinChunk);
      await this.withTransactionRetries(() => this.transact(chunk.map((sha256) => giveRef({ tableName: this.tableName, sha256, at }))));
    }
  }

  private async commitWithRefs(version: NewVersion, expected: CommitState, refs: string[]): Promise<CommitOutcome> {
    const { project, artifact } = version;
    const layout = versionsOf(project, artifact);
    const record = (index: number, aliases: string[]): VersionRecord => ({
      project,
      artifact,
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
      ...(version.expiresAt === undefined ? {} : { expiresAt: version.expiresAt }),
    });
    const outcome = await this.append(
      layout,
      expected,
      {
        dedupe: { key: keys.digest(project, artifact, version.digest), entity: "digest" },
        type: version.type,
        aliases: version.aliases,
        newHead: {
          item: {
            entity: "artifact",
            project,
            name: artifact,
            type: version.type,
            createdAt: version.at,
            createdBy: version.actor,
          },
          // The projects index counts the artifact in the transaction that creates it (project-index.ts).
          with: [projectCountItem(this.tableName, project, version)],
        },
        at: (index) => ({
          item: versionItem(record(index, [])),
          event: { action: "version.created", digest: version.digest },
          // The run → version edge (and the run, when the commit is the first to name it): it exists exactly when the version does.
          with: [
            ...(version.runId === undefined
              ? []
              : runOutputItems(this.tableName, { project, artifact, index, runId: version.runId, actor: version.actor, at: version.at })),
            // The version exists exactly when it holds a reference on each of its blobs.
            ...refs.map((sha256) => takeRef(this.tableName, sha256)),
          ],
        }),
        change: version,
        // A blob condemned (or collected) since the commit checked it: its bytes may be gone.
        errors: Object.fromEntries(refs.map((sha256) => [`blob:${sha256}`, () => notStored(sha256)])),
      },
      toArtifact,
    );
    if (!outcome.created) return outcome;
    return { created: true, version: record(outcome.index, outcome.aliases) };
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[], expected?: AliasExpectations): Promise<AliasMove[]> {
    return this.moveAliasesIn(versionsOf(change.project, change.artifact), change, index, aliases, expected);
  }

  async listProjects(page: PageRequest): Promise<Page<ProjectRecord>> {
    return this.queryIndexPage("GSI1", keys.projectsIndex, page, toProject);
  }

  /**
   * One transaction writes the version and every copy of its description and metadata: its
   * alias items (named by its alias set) and the links to it (its `LINKED#` items). It is
   * conditioned on the version as read (revision, alias set, link count), so an alias moved
   * onto it or a link made meanwhile makes it lose and read again; those writes are in turn
   * conditioned on the revision they copied (sequence.ts, registry-store.ts), so no copy
   * stays behind an edit.
   */
  async updateVersion(change: AliasChange, index: number, edit: Edit<VersionRecord, VersionEdit>): Promise<Edited<VersionRecord>> {
    const { project, artifact } = change;
    const layout = versionsOf(project, artifact);
    return this.withTransactionRetries(async () => {
      const [item, links] = await Promise.all([
        this.get(keys.version(project, artifact, index), true),
        this.queryAll(keys.artifactPartition(project, artifact), keys.linkedPrefix(index), true),
      ]);
      if (!item) throw new NotFoundError(`${project}/${artifact} has no version ${versionLabel(index)}`);
      const before = toVersion(item);
      const next = edit(before);
      if (sameEdit(before, next)) return { before, after: before };
      const linkCount = (item.linkCount as number | undefined) ?? 0;
      // The two reads are not one snapshot: a link made or removed between them is read again.
      if (links.length !== linkCount) throw new TransactionLost(["links"]);
      const aliases = before.aliases;
      const copies = 1 + aliases.length + links.length;
      const bytes = Buffer.byteLength(JSON.stringify(next.metadata)) + Buffer.byteLength(next.description ?? "");
      if (copies + 1 > MAX_TRANSACTION_ITEMS || (copies + 2) * bytes > MAX_EDIT_BYTES) {
        throw new UnprocessableError(
          `${project}/${artifact}:${versionLabel(index)} has ${aliases.length} aliases and ${links.length} links: ` +
            "an edit updates every copy of the description and metadata in one transaction, and this one would be too large",
        );
      }
      const revision = (before.revision ?? 0) + 1;
      const updated: Item = { ...item, metadata: next.metadata, description: next.description, revision, expiresAt: next.expiresAt };
      const edited = editExpression(next);
      // The expiry is the version's own (links copy none of it); a new one is for the sweep to decide on again.
      const expiry =
        next.expiresAt === undefined
          ? { set: "", remove: ", expiresAt, GSI1PK, GSI1SK, retentionKept", values: {} }
          : {
              set: ", expiresAt = :expiresAt, GSI1PK = :expiringPk, GSI1SK = :expiringSk",
              remove: ", retentionKept",
              values: {
                ":expiresAt": next.expiresAt,
                ":expiringPk": keys.expiringIndex,
                ":expiringSk": keys.expiringSortKey(next.expiresAt, project, artifact, index),
              },
            };
      const removals = `${edited.remove ? `${edited.remove}` : " REMOVE "}${edited.remove ? expiry.remove : expiry.remove.slice(2)}`;
      const items: Tagged[] = [
        tagged("version", {
          Update: {
            TableName: this.tableName,
            Key: keys.version(project, artifact, index),
            UpdateExpression: `${edited.set}, #revision = :revision${expiry.set}${removals}`,
            ConditionExpression: [
              "attribute_exists(PK)",
              before.revision === undefined ? "attribute_not_exists(#revision)" : "#revision = :readRevision",
              aliases.length === 0
                ? "attribute_not_exists(aliases)"
                : `size(aliases) = :aliasCount AND ${aliases.map((_, i) => `contains(aliases, :alias${i})`).join(" AND ")}`,
              linkCount === 0 ? "(attribute_not_exists(linkCount) OR linkCount = :zero)" : "linkCount = :linkCount",
            ].join(" AND "),
            ExpressionAttributeNames: { ...edited.names, "#revision": "revision" },
            ExpressionAttributeValues: {
              ...edited.values,
              ...expiry.values,
              ":revision": revision,
              ...(before.revision === undefined ? {} : { ":readRevision": before.revision }),
              ...(aliases.length === 0 ? {} : { ":aliasCount": aliases.length }),
              ...Object.fromEntries(aliases.map((alias, i) => [`:alias${i}`, alias])),
              ...(linkCount === 0 ? { ":zero": 0 } : { ":linkCount": linkCount }),
            },
          },
        }),
        // Each alias item is written anew with the version's new snapshot, while it still names the version.
        ...aliases.map((alias) =>
          tagged(`alias:${alias}`, {
            Put: {
              TableName: this.tableName,
              Item: this.aliasItem(layout, alias, updated),
              ConditionExpression: "#index = :index",
              ExpressionAttributeNames: { "#index": "index" },
              ExpressionAttributeValues: { ":index": index },
            },
          }),
        ),
        ...links.map((link) =>
          tagged(`link:${String(link.registry)}/${String(link.collection)}`, {
            Update: {
              TableName: this.tableName,
              Key: keys.link(link.registry as string, link.collection as string, link.index as number),
              UpdateExpression: `${edited.set}${edited.remove}`,
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeNames: edited.names,
              ExpressionAttributeValues: edited.values,
            },
          }),
        ),
        this.eventItem(layout.history, {
          action: "version.updated",
          actor: change.actor,
          at: change.at,
          version: versionLabel(index),
          before: { description: before.description ?? null, metadata: storableJson(before.metadata) },
          after: { description: next.description ?? null, metadata: storableJson(next.metadata) },
        }),
      ];
      await this.transact(items);
      const after: VersionRecord = { ...before, metadata: next.metadata, description: next.description, revision };
      delete after.retentionKept;
      if (next.expiresAt === undefined) delete after.expiresAt;
      else after.expiresAt = next.expiresAt;
      return { before, after };
    });
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    return this.removeAliasIn(versionsOf(change.project, change.artifact), change, alias);
  }

  async deleteVersion(change: AliasChange, index: number): Promise<PendingRelease> {
    const { project, artifact } = change;
    let release: PendingRelease | undefined;
    await this.retire(versionsOf(project, artifact), change, index, {
      check: (item) => {
        if (((item.linkCount as number | undefined) ?? 0) > 0) {
          throw new ConflictError(`${project}/${artifact}:${versionLabel(index)} is linked by a collection`);
        }
      },
      // A link made meanwhile raises linkCount (in the link's transaction): the delete loses that race.
      condition: { expression: "(attribute_not_exists(linkCount) OR linkCount = :zero)", values: { ":zero": 0 } },
      tombstone: (item) => ({
        entity: "tombstone",
        index,
        digest: item.digest,
        deletedAt: change.at,
        deletedBy: change.actor,
      }),
      dedupe: (item) => keys.digest(project, artifact, item.digest as string),
      event: (item) => ({ action: "version.deleted", digest: item.digest }),
      // Its blob references go after it, exactly once (core/gc.ts): recorded in the same write.
      with: (item) => {
        release = { project, artifact, index, digest: item.digest as string, done: 0, at: change.at };
        return [releaseItem(this.tableName, release)];
      },
    });
    return release!;
  }

  async versionsAfter(
    project: string,
    artifact: string,
    after: number | undefined,
    limit: number,
  ): Promise<(VersionRecord & { linkCount: number })[]> {
    const PK = keys.artifactPartition(project, artifact);
    const items = await this.queryAfter(PK, keys.versionPrefix, after === undefined ? undefined : keys.versionSortKey(after), limit);
    return items.map((item) => ({ ...toVersion(item), linkCount: (item.linkCount as number | undefined) ?? 0 }));
  }

  async artifactsAfter(project: string, after: string | undefined, limit: number): Promise<ArtifactRecord[]> {
    const { PK, prefix } = keys.artifactsOf(project);
    const items = await this.queryAfter(PK, prefix, after === undefined ? undefined : keys.artifact(project, after).SK, limit);
    return items.map(toArtifact);
  }

  /** Up to `limit` items of a partition under `prefix` whose sort key follows `after`, in key order: one consistent query. */
  private async queryAfter(PK: string, prefix: string, after: string | undefined, limit: number): Promise<Item[]> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": prefix },
        ...(after === undefined ? {} : { ExclusiveStartKey: { PK, SK: after } }),
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return result.Items ?? [];
  }

  /**
   * One transaction, conditioned on the artifact as read (no live version, the same next
   * number): the artifact item and any alias item left go, its project counts one artifact
   * fewer, and a retired marker keeps the next number (readState reads it with the state of
   * a commit that creates the artifact again). A commit meanwhile makes this lose: false.
   */
  async deleteArtifact(change: AliasChange): Promise<boolean> {
    const { project, artifact } = change;
    for (let attempt = 0; attempt < 3; attempt++) {
      const [head, aliases] = await Promise.all([
        this.get(keys.artifact(project, artifact), true),
        this.queryAll(keys.artifactPartition(project, artifact), keys.aliasPrefix, true),
      ]);
      if (!head || ((head.versionCount as number | undefined) ?? 0) > 0) return false;
      try {
        await this.transact([
          tagged("head", {
            Delete: {
              TableName: this.tableName,
              Key: keys.artifact(project, artifact),
              ConditionExpression: "versionCount = :zero AND nextIndex = :next",
              ExpressionAttributeValues: { ":zero": 0, ":next": head.nextIndex },
            },
          }),
          tagged("retired", {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.retiredArtifact(project, artifact), entity: "retired", nextIndex: head.nextIndex, deletedAt: change.at },
            },
          }),
          ...aliases.map((alias) =>
            tagged(`alias:${String(alias.alias)}`, {
              Delete: { TableName: this.tableName, Key: { PK: alias.PK as string, SK: alias.SK as string } },
            }),
          ),
          tagged("project", {
            Update: {
              TableName: this.tableName,
              Key: keys.project(project),
              UpdateExpression: "ADD artifactCount :minus",
              ConditionExpression: "attribute_exists(PK)",
              ExpressionAttributeValues: { ":minus": -1 },
            },
          }),
          this.eventItem(keys.artifactHistory(project, artifact), {
            action: "artifact.deleted",
            actor: change.actor,
            at: change.at,
            project,
            artifact,
            versionsEver: head.nextIndex as number,
          }),
        ]);
        return true;
      } catch (error) {
        if (!(error instanceof TransactionLost)) throw error;
      }
    }
    return false;
  }

  async setProjectRetention(project: string, ttlDays: number | undefined, change: { actor: string; at: string }): Promise<ProjectRecord> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.project(project),
          UpdateExpression: ttlDays === undefined ? "REMOVE ttlDays" : "SET ttlDays = :ttl",
          ConditionExpression: "attribute_exists(PK)",
          ...(ttlDays === undefined ? {} : { ExpressionAttributeValues: { ":ttl": ttlDays } }),
          ReturnValues: "ALL_NEW",
        }),
      );
      await this.transact([
        this.eventItem(keys.projectHistory(project), {
          action: "project.updated",
          actor: change.actor,
          at: change.at,
          project,
          ttlDays: ttlDays ?? null,
        }),
      ]);
      return toProject(result.Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new NotFoundError(`project ${project} does not exist`);
      throw error;
    }
  }

  async expiredVersions(now: string, limit: number): Promise<(VersionRecord & { linkCount: number })[]> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: "GSI1",
        KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :bound",
        ExpressionAttributeValues: { ":pk": keys.expiringIndex, ":bound": `${now}#\uffff` },
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => ({ ...toVersion(item), linkCount: (item.linkCount as number | undefined) ?? 0 }));
  }

  async keepVersion(project: string, artifact: string, index: number, reason: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.version(project, artifact, index),
          UpdateExpression: "SET retentionKept = :reason REMOVE GSI1PK, GSI1SK",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":reason": reason },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async deleteProject(project: string, change: { actor: string; at: string }): Promise<boolean> {
    try {
      await this.transact([
        tagged("project", {
          Delete: {
            TableName: this.tableName,
            Key: keys.project(project),
            ConditionExpression: "attribute_exists(PK) AND (attribute_not_exists(artifactCount) OR artifactCount = :zero)",
            ExpressionAttributeValues: { ":zero": 0 },
          },
        }),
        this.eventItem(keys.projectHistory(project), { action: "project.deleted", actor: change.actor, at: change.at, project }),
      ]);
      return true;
    } catch (error) {
      if (error instanceof TransactionLost) return false;
      throw error;
    }
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.partitionPage(keys.artifactHistory(project, artifact), undefined, page, toEvent, "descending");
  }
}

function notStored(sha256: string): UnprocessableError {
  return new UnprocessableError(
    `sha256 ${sha256} is not stored (never uploaded, or collected as unreferenced meanwhile): plan the upload again and send it`,
  );
}

function versionItem(version: VersionRecord): Item {
  return {
    entity: "version",
    project: version.project,
    artifact: version.artifact,
    index: version.index,
    ...versionSnapshot({ ...version }),
    ...(version.expiresAt === undefined ? {} : expiryIndex(version.project, version.artifact, version.index, version.expiresAt)),
  };
}

/** A version with an expiry sits in the sparse GSI1 partition the retention sweep reads, until the sweep decides on it. */
function expiryIndex(project: string, artifact: string, index: number, expiresAt: string): Item {
  return { GSI1PK: keys.expiringIndex, GSI1SK: keys.expiringSortKey(expiresAt, project, artifact, index) };
}

/**
 * What a version's alias items carry of it, so that a read by alias is one query: its fields
 * that never change, and its description and metadata at `revision` (an edit rewrites them).
 */
function versionSnapshot(item: Item): Item {
  return {
    digest: item.digest,
    type: item.type,
    metadata: storableJson(item.metadata),
    description: item.description,
    createdAt: item.createdAt,
    createdBy: item.createdBy,
    size: item.size,
    fileCount: item.fileCount,
    runId: item.runId,
    revision: item.revision,
    expiresAt: item.expiresAt,
  };
}

function sameEdit(version: VersionRecord, edit: VersionEdit): boolean {
  return (
    version.description === edit.description &&
    version.expiresAt === edit.expiresAt &&
    JSON.stringify(version.metadata) === JSON.stringify(edit.metadata)
  );
}

/** The SET (and REMOVE, for a description taken away) of an edit, for the version and each link copying it. */
function editExpression(edit: VersionEdit): {
  set: string;
  remove: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
} {
  const described = edit.description !== undefined;
  return {
    set: described ? "SET #metadata = :metadata, #description = :description" : "SET #metadata = :metadata",
    remove: described ? "" : " REMOVE #description",
    names: { "#metadata": "metadata", "#description": "description" },
    values: { ":metadata": storableJson(edit.metadata), ...(described ? { ":description": edit.description } : {}) },
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
    ...(item.revision === undefined ? {} : { revision: item.revision as number }),
    ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt as string }),
    ...(item.retentionKept === undefined ? {} : { retentionKept: item.retentionKept as string }),
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

function toEvent(item: Item): AuditEvent {
  return item.event as AuditEvent;
}
