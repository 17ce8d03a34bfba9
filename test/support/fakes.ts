import { createHash } from "node:crypto";
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import {
  LATEST_ALIAS,
  versionLabel,
  type ApiKeyRecord,
  type ArtifactRecord,
  type AuditEvent,
  type CollectionRecord,
  type LinkLocation,
  type LinkRecord,
  type ManifestEntry,
  type MultipartUpload,
  type Page,
  type PageRequest,
  type RegistryRecord,
  type RegistryRole,
  type SourceVersion,
  type UserRecord,
  type VersionRecord,
} from "../../lambdas/core/model.js";
import type {
  AliasChange,
  AliasMove,
  BlobClaim,
  BlobStore,
  Clock,
  CollectionChange,
  CollectionQuery,
  CommitOutcome,
  Ids,
  LinkOutcome,
  MetadataStore,
  NewLink,
  NewVersion,
  ObjectHead,
  PresignedRequest,
  RegistryStore,
  StagedBlobCheck,
} from "../../lambdas/core/ports.js";
import type { DeliveryPolicy } from "../../lambdas/core/webhook-retry.js";
import { FakeAutomationStore, FakeLineageStore, FakeWebhookSender, TEST_DELIVERY_POLICY } from "./webhook-fakes.js";

/**
 * In-memory stand-ins for the ports, faithful to what the DynamoDB and S3 adapters promise:
 * every write here is atomic, so they show what the core does when no race interferes.
 * One class per port; new port methods (registries, links…) belong in the class of their port.
 */

const CLAIM_STALE_MS = 15 * 60 * 1000;

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
function pageOf<T>(
  list: string,
  items: T[],
  sortKey: (item: T) => string,
  order: "asc" | "desc",
  page: PageRequest,
): Page<T> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, list);
  const remaining =
    after === undefined ? items : items.filter((item) => (order === "asc" ? sortKey(item) > after : sortKey(item) < after));
  const selected = remaining.slice(0, page.limit);
  const last = selected.at(-1);
  const more = remaining.length > selected.length;
  return { items: copy(selected), nextCursor: more && last ? encodeCursor(list, sortKey(last)) : undefined };
}

/**
 * A numbered sequence with aliases, as the DynamoDB adapter keeps for an artifact's versions
 * and a collection's links: indexes never reused, one holder per alias, `latest` automatic.
 */
class FakeSequence<T extends { index: number; aliases: string[] }> {
  readonly items = new Map<number, T>();
  readonly aliases = new Map<string, number>();
  /** Indexes of removed items: burnt, never handed out again. */
  readonly tombstones = new Set<number>();
  readonly history: { seq: number; event: AuditEvent }[] = [];

  constructor(
    readonly label: string,
    /** Fields every event of this sequence carries (registry, collection). */
    private readonly context: Record<string, unknown> = {},
  ) {}

  /** Puts a new item with `latest` and the requested aliases; answers the requested aliases' previous holders. */
  add(item: T, requested: string[]): Map<string, number | undefined> {
    const holders = new Map(requested.map((a) => [a, this.aliases.get(a)] as const));
    this.items.set(item.index, item);
    for (const alias of [LATEST_ALIAS, ...requested]) this.pointAlias(alias, item.index);
    return holders;
  }

  move(change: { actor: string; at: string }, index: number, aliases: string[]): AliasMove[] {
    if (!this.items.has(index)) throw new NotFoundError(`${this.label} has no version ${versionLabel(index)}`);
    const moves: AliasMove[] = [];
    for (const alias of new Set(aliases)) {
      const from = this.aliases.get(alias);
      if (from === index) continue;
      this.pointAlias(alias, index);
      this.recordAliasMove(change, alias, from, index);
      moves.push({ alias, from, to: index });
    }
    return moves;
  }

  removeAlias(change: { actor: string; at: string }, alias: string): number | undefined {
    const from = this.aliases.get(alias);
    if (from === undefined) return undefined;
    this.aliases.delete(alias);
    dropAlias(this.items.get(from), alias);
    this.record({ action: "alias.removed", actor: change.actor, at: change.at, ...this.context, alias, from: versionLabel(from) });
    return from;
  }

