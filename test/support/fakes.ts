import { createHash } from "node:crypto";
import { Re2AliasPatterns } from "../../lambdas/adapters/regex/re2-alias-patterns.js";
import { missingManifest, storedManifestText, verifyStoredManifest } from "../../lambdas/core/manifest.js";
import { CursorSealer } from "../../lambdas/core/cursors.js";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  UnprocessableError,
  ValidationError,
} from "../../lambdas/core/errors.js";
import {
  LATEST_ALIAS,
  MAX_API_KEYS_PER_USER,
  versionLabel,
  type ApiKeyRecord,
  type ArtifactRecord,
  type AuditEvent,
  type JobRecord,
  type CollectionEdit,
  type CollectionRecord,
  type LinkLocation,
  type LinkRecord,
  type LinkTarget,
  type ManifestEntry,
  type MemberRecord,
  type MultipartUpload,
  type Page,
  type PageRequest,
  type ProjectRecord,
  type PromotionDecision,
  type PromotionRecord,
  type RegistryEdit,
  type RegistryRecord,
  type RegistryRole,
  type RunRef,
  type SourceVersion,
  type UserEdit,
  type UserRecord,
  type VersionEdit,
  type VersionRecord,
  type VersionRef,
  type VersionSelector,
} from "../../lambdas/core/model.js";
import type {
  AliasChange,
  AliasExpectations,
  AliasMove,
  ArtifactStore,
  BlobClaim,
  BlobLedger,
  BlobRefs,
  BlobStore,
  Clock,
  CollectionChange,
  CollectionQuery,
  CollectionVersionRef,
  CommitOutcome,
  CommitState,
  HeldBlobClaim,
  Edit,
  Edited,
  IdentityStore,
  Ids,
  JobStore,
  LinkOutcome,
  LinkState,
  NewLink,
  NewVersion,
  ObjectHead,
  PendingRelease,
  PresignedRequest,
  PromotionKey,
  PromotionQuery,
  PromotionStore,
  RegistryStore,
  SequenceState,
  StagedBlobCheck,
} from "../../lambdas/core/ports.js";
import type { DeliveryPolicy } from "../../lambdas/core/webhook-retry.js";
import { BLOB_CLAIM } from "../../lambdas/settings.js";
import { FakeAutomationStore, FakeLineageStore, FakeWebhookSender, TEST_DELIVERY_POLICY } from "./webhook-fakes.js";

/**
 * In-memory stand-ins for the ports, faithful to what the DynamoDB and S3 adapters promise
 * (test/contract/ holds the suites both must pass): every write here is atomic, so they
 * show what the core does when no race interferes. One class per port.
 */

/** As the DynamoDB adapter: an append that keeps losing gives up. */
const MAX_APPEND_ATTEMPTS = 40;

const copy = <T>(value: T): T => structuredClone(value);

/** Opaque list cursors bound to the list they came from, like the adapter's. */
function encodeCursor(list: string, after: string): string {
  return Buffer.from(JSON.stringify({ list, after }), "utf8").toString("base64url");
}

function decodeCursor(cursor: string, list: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (error) {
    throw new ValidationError("cursor is not valid", { cause: error });
  }
  const { list: from, after } = (parsed ?? {}) as { list?: unknown; after?: unknown };
  if (from !== list || typeof after !== "string") throw new ValidationError("cursor is not valid for this list");
  return after;
}

/** Pages `items`, already sorted by `sortKey` in `order`; a cursor names the last key served. */
function pageOf<T>(list: string, items: T[], sortKey: (item: T) => string, order: "asc" | "desc", page: PageRequest): Page<T> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, list);
  const remaining = after === undefined ? items : items.filter((item) => (order === "asc" ? sortKey(item) > after : sortKey(item) < after));
  const selected = remaining.slice(0, page.limit);
  const last = selected.at(-1);
  const more = remaining.length > selected.length;
  return { items: copy(selected), nextCursor: more && last ? encodeCursor(list, sortKey(last)) : undefined };
}

let eventSeq = 0;

type Change = { actor: string; at: string };
type Head = { type: string; nextIndex: number; latestIndex?: number; createdAt: string; createdBy: string };

/** A new item at the end of a sequence: what the DynamoDB adapter's `Append` carries. */
interface FakeAppend<T, H> {
  dedupe: string;
  type: string;
  aliases: string[];
  /** The head to create on the first item (its creation event included). */
  newHead(): H;
  at(index: number): { item: T; event: { action: string; [detail: string]: unknown } };
  change: Change;
}

/**
 * A gap-free numbered sequence with a dedupe key and aliases, as the DynamoDB adapter keeps
 * one (lambdas/adapters/dynamodb/sequence.ts) for an artifact's versions and a collection's
 * links: numbers never reused, one holder per alias, `latest` automatic, an append that
 * expects the state it read, removal that burns the number, audit events.
 */
class FakeSequence<T extends { index: number; aliases: string[] }, H extends Head> {
  head?: H;
  readonly items = new Map<number, T>();
  readonly aliases = new Map<string, number>();
  /** Dedupe key (digest, source) → index of the live item holding it. */
  readonly dedupe = new Map<string, number>();
  /** Indexes of removed items: burnt, never handed out again. */
  readonly tombstones = new Set<number>();
  readonly history: { seq: number; event: AuditEvent }[] = [];

  constructor(
    readonly label: string,
    /** Fields every event of this sequence carries (registry, collection). */
    private readonly context: Record<string, unknown>,
    /** Adds `delta` to the head's count of live items. */
    private readonly count: (head: H, delta: number) => void,
    private readonly dedupeOf: (item: T) => string,
  ) {}

  /** The next number of a deleted head: a head created again goes on from it. */
  retiredNext?: number;

  state(dedupe: string, aliases: string[]): SequenceState<H> {
    const holders = new Map<string, number>();
    for (const alias of withLatest(aliases)) {
      const holder = this.aliases.get(alias);
      if (holder !== undefined) holders.set(alias, holder);
    }
    const existing = this.dedupe.get(dedupe);
    return {
      ...(this.head ? { head: copy(this.head) } : {}),
      ...(!this.head && this.retiredNext !== undefined ? { firstIndex: this.retiredNext } : {}),
      ...(existing === undefined ? {} : { existing }),
      holders,
      attempts: 0,
    };
  }

  /** Appends only while the state read still holds, as the adapter's conditions make it. */
  append(expected: SequenceState<H>, append: FakeAppend<T, H>): { created: true; item: T } | { created: false; current: SequenceState<H> } {
    if (expected.attempts >= MAX_APPEND_ATTEMPTS) throw new ConflictError("too many concurrent changes; retry");
    const aliases = withLatest(append.aliases);
    const holds =
      (expected.head
        ? this.head !== undefined && this.head.nextIndex === expected.head.nextIndex && this.head.type === append.type
        : this.head === undefined) &&
      !this.dedupe.has(append.dedupe) &&
      aliases.every((alias) => this.aliases.get(alias) === expected.holders.get(alias));
    if (!holds) return { created: false, current: { ...this.state(append.dedupe, append.aliases), attempts: expected.attempts + 1 } };
    this.head ??= { ...append.newHead(), nextIndex: this.retiredNext ?? 0 };
    const index = this.head.nextIndex;
    const { item, event } = append.at(index);
    this.items.set(index, item);
    this.dedupe.set(append.dedupe, index);
    const holders = new Map(aliases.map((alias) => [alias, this.aliases.get(alias)] as const));
    for (const alias of aliases) this.pointAlias(alias, index);
    this.head.nextIndex = index + 1;
    this.head.latestIndex = index;
    this.counter(1);
    this.record({ ...event, actor: append.change.actor, at: append.change.at, ...this.context, version: versionLabel(index), aliases });
    for (const alias of aliases.slice(1)) this.recordAliasMove(append.change, alias, holders.get(alias), index);
    return { created: true, item: copy(item) };
  }

  move(change: Change, index: number, aliases: string[], expected?: AliasExpectations, details: Record<string, unknown> = {}): AliasMove[] {
    if (!this.items.has(index)) throw new NotFoundError(`${this.label} has no version ${versionLabel(index)}`);
    for (const [alias, want] of expected ?? []) {
      const current = this.aliases.get(alias);
      if ((current ?? null) === want) continue;
      const now = current === undefined ? null : versionLabel(current);
      throw new PreconditionFailedError(
        `${this.label}: alias ${alias} names ${now ?? "nothing"}, not ${want === null ? "nothing" : versionLabel(want)} as expected; nothing was changed`,
        { details: { alias, current: now } },
      );
    }
    const moves: AliasMove[] = [];
    for (const alias of new Set(aliases)) {
      const from = this.aliases.get(alias);
      if (from === index) continue;
      this.pointAlias(alias, index);
      this.recordAliasMove(change, alias, from, index, details);
      moves.push({ alias, from, to: index });
    }
    return moves;
  }

  removeAlias(change: Change, alias: string): number | undefined {
    const from = this.aliases.get(alias);
    if (from === undefined) return undefined;
    this.aliases.delete(alias);
    dropAlias(this.items.get(from), alias);
    this.record({ action: "alias.removed", actor: change.actor, at: change.at, ...this.context, alias, from: versionLabel(from) });
    return from;
  }

