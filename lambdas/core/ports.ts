import type {
  ApiKeyRecord,
  ArtifactRecord,
  JobRecord,
  AutomationRecord,
  DeliveryRecord,
  MetricPoint,
  RunRecord,
  RunRef,
  VersionRef,
  AuditEvent,
  CollectionEdit,
  CollectionRecord,
  LinkLocation,
  LinkRecord,
  LinkTarget,
  RegistryRecord,
  RegistryRole,
  SourceVersion,
  ManifestEntry,
  MemberRecord,
  MultipartUpload,
  Page,
  PageRequest,
  ProjectRecord,
  PromotionDecision,
  PromotionRecord,
  PromotionStatus,
  RegistryEdit,
  UserEdit,
  UserRecord,
  VersionEdit,
  VersionRecord,
  VersionSelector,
} from "./model.js";

export interface NewVersion {
  project: string;
  artifact: string;
  type: string;
  digest: string;
  metadata: Record<string, unknown>;
  description?: string;
  size: number;
  fileCount: number;
  runId?: string;
  expiresAt?: string;
  /**
   * The distinct SHA-256s of the blobs its manifest names: a new version takes one reference
   * on each, conditioned on the blob being verified, in the write that creates it.
   */
  blobs: string[];
  /** Aliases to put on the new version besides `latest`, which the store always moves. */
  aliases: string[];
  actor: string;
  at: string;
}

/**
 * What an append to a numbered sequence (a commit, a link) read before deciding: handed back
 * to the store as the state its write expects, so nothing is read twice and a concurrent
 * change makes the write lose instead of overwrite.
 */
export interface SequenceState<Head> {
  /** The artifact or collection; undefined before its first item. */
  head?: Head;
  /** The index of the item that already holds this content (digest) or source. */
  existing?: number;
  /** The index `latest` and each requested alias name now. */
  holders: ReadonlyMap<string, number>;
  /** With no head: the number the first item takes (the sequence's head was deleted after handing out numbers below it). */
  firstIndex?: number;
  /** Writes this append has lost to concurrent changes; the store gives up after its limit. */
  attempts: number;
}

/** `projectTtlDays`: the project's default retention, read in the same BatchGet as the rest (no call of its own). */
export type CommitState = SequenceState<ArtifactRecord> & { projectTtlDays?: number };

/** `created: false` is a lost race: `current` is what the store reads now, to decide again on. */
export type CommitOutcome = { created: true; version: VersionRecord } | { created: false; current: CommitState };

export interface AliasMove {
  alias: string;
  from?: number;
  to: number;
}

export interface AliasChange {
  project: string;
  artifact: string;
  actor: string;
  at: string;
}

/**
 * Compare-and-swap expectations of an alias move: what each alias must name when the move
 * is written (an index, or null for "must not exist"). A move whose expectation does not
 * hold changes nothing and fails with PreconditionFailedError naming the current holder.
 */
export type AliasExpectations = ReadonlyMap<string, number | null>;

/** An edit applied to what the store reads, again after every lost race: it may throw to refuse. */
export type Edit<T, E> = (current: T) => E;

/** What an edit changed: the record before and after it (the audit event carries both). */
export interface Edited<T> {
  before: T;
  after: T;
}