  /** Removes item `index`, burning its number; its aliases go with it but `latest`, which moves back. */
  retire(index: number): { item: T; heldLatest: boolean; previous?: number } {
    const item = this.items.get(index)!;
    const heldLatest = item.aliases.includes(LATEST_ALIAS);
    const lower = [...this.items.keys()].filter((i) => i < index);
    const previous = heldLatest && lower.length > 0 ? Math.max(...lower) : undefined;
    for (const alias of item.aliases) this.aliases.delete(alias);
    this.items.delete(index);
    this.tombstones.add(index);
    if (previous !== undefined) this.pointAlias(LATEST_ALIAS, previous);
    return { item, heldLatest, previous };
  }

  recordAliasMove(change: { actor: string; at: string }, alias: string, from: number | undefined, to: number): void {
    this.record({
      action: from === undefined ? "alias.set" : "alias.moved",
      actor: change.actor,
      at: change.at,
      ...this.context,
      alias,
      ...(from === undefined ? {} : { from: versionLabel(from) }),
      to: versionLabel(to),
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

  /** Points `alias` at `index`, taking it off its previous holder so it has exactly one. */
  private pointAlias(alias: string, index: number): void {
    const from = this.aliases.get(alias);
    if (from !== undefined && from !== index) dropAlias(this.items.get(from), alias);
    this.aliases.set(alias, index);
    const target = this.items.get(index)!;
    if (!target.aliases.includes(alias)) target.aliases.push(alias);
  }
}

let eventSeq = 0;

interface ArtifactState {
  record: ArtifactRecord;
  versions: FakeSequence<VersionRecord>;
  digests: Map<string, number>;
  /** Links per version, as the adapter counts them on the version item. */
  linkCounts: Map<number, number>;
}

interface BlobState {
  sha256: string;
  size: number;
  state: "verifying" | "verified";
  claimedAt?: string;
  verifiedAt?: string;
}

export class FakeMetadataStore implements MetadataStore {
  readonly artifacts = new Map<string, ArtifactState>();
  readonly blobs = new Map<string, BlobState>();
  readonly uploads = new Map<string, MultipartUpload>();
  readonly users = new Map<string, UserRecord>();
  /** By key hash, like the table. */
  readonly apiKeys = new Map<string, ApiKeyRecord>();

  // artifacts and versions

  async getArtifact(project: string, artifact: string): Promise<ArtifactRecord | undefined> {
    const state = this.state(project, artifact);
    return state && copy(state.record);
  }

  async listArtifacts(project: string, page: PageRequest): Promise<Page<ArtifactRecord>> {
    const records = [...this.artifacts.values()]
      .map((s) => s.record)
      .filter((r) => r.project === project)
      .sort((a, b) => compare(a.name, b.name));
    return pageOf(`artifacts:${project}`, records, (r) => r.name, "asc", page);
  }

  async getVersion(project: string, artifact: string, index: number): Promise<VersionRecord | undefined> {
    const version = this.state(project, artifact)?.versions.items.get(index);
    return version && copy(version);
  }

  async getAliasTarget(project: string, artifact: string, alias: string): Promise<number | undefined> {
    return this.state(project, artifact)?.versions.aliases.get(alias);
  }

  async listAliases(project: string, artifact: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.state(project, artifact)?.versions.aliases ?? []);
  }

  async findVersionByDigest(project: string, artifact: string, digest: string): Promise<number | undefined> {
    return this.state(project, artifact)?.digests.get(digest);
  }

  async listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>> {
    const state = this.state(project, artifact);
    if (!state) return pageOf(`versions:${project}/${artifact}`, [], String, "desc", page);
    return state.versions.listItems(`versions:${project}/${artifact}`, page);
  }

  async commitVersion(version: NewVersion): Promise<CommitOutcome> {
    const { project, artifact: name } = version;
    let state = this.state(project, name);
    const existing = state?.digests.get(version.digest);
    if (existing !== undefined) return { created: false, index: existing };
    if (state && state.record.type !== version.type) {
      throw new ConflictError(`${project}/${name} holds ${state.record.type} versions, not ${version.type}`);
    }
    if (!state) {
      state = {
        record: {
          project,
          name,
          type: version.type,
          createdAt: version.at,
          createdBy: version.actor,
          nextIndex: 0,
          versionCount: 0,
        },
        versions: new FakeSequence(`${project}/${name}`),
        digests: new Map(),
        linkCounts: new Map(),
      };
      this.artifacts.set(artifactKey(project, name), state);
    }
    const index = state.record.nextIndex;
    const requested = [...new Set(version.aliases.filter((a) => a !== LATEST_ALIAS))];
    const record: VersionRecord = {
      project,
      artifact: name,
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
    };
    const holders = state.versions.add(record, requested);
    state.digests.set(version.digest, index);
    state.record.nextIndex = index + 1;
    state.record.latestIndex = index;
    state.record.versionCount += 1;
    state.versions.record({
      action: "version.created",
      actor: version.actor,
      at: version.at,
      version: versionLabel(index),
      digest: version.digest,
      aliases: [LATEST_ALIAS, ...requested],
    });
    for (const alias of requested) state.versions.recordAliasMove(version, alias, holders.get(alias), index);
    return { created: true, version: copy(record) };
  }

  async moveAliases(change: AliasChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    const state = this.state(change.project, change.artifact);
    if (!state) throw new NotFoundError(`${change.project}/${change.artifact} has no version ${versionLabel(index)}`);
    return state.versions.move(change, index, aliases);
  }

  async removeAlias(change: AliasChange, alias: string): Promise<number | undefined> {
    return this.state(change.project, change.artifact)?.versions.removeAlias(change, alias);
  }

  async deleteVersion(change: AliasChange, index: number): Promise<void> {
    const state = this.state(change.project, change.artifact);
    if (!state?.versions.items.has(index)) {
      throw new NotFoundError(`${change.project}/${change.artifact} has no version ${versionLabel(index)}`);
    }
    if ((state.linkCounts.get(index) ?? 0) > 0) {
      throw new ConflictError(`${change.project}/${change.artifact}:${versionLabel(index)} is linked by a collection`);
    }
    const { item: version, heldLatest, previous } = state.versions.retire(index);
    state.digests.delete(version.digest);
    state.record.versionCount -= 1;
    if (heldLatest) {
      if (previous === undefined) delete state.record.latestIndex;
      else state.record.latestIndex = previous;
    }
    state.versions.record({
      action: "version.deleted",
      actor: change.actor,
      at: change.at,
      version: versionLabel(index),
      digest: version.digest,
      aliases: [...version.aliases],
    });
  }

  async listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>> {
    const state = this.state(project, artifact);
    if (!state) return pageOf(`history:${project}/${artifact}`, [], String, "desc", page);
    return state.versions.listHistory(`history:${project}/${artifact}`, page);
  }

  // blobs and uploads

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
    const stale = blob?.state === "verifying" && Date.parse(blob.claimedAt!) < Date.parse(at) - CLAIM_STALE_MS;
    if (!blob || stale) {
      this.blobs.set(sha256, { sha256, size, state: "verifying", claimedAt: at });
      return "claimed";
    }
    return blob.state === "verified" ? "verified" : "busy";
  }

  async markBlobVerified(sha256: string, size: number, at: string): Promise<void> {
    this.blobs.set(sha256, { sha256, size, state: "verified", verifiedAt: at });
  }

  async releaseBlobClaim(sha256: string): Promise<void> {
    if (this.blobs.get(sha256)?.state === "verifying") this.blobs.delete(sha256);
  }

  async putMultipartUpload(upload: MultipartUpload): Promise<void> {
    this.uploads.set(uploadKey(upload.sha256, upload.uploadId), copy(upload));
  }

  async getMultipartUpload(sha256: string, uploadId: string): Promise<MultipartUpload | undefined> {
    const upload = this.uploads.get(uploadKey(sha256, uploadId));
    return upload && copy(upload);
  }

  async findMultipartUpload(sha256: string, size: number, partSize: number): Promise<MultipartUpload | undefined> {
    const upload = [...this.uploads.values()].find(
      (u) => u.sha256 === sha256 && u.size === size && u.partSize === partSize,
    );
    return upload && copy(upload);
  }

  async deleteMultipartUpload(sha256: string, uploadId: string): Promise<void> {
    this.uploads.delete(uploadKey(sha256, uploadId));
  }

  // users and keys

  async getUser(id: string): Promise<UserRecord | undefined> {
    const user = this.users.get(id);
    return user && copy(user);
  }

  async putUser(user: UserRecord): Promise<void> {
    if (this.users.has(user.id)) throw new ConflictError(`user ${user.id} already exists`);
    this.users.set(user.id, copy(user));
  }

  async listUsers(page: PageRequest): Promise<Page<UserRecord>> {
    const users = [...this.users.values()].sort((a, b) => compare(a.id, b.id));
    return pageOf("users", users, (u) => u.id, "asc", page);
  }

  async getApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const key = this.apiKeys.get(keyHash);
    return key && copy(key);
  }