  /** Removes item `index`, burning its number; its aliases go with it but `latest`, which moves back. */
  retire(change: Change, index: number, event: (item: T) => { action: string; [detail: string]: unknown }): T {
    const item = this.items.get(index);
    if (!item) throw new NotFoundError(`${this.label} has no version ${versionLabel(index)}`);
    const aliases = [...item.aliases];
    const lower = [...this.items.keys()].filter((i) => i < index);
    const previous = aliases.includes(LATEST_ALIAS) && lower.length > 0 ? Math.max(...lower) : undefined;
    for (const alias of aliases) this.aliases.delete(alias);
    this.items.delete(index);
    this.dedupe.delete(this.dedupeOf(item));
    this.tombstones.add(index);
    if (previous !== undefined) this.pointAlias(LATEST_ALIAS, previous);
    this.counter(-1);
    if (aliases.includes(LATEST_ALIAS) && this.head) {
      if (previous === undefined) delete this.head.latestIndex;
      else this.head.latestIndex = previous;
    }
    this.record({ ...event(item), actor: change.actor, at: change.at, ...this.context, version: versionLabel(index), aliases });
    return item;
  }

  recordAliasMove(change: Change, alias: string, from: number | undefined, to: number, details: Record<string, unknown> = {}): void {
    this.record({
      action: from === undefined ? "alias.set" : "alias.moved",
      actor: change.actor,
      at: change.at,
      ...this.context,
      alias,
      ...(from === undefined ? {} : { from: versionLabel(from) }),
      to: versionLabel(to),
      ...details,
    });
  }

  record(event: AuditEvent): void {
    this.history.push({ seq: ++eventSeq, event: { ...event } });
  }

  listItems(list: string, page: PageRequest): Page<T> {
    const newestFirst = [...this.items.values()].sort((a, b) => b.index - a.index);
    return pageOf(list, newestFirst, (item) => sortableIndex(item.index), "desc", page);
  }

  listHistory(list: string, page: PageRequest): Page<AuditEvent> {
    const key = (e: { seq: number; event: AuditEvent }) => `${e.event.at}#${sortableIndex(e.seq)}`;
    const entries = [...this.history].sort((a, b) => compare(key(b), key(a)));
    const result = pageOf(list, entries, key, "desc", page);
    return { items: result.items.map((e) => e.event), nextCursor: result.nextCursor };
  }

  private counter(delta: number): void {
    if (this.head) this.count(this.head, delta);
  }

  /** Points `alias` at `index`, taking it off its previous holder so it has exactly one. */
  private pointAlias(alias: string, index: number): void {
    const from = this.aliases.get(alias);
    if (from !== undefined && from !== index) dropAlias(this.items.get(from), alias);
    this.aliases.set(alias, index);
    const target = this.items.get(index)!;
    if (!target.aliases.includes(alias)) target.aliases.push(alias);
  }
}

const withLatest = (aliases: string[]) => [LATEST_ALIAS, ...new Set(aliases.filter((a) => a !== LATEST_ALIAS))];

type Versions = FakeSequence<VersionRecord, ArtifactRecord>;

export class FakeArtifactStore implements ArtifactStore {
  readonly artifacts = new Map<string, Versions>();
  /** The projects index: counted when a commit creates an artifact, as the adapter's commit transaction does. */
  readonly projects = new Map<string, ProjectRecord>();
  /** Links per version, as the adapter counts them on the version item. */
  private readonly linkCounts = new Map<string, number>();
  /** Where a commit naming a run records its output edge, as the adapter does in the commit's transaction. */
  runOutputs?: (run: RunRef, output: VersionRef, change: Change) => void;
  /** Where an edit of a version reaches the links copying it, as the adapter's edit transaction does. */
  onVersionEdited?: (version: VersionRecord) => void;
  /** The blob items a commit takes references on and a delete records its release in, as the adapter's transactions do. */
  ledger?: FakeBlobLedger;

  async getArtifact(project: string, artifact: string): Promise<ArtifactRecord | undefined> {
    const head = this.artifacts.get(artifactKey(project, artifact))?.head;
    return head && copy(head);
  }

  async listArtifacts(project: string, page: PageRequest): Promise<Page<ArtifactRecord>> {
    const records = [...this.artifacts.values()]
      .flatMap((s) => (s.head ? [s.head] : []))
      .filter((r) => r.project === project)
      .sort((a, b) => compare(a.name, b.name));
    return pageOf(`artifacts:${project}`, records, (r) => r.name, "asc", page);
  }

  async getVersion(project: string, artifact: string, index: number): Promise<VersionRecord | undefined> {
    const version = this.artifacts.get(artifactKey(project, artifact))?.items.get(index);
    return version && copy(version);
  }

  async getVersionByAlias(project: string, artifact: string, alias: string): Promise<VersionRecord | undefined> {
    const versions = this.artifacts.get(artifactKey(project, artifact));
    const index = versions?.aliases.get(alias);
    return index === undefined ? undefined : this.getVersion(project, artifact, index);
  }