/** Artifacts, their numbered versions and aliases. One DynamoDB table in production. */
export interface ArtifactStore {
  getArtifact(project: string, artifact: string): Promise<ArtifactRecord | undefined>;
  listArtifacts(project: string, page: PageRequest): Promise<Page<ArtifactRecord>>;
  getVersion(project: string, artifact: string, index: number): Promise<VersionRecord | undefined>;
  /** The version an alias names, with all its aliases: one read. */
  getVersionByAlias(project: string, artifact: string, alias: string): Promise<VersionRecord | undefined>;
  /** Every alias of an artifact with the index it names. */
  listAliases(project: string, artifact: string): Promise<Record<string, number>>;
  listVersions(project: string, artifact: string, page: PageRequest): Promise<Page<VersionRecord>>;
  /** The artifact, the version holding `digest` if any, and the holders of `latest` and `aliases`: one read. */
  readCommitState(project: string, artifact: string, digest: string, aliases: string[]): Promise<CommitState>;
  /**
   * Allocates the next index, the digest entry, `latest` and the requested aliases in one
   * atomic write that expects the state read; the caller has checked the type rule on it.
   */
  commitVersion(version: NewVersion, expected: CommitState): Promise<CommitOutcome>;
  /** Points each alias at `index`; every move is atomic and leaves exactly one holder. */
  moveAliases(change: AliasChange, index: number, aliases: string[], expected?: AliasExpectations): Promise<AliasMove[]>;
  removeAlias(change: AliasChange, alias: string): Promise<number | undefined>;
  /**
   * Sets a version's description and metadata to what `edit` makes of the version as read,
   * together with every copy of them (its alias items, the links to it) and a
   * `version.updated` event with both, in one atomic write.
   */
  updateVersion(change: AliasChange, index: number, edit: Edit<VersionRecord, VersionEdit>): Promise<Edited<VersionRecord>>;
  /** Projects by name, each with its artifact count: one query of the projects index. */
  listProjects(page: PageRequest): Promise<Page<ProjectRecord>>;
  /**
   * Removes a live, unlinked version, keeping its number burnt; moves `latest` back when it
   * held it. The same write records a pending release of its blob references, answered here
   * for the caller to finish (core/gc.ts); the collector finishes it otherwise.
   */
  deleteVersion(change: AliasChange, index: number): Promise<PendingRelease>;
  listArtifactHistory(project: string, artifact: string, page: PageRequest): Promise<Page<AuditEvent>>;
  /** Up to `limit` live versions after index `after` (all when undefined), oldest first, each with its link count: one consistent query. */
  versionsAfter(
    project: string,
    artifact: string,
    after: number | undefined,
    limit: number,
  ): Promise<(VersionRecord & { linkCount: number })[]>;
  /** Up to `limit` artifacts of a project named after `after`, by name: one consistent query. */
  artifactsAfter(project: string, after: string | undefined, limit: number): Promise<ArtifactRecord[]>;
  /**
   * Deletes an artifact that holds no live version: its item, its remaining alias items, one
   * from its project's count, an `artifact.deleted` event in its history (which stays
   * readable). Its numbers stay burnt: a later artifact of the same name goes on after them.
   * False (nothing written) while it holds a version or is gone.
   */
  deleteArtifact(change: AliasChange): Promise<boolean>;
  /** Deletes a project's index item while it counts no artifact, with a `project.deleted` event; false otherwise. */
  deleteProject(project: string, change: { actor: string; at: string }): Promise<boolean>;
  /** Sets (or with undefined removes) a project's default retention, with a `project.updated` event; NotFoundError for an unknown project. */
  setProjectRetention(project: string, ttlDays: number | undefined, change: { actor: string; at: string }): Promise<ProjectRecord>;
  /** Up to `limit` versions whose `expiresAt` is at or before `now` and that were not kept, soonest first: one query of a sparse index. */
  expiredVersions(now: string, limit: number): Promise<(VersionRecord & { linkCount: number })[]>;
  /** Records why the sweep kept an expired version, and takes it out of the expiry index; false when the version is gone. */
  keepVersion(project: string, artifact: string, index: number, reason: string): Promise<boolean>;
}

/** Background jobs: one item each, with a lease so that one runner advances it at a time. */
export interface JobStore {
  /** Writes a queued job with its `job.created` event; ConflictError when the id is taken. */
  createJob(job: JobRecord): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  /** Ids of queued and running jobs, oldest first: one query of a sparse index. */
  activeJobs(limit: number): Promise<string[]>;
  /** Takes the job for `holder` until `leaseUntil` when it is active and nobody else holds it at `now`; undefined otherwise. */
  claimJob(id: string, holder: string, now: string, leaseUntil: string): Promise<JobRecord | undefined>;
  /**
   * Writes the job's next state while `holder` still holds it and it is at step `job.step - 1`;
   * a finished job leaves the active index, with a `job.finished` event. False: nothing written.
   */
  saveJob(job: JobRecord, holder: string): Promise<boolean>;
}

/**
 * The right to verify one blob, as `claimBlob` granted it. It lasts until `leaseUntil` unless
 * renewed; a claim taken over from its holder carries a new `id`, so that the writes of the
 * holder it was taken from (renew, mark verified, release) find it gone and change nothing.
 */
