export type OrgRole = "admin" | "member" | "viewer";

export type { Permission } from "../contract/routes.js";

export interface Principal {
  userId: string;
  orgRole: OrgRole;
}

export interface BlobEntry {
  path: string;
  size: number;
  sha256: string;
}

/** An object the registry does not own, pinned by what S3 said about it at commit. */
export interface ReferenceEntry {
  path: string;
  ref: string;
  size: number;
  etag: string;
  versionId?: string;
}

export type ManifestEntry = BlobEntry | ReferenceEntry;

export function isReference(entry: ManifestEntry): entry is ReferenceEntry {
  return "ref" in entry;
}

export interface ArtifactRecord {
  project: string;
  name: string;
  type: string;
  createdAt: string;
  createdBy: string;
  /** Index the next committed version will get; never decreases, so numbers are never reused. */
  nextIndex: number;
  latestIndex?: number;
  versionCount: number;
}

export interface VersionRecord {
  project: string;
  artifact: string;
  index: number;
  digest: string;
  type: string;
  aliases: string[];
  metadata: Record<string, unknown>;
  description?: string;
  createdAt: string;
  createdBy: string;
  size: number;
  fileCount: number;
  runId?: string;
  /** How often the description and metadata were edited; absent: never. Copies of them are conditioned on it. */
  revision?: number;
  /** When the retention sweep deletes the version (lambdas/core/retention.ts); absent: never. */
  expiresAt?: string;
  /** Why the sweep kept the version past `expiresAt` (linked into a collection). */
  retentionKept?: string;
}

/** A version's editable fields, as an edit leaves them. */
export interface VersionEdit {
  metadata: Record<string, unknown>;
  description?: string;
  expiresAt?: string;
}

/** A project: the namespace artifacts are logged into; indexed when its first artifact is created. */
export interface ProjectRecord {
  name: string;
  artifactCount: number;
  createdAt: string;
  createdBy: string;
  /** The retention of versions committed into the project (days from the commit); absent: none. */
  ttlDays?: number;
}