  async listAliases(project: string, artifact: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.artifacts.get(artifactKey(project, artifact))?.aliases ?? []);
  }

  async listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>> {
    const versions = this.artifacts.get(artifactKey(project, artifact));
    if (!versions) return pageOf(`versions:${project}/${artifact}`, [], String, "desc", page);
    return versions.listItems(`versions:${project}/${artifact}`, page);
  }

  async readCommitState(project: string, artifact: string, digest: string, aliases: string[]): Promise<CommitState> {
    const state = this.versions(project, artifact).state(digest, aliases);
    // As the adapter, which reads the project item in the same BatchGet.
    const ttlDays = this.projects.get(project)?.ttlDays;
    return ttlDays === undefined ? state : { ...state, projectTtlDays: ttlDays };
  }

  async commitVersion(version: NewVersion, expected: CommitState): Promise<CommitOutcome> {
    const { project, artifact } = version;
    const blobs = [...new Set(version.blobs)];
    // The adapter's `ADD refs` conditions: every blob verified (not condemned, not gone), checked with the write.
    for (const sha256 of blobs) {
      if (this.ledger && this.ledger.blobs.get(sha256)?.state !== "verified") {
        throw new UnprocessableError(`sha256 ${sha256} is not stored (never uploaded, or collected as unreferenced meanwhile)`);
      }
    }
    const creating = this.artifacts.get(artifactKey(project, artifact))?.head === undefined;
    const outcome = this.versions(project, artifact).append(expected, {
      dedupe: version.digest,
      type: version.type,
      aliases: version.aliases,
      newHead: () => ({
        project,
        name: artifact,
        type: version.type,
        createdAt: version.at,
        createdBy: version.actor,
        nextIndex: 0,
        versionCount: 0,
      }),
      at: (index) => ({
        item: {
          project,
          artifact,
          index,
          digest: version.digest,
          type: version.type,
          aliases: [],
          metadata: copy(version.metadata),
          description: version.description,
          createdAt: version.at,
          createdBy: version.actor,
          size: version.size,
          fileCount: version.fileCount,
          runId: version.runId,
          ...(version.expiresAt === undefined ? {} : { expiresAt: version.expiresAt }),
        },
        event: { action: "version.created", digest: version.digest },
      }),
      change: version,
    });
    if (!outcome.created) return outcome;
    for (const sha256 of blobs) this.ledger?.takeRef(sha256);
    if (creating) {
      const known = this.projects.get(project);
      if (known) known.artifactCount++;
      else this.projects.set(project, { name: project, artifactCount: 1, createdAt: version.at, createdBy: version.actor });
    }
    if (version.runId !== undefined) {
      this.runOutputs?.({ project, id: version.runId }, { project, artifact, index: outcome.item.index }, version);
    }
    return { created: true, version: outcome.item };
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[], expected?: AliasExpectations): Promise<AliasMove[]> {
    return this.versions(change.project, change.artifact).move(change, index, aliases, expected);
  }

  async listProjects(page: PageRequest): Promise<Page<ProjectRecord>> {
    const projects = [...this.projects.values()].sort((a, b) => compare(a.name, b.name));
    return pageOf("projects", projects, (p) => p.name, "asc", page);
  }

  async updateVersion(change: AliasChange, index: number, edit: Edit<VersionRecord, VersionEdit>): Promise<Edited<VersionRecord>> {
    const versions = this.artifacts.get(artifactKey(change.project, change.artifact));
    const version = versions?.items.get(index);
    if (!versions || !version) throw new NotFoundError(`${change.project}/${change.artifact} has no version ${versionLabel(index)}`);
    const before = copy(version);
    const next = edit(copy(before));
    if (
      before.description === next.description &&
      before.expiresAt === next.expiresAt &&
      JSON.stringify(before.metadata) === JSON.stringify(next.metadata)
    ) {
      return { before, after: before };
    }
    version.metadata = copy(next.metadata);
    if (next.description === undefined) delete version.description;
    else version.description = next.description;
    // A new expiry is for the sweep to decide on again.
    delete version.retentionKept;
    if (next.expiresAt === undefined) delete version.expiresAt;
    else version.expiresAt = next.expiresAt;
    version.revision = (version.revision ?? 0) + 1;
    this.onVersionEdited?.(copy(version));
    versions.record({
      action: "version.updated",
      actor: change.actor,
      at: change.at,
      version: versionLabel(index),
      before: { description: before.description ?? null, metadata: before.metadata },
      after: { description: next.description ?? null, metadata: next.metadata },
    });
    return { before, after: copy(version) };
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    return this.artifacts.get(artifactKey(change.project, change.artifact))?.removeAlias(change, alias);
  }

  async deleteVersion(change: AliasChange, index: number): Promise<PendingRelease> {
    const versions = this.versions(change.project, change.artifact);
    if (versions.items.has(index) && (this.linkCounts.get(versionKey(change, index)) ?? 0) > 0) {
      throw new ConflictError(`${change.project}/${change.artifact}:${versionLabel(index)} is linked by a collection`);
    }
    const gone = versions.retire(change, index, (version) => ({ action: "version.deleted", digest: version.digest }));
    const release = { project: change.project, artifact: change.artifact, index, digest: gone.digest, done: 0, at: change.at };
    this.ledger?.releases.set(releaseKey(release), { ...release });
    return release;
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    const versions = this.artifacts.get(artifactKey(project, artifact));
    if (!versions) return pageOf(`history:${project}/${artifact}`, [], String, "desc", page);
    return versions.listHistory(`history:${project}/${artifact}`, page);
  }

  async versionsAfter(
    project: string,
    artifact: string,
    after: number | undefined,
    limit: number,
  ): Promise<(VersionRecord & { linkCount: number })[]> {
    const versions = this.artifacts.get(artifactKey(project, artifact));
    if (!versions) return [];
    return [...versions.items.values()]
      .filter((v) => after === undefined || v.index > after)
      .sort((a, b) => a.index - b.index)
      .slice(0, limit)
      .map((v) => ({ ...copy(v), linkCount: this.linkCounts.get(versionKey(v, v.index)) ?? 0 }));
  }

  async artifactsAfter(project: string, after: string | undefined, limit: number): Promise<ArtifactRecord[]> {
    return [...this.artifacts.values()]
      .flatMap((s) => (s.head ? [s.head] : []))
      .filter((r) => r.project === project && (after === undefined || r.name > after))
      .sort((a, b) => compare(a.name, b.name))
      .slice(0, limit)
      .map(copy);
  }

  /** As the adapter: only an artifact with no live version; its numbers stay burnt, its history stays. */
  async deleteArtifact(change: AliasChange): Promise<boolean> {
    const versions = this.artifacts.get(artifactKey(change.project, change.artifact));
    if (!versions?.head || versions.head.versionCount > 0) return false;
    versions.retiredNext = versions.head.nextIndex;
    versions.record({
      action: "artifact.deleted",
      actor: change.actor,
      at: change.at,
      project: change.project,
      artifact: change.artifact,
      versionsEver: versions.head.nextIndex,
    });
    delete versions.head;
    versions.aliases.clear();
    const project = this.projects.get(change.project);
    if (project) project.artifactCount--;
    return true;
  }

  async setProjectRetention(project: string, ttlDays: number | undefined, change: { actor: string; at: string }): Promise<ProjectRecord> {
    const record = this.projects.get(project);
    if (!record) throw new NotFoundError(`project ${project} does not exist`);
    if (ttlDays === undefined) delete record.ttlDays;
    else record.ttlDays = ttlDays;
    this.projectEvents.push({ action: "project.updated", actor: change.actor, at: change.at, project, ttlDays: ttlDays ?? null });
    return copy(record);
  }

  /** As the adapter's sparse expiry index: versions with an expiry the sweep has not kept. */
  async expiredVersions(now: string, limit: number): Promise<(VersionRecord & { linkCount: number })[]> {
    return [...this.artifacts.values()]
      .flatMap((s) => [...s.items.values()])
      .filter((v) => v.expiresAt !== undefined && v.retentionKept === undefined && v.expiresAt <= now)
      .sort((a, b) =>
        compare(
          `${a.expiresAt}#${a.project}#${a.artifact}#${sortableIndex(a.index)}`,
          `${b.expiresAt}#${b.project}#${b.artifact}#${sortableIndex(b.index)}`,
        ),
      )
      .slice(0, limit)
      .map((v) => ({ ...copy(v), linkCount: this.linkCounts.get(versionKey(v, v.index)) ?? 0 }));
  }

  async keepVersion(project: string, artifact: string, index: number, reason: string): Promise<boolean> {
    const version = this.artifacts.get(artifactKey(project, artifact))?.items.get(index);
    if (!version) return false;
    version.retentionKept = reason;
    return true;
  }

  /** Project-level audit events (the adapter's project history partition), oldest first. */
  readonly projectEvents: AuditEvent[] = [];

  async deleteProject(project: string, change: { actor: string; at: string }): Promise<boolean> {
    const record = this.projects.get(project);
    if (!record || record.artifactCount > 0) return false;
    this.projects.delete(project);
    this.projectEvents.push({ action: "project.deleted", actor: change.actor, at: change.at, project });
    return true;
  }

  requireVersion(source: VersionRef): void {
    if (!this.artifacts.get(artifactKey(source.project, source.artifact))?.items.has(source.index)) {
      throw new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`);
    }
  }

  /** Counts a link on a version, which must exist, like the adapter's conditioned `ADD linkCount`. */
  adjustLinkCount(source: VersionRef, delta: number): void {
    this.requireVersion(source);
    const key = versionKey(source, source.index);
    this.linkCounts.set(key, (this.linkCounts.get(key) ?? 0) + delta);
  }

  // test helpers

  /** Commits `version` as the use case would with no race: reads the state, then writes. */
  async add(version: NewVersion): Promise<VersionRecord> {
    const state = await this.readCommitState(version.project, version.artifact, version.digest, version.aliases);
    const outcome = await this.commitVersion(version, state);
    if (!outcome.created) throw new Error(`${version.project}/${version.artifact} holds this digest already`);
    return outcome.version;
  }

  /** Every audit event of an artifact, oldest first. */
  events(project: string, artifact: string): AuditEvent[] {
    return copy((this.artifacts.get(artifactKey(project, artifact))?.history ?? []).map((e) => e.event));
  }

  tombstones(project: string, artifact: string): number[] {
    return [...(this.artifacts.get(artifactKey(project, artifact))?.tombstones ?? [])].sort((a, b) => a - b);
  }

  private versions(project: string, artifact: string): Versions {
    const key = artifactKey(project, artifact);
    let versions = this.artifacts.get(key);
    if (!versions) {
      versions = new FakeSequence(
        `${project}/${artifact}`,
        {},
        (head, delta) => (head.versionCount += delta),
        (version) => version.digest,
      );
      this.artifacts.set(key, versions);
    }
    return versions;
  }
}

interface BlobState {
  sha256: string;
  size: number;
  state: "verifying" | "verified" | "condemned";
  /** Reference tracking, as the adapter keeps it (lambdas/adapters/dynamodb/blob-ledger.ts). */
  refs?: number;
  refsRevision?: number;
  tracked?: boolean;
  releasedAt?: string;
  /** In the unreferenced index (the adapter's GSI1 keys). */
  indexed?: boolean;
  /** Set by the adapter's pins, which a commit too large for one transaction takes first. */
  pinnedAt?: string;
  condemnId?: string;
  condemnedUntil?: string;
  claimedAt?: string;
  claimId?: string;
  holder?: string;
  leaseUntil?: string;
  verifiedAt?: string;
}

let fakeClaims = 0;

/** As DynamoBlobLedger (lambdas/adapters/dynamodb/blob-ledger.ts), one process per instance unless `holder` is shared. */
export class FakeBlobLedger implements BlobLedger {
  readonly blobs: Map<string, BlobState> = new Map();
  readonly uploads: Map<string, MultipartUpload> = new Map();
  readonly releases: Map<string, PendingRelease> = new Map();
  private readonly holder: string;
  private readonly soleHolder: boolean;
  private readonly leaseMs: number;

  constructor(options: { holder?: string; soleHolder?: boolean; leaseMs?: number; sharing?: FakeBlobLedger } = {}) {
    this.holder = options.holder ?? "fake-process";
    this.soleHolder = options.soleHolder ?? false;
    this.leaseMs = options.leaseMs ?? BLOB_CLAIM.leaseMs;
    // Another process on the same table sees the same items.
    if (options.sharing) {
      this.blobs = options.sharing.blobs;
      this.uploads = options.sharing.uploads;
      this.releases = options.sharing.releases;
    }
  }

  async verifiedBlobs(sha256s: string[]): Promise<Map<string, number>> {
    const verified = new Map<string, number>();
    for (const sha256 of sha256s) {
      const blob = this.blobs.get(sha256);
      if (blob?.state === "verified") verified.set(sha256, blob.size);
    }
    return verified;
  }

  async claimBlob(sha256: string, size: number, at: string): Promise<BlobClaim> {
    const blob = this.blobs.get(sha256);
    const gone =
      blob?.state === "verifying" &&
      (blob.leaseUntil === undefined
        ? Date.parse(blob.claimedAt!) < Date.parse(at) - BLOB_CLAIM.unleasedStaleMs
        : blob.leaseUntil < at || (this.soleHolder && blob.holder !== this.holder));
    if (!blob || gone) {
      const claim = { sha256, id: `claim-${++fakeClaims}`, leaseUntil: new Date(Date.parse(at) + this.leaseMs).toISOString() };
      this.blobs.set(sha256, {
        sha256,
        size,
        state: "verifying",
        claimedAt: at,
        claimId: claim.id,
        holder: this.holder,
        leaseUntil: claim.leaseUntil,
      });
      return { status: "claimed", claim };
    }
    return blob.state === "verified" ? { status: "verified" } : { status: "busy" };
  }

  async renewBlobClaim(claim: HeldBlobClaim, at: string): Promise<HeldBlobClaim | undefined> {
    const blob = this.held(claim);
    if (!blob) return undefined;
    blob.leaseUntil = new Date(Date.parse(at) + this.leaseMs).toISOString();
    return { ...claim, leaseUntil: blob.leaseUntil };
  }

  async markBlobVerified(claim: HeldBlobClaim, size: number, at: string): Promise<boolean> {
    if (!this.held(claim)) return false;
    this.blobs.set(claim.sha256, verifiedBlob(claim.sha256, size, at));
    return true;
  }

  async releaseBlobClaim(claim: HeldBlobClaim): Promise<void> {
    if (this.held(claim)) this.blobs.delete(claim.sha256);
  }

  /** A blob another request verified (tests' shortcut for claim + mark). */
  async verify(sha256: string, size: number, at = "2025-01-01T00:00:00.000Z"): Promise<void> {
    this.blobs.set(sha256, verifiedBlob(sha256, size, at));
  }

  /** A blob verified before reference tracking: no count, never collected until a recount. */
  legacy(sha256: string, size: number, at = "2025-01-01T00:00:00.000Z"): void {
    this.blobs.set(sha256, { sha256, size, state: "verified", verifiedAt: at });
  }

  /** A commit's conditioned `ADD refs`: the caller checked the blob is verified. */
  takeRef(sha256: string): void {
    const blob = this.blobs.get(sha256)!;
    blob.refs = (blob.refs ?? 0) + 1;
    blob.refsRevision = (blob.refsRevision ?? 0) + 1;
    blob.indexed = false;
  }

  private giveRef(sha256: string, at: string): void {
    const blob = this.blobs.get(sha256);
    if (!blob) return;
    blob.refs = (blob.refs ?? 0) - 1;
    blob.refsRevision = (blob.refsRevision ?? 0) + 1;
    blob.releasedAt = at;
    blob.indexed = true;
  }

  async blobRefs(sha256s: string[]): Promise<Map<string, BlobRefs>> {
    const found = new Map<string, BlobRefs>();
    for (const sha256 of sha256s) {
      const blob = this.blobs.get(sha256);
      if (blob) found.set(sha256, toRefs(blob));
    }
    return found;
  }

  async unreferencedBlobs(before: string, limit: number): Promise<BlobRefs[]> {
    return [...this.blobs.values()]
      .filter((b) => b.indexed === true && b.releasedAt !== undefined && b.releasedAt <= before)
      .sort((a, b) => compare(a.releasedAt!, b.releasedAt!))
      .slice(0, limit)
      .map(toRefs);
  }

  async condemnBlob(blob: BlobRefs, id: string, at: string, leaseUntil: string): Promise<boolean> {
    const item = this.blobs.get(blob.sha256);
    const ok =
      item !== undefined &&
      ((item.state === "verified" && item.tracked === true && item.refs === 0 && item.releasedAt === blob.releasedAt) ||
        (item.state === "condemned" && item.condemnedUntil! < at));
    if (!ok) return false;
    item.state = "condemned";
    item.condemnId = id;
    item.condemnedUntil = leaseUntil;
    return true;
  }

  async dismissBlob(blob: BlobRefs): Promise<void> {
    const item = this.blobs.get(blob.sha256);
    if (item?.state === "verified" && item.releasedAt === blob.releasedAt) item.indexed = false;
  }

  async forgetBlob(sha256: string, id: string): Promise<boolean> {
    const item = this.blobs.get(sha256);
    if (item?.state !== "condemned" || item.condemnId !== id) return false;
    this.blobs.delete(sha256);
    return true;
  }

  async pendingReleases(limit: number): Promise<PendingRelease[]> {
    return [...this.releases.entries()]
      .sort(([a], [b]) => compare(a, b))
      .slice(0, limit)
      .map(([, release]) => ({ ...release }));
  }

  async releaseRefs(release: PendingRelease, chunk: number, sha256s: string[], last: boolean, at: string): Promise<boolean> {
    const key = releaseKey(release);
    const stored = this.releases.get(key);
    if (stored?.done !== chunk) return false;
    for (const sha256 of new Set(sha256s)) this.giveRef(sha256, at);
    if (last) this.releases.delete(key);
    else stored.done = chunk + 1;
    return true;
  }

  async allBlobs(): Promise<BlobRefs[]> {
    return [...this.blobs.values()].map(toRefs);
  }

  async setRefs(blob: BlobRefs, refs: number, at: string): Promise<boolean> {
    const item = this.blobs.get(blob.sha256);
    if (item?.state !== "verified" || (item.refsRevision ?? 0) !== blob.refsRevision) return false;
    item.refs = refs;
    item.tracked = true;
    item.refsRevision = blob.refsRevision + 1;
    if (refs === 0) {
      item.releasedAt = at;
      item.indexed = true;
    } else item.indexed = false;
    return true;
  }

  private held(claim: HeldBlobClaim): BlobState | undefined {
    const blob = this.blobs.get(claim.sha256);
    return blob?.state === "verifying" && blob.claimId === claim.id ? blob : undefined;
  }

  async putMultipartUpload(upload: MultipartUpload): Promise<void> {
    this.uploads.set(uploadKey(upload.sha256, upload.uploadId), copy(upload));
  }

  async getMultipartUpload(sha256: string, uploadId: string): Promise<MultipartUpload | undefined> {
    const upload = this.uploads.get(uploadKey(sha256, uploadId));
    return upload && copy(upload);
  }

  async findMultipartUpload(sha256: string, size: number, partSize: number): Promise<MultipartUpload | undefined> {
    const upload = [...this.uploads.values()].find((u) => u.sha256 === sha256 && u.size === size && u.partSize === partSize);
    return upload && copy(upload);
  }

  async deleteMultipartUpload(sha256: string, uploadId: string): Promise<void> {
    this.uploads.delete(uploadKey(sha256, uploadId));
  }
}

function verifiedBlob(sha256: string, size: number, at: string): BlobState {
  return { sha256, size, state: "verified", verifiedAt: at, refs: 0, refsRevision: 0, tracked: true, releasedAt: at, indexed: true };
}

function toRefs(blob: BlobState): BlobRefs {
  return {
    sha256: blob.sha256,
    size: blob.size,
    state: blob.state,
    refs: blob.refs ?? 0,
    tracked: blob.tracked === true,
    refsRevision: blob.refsRevision ?? 0,
    ...(blob.releasedAt === undefined ? {} : { releasedAt: blob.releasedAt }),
    ...(blob.pinnedAt === undefined ? {} : { pinnedAt: blob.pinnedAt }),
    ...(blob.condemnId === undefined ? {} : { condemnId: blob.condemnId, condemnedUntil: blob.condemnedUntil }),
  };
}

const releaseKey = (release: { project: string; artifact: string; index: number }) =>
  `${release.project}#${release.artifact}#${String(release.index).padStart(10, "0")}`;

export class FakeIdentityStore implements IdentityStore {
  readonly users = new Map<string, UserRecord>();
  /** By key hash, like the table. */
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  /** The unrevoked keys each user holds (the adapter's `keyHashes`): what a change of the user rewrites. */
  readonly keyHashes = new Map<string, Set<string>>();
  readonly userEvents: AuditEvent[] = [];

  async getUser(id: string): Promise<UserRecord | undefined> {
    const user = this.users.get(id);
    return user && copy(user);
  }

  async createUser(user: UserRecord): Promise<void> {
    if (this.users.has(user.id)) throw new ConflictError(`user ${user.id} already exists`);
    this.users.set(user.id, copy(user));
  }

  async listUsers(page: PageRequest): Promise<Page<UserRecord>> {
    const users = [...this.users.values()].sort((a, b) => compare(a.id, b.id));
    return pageOf("users", users, (u) => u.id, "asc", page);
  }

  async getApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const key = this.apiKeys.get(keyHash);
    return key && copy(key);
  }

  async getApiKeyById(id: string): Promise<ApiKeyRecord | undefined> {
    const key = [...this.apiKeys.values()].find((k) => k.id === id);
    return key && copy(key);
  }

  async createApiKey(key: ApiKeyRecord, user: UserRecord): Promise<void> {
    if (this.apiKeys.has(key.keyHash)) throw new ConflictError(`API key ${key.id} already exists`);
    const current = this.users.get(user.id);
    if (!current || current.orgRole !== user.orgRole || current.status !== user.status) {
      throw new ConflictError(`user ${user.id} changed while the key was created; retry`);
    }
    const held = this.keyHashes.get(user.id) ?? new Set<string>();
    if (held.size >= MAX_API_KEYS_PER_USER) {
      throw new ConflictError(
        `user ${user.id} holds ${held.size} API keys, the most one user may (revoked keys do not count): revoke one first`,
      );
    }
    this.apiKeys.set(key.keyHash, { ...copy(key), orgRole: user.orgRole, userStatus: user.status });
    this.keyHashes.set(user.id, held.add(key.keyHash));
  }

  async updateUser(id: string, change: Change, edit: Edit<UserRecord, UserEdit>): Promise<Edited<UserRecord>> {
    const user = this.users.get(id);
    if (!user) throw new NotFoundError(`user ${id} does not exist`);
    const before = copy(user);
    const next = edit(copy(before));
    if (next.orgRole === before.orgRole && next.status === before.status) return { before, after: before };
    user.orgRole = next.orgRole;
    user.status = next.status;
    for (const hash of this.keyHashes.get(id) ?? []) {
      const key = this.apiKeys.get(hash)!;
      key.orgRole = next.orgRole;
      key.userStatus = next.status;
    }
    this.userEvents.push({
      action: "user.updated",
      actor: change.actor,
      at: change.at,
      user: id,
      before: { role: before.orgRole, status: before.status },
      after: { role: next.orgRole, status: next.status },
      keys: this.keyHashes.get(id)?.size ?? 0,
    });
    return { before, after: copy(user) };
  }

  async listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const keys = [...this.apiKeys.values()].filter((k) => userId === undefined || k.userId === userId).sort((a, b) => compare(a.id, b.id));
    return pageOf(`keys:${userId ?? "*"}`, keys, (k) => k.id, "asc", page);
  }

  async revokeApiKey(ref: { keyHash: string; userId: string }, at: string): Promise<void> {
    const key = this.apiKeys.get(ref.keyHash);
    if (!key) throw new NotFoundError("no such API key");
    if (!this.users.has(ref.userId)) throw new NotFoundError(`user ${ref.userId} does not exist`);
    key.revokedAt ??= at;
    this.keyHashes.get(ref.userId)?.delete(ref.keyHash);
  }

  async touchApiKey(keyHash: string, at: string): Promise<void> {
    const key = this.apiKeys.get(keyHash);
    if (!key) throw new NotFoundError("no such API key");
    key.lastUsedAt = at;
  }
}

