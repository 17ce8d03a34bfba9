import { ConflictError } from "../../core/errors.js";
import { versionLabel, type ArtifactRecord, type AuditEvent, type Page, type PageRequest, type VersionRecord } from "../../core/model.js";
import type { AliasChange, AliasMove, ArtifactStore, CommitOutcome, CommitState, NewVersion } from "../../core/ports.js";
import type { Item } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { storableJson } from "./user-json.js";
import { runOutputItems } from "./run-items.js";
import { SequenceStore, type SequenceLayout } from "./sequence.js";

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
    context: {},
    snapshot: versionSnapshot,
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

  async readCommitState(project: string, artifact: string, digest: string, aliases: string[]): Promise<CommitState> {
    return this.readState(versionsOf(project, artifact), keys.digest(project, artifact, digest), aliases, toArtifact);
  }

  async commitVersion(version: NewVersion, expected: CommitState): Promise<CommitOutcome> {
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
          with: [],
        },
        at: (index) => ({
          item: versionItem(record(index, [])),
          event: { action: "version.created", digest: version.digest },
          // The run → version edge (and the run, when the commit is the first to name it): it exists exactly when the version does.
          with:
            version.runId === undefined
              ? []
              : runOutputItems(this.tableName, { project, artifact, index, runId: version.runId, actor: version.actor, at: version.at }),
        }),
        change: version,
      },
      toArtifact,
    );
    if (!outcome.created) return outcome;
    return { created: true, version: record(outcome.index, outcome.aliases) };
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    return this.moveAliasesIn(versionsOf(change.project, change.artifact), change, index, aliases);
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    return this.removeAliasIn(versionsOf(change.project, change.artifact), change, alias);
  }

  async deleteVersion(change: AliasChange, index: number): Promise<void> {
    const { project, artifact } = change;
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
      with: () => [],
    });
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.partitionPage(keys.artifactHistory(project, artifact), undefined, page, toEvent, "descending");
  }
}

function versionItem(version: VersionRecord): Item {
  return {
    entity: "version",
    project: version.project,
    artifact: version.artifact,
    index: version.index,
    ...versionSnapshot({ ...version }),
  };
}

/** A version's fields that never change: what its alias items carry. */
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

function toEvent(item: Item): AuditEvent {
  return item.event as AuditEvent;
}