export interface AuditEvent {
  action: string;
  actor: string;
  at: string;
  [detail: string]: unknown;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface MultipartUpload {
  sha256: string;
  size: number;
  uploadId: string;
  key: string;
  partSize: number;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  userId: string;
  keyHash: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  lastUsedAt?: string;
  /**
   * The user's org role and status, copied onto the key so that authentication is one read.
   * Absent on keys stored before the copy existed: their user is read instead.
   */
  orgRole?: OrgRole;
  userStatus?: UserStatus;
}

/** Only active users authenticate. */
export type UserStatus = "active" | "deactivated";

/**
 * Keys a user may hold (revoked ones do not count). A change of the user's role or status
 * rewrites the user, each of its keys and the change's audit event in one transaction,
 * which DynamoDB caps at 100 items (lambdas/adapters/dynamodb/identity-store.ts).
 */
export const MAX_API_KEYS_PER_USER = 98;

/** A user's org role and status, as a change leaves them. */
export interface UserEdit {
  orgRole: OrgRole;
  status: UserStatus;
}

export interface UserRecord {
  id: string;
  name: string;
  orgRole: OrgRole;
  status: UserStatus;
  createdAt: string;
}

export const LATEST_ALIAS = "latest";

export function versionLabel(index: number): string {
  return `v${index}`;
}

/** A version number or an alias, as `{v}` in a path names one. */
export type VersionSelector = { index: number } | { alias: string };

/** `v3` and `3` are numbers; anything else (`latest` included) is an alias. */
export function parseVersionSelector(text: string | number): VersionSelector {
  const numbered = /^v?(\d{1,9})$/.exec(String(text));
  return numbered ? { index: Number(numbered[1]) } : { alias: String(text) };
}

export type RegistryRole = "viewer" | "member" | "admin";
export type Visibility = "organization" | "restricted";

export interface RegistryRecord {
  name: string;
  description?: string;
  visibility: Visibility;
  /** Artifact types the registry accepts; undefined accepts any. */
  artifactTypes?: string[];
  /** Aliases only registry admins may set or remove. */
  protectedAliases: string[];
  /** Distinct admins whose approval moves a protected alias (promotions); absent or 0: admins move it directly. */
  approvalsRequired?: number;
  createdAt: string;
  createdBy: string;
}

/** A registry's editable fields, as an edit leaves them. */
export interface RegistryEdit {
  description?: string;
  approvalsRequired: number;
}

export interface MemberRecord {
  registry: string;
  userId: string;
  role: RegistryRole;
  grantedAt: string;
  grantedBy: string;
}

export interface CollectionRecord {
  registry: string;
  name: string;
  type: string;
  description?: string;
  tags: string[];
  nextIndex: number;
  linkCount: number;
  latestIndex?: number;
  createdAt: string;
  createdBy: string;
}

/** A collection's editable fields, as an edit leaves them. */
export interface CollectionEdit {
  description?: string;
  tags: string[];
}

export interface SourceVersion {
  project: string;
  artifact: string;
  index: number;
  digest: string;
}

/** A collection's pointer to an artifact version, with what a resolve needs copied from it. */
export interface LinkRecord {
  registry: string;
  collection: string;
  index: number;
  source: SourceVersion;
  type: string;
  aliases: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  description?: string;
  size: number;
  fileCount: number;
  linkedAt: string;
  linkedBy: string;
}

/** What a link number or alias resolves to: enough to list the files of the version it points at. */
export interface LinkTarget {
  registry: string;
  collection: string;
  index: number;
  source: SourceVersion;
}

/** Where a version is linked: found from the version's side to refuse or force its deletion. */
export interface LinkLocation {
  registry: string;
  collection: string;
  index: number;
}

/** A training or evaluation job: artifact versions are its inputs and outputs (lineage). */
export interface RunRecord {
  project: string;
  id: string;
  name?: string;
  config: Record<string, unknown>;
  /** The last value logged for each metric key. */
  summary?: Record<string, number>;
  createdAt: string;
  createdBy: string;
}

/** One logged value of a metric key; `step` is null when the caller gave none. */
export interface MetricPoint {
  step: number | null;
  value: number;
}

export interface RunRef {
  project: string;
  id: string;
}

/** An artifact version by position, as lineage edges name it. */
export interface VersionRef {
  project: string;
  artifact: string;
  index: number;
}

export type AutomationEvent = "LINK_ARTIFACT" | "ADD_ARTIFACT_ALIAS" | "PROMOTION_REQUESTED" | "PROMOTION_APPROVED";

export type PromotionStatus = "pending" | "approved" | "rejected" | "stale";

export interface PromotionDecision {
  by: string;
  at: string;
  note?: string;
}

/** A member's request that a protected alias of a collection move to a version, and the admins' decisions on it. */
export interface PromotionRecord {
  id: string;
  registry: string;
  collection: string;
  alias: string;
  /** The link the alias is to move to. */
  index: number;
  /** The link the alias named when the request was made; undefined: none. The move happens only from there. */
  from?: number;
  note?: string;
  requestedBy: string;
  requestedAt: string;
  status: PromotionStatus;
  /** Distinct approvers, in approval order. */
  approvals: PromotionDecision[];
  rejection?: PromotionDecision;
  decidedAt?: string;
  staleReason?: string;
}

/** A registry's webhook: which collection events it fires on and where it posts them. */
export interface AutomationRecord {
  id: string;
  registry: string;
  name: string;
  event: AutomationEvent;
  collection?: string;
  /** Matched against the whole alias (alias and promotion events only). */
  aliasPattern?: string;
  url: string;
  /** The HMAC key; never leaves the registry. */
  secret?: string;
  payloadTemplate?: string;
  createdAt: string;
  createdBy: string;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  latencyMs: number;
  statusCode?: number;
  error?: string;
  outcome: "delivered" | "retry" | "failed";
}

/** One event sent to one automation's URL: its fixed body and the log of its attempts. */
export interface DeliveryRecord {
  id: string;
  registry: string;
  automationId: string;
  event: {
    type: AutomationEvent;
    collection: string;
    version: string;
    alias?: string;
    actor: string;
    at: string;
  };
  body: string;
  status: DeliveryStatus;
  attemptCount: number;
  /** Attempts allowed before the delivery is given up; a replay allows one more. */
  maxAttempts: number;
  /** The most recent attempts, oldest first. */
  attempts: DeliveryAttempt[];
  nextAttemptAt?: string;
  error?: string;
  createdAt: string;
  updatedAt: string;
}

export type JobKind = "artifact.delete" | "versions.delete" | "project.delete";
export type JobStatus = "queued" | "running" | "succeeded" | "failed";

/** A bulk delete's filter, as stored: `olderThan` is an absolute ISO time, fixed at creation. */
export interface JobFilter {
  olderThan?: string;
  aliasAbsent?: boolean;
  notLinked?: boolean;
}

/**
 * A background job: one item in the table, advanced in bounded steps. `cursor` is where the
 * next step starts (the artifact it works on, the last version index it handled); `step`
 * counts the steps written, and each write expects the one before it.
 */
export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  project: string;
  artifact?: string;
  filter?: JobFilter;
  force: boolean;
  createdBy: string;
  /** The creator's org role when the job was made: the deletes run with it. */
  orgRole: OrgRole;
  createdAt: string;
  updatedAt: string;
  progress: { total?: number; done: number; failed: number; skipped: number };
  cursor: { artifact?: string; after?: number };
  skipped: { version: string; reason: string }[];
  errors: string[];
  step: number;
  /** Who runs it now, and until when; a runner gone past `leaseUntil` is taken over. */
  leaseHolder?: string;
  leaseUntil?: string;
}