type Links = FakeSequence<LinkRecord, CollectionRecord>;

/**
 * Registries, members, collections and links. Links count on the source version in the
 * artifact fake, as the adapter's transaction does, so a linked version refuses deletion.
 */
export class FakeRegistryStore implements RegistryStore {
  readonly registries = new Map<string, RegistryRecord>();
  readonly members = new Map<string, Map<string, MemberRecord>>();
  readonly collections = new Map<string, Links>();
  readonly registryEvents: AuditEvent[] = [];
  /** Deletes a registry's automations (in the adapter, items of the registry's partition); answers their ids. */
  deleteAutomationsOf?: (registry: string) => Promise<{ id: string; name: string }[]>;

  constructor(private readonly artifacts: FakeArtifactStore) {}

  /** As the adapter's conditioned `generation` update: nothing is added to a registry that does not exist. */
  private requireRegistry(name: string): RegistryRecord {
    const registry = this.registries.get(name);
    if (!registry) throw new NotFoundError(`registry ${name} does not exist`);
    return registry;
  }

  /** The links of a collection, if it was ever written to (the promotion fake moves aliases through it). */
  sequenceOf(registry: string, collection: string): Links | undefined {
    return this.collections.get(collectionKey(registry, collection));
  }

  /** Copies an edited version's description and metadata onto every link of it, as the adapter's edit transaction does. */
  copyVersionEdit(version: VersionRecord): void {
    for (const links of this.collections.values()) {
      for (const link of links.items.values()) {
        const { source } = link;
        if (source.project !== version.project || source.artifact !== version.artifact || source.index !== version.index) continue;
        link.metadata = copy(version.metadata);
        if (version.description === undefined) delete link.description;
        else link.description = version.description;
      }
    }
  }