  async getApiKeyById(id: string): Promise<ApiKeyRecord | undefined> {
    const key = [...this.apiKeys.values()].find((k) => k.id === id);
    return key && copy(key);
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    if (this.apiKeys.has(key.keyHash)) throw new ConflictError(`API key ${key.id} already exists`);
    this.apiKeys.set(key.keyHash, copy(key));
  }

  async listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const keys = [...this.apiKeys.values()]
      .filter((k) => userId === undefined || k.userId === userId)
      .sort((a, b) => compare(a.id, b.id));
    return pageOf(`keys:${userId ?? "*"}`, keys, (k) => k.id, "asc", page);
  }

  async revokeApiKey(keyHash: string, at: string): Promise<void> {
    const key = this.apiKeys.get(keyHash);
    if (!key) throw new NotFoundError("no such API key");
    key.revokedAt ??= at;
  }

  async touchApiKey(keyHash: string, at: string): Promise<void> {
    const key = this.apiKeys.get(keyHash);
    if (!key) throw new NotFoundError("no such API key");
    key.lastUsedAt = at;
  }

  // what the registry store shares with this one (links count on versions)

  /** Counts a link on a version, which must exist, like the adapter's conditioned `ADD linkCount`. */
  adjustLinkCount(project: string, artifact: string, index: number, delta: number): void {
    const state = this.state(project, artifact);
    if (!state?.versions.items.has(index)) {
      throw new NotFoundError(`${project}/${artifact} has no version ${versionLabel(index)}`);
    }
    state.linkCounts.set(index, (state.linkCounts.get(index) ?? 0) + delta);
  }

  // test helpers

  /** Every audit event of an artifact, oldest first. */
  events(project: string, artifact: string): AuditEvent[] {
    return copy((this.state(project, artifact)?.versions.history ?? []).map((e) => e.event));
  }

  tombstones(project: string, artifact: string): number[] {
    return [...(this.state(project, artifact)?.versions.tombstones ?? [])].sort((a, b) => a - b);
  }

  private state(project: string, artifact: string): ArtifactState | undefined {
    return this.artifacts.get(artifactKey(project, artifact));
  }
}

