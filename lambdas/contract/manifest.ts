/**
 * The canonical form of a manifest, whose SHA-256 is a version's digest. The server computes
 * digests from it (lambdas/core/manifest.ts) and the clients check what they are served
 * against it, so it is defined once, here; the Python client mirrors it (clients/python/mreg/_manifest.py).
 */

export interface CanonicalBlobEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface CanonicalReferenceEntry {
  path: string;
  ref: string;
  size: number;
  etag: string;
  versionId?: string;
}

export type CanonicalEntry = CanonicalBlobEntry | CanonicalReferenceEntry;

/** What a file listing or a stored manifest holds of an entry; anything else in it is ignored. */
export type EntryLike = { path: string; size: number } & (
  { sha256: string; ref?: undefined } | { ref: string; etag: string; versionId?: string | undefined; sha256?: undefined }
);

/**
 * Entries sorted by path (UTF-16 code unit order, as JavaScript compares strings) with a
 * fixed key order, so equal content always serialises, and hashes, equal.
 */
export function canonicalManifest(entries: readonly EntryLike[]): CanonicalEntry[] {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((entry) =>
      "ref" in entry && entry.ref !== undefined
        ? {
            path: entry.path,
            ref: entry.ref,
            size: entry.size,
            etag: entry.etag,
            ...(entry.versionId === undefined ? {} : { versionId: entry.versionId }),
          }
        : { path: entry.path, size: entry.size, sha256: entry.sha256 as string },
    );
}

/** The exact text a digest is the SHA-256 (of the UTF-8 bytes) of. */
export function canonicalManifestText(entries: readonly EntryLike[]): string {
  return JSON.stringify(canonicalManifest(entries));
}