export interface HeldBlobClaim {
  sha256: string;
  id: string;
  /** ISO time; after it another verifier may take the claim over. */
  leaseUntil: string;
}

export type BlobClaim = { status: "claimed"; claim: HeldBlobClaim } | { status: "verified" } | { status: "busy" };

/**
 * A deleted version whose blob references are still to be taken back: `done` chunks of its
 * manifest's distinct blobs (sorted, GC.releaseChunk a chunk) are released already.
 */
export interface PendingRelease {
  project: string;
  artifact: string;
  index: number;
  digest: string;
  done: number;
  at: string;
}

/** A blob item as reference tracking and the collector see it. */
export interface BlobRefs {
  sha256: string;
  size: number;
  state: "verifying" | "verified" | "condemned";
  /** Live versions naming the blob; meaningful only when `tracked`. */
  refs: number;
  /**
   * Whether `refs` counts every version: set at verification and by a recount. Blobs
   * verified before reference tracking are untracked and never collected until a recount.
   */
  tracked: boolean;
  /** Bumped by every change of `refs`: a recount writes only over the count it read. */
  refsRevision: number;
  /** When the last reference went (or the blob was verified): the grace period runs from it. */
  releasedAt?: string;
  /** When a commit last pinned a reference ahead of its own write (lambdas/adapters/dynamodb/artifact-store.ts). */
  pinnedAt?: string;
  condemnId?: string;
  condemnedUntil?: string;
}

/** Which blobs are verified, who is verifying one, and the multipart uploads in flight. */
export interface BlobLedger {
  /** Sizes of the blobs among `sha256s` whose bytes have been verified in the blob store. */
  verifiedBlobs(sha256s: string[]): Promise<Map<string, number>>;
  /**
   * Takes the right to verify a blob, so that two uploads of one blob cannot race: granted when
   * nobody holds it, or when its holder is gone (its lease ran out, or the store knows its
   * process is gone).
   */
  claimBlob(sha256: string, size: number, at: string): Promise<BlobClaim>;
  /** Extends a held claim's lease from `at`; undefined when the claim is no longer this holder's. */
  renewBlobClaim(claim: HeldBlobClaim, at: string): Promise<HeldBlobClaim | undefined>;
  /** Records the blob as verified under `claim`; false (and nothing written) when the claim is no longer held. */
  markBlobVerified(claim: HeldBlobClaim, size: number, at: string): Promise<boolean>;
  /** Gives a claim up; a claim taken over or verified meanwhile is left as it is. */
  releaseBlobClaim(claim: HeldBlobClaim): Promise<void>;

  putMultipartUpload(upload: MultipartUpload): Promise<void>;
  getMultipartUpload(sha256: string, uploadId: string): Promise<MultipartUpload | undefined>;
  findMultipartUpload(sha256: string, size: number, partSize: number): Promise<MultipartUpload | undefined>;
  deleteMultipartUpload(sha256: string, uploadId: string): Promise<void>;

  /** The reference counts of the blob items among `sha256s` that exist (a consistent read). */
  blobRefs(sha256s: string[]): Promise<Map<string, BlobRefs>>;
  /**
   * Blobs that may have lost their last reference at or before `before` (a query of a sparse
   * index, oldest first): verified ones with `releasedAt <= before`, and condemned ones.
   */
  unreferencedBlobs(before: string, limit: number): Promise<BlobRefs[]>;
  /**
   * Marks a blob condemned by `id` until `leaseUntil`, only if it is tracked, verified, has
   * no reference and `releasedAt` is still the one read (a commit or release meanwhile makes
   * this fail), or if it is condemned by a collector whose lease ran out. True when marked.
   */
  condemnBlob(blob: BlobRefs, id: string, at: string, leaseUntil: string): Promise<boolean>;
  /** Takes a referenced or untracked verified blob out of the unreferenced index, if unchanged since read. */
  dismissBlob(blob: BlobRefs): Promise<void>;
  /** Deletes the item of a blob condemned by `id` (its object is gone); false when it is not. */
  forgetBlob(sha256: string, id: string): Promise<boolean>;
  /** Versions deleted whose references are still to be released, oldest first. */
  pendingReleases(limit: number): Promise<PendingRelease[]>;
  /**
   * Releases one reference on each of `sha256s` (chunk `chunk` of the version's blobs) and
   * records the chunk done, in one write conditioned on `done = chunk`, so a chunk is released
   * exactly once; `last` removes the pending release instead. False when another runner did
   * it first. Blob items that are gone are left out.
   */
  releaseRefs(release: PendingRelease, chunk: number, sha256s: string[], last: boolean, at: string): Promise<boolean>;
  /** Every blob item (a scan): what a recount reads. */
  allBlobs(): Promise<BlobRefs[]>;
  /** Sets a blob's count and marks it tracked, only if `refsRevision` is still the one read. */
  setRefs(blob: BlobRefs, refs: number, at: string): Promise<boolean>;
}