  async createRegistry(registry: RegistryRecord): Promise<void> {
    if (this.registries.has(registry.name)) throw new ConflictError(`registry ${registry.name} already exists`);
    this.registries.set(registry.name, copy(registry));
    this.registryEvents.push({ action: "registry.created", actor: registry.createdBy, at: registry.createdAt, registry: registry.name });
  }

  async listRegistries(page: PageRequest, visible: (registry: RegistryRecord) => boolean = () => true): Promise<Page<RegistryRecord>> {
    const registries = [...this.registries.values()].filter((r) => visible(copy(r))).sort((a, b) => compare(a.name, b.name));
    return pageOf("registries", registries, (r) => r.name, "asc", page);
  }

  async getRegistryAccess(
    name: string,
    userId: string | undefined,
    version?: CollectionVersionRef,
  ): Promise<{ registry?: RegistryRecord; role?: RegistryRole; target?: LinkTarget }> {
    const registry = this.registries.get(name);
    const role = userId === undefined ? undefined : this.members.get(name)?.get(userId)?.role;
    const target = version && (await this.getLinkTarget(name, version.collection, version));
    return {
      ...(registry ? { registry: copy(registry) } : {}),
      ...(role ? { role } : {}),
      ...(target ? { target } : {}),
    };
  }

  async getMembership(registry: string, userId: string): Promise<RegistryRole | undefined> {
    return this.members.get(registry)?.get(userId)?.role;
  }

  async putMember(registry: string, userId: string, role: RegistryRole, change: Change): Promise<void> {
    this.requireRegistry(registry);
    const members = this.members.get(registry) ?? new Map<string, MemberRecord>();
    members.set(userId, { registry, userId, role, grantedAt: change.at, grantedBy: change.actor });
    this.members.set(registry, members);
    this.registryEvents.push({ action: "member.granted", actor: change.actor, at: change.at, registry, user: userId, role });
  }

  async removeMember(registry: string, userId: string, change: Change): Promise<boolean> {
    if (!this.members.get(registry)?.delete(userId)) return false;
    this.registryEvents.push({ action: "member.revoked", actor: change.actor, at: change.at, registry, user: userId });
    return true;
  }

  async membershipsOf(userId: string): Promise<Map<string, RegistryRole>> {
    const roles = new Map<string, RegistryRole>();
    for (const [registry, members] of this.members) {
      const member = members.get(userId);
      if (member) roles.set(registry, member.role);
    }
    return roles;
  }

  async listMembers(registry: string, page: PageRequest): Promise<Page<MemberRecord>> {
    const members = [...(this.members.get(registry)?.values() ?? [])].sort((a, b) => compare(a.userId, b.userId));
    return pageOf(`members:${registry}`, members, (m) => m.userId, "asc", page);
  }

  async updateRegistry(name: string, change: Change, edit: Edit<RegistryRecord, RegistryEdit>): Promise<Edited<RegistryRecord>> {
    const registry = this.requireRegistry(name);
    const before = copy(registry);
    const next = edit(copy(before));
    if (before.description === next.description && (before.approvalsRequired ?? 0) === next.approvalsRequired) {
      return { before, after: before };
    }
    if (next.description === undefined) delete registry.description;
    else registry.description = next.description;
    registry.approvalsRequired = next.approvalsRequired;
    this.registryEvents.push({
      action: "registry.updated",
      actor: change.actor,
      at: change.at,
      registry: name,
      before: { description: before.description ?? null, approvalsRequired: before.approvalsRequired ?? 0 },
      after: { description: next.description ?? null, approvalsRequired: next.approvalsRequired },
    });
    return { before, after: copy(registry) };
  }

  async deleteRegistry(name: string, change: Change): Promise<{ members: string[]; automations: string[] }> {
    const registry = this.requireRegistry(name);
    const held = [...this.collections.values()].find((links) => links.head?.registry === name);
    if (held) throw new ConflictError(`registry ${name} holds collections (${held.head!.name} among them): delete them first`);
    const members = [...(this.members.get(name)?.values() ?? [])];
    const automations = (await this.deleteAutomationsOf?.(name)) ?? [];
    this.members.delete(name);
    this.registries.delete(name);
    this.registryEvents.push({
      action: "registry.deleted",
      actor: change.actor,
      at: change.at,
      registry: name,
      before: copy(registry),
      members: members.map((m) => ({ user: m.userId, role: m.role })),
      automations,
    });
    return { members: members.map((m) => m.userId), automations: automations.map((a) => a.id) };
  }

  async createCollection(collection: CollectionRecord): Promise<void> {
    const links = this.links(collection.registry, collection.name);
    if (links.head) throw new ConflictError(`collection ${collection.registry}/${collection.name} already exists`);
    this.requireRegistry(collection.registry);
    links.head = this.newCollection(links, collection);
  }

  async updateCollection(change: CollectionChange, edit: Edit<CollectionRecord, CollectionEdit>): Promise<Edited<CollectionRecord>> {
    const links = this.collections.get(collectionKey(change.registry, change.collection));
    if (!links?.head) throw new NotFoundError(`collection ${change.registry}/${change.collection} does not exist`);
    const before = toCollection(links.head);
    const next = edit(copy(before));
    const tags = [...new Set(next.tags)].sort();
    if (before.description === next.description && JSON.stringify(before.tags) === JSON.stringify(tags)) return { before, after: before };
    if (next.description === undefined) delete links.head.description;
    else links.head.description = next.description;
    links.head.tags = [...tags];
    links.record({
      action: "collection.updated",
      actor: change.actor,
      at: change.at,
      registry: change.registry,
      collection: change.collection,
      before: { description: before.description ?? null, tags: before.tags },
      after: { description: next.description ?? null, tags },
    });
    return { before, after: toCollection(links.head) };
  }

