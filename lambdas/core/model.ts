export type OrgRole = "admin" | "member" | "viewer";

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