interface CollectionState {
  record: CollectionRecord;
  links: FakeSequence<LinkRecord>;
  /** `project/artifact/index` of each live link's source → the link's index. */
  sources: Map<string, number>;
}

/**
 * Registries, members, collections and links. Links count on the source version in the
 * metadata fake, as the adapter's transaction does, so a linked version refuses deletion.
 */
export class FakeRegistryStore implements RegistryStore {
  readonly registries = new Map<string, RegistryRecord>();
  readonly members = new Map<string, Map<string, RegistryRole>>();
  readonly collections = new Map<string, CollectionState>();
  readonly registryEvents: AuditEvent[] = [];

  constructor(private readonly metadata: FakeMetadataStore) {}

  async createRegistry(registry: RegistryRecord): Promise<void> {
    if (this.registries.has(registry.name)) throw new ConflictError(`registry ${registry.name} already exists`);
    this.registries.set(registry.name, copy(registry));
    this.registryEvents.push({ action: "registry.created", actor: registry.createdBy, at: registry.createdAt, registry: registry.name });
  }

  async getRegistry(name: string): Promise<RegistryRecord | undefined> {
    const registry = this.registries.get(name);
    return registry && copy(registry);
  }

  async listRegistries(page: PageRequest): Promise<Page<RegistryRecord>> {
    const registries = [...this.registries.values()].sort((a, b) => compare(a.name, b.name));
    return pageOf("registries", registries, (r) => r.name, "asc", page);
  }