  /** As the adapter: the collection, its aliases, tombstones and promotions go; its history stays. */
  async deleteCollection(change: CollectionChange): Promise<void> {
    const links = this.collections.get(collectionKey(change.registry, change.collection));
    if (!links?.head) throw new NotFoundError(`collection ${change.registry}/${change.collection} does not exist`);
    if (links.items.size > 0) {
      throw new ConflictError(
        `collection ${change.registry}/${change.collection} links ${links.items.size} versions: unlink them first, or delete with ?force=true`,
      );
    }
    const before = links.head;
    const event = {
      action: "collection.deleted",
      actor: change.actor,
      at: change.at,
      registry: change.registry,
      collection: change.collection,
      before: { type: before.type, description: before.description ?? null, tags: [...before.tags].sort(), nextIndex: before.nextIndex },
    };
    links.head = undefined;
    links.aliases.clear();
    links.dedupe.clear();
    links.tombstones.clear();
    this.promotions.delete(collectionKey(change.registry, change.collection));
    links.record(event);
    this.registryEvents.push(event);
  }

  /** Promotion requests by collection: kept here so that a collection's deletion takes them too. */
  readonly promotions = new Map<string, Map<string, PromotionRecord>>();

  async getCollection(registry: string, name: string): Promise<CollectionRecord | undefined> {
    const head = this.collections.get(collectionKey(registry, name))?.head;
    return head && toCollection(head);
  }

  async listCollections(registry: string, query: CollectionQuery): Promise<Page<CollectionRecord>> {
    const q = query.q?.toLowerCase();
    const collections = [...this.collections.values()]
      .flatMap((s) => (s.head ? [s.head] : []))
      .filter((c) => c.registry === registry)
      .filter((c) => query.tag === undefined || c.tags.includes(query.tag))
      .filter((c) => !q || c.name.toLowerCase().includes(q))
      .sort((a, b) => compare(a.name, b.name))
      .map(toCollection);
    return pageOf(`collections:${registry}:${query.tag ?? ""}`, collections, (c) => c.name, "asc", query);
  }

  async listCollectionAliases(registry: string, collection: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.collections.get(collectionKey(registry, collection))?.aliases ?? []);
  }

  async readLinkState(registry: string, collection: string, source: VersionRef, aliases: string[]): Promise<LinkState> {
    return this.links(registry, collection).state(sourceKey(source), aliases);
  }

  async linkVersion(link: NewLink, expected: LinkState): Promise<LinkOutcome> {
    const { registry, collection: name, source } = link;
    const links = this.links(registry, name);
    // The adapter's conditioned count on the source version: a missing version is a 404, whatever else changed.
    this.artifacts.requireVersion(source);
    const collectionCreated = !links.head;
    if (collectionCreated) this.requireRegistry(registry);
    // Copies taken at another revision than the version's: the caller copies it again.
    const current = (await this.artifacts.getVersion(source.project, source.artifact, source.index))!;
    if ((current.revision ?? 0) !== link.sourceRevision) {
      return {
        created: false,
        current: { ...(await this.readLinkState(registry, name, source, link.aliases)), attempts: expected.attempts + 1 },
        source: current,
      };
    }
    const outcome = links.append(expected, {
      dedupe: sourceKey(source),
      type: link.type,
      aliases: link.aliases,
      newHead: () =>
        this.newCollection(links, {
          registry,
          name,
          type: link.type,
          description: link.newCollection.description,
          tags: [...link.newCollection.tags],
          nextIndex: 0,
          linkCount: 0,
          createdAt: link.at,
          createdBy: link.actor,
        }),
      at: (index) => ({
        item: {
          registry,
          collection: name,
          index,
          source: copy(source),
          type: link.type,
          aliases: [],
          tags: [],
          metadata: copy(link.metadata),
          description: link.description,
          size: link.size,
          fileCount: link.fileCount,
          linkedAt: link.at,
          linkedBy: link.actor,
        },
        event: { action: "link.created", source: sourceLabel(source), type: link.type },
      }),
      change: link,
    });
    if (!outcome.created) return outcome;
    this.artifacts.adjustLinkCount(source, 1);
    return { created: true, link: outcome.item, collectionCreated };
  }

  async getLinkTarget(registry: string, collection: string, selector: VersionSelector): Promise<LinkTarget | undefined> {
    const links = this.collections.get(collectionKey(registry, collection));
    const index = "index" in selector ? selector.index : links?.aliases.get(selector.alias);
    const link = index === undefined ? undefined : links?.items.get(index);
    return link && { registry, collection, index: link.index, source: copy(link.source) };
  }

  async getLink(registry: string, collection: string, index: number): Promise<LinkRecord | undefined> {
    const link = this.collections.get(collectionKey(registry, collection))?.items.get(index);
    return link && copy(link);
  }

  async listLinks(registry: string, collection: string, page: PageRequest): Promise<Page<LinkRecord>> {
    const links = this.collections.get(collectionKey(registry, collection));
    if (!links) return pageOf(`links:${registry}/${collection}`, [], String, "desc", page);
    return links.listItems(`links:${registry}/${collection}`, page);
  }

  async moveCollectionAliases(
    change: CollectionChange,
    index: number,
    aliases: string[],
    expected?: AliasExpectations,
  ): Promise<AliasMove[]> {
    return this.links(change.registry, change.collection).move(change, index, aliases, expected);
  }

  async removeCollectionAlias(change: CollectionChange, alias: string): Promise<number | undefined> {
    return this.collections.get(collectionKey(change.registry, change.collection))?.removeAlias(change, alias);
  }

  async unlink(change: CollectionChange, index: number, protectedAliases: string[] = []): Promise<void> {
    const links = this.links(change.registry, change.collection);
    const held = [...(links.items.get(index)?.aliases ?? [])].filter((alias) => protectedAliases.includes(alias));
    if (held.length > 0) {
      throw new ForbiddenError(
        `@${change.registry}/${change.collection}:${versionLabel(index)} holds the protected alias ${held.join(", ")}`,
      );
    }
    const link = links.retire(change, index, (link) => ({
      action: "link.removed",
      source: sourceLabel(link.source),
    }));
    this.artifacts.adjustLinkCount(link.source, -1);
  }

  async linksOfVersion(project: string, artifact: string, index: number): Promise<LinkLocation[]> {
    const wanted = sourceKey({ project, artifact, index });
    const locations: LinkLocation[] = [];
    for (const links of this.collections.values()) {
      const linkIndex = links.dedupe.get(wanted);
      if (linkIndex !== undefined && links.head) {
        locations.push({ registry: links.head.registry, collection: links.head.name, index: linkIndex });
      }
    }
    return locations.sort((a, b) => compare(`${a.registry}/${a.collection}`, `${b.registry}/${b.collection}`));
  }

  async tagCollection(change: CollectionChange, tag: string, add: boolean): Promise<boolean> {
    const links = this.collections.get(collectionKey(change.registry, change.collection));
    if (!links?.head) throw new NotFoundError(`collection ${change.registry}/${change.collection} does not exist`);
    if (!toggle(links.head.tags, tag, add)) return false;
    links.record({
      action: add ? "tag.added" : "tag.removed",
      actor: change.actor,
      at: change.at,
      registry: change.registry,
      collection: change.collection,
      tag,
    });
    return true;
  }

  async tagLink(change: CollectionChange, index: number, tag: string, add: boolean): Promise<boolean> {
    const links = this.collections.get(collectionKey(change.registry, change.collection));
    const link = links?.items.get(index);
    if (!links || !link) throw new NotFoundError(`${change.registry}/${change.collection} has no version ${versionLabel(index)}`);
    if (!toggle(link.tags, tag, add)) return false;
    links.record({
      action: add ? "tag.added" : "tag.removed",
      actor: change.actor,
      at: change.at,
      registry: change.registry,
      collection: change.collection,
      version: versionLabel(index),
      tag,
    });
    return true;
  }

  async listCollectionHistory(registry: string, collection: string, page: PageRequest): Promise<Page<AuditEvent>> {
    const links = this.collections.get(collectionKey(registry, collection));
    if (!links) return pageOf(`history:@${registry}/${collection}`, [], String, "desc", page);
    return links.listHistory(`history:@${registry}/${collection}`, page);
  }

  // test helpers

  /** Links as the use case would with no race: reads the state, then writes. */
  async link(link: NewLink): Promise<LinkRecord> {
    const state = await this.readLinkState(link.registry, link.collection, link.source, link.aliases);
    const outcome = await this.linkVersion(link, state);
    if (!outcome.created) throw new Error(`${link.registry}/${link.collection} links this version already`);
    return outcome.link;
  }

  private links(registry: string, name: string): Links {
    const key = collectionKey(registry, name);
    let links = this.collections.get(key);
    if (!links) {
      links = new FakeSequence(
        `${registry}/${name}`,
        { registry, collection: name },
        (head, delta) => (head.linkCount += delta),
        (link) => sourceKey(link.source),
      );
      this.collections.set(key, links);
    }
    return links;
  }

  private newCollection(links: Links, collection: CollectionRecord): CollectionRecord {
    links.record({
      action: "collection.created",
      actor: collection.createdBy,
      at: collection.createdAt,
      registry: collection.registry,
      collection: collection.name,
      type: collection.type,
    });
    return copy(collection);
  }
}

