export type OrgRole = "admin" | "member" | "viewer";

/** What a route requires; every route in the route table declares one. */
export type Permission =
  | "public"
  | "org:read"
  | "org:admin"
  | "project:read"
  | "project:write"
  | "project:admin"
  | "registry:read"
  | "registry:write"
  | "registry:admin";

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
}

export interface UserRecord {
  id: string;
  name: string;
  orgRole: OrgRole;
  createdAt: string;
}

export const LATEST_ALIAS = "latest";

export function versionLabel(index: number): string {
  return `v${index}`;
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
  createdAt: string;
  createdBy: string;
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

/** Where a version is linked: found from the version's side to refuse or force its deletion. */
export interface LinkLocation {
  registry: string;
  collection: string;
  index: number;
}