  async getRegistryWithMembership(name: string, userId: string): Promise<{ registry?: RegistryRecord; role?: RegistryRole }> {
    return { registry: await this.getRegistry(name), role: this.members.get(name)?.get(userId) };
  }

  async putMember(registry: string, userId: string, role: RegistryRole, change: { actor: string; at: string }): Promise<void> {
    const members = this.members.get(registry) ?? new Map<string, RegistryRole>();
    members.set(userId, role);
    this.members.set(registry, members);
    this.registryEvents.push({ action: "member.granted", actor: change.actor, at: change.at, registry, user: userId, role });
  }

  async removeMember(registry: string, userId: string, change: { actor: string; at: string }): Promise<boolean> {
    if (!this.members.get(registry)?.delete(userId)) return false;
    this.registryEvents.push({ action: "member.revoked", actor: change.actor, at: change.at, registry, user: userId });
    return true;
  }

  async membershipsOf(userId: string): Promise<Map<string, RegistryRole>> {
    const roles = new Map<string, RegistryRole>();
    for (const [registry, members] of this.members) {
      const role = members.get(userId);
      if (role) roles.set(registry, role);
    }
    return roles;
  }

  async createCollection(collection: CollectionRecord): Promise<void> {
    if (this.collection(collection.registry, collection.name)) {
      throw new ConflictError(`collection ${collection.registry}/${collection.name} already exists`);
    }
    this.newCollection(collection);
  }

  async getCollection(registry: string, name: string): Promise<CollectionRecord | undefined> {
    const state = this.collection(registry, name);
    return state && toCollection(state.record);
  }

  async listCollections(registry: string, query: CollectionQuery): Promise<Page<CollectionRecord>> {
    const q = query.q?.toLowerCase();
    const collections = [...this.collections.values()]
      .map((s) => s.record)
      .filter((c) => c.registry === registry)
      .filter((c) => query.tag === undefined || c.tags.includes(query.tag))
      .filter((c) => !q || c.name.toLowerCase().includes(q))
      .sort((a, b) => compare(a.name, b.name))
      .map(toCollection);
    return pageOf(`collections:${registry}:${query.tag ?? ""}`, collections, (c) => c.name, "asc", query);
  }