/**
 * Promotion requests, kept by the registry fake (so that deleting a collection takes them),
 * and the alias moves approving them makes, through the collection's sequence: a decision
 * is atomic here, as the adapter's conditioned transaction makes it.
 */
export class FakePromotionStore implements PromotionStore {
  constructor(private readonly registries: FakeRegistryStore) {}

  private requests(registry: string, collection: string): Map<string, PromotionRecord> {
    const key = collectionKey(registry, collection);
    let found = this.registries.promotions.get(key);
    if (!found) {
      found = new Map();
      this.registries.promotions.set(key, found);
    }
    return found;
  }

  private record(promotion: PromotionRecord, event: AuditEvent): void {
    this.registries.sequenceOf(promotion.registry, promotion.collection)?.record({
      ...event,
      registry: promotion.registry,
      collection: promotion.collection,
      promotion: promotion.id,
      alias: promotion.alias,
      version: versionLabel(promotion.index),
      ...(promotion.from === undefined ? {} : { from: versionLabel(promotion.from) }),
    });
  }

  async createPromotion(promotion: PromotionRecord): Promise<void> {
    const requests = this.requests(promotion.registry, promotion.collection);
    if (requests.has(promotion.id)) throw new ConflictError(`promotion ${promotion.id} already exists`);
    requests.set(promotion.id, copy(promotion));
    this.record(promotion, {
      action: "promotion.requested",
      actor: promotion.requestedBy,
      at: promotion.requestedAt,
      ...(promotion.note === undefined ? {} : { note: promotion.note }),
    });
  }

  async getPromotion(key: PromotionKey): Promise<PromotionRecord | undefined> {
    const found = this.requests(key.registry, key.collection).get(key.id);
    return found && copy(found);
  }

  async listPromotions(registry: string, collection: string, query: PromotionQuery): Promise<Page<PromotionRecord>> {
    const all = [...this.requests(registry, collection).values()]
      .filter((p) => query.status === undefined || p.status === query.status)
      .sort((a, b) => compare(b.id, a.id));
    return pageOf(`promotions:${registry}/${collection}:${query.status ?? ""}`, all, (p) => p.id, "desc", query);
  }

  async aliasHolder(registry: string, collection: string, alias: string): Promise<number | undefined> {
    return this.registries.sequenceOf(registry, collection)?.aliases.get(alias);
  }

  async approvePromotion(key: PromotionKey, approval: PromotionDecision, required: number): Promise<PromotionRecord> {
    const promotion = this.requests(key.registry, key.collection).get(key.id);
    if (!promotion) throw new NotFoundError(`${key.registry}/${key.collection} has no promotion ${key.id}`);
    const approved = promotion.approvals.some((a) => a.by === approval.by);
    if (approved && (promotion.status === "pending" || promotion.status === "approved")) return copy(promotion);
    if (promotion.status !== "pending") throw decidedError(promotion);
    const links = this.registries.sequenceOf(key.registry, key.collection);
    const holder = links?.aliases.get(promotion.alias);
    const target = links?.items.get(promotion.index);
    if (holder !== promotion.from || !target) {
      promotion.status = "stale";
      promotion.staleReason = !target
        ? `${versionLabel(promotion.index)} was unlinked`
        : `${promotion.alias} names ${holder === undefined ? "nothing" : versionLabel(holder)} now, ` +
          `not ${promotion.from === undefined ? "nothing" : versionLabel(promotion.from)} as when the promotion was requested`;
      promotion.decidedAt = approval.at;
      this.record(promotion, { action: "promotion.stale", actor: approval.by, at: approval.at, reason: promotion.staleReason });
      return copy(promotion);
    }
    promotion.approvals.push(copy(approval));
    const approvers = promotion.approvals.map((a) => a.by);
    const note = approval.note === undefined ? {} : { note: approval.note };
    if (promotion.approvals.length < required) {
      this.record(promotion, {
        action: "promotion.approval",
        actor: approval.by,
        at: approval.at,
        approvals: approvers,
        required,
        ...note,
      });
      return copy(promotion);
    }
    promotion.status = "approved";
    promotion.decidedAt = approval.at;
    links!.move({ actor: approval.by, at: approval.at }, promotion.index, [promotion.alias], undefined, { promotion: promotion.id });
    this.record(promotion, { action: "promotion.approved", actor: approval.by, at: approval.at, approvals: approvers, required, ...note });
    return copy(promotion);
  }

  async rejectPromotion(key: PromotionKey, rejection: PromotionDecision): Promise<PromotionRecord> {
    const promotion = this.requests(key.registry, key.collection).get(key.id);
    if (!promotion) throw new NotFoundError(`${key.registry}/${key.collection} has no promotion ${key.id}`);
    if (promotion.status === "rejected" && promotion.rejection?.by === rejection.by) return copy(promotion);
    if (promotion.status !== "pending") throw decidedError(promotion);
    promotion.status = "rejected";
    promotion.rejection = copy(rejection);
    promotion.decidedAt = rejection.at;
    this.record(promotion, {
      action: "promotion.rejected",
      actor: rejection.by,
      at: rejection.at,
      ...(rejection.note === undefined ? {} : { note: rejection.note }),
    });
    return copy(promotion);
  }
}

function decidedError(promotion: PromotionRecord): ConflictError {
  return new ConflictError(
    `promotion ${promotion.id} is ${promotion.status}${promotion.staleReason ? ` (${promotion.staleReason})` : ""}: it can no longer be decided`,
  );
}

function toCollection(record: CollectionRecord): CollectionRecord {
  return { ...copy(record), tags: [...record.tags].sort() };
}

function sourceKey(source: { project: string; artifact: string; index: number }): string {
  return `${source.project}\u0000${source.artifact}\u0000${source.index}`;
}

function sourceLabel(source: SourceVersion) {
  return { project: source.project, artifact: source.artifact, version: versionLabel(source.index), digest: source.digest };
}

/** Adds or removes `value`; answers whether anything changed. */
function toggle(values: string[], value: string, add: boolean): boolean {
  const index = values.indexOf(value);
  if ((index !== -1) === add) return false;
  if (add) values.push(value);
  else values.splice(index, 1);
  return true;
}

function artifactKey(project: string, artifact: string): string {
  return `${project}\u0000${artifact}`;
}

function versionKey(ref: { project: string; artifact: string }, index: number): string {
  return `${ref.project}\u0000${ref.artifact}\u0000${index}`;
}

function collectionKey(registry: string, name: string): string {
  return `${registry}\u0000${name}`;
}

function uploadKey(sha256: string, uploadId: string): string {
  return `${sha256}\u0000${uploadId}`;
}