/** Users and their API keys. */
export interface IdentityStore {
  getUser(id: string): Promise<UserRecord | undefined>;
  /** Creates a user; a ConflictError when the id is taken. */
  createUser(user: UserRecord): Promise<void>;
  listUsers(page: PageRequest): Promise<Page<UserRecord>>;
  /** The key with what authorization needs (its user's id, org role and status): one read. */
  getApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  getApiKeyById(id: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Stores a key for `user` as read, copying its role and status onto the key; a
   * ConflictError when the user changed or went meanwhile, the key exists, or the user
   * holds MAX_API_KEYS_PER_USER unrevoked keys already.
   */
  createApiKey(key: ApiKeyRecord, user: UserRecord): Promise<void>;
  listApiKeys(userId: string | undefined, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** Revokes a key once (the first time stays); a revoked key no longer counts towards its user's keys. */
  revokeApiKey(key: { keyHash: string; userId: string }, at: string): Promise<void>;
  /**
   * Sets a user's org role and status to what `edit` makes of the user as read, on the user
   * and every key it holds, with a `user.updated` event, in one atomic write: the next
   * request with any of its keys sees the change. NotFoundError for an unknown user.
   */
  updateUser(id: string, change: { actor: string; at: string }, edit: Edit<UserRecord, UserEdit>): Promise<Edited<UserRecord>>;
  touchApiKey(keyHash: string, at: string): Promise<void>;
}

export interface NewLink {
  registry: string;
  collection: string;
  source: SourceVersion;
  /**
   * The source version's revision the copies below were read at: the link is written only
   * while the version still has it, so an edit meanwhile makes the link read it again.
   */
  sourceRevision: number;
  /** Copied from the source version; an edit of the version updates every copy (ArtifactStore.updateVersion). */
  type: string;
  metadata: Record<string, unknown>;
  description?: string;
  size: number;
  fileCount: number;
  /** Description and tags for the collection when this link creates it. */
  newCollection: { description?: string; tags: string[] };
  aliases: string[];
  actor: string;
  at: string;
}

export type LinkState = SequenceState<CollectionRecord>;

/** `source` is set when the source version was edited meanwhile: the version as it is now, to copy from. */
export type LinkOutcome =
  { created: true; link: LinkRecord; collectionCreated: boolean } | { created: false; current: LinkState; source?: VersionRecord };

export interface CollectionChange {
  registry: string;
  collection: string;
  actor: string;
  at: string;
}

export interface CollectionQuery extends PageRequest {
  /** Name prefix (served by the sort key) or, with `substring`, any part of the name. */
  q?: string;
  tag?: string;
}

/** A collection version named by number or alias, read along with the registry's access check. */
export type CollectionVersionRef = { collection: string } & VersionSelector;

/** Registries, their members, collections and links. The same DynamoDB table in production. */
export interface RegistryStore {
  createRegistry(registry: RegistryRecord): Promise<void>;
  /**
   * Registries in name order, only those `visible` keeps (all when absent): a page holds up
   * to `limit` of them and its cursor resumes after the last one it holds, so neither the
   * page nor the cursor tells anything of the registries left out.
   */
  listRegistries(page: PageRequest, visible?: (registry: RegistryRecord) => boolean): Promise<Page<RegistryRecord>>;
  /**
   * The registry, the membership of `userId` when given and, when `version` is given, what
   * that collection version resolves to (undefined when it names nothing): one read.
   */
  getRegistryAccess(
    name: string,
    userId: string | undefined,
    version?: CollectionVersionRef,
  ): Promise<{ registry?: RegistryRecord; role?: RegistryRole; target?: LinkTarget }>;
  getMembership(registry: string, userId: string): Promise<RegistryRole | undefined>;
  putMember(registry: string, userId: string, role: RegistryRole, change: { actor: string; at: string }): Promise<void>;
  removeMember(registry: string, userId: string, change: { actor: string; at: string }): Promise<boolean>;
  membershipsOf(userId: string): Promise<Map<string, RegistryRole>>;
  /** A registry's memberships by user id. */
  listMembers(registry: string, page: PageRequest): Promise<Page<MemberRecord>>;
  /** Edits a registry's description and approval rule, with a `registry.updated` event; NotFoundError when it is gone. */
  updateRegistry(
    name: string,
    change: { actor: string; at: string },
    edit: Edit<RegistryRecord, RegistryEdit>,
  ): Promise<Edited<RegistryRecord>>;
  /**
   * Deletes an empty registry with its memberships and automations, and a `registry.deleted`
   * event naming them. ConflictError while it holds a collection, or when one is created
   * meanwhile (every collection creation is conditioned on the registry); NotFoundError when
   * it does not exist.
   */
  deleteRegistry(name: string, change: { actor: string; at: string }): Promise<{ members: string[]; automations: string[] }>;

  createCollection(collection: CollectionRecord): Promise<void>;
  getCollection(registry: string, name: string): Promise<CollectionRecord | undefined>;
  listCollections(registry: string, query: CollectionQuery): Promise<Page<CollectionRecord>>;
  listCollectionAliases(registry: string, collection: string): Promise<Record<string, number>>;
  /** Edits a collection's description and tags (with their index entries), with a `collection.updated` event. */
  updateCollection(change: CollectionChange, edit: Edit<CollectionRecord, CollectionEdit>): Promise<Edited<CollectionRecord>>;
  /**
   * Deletes a collection that links nothing (its tags' and name's index entries, its
   * tombstones and promotion requests go too), with a `collection.deleted` event in its own
   * and its registry's history. ConflictError while it links a version (also one linked
   * meanwhile); NotFoundError when it does not exist.
   */
  deleteCollection(change: CollectionChange): Promise<void>;

  /** The collection, the link of `source` if any, and the holders of `latest` and `aliases`: one read. */
  readLinkState(registry: string, collection: string, source: VersionRef, aliases: string[]): Promise<LinkState>;
  /** Numbers the link, dedupes by source, moves `latest` and the aliases: one transaction expecting the state read. */
  linkVersion(link: NewLink, expected: LinkState): Promise<LinkOutcome>;
  /** What a link number or alias resolves to: one read. */
  getLinkTarget(registry: string, collection: string, selector: VersionSelector): Promise<LinkTarget | undefined>;
  getLink(registry: string, collection: string, index: number): Promise<LinkRecord | undefined>;
  listLinks(registry: string, collection: string, page: PageRequest): Promise<Page<LinkRecord>>;
  moveCollectionAliases(change: CollectionChange, index: number, aliases: string[], expected?: AliasExpectations): Promise<AliasMove[]>;
  removeCollectionAlias(change: CollectionChange, alias: string): Promise<number | undefined>;
  /**
   * Removes link `index` and its aliases. With `protectedAliases`, a link holding one of them
   * is refused (ForbiddenError) by a condition of the write itself, whatever moved meanwhile.
   */
  unlink(change: CollectionChange, index: number, protectedAliases?: string[]): Promise<void>;
  linksOfVersion(project: string, artifact: string, index: number): Promise<LinkLocation[]>;

  tagCollection(change: CollectionChange, tag: string, add: boolean): Promise<boolean>;
  tagLink(change: CollectionChange, index: number, tag: string, add: boolean): Promise<boolean>;
  listCollectionHistory(registry: string, collection: string, page: PageRequest): Promise<Page<AuditEvent>>;
}

export interface PromotionKey {
  registry: string;
  collection: string;
  id: string;
}

export interface PromotionQuery extends PageRequest {
  status?: PromotionStatus;
}

/** Promotion requests of collections and the alias moves that approving them makes. */
export interface PromotionStore {
  /** Writes a pending request with its `promotion.requested` event; ConflictError when the id is taken. */
  createPromotion(promotion: PromotionRecord): Promise<void>;
  getPromotion(key: PromotionKey): Promise<PromotionRecord | undefined>;
  /** A collection's requests, newest first, optionally of one status. */
  listPromotions(registry: string, collection: string, query: PromotionQuery): Promise<Page<PromotionRecord>>;
  /** The link an alias of a collection names now (a consistent read); undefined: none. */
  aliasHolder(registry: string, collection: string, alias: string): Promise<number | undefined>;
  /**
   * Records one distinct approval of a pending request (again by the same approver: no
   * change). The approval that reaches `required` moves the alias in the same atomic write,
   * conditioned on the alias still naming what it named at the request and on the request
   * as read. When the alias no longer does (or the version was unlinked) the request becomes
   * `stale` instead. Answers the request as written. ConflictError for a decided request,
   * NotFoundError for an unknown one.
   */
  approvePromotion(key: PromotionKey, approval: PromotionDecision, required: number): Promise<PromotionRecord>;
  /** Rejects a pending request (ConflictError once decided), with its event. */
  rejectPromotion(key: PromotionKey, rejection: PromotionDecision): Promise<PromotionRecord>;
}

export type StagedBlobCheck =
  | { status: "verified" }
  | { status: "missing" }
  /** `sha256` is left out when the size already tells the bytes apart and they were not hashed. */
  | { status: "mismatch"; size: number; sha256?: string };

export interface PresignedRequest {
  url: string;
  headers: Record<string, string>;
}

export interface ObjectHead {
  size: number;
  etag: string;
  versionId?: string;
}

/** File bytes and manifests. S3 in production, an S3 emulator locally. */
export interface BlobStore {
  /** A presigned PUT of a blob's staged upload; `bindChecksum: false` leaves its SHA-256 out of the signature. */
  presignBlobPut(sha256: string, options?: { bindChecksum?: boolean }): Promise<PresignedRequest>;
  createMultipartUpload(sha256: string): Promise<{ uploadId: string; key: string }>;
  presignPartPut(key: string, uploadId: string, partNumber: number): Promise<PresignedRequest>;
  completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** A presigned PUT for bytes whose hash is not known yet, under a new uploadId. */
  presignOpenPut(): Promise<PresignedRequest & { uploadId: string }>;
  /**
   * Hashes the single-PUT upload of a blob (the staged one, or the open upload `uploadId`)
   * and, when it matches, makes it the blob. `signal` is the blob's claim: once it aborts,
   * nothing more is written or deleted (the abort reason is thrown instead).
   */
  promoteStagedBlob(sha256: string, size: number, uploadId?: string, signal?: AbortSignal): Promise<StagedBlobCheck>;
  /** Deletes an open upload whose bytes turned out to be stored already. */
  discardOpenUpload(uploadId: string): Promise<void>;
  /** Hashes a blob written by a completed multipart upload; deletes it when it does not match, unless `signal` aborted. */
  verifyBlob(sha256: string, size: number, signal?: AbortSignal): Promise<StagedBlobCheck>;
  presignBlobGet(sha256: string, filename: string): Promise<string>;
  /** Deletes a blob's object; nothing once `signal` aborted (the abort reason is thrown). */
  deleteBlob(sha256: string, signal?: AbortSignal): Promise<void>;
  putManifest(digest: string, entries: ManifestEntry[]): Promise<void>;
  getManifest(digest: string): Promise<ManifestEntry[]>;
  headReference(bucket: string, key: string): Promise<ObjectHead | undefined>;
  presignReferenceGet(bucket: string, key: string, versionId?: string): Promise<string>;
}

/**
 * The regular expressions of automations' alias patterns, matched against the whole alias in
 * time linear in its length: no pattern can stall the function that matches it.
 */
export interface AliasPatterns {
  /** Why the pattern is refused, or undefined when it is accepted. */
  problem(pattern: string): string | undefined;
  /** Whether the whole alias matches the pattern; false for a pattern that is refused. */
  matches(pattern: string, alias: string): boolean;
}

export interface Clock {
  now(): Date;
}

export interface Ids {
  /** A sortable, unique id (time first), used for events, runs and keys. */
  next(): string;
}

/** Runs and the edges between runs and artifact versions, each list one query away. */
export interface LineageStore {
  /** Creates the run, or sets the name and config given on an existing one. */
  saveRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }>;
  getRuns(refs: RunRef[]): Promise<RunRecord[]>;
  /** The live versions among `refs` (deleted ones are left out). */
  getVersions(refs: VersionRef[]): Promise<VersionRecord[]>;
  /** Records that the run used the version, creating the run when it is unknown; NotFoundError when the version is gone. */
  recordInput(run: RunRef, source: VersionRef, change: { actor: string; at: string }): Promise<void>;
  listRunInputs(run: RunRef, page: PageRequest): Promise<Page<VersionRef>>;
  listRunOutputs(run: RunRef, page: PageRequest): Promise<Page<VersionRef>>;
  listVersionConsumers(version: VersionRef, page: PageRequest): Promise<Page<RunRef>>;
  /**
   * Sets each key's last value in the run's summary (creating the run when it is unknown)
   * and appends the points to each key's history, thinned past MAX_METRIC_POINTS; answers
   * the whole summary. UnprocessableError when the run would hold more than MAX_RUN_METRIC_KEYS keys.
   */
  recordMetrics(run: RunRef, batch: MetricBatch, change: { actor: string; at: string }): Promise<Record<string, number>>;
  /** A key's kept history; undefined when the key was never logged in the run. */
  getMetricHistory(run: RunRef, key: string): Promise<MetricHistory | undefined>;
}

/** What one metrics request records: the last value per key, and every point per key in logging order. */
export interface MetricBatch {
  last: Record<string, number>;
  points: Map<string, MetricPoint[]>;
}

export interface MetricHistory {
  count: number;
  points: MetricPoint[];
}

export interface DeliveryKey {
  registry: string;
  automationId: string;
  id: string;
}

/** Automations of registries and their deliveries. */
export interface AutomationStore {
  createAutomation(automation: AutomationRecord): Promise<void>;
  getAutomation(registry: string, id: string): Promise<AutomationRecord | undefined>;
  listAutomations(registry: string, page: PageRequest): Promise<Page<AutomationRecord>>;
  /** Every automation of a registry: what the dispatcher matches an event against. */
  automationsOf(registry: string): Promise<AutomationRecord[]>;
  deleteAutomation(registry: string, id: string, change: { actor: string; at: string }): Promise<boolean>;
  /** Writes a delivery unless one with its id exists (a redelivered stream record); true when written. */
  createDelivery(delivery: DeliveryRecord): Promise<boolean>;
  getDelivery(key: DeliveryKey): Promise<DeliveryRecord | undefined>;
  listDeliveries(registry: string, automationId: string, page: PageRequest): Promise<Page<DeliveryRecord>>;
  /** Leases a pending delivery that is due and not leased; undefined when it is not to be attempted now. */
  claimDelivery(key: DeliveryKey, now: string, leaseUntil: string): Promise<DeliveryRecord | undefined>;
  /** Leases a finished (delivered or failed) delivery for a replay; undefined when it is pending. */
  claimForReplay(key: DeliveryKey, now: string, leaseUntil: string): Promise<DeliveryRecord | undefined>;
  /** Writes the state after an attempt made under the lease; false when the lease was lost meanwhile. */
  finishAttempt(delivery: DeliveryRecord, leaseUntil: string): Promise<boolean>;
  /** Pending deliveries whose next attempt is due at `now`, oldest first. */
  dueDeliveries(now: string, limit: number): Promise<DeliveryKey[]>;
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface WebhookResponse {
  statusCode?: number;
  /** Set when no HTTP status came back: `refused` is a target the deployment does not allow. */
  error?: { kind: "timeout" | "network" | "refused"; message: string };
  latencyMs: number;
  retryAfterMs?: number;
}

/** Outbound webhook HTTP under the deployment's rules on which addresses may be reached. */
export interface WebhookSender {
  /** Refuses (ValidationError) a URL whose host is or resolves to an address that is not allowed. */
  checkTarget(url: string): Promise<void>;
  send(request: WebhookRequest): Promise<WebhookResponse>;
}