  async listCollectionAliases(registry: string, collection: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.collection(registry, collection)?.links.aliases ?? []);
  }

  async linkVersion(link: NewLink): Promise<LinkOutcome> {
    const { registry, collection: name, source } = link;
    let state = this.collection(registry, name);
    const existing = state?.sources.get(sourceKey(source));
    if (existing !== undefined) return { created: false, index: existing };
    if (state && state.record.type !== link.type) {
      throw new UnprocessableError(
        `collection ${registry}/${name} holds ${state.record.type} versions; ${source.project}/${source.artifact} is ${link.type}`,
      );
    }
    this.metadata.adjustLinkCount(source.project, source.artifact, source.index, 1);
    const collectionCreated = !state;
    state ??= this.newCollection({
      registry,
      name,
      type: link.type,
      description: link.newCollection.description,
      tags: [...link.newCollection.tags],
      nextIndex: 0,
      linkCount: 0,
      createdAt: link.at,
      createdBy: link.actor,
    });
    const index = state.record.nextIndex;
    const requested = [...new Set(link.aliases.filter((a) => a !== LATEST_ALIAS))];
    const record: LinkRecord = {
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
    };
    const holders = state.links.add(record, requested);
    state.sources.set(sourceKey(source), index);
    state.record.nextIndex = index + 1;
    state.record.latestIndex = index;
    state.record.linkCount += 1;
    state.links.record({
      action: "link.created",
      actor: link.actor,
      at: link.at,
      registry,
      collection: name,
      version: versionLabel(index),
      source: sourceLabel(source),
      type: link.type,
      aliases: [LATEST_ALIAS, ...requested],
    });
    for (const alias of requested) state.links.recordAliasMove(link, alias, holders.get(alias), index);
    return { created: true, link: copy(record), collectionCreated };
  }

  async findLinkBySource(registry: string, collection: string, source: Omit<SourceVersion, "digest">): Promise<number | undefined> {
    return this.collection(registry, collection)?.sources.get(sourceKey(source));
  }

  async getLink(registry: string, collection: string, index: number): Promise<LinkRecord | undefined> {
    const link = this.collection(registry, collection)?.links.items.get(index);
    return link && copy(link);
  }

  async getCollectionAliasTarget(registry: string, collection: string, alias: string): Promise<number | undefined> {
    return this.collection(registry, collection)?.links.aliases.get(alias);
  }

  async listLinks(registry: string, collection: string, page: PageRequest): Promise<Page<LinkRecord>> {
    const state = this.collection(registry, collection);
    if (!state) return pageOf(`links:${registry}/${collection}`, [], String, "desc", page);
    return state.links.listItems(`links:${registry}/${collection}`, page);
  }

  async moveCollectionAliases(change: CollectionChange, index: number, aliases: string[]): Promise<AliasMove[]> {
    const state = this.collection(change.registry, change.collection);
    if (!state) throw new NotFoundError(`${change.registry}/${change.collection} has no version ${versionLabel(index)}`);
    return state.links.move(change, index, aliases);
  }

  async removeCollectionAlias(change: CollectionChange, alias: string): Promise<number | undefined> {
    return this.collection(change.registry, change.collection)?.links.removeAlias(change, alias);
  }

  async unlink(change: CollectionChange, index: number): Promise<void> {
    const state = this.collection(change.registry, change.collection);
    if (!state?.links.items.has(index)) {
      throw new NotFoundError(`${change.registry}/${change.collection} has no version ${versionLabel(index)}`);
    }
    const { item: link, heldLatest, previous } = state.links.retire(index);
    state.sources.delete(sourceKey(link.source));
    this.metadata.adjustLinkCount(link.source.project, link.source.artifact, link.source.index, -1);
    state.record.linkCount -= 1;
    if (heldLatest) {
      if (previous === undefined) delete state.record.latestIndex;
      else state.record.latestIndex = previous;
    }
    state.links.record({
      action: "link.removed",
      actor: change.actor,
      at: change.at,
      registry: change.registry,
      collection: change.collection,
      version: versionLabel(index),
      source: sourceLabel(link.source),
      aliases: [...link.aliases],
    });
  }

  async linksOfVersion(project: string, artifact: string, index: number): Promise<LinkLocation[]> {
    const wanted = sourceKey({ project, artifact, index });
    const locations: LinkLocation[] = [];
    for (const state of this.collections.values()) {
      const linkIndex = state.sources.get(wanted);
      if (linkIndex !== undefined) {
        locations.push({ registry: state.record.registry, collection: state.record.name, index: linkIndex });
      }
    }
    return locations.sort((a, b) => compare(`${a.registry}/${a.collection}`, `${b.registry}/${b.collection}`));
  }

  async tagCollection(change: CollectionChange, tag: string, add: boolean): Promise<boolean> {
    const state = this.collection(change.registry, change.collection);
    if (!state) throw new NotFoundError(`collection ${change.registry}/${change.collection} does not exist`);
    if (!toggle(state.record.tags, tag, add)) return false;
    state.links.record({
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
    const state = this.collection(change.registry, change.collection);
    const link = state?.links.items.get(index);
    if (!state || !link) throw new NotFoundError(`${change.registry}/${change.collection} has no version ${versionLabel(index)}`);
    if (!toggle(link.tags, tag, add)) return false;
    state.links.record({
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
    const state = this.collection(registry, collection);
    if (!state) return pageOf(`history:@${registry}/${collection}`, [], String, "desc", page);
    return state.links.listHistory(`history:@${registry}/${collection}`, page);
  }

  private collection(registry: string, name: string): CollectionState | undefined {
    return this.collections.get(`${registry}\u0000${name}`);
  }

  private newCollection(collection: CollectionRecord): CollectionState {
    const state: CollectionState = {
      record: copy(collection),
      links: new FakeSequence(`${collection.registry}/${collection.name}`, {
        registry: collection.registry,
        collection: collection.name,
      }),
      sources: new Map(),
    };
    this.collections.set(`${collection.registry}\u0000${collection.name}`, state);
    state.links.record({
      action: "collection.created",
      actor: collection.createdBy,
      at: collection.createdAt,
      registry: collection.registry,
      collection: collection.name,
      type: collection.type,
    });
    return state;
  }
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

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<void> {
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

  async promoteStagedBlob(sha256: string, size: number, uploadId?: string): Promise<StagedBlobCheck> {
    const staged = uploadId === undefined ? `staging/${sha256}` : `staging/open/${uploadId}`;
    const check = this.hash(staged, sha256, size);
    if (check.status === "verified") this.objects.set(`blobs/${sha256}`, this.objects.get(staged)!);
    if (check.status !== "missing") this.objects.delete(staged);
    return check;
  }

  async verifyBlob(sha256: string, size: number): Promise<StagedBlobCheck> {
    const key = `blobs/${sha256}`;
    const check = this.hash(key, sha256, size);
    if (check.status === "mismatch") this.objects.delete(key);
    return check;
  }

  async presignBlobGet(sha256: string, filename: string): Promise<string> {
    return `https://fake-s3.test/blobs/${sha256}?filename=${encodeURIComponent(filename)}`;
  }

  async putManifest(digest: string, entries: ManifestEntry[]): Promise<void> {
    this.manifests.set(digest, copy(entries));
  }

  async getManifest(digest: string): Promise<ManifestEntry[]> {
    const entries = this.manifests.get(digest);
    if (!entries) throw new Error(`NoSuchKey: manifests/${digest}.json`);
    return copy(entries);
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
  metadata: FakeMetadataStore;
  registries: FakeRegistryStore;
  blobs: FakeBlobStore;
  clock: FixedClock;
  ids: CounterIds;
  limits: { multipartThreshold: number; partSize: number };
  lineage: FakeLineageStore;
  automations: FakeAutomationStore;
  webhooks: FakeWebhookSender;
  deliveryPolicy: DeliveryPolicy;
}

export const MIB = 1024 * 1024;

export function fakeDeps(limits: Partial<FakeDeps["limits"]> = {}): FakeDeps {
  const metadata = new FakeMetadataStore();
  return {
    metadata,
    registries: new FakeRegistryStore(metadata),
    blobs: new FakeBlobStore(),
    clock: new FixedClock(),
    ids: new CounterIds(),
    limits: { multipartThreshold: 64 * MIB, partSize: 16 * MIB, ...limits },
    lineage: new FakeLineageStore(metadata),
    automations: new FakeAutomationStore(),
    webhooks: new FakeWebhookSender(),
    deliveryPolicy: TEST_DELIVERY_POLICY,
  };
}