function sortableIndex(index: number): string {
  return index.toString().padStart(10, "0");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dropAlias(item: { aliases: string[] } | undefined, alias: string): void {
  if (item) item.aliases = item.aliases.filter((a) => a !== alias);
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface FakeMultipart {
  key: string;
  parts: Map<number, { bytes: Buffer; etag: string }>;
}

/**
 * Object storage in maps. Tests play the client: `stage` is a PUT to the presigned URL of a
 * blob, `uploadPart` a PUT to a part URL. Verification hashes the bytes as the S3 adapter
 * does and deletes what does not match.
 */
export class FakeBlobStore implements BlobStore {
  readonly objects = new Map<string, Buffer>();
  readonly multipart = new Map<string, FakeMultipart>();
  readonly manifests = new Map<string, ManifestEntry[]>();
  /** The manifests' bytes as stored (manifests/<digest>.json). */
  private readonly manifestTexts = new Map<string, string>();
  manifestReads = 0;
  readonly references = new Map<string, ObjectHead>();
  private uploadSeq = 0;

  async presignBlobPut(sha256: string): Promise<PresignedRequest> {
    return {
      url: `https://fake-s3.test/staging/${sha256}?signed`,
      headers: { "x-amz-checksum-sha256": Buffer.from(sha256, "hex").toString("base64") },
    };
  }

  async createMultipartUpload(sha256: string): Promise<{ uploadId: string; key: string }> {
    const uploadId = `upload-${++this.uploadSeq}`;
    const key = `blobs/${sha256}`;
    this.multipart.set(uploadId, { key, parts: new Map() });
    return { uploadId, key };
  }

  async presignPartPut(key: string, uploadId: string, partNumber: number): Promise<PresignedRequest> {
    return { url: `https://fake-s3.test/${key}?uploadId=${uploadId}&partNumber=${partNumber}`, headers: {} };
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
    const upload = this.multipart.get(uploadId);
    if (!upload || upload.key !== key) throw new UnprocessableError("the store refused to complete the upload: NoSuchUpload");
    const chunks = parts.map((part) => {
      const stored = upload.parts.get(part.partNumber);
      if (!stored || stored.etag !== part.etag) {
        throw new UnprocessableError("the store refused to complete the upload: InvalidPart");
      }
      return stored.bytes;
    });
    this.objects.set(key, Buffer.concat(chunks));
    this.multipart.delete(uploadId);
  }

  async abortMultipartUpload(_key: string, uploadId: string): Promise<void> {
    this.multipart.delete(uploadId);
  }

  async presignOpenPut(): Promise<PresignedRequest & { uploadId: string }> {
    const uploadId = `01J${String(++this.uploadSeq).padStart(23, "0")}`;
    return { uploadId, url: `https://fake-s3.test/staging/open/${uploadId}?signed`, headers: {} };
  }

  async discardOpenUpload(uploadId: string): Promise<void> {
    this.objects.delete(`staging/open/${uploadId}`);
  }

  /** Runs after a verification hashed the bytes and before it writes (tests make it slow). */
  afterHash?: () => Promise<void>;

  async promoteStagedBlob(sha256: string, size: number, uploadId?: string, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const staged = uploadId === undefined ? `staging/${sha256}` : `staging/open/${uploadId}`;
    const check = this.hash(staged, sha256, size);
    await this.afterHash?.();
    if (check.status !== "missing") signal?.throwIfAborted();
    if (check.status === "verified") this.objects.set(`blobs/${sha256}`, this.objects.get(staged)!);
    if (check.status !== "missing") this.objects.delete(staged);
    return check;
  }

  async verifyBlob(sha256: string, size: number, signal?: AbortSignal): Promise<StagedBlobCheck> {
    const key = `blobs/${sha256}`;
    const check = this.hash(key, sha256, size);
    await this.afterHash?.();
    signal?.throwIfAborted();
    if (check.status === "mismatch") this.objects.delete(key);
    return check;
  }

  async deleteBlob(sha256: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.objects.delete(`blobs/${sha256}`);
  }

  async presignBlobGet(sha256: string, filename: string): Promise<string> {
    return `https://fake-s3.test/blobs/${sha256}?filename=${encodeURIComponent(filename)}`;
  }

  async putManifest(digest: string, entries: ManifestEntry[]): Promise<void> {
    this.manifests.set(digest, copy(entries));
    this.manifestTexts.set(digest, storedManifestText(digest, entries));
  }

  /** As the S3 adapter does: the stored bytes, verified against the digest on every read. */
  async getManifest(digest: string): Promise<ManifestEntry[]> {
    this.manifestReads += 1;
    const text = this.manifestTexts.get(digest);
    if (text === undefined) throw missingManifest(digest);
    return verifyStoredManifest(digest, text);
  }

  /** What anyone with write access to the bucket can do: replace a manifest's bytes. */
  overwriteManifest(digest: string, text: string): void {
    this.manifestTexts.set(digest, text);
  }

  deleteManifest(digest: string): void {
    this.manifestTexts.delete(digest);
  }

  async headReference(bucket: string, key: string): Promise<ObjectHead | undefined> {
    const head = this.references.get(`${bucket}/${key}`);
    return head && copy(head);
  }

  async presignReferenceGet(bucket: string, key: string, versionId?: string): Promise<string> {
    return `https://fake-s3.test/ref/${bucket}/${key}${versionId ? `?versionId=${versionId}` : ""}`;
  }

  // ── what a client (or another account) does ──────────────────────────────

  /** A client's PUT to the presigned URL of `sha256`, with whatever bytes it sends. */
  stage(sha256: string, bytes: Buffer | string): void {
    this.objects.set(`staging/${sha256}`, Buffer.from(bytes));
  }

  /** A client's PUT of one part; returns the ETag S3 would answer. */
  uploadPart(uploadId: string, partNumber: number, bytes: Buffer | string): string {
    const upload = this.multipart.get(uploadId);
    if (!upload) throw new Error(`NoSuchUpload: ${uploadId}`);
    const buffer = Buffer.from(bytes);
    const etag = `"${createHash("md5").update(buffer).digest("hex")}"`;
    upload.parts.set(partNumber, { bytes: buffer, etag });
    return etag;
  }

  /** An object in some bucket the registry does not own. */
  putReference(uri: string, head: ObjectHead): void {
    this.references.set(uri.replace(/^s3:\/\//, ""), head);
  }

  blob(sha256: string): Buffer | undefined {
    return this.objects.get(`blobs/${sha256}`);
  }

  staged(sha256: string): Buffer | undefined {
    return this.objects.get(`staging/${sha256}`);
  }

  private hash(key: string, sha256: string, size: number): StagedBlobCheck {
    const bytes = this.objects.get(key);
    if (!bytes) return { status: "missing" };
    const actual = sha256Hex(bytes);
    if (actual !== sha256 || bytes.length !== size) return { status: "mismatch", sha256: actual, size: bytes.length };
    return { status: "verified" };
  }
}

/** As DynamoJobStore (lambdas/adapters/dynamodb/job-store.ts): a lease per job, each write expecting the step before it. */
export class FakeJobStore implements JobStore {
  readonly jobs = new Map<string, JobRecord>();
  /** Audit events of jobs (created, finished), oldest first. */
  readonly events: AuditEvent[] = [];

  async createJob(job: JobRecord): Promise<void> {
    if (this.jobs.has(job.id)) throw new ConflictError(`job ${job.id} exists`);
    this.jobs.set(job.id, copy(job));
    this.events.push({ action: "job.created", actor: job.createdBy, at: job.createdAt, job: job.id, kind: job.kind });
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(id);
    return job && copy(job);
  }

  async activeJobs(limit: number): Promise<string[]> {
    return [...this.jobs.values()]
      .filter((j) => j.status === "queued" || j.status === "running")
      .sort((a, b) => compare(`${a.createdAt}#${a.id}`, `${b.createdAt}#${b.id}`))
      .slice(0, limit)
      .map((j) => j.id);
  }

  async claimJob(id: string, holder: string, now: string, leaseUntil: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(id);
    if (!job || (job.status !== "queued" && job.status !== "running")) return undefined;
    if (job.leaseUntil !== undefined && !(job.leaseUntil < now) && job.leaseHolder !== holder) return undefined;
    Object.assign(job, { leaseHolder: holder, leaseUntil, status: "running" });
    return copy(job);
  }

  async saveJob(job: JobRecord, holder: string): Promise<boolean> {
    const current = this.jobs.get(job.id);
    if (!current || current.step !== job.step - 1 || current.leaseHolder !== holder) return false;
    this.jobs.set(job.id, copy(job));
    if (job.status === "succeeded" || job.status === "failed") {
      this.events.push({ action: "job.finished", actor: job.createdBy, at: job.updatedAt, job: job.id, status: job.status });
    }
    return true;
  }
}

export class FixedClock implements Clock {
  private time: number;

  constructor(iso = "2025-01-01T00:00:00.000Z") {
    this.time = Date.parse(iso);
  }

  now(): Date {
    return new Date(this.time);
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

/** `id-000001`, `id-000002`, … : unique and sortable, like a ULID. */
export class CounterIds implements Ids {
  private count = 0;

  constructor(private readonly prefix = "id-") {}

  next(): string {
    return `${this.prefix}${String(++this.count).padStart(6, "0")}`;
  }
}

export interface FakeDeps {
  artifacts: FakeArtifactStore;
  ledger: FakeBlobLedger;
  identity: FakeIdentityStore;
  registries: FakeRegistryStore;
  promotions: FakePromotionStore;
  jobs: FakeJobStore;
  blobs: FakeBlobStore;
  clock: FixedClock;
  ids: CounterIds;
  limits: { multipartThreshold: number; partSize: number };
  /** The ledger of another process sharing this one's items. */
  ledgerFor(options: { holder: string; soleHolder?: boolean }): FakeBlobLedger;
  lineage: FakeLineageStore;
  automations: FakeAutomationStore;
  webhooks: FakeWebhookSender;
  deliveryPolicy: DeliveryPolicy;
  aliasPatterns: Re2AliasPatterns;
  cursors: CursorSealer;
}

export const MIB = 1024 * 1024;

export function fakeDeps(limits: Partial<FakeDeps["limits"]> = {}): FakeDeps {
  const artifacts = new FakeArtifactStore();
  const lineage = new FakeLineageStore(artifacts);
  artifacts.runOutputs = (run, output, change) => lineage.recordOutput(run, output, change);
  const ledger = new FakeBlobLedger();
  artifacts.ledger = ledger;
  const registries = new FakeRegistryStore(artifacts);
  artifacts.onVersionEdited = (version) => registries.copyVersionEdit(version);
  const automations = new FakeAutomationStore();
  automations.registryExists = (registry) => registries.registries.has(registry);
  registries.deleteAutomationsOf = async (registry) => {
    const gone = await automations.automationsOf(registry);
    for (const automation of gone) await automations.deleteAutomation(registry, automation.id);
    return gone.map((a) => ({ id: a.id, name: a.name }));
  };
  return {
    artifacts,
    ledger,
    ledgerFor: (options) => new FakeBlobLedger({ ...options, sharing: ledger }),
    identity: new FakeIdentityStore(),
    registries,
    promotions: new FakePromotionStore(registries),
    jobs: new FakeJobStore(),
    blobs: new FakeBlobStore(),
    clock: new FixedClock(),
    ids: new CounterIds(),
    limits: { multipartThreshold: 64 * MIB, partSize: 16 * MIB, ...limits },
    lineage,
    automations,
    webhooks: new FakeWebhookSender(),
    deliveryPolicy: TEST_DELIVERY_POLICY,
    aliasPatterns: new Re2AliasPatterns(),
    cursors: CursorSealer.ephemeral(),
  };
}
