import { createHash } from "node:crypto";
import { isReference, type ManifestEntry } from "./model.js";

/** Entries sorted by path with a fixed key order, so equal content always hashes equal. */
export function canonicalManifest(entries: ManifestEntry[]): ManifestEntry[] {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((entry) =>
      isReference(entry)
        ? {
            path: entry.path,
            ref: entry.ref,
            size: entry.size,
            etag: entry.etag,
            ...(entry.versionId === undefined ? {} : { versionId: entry.versionId }),
          }
        : { path: entry.path, size: entry.size, sha256: entry.sha256 },
    );
}

export function manifestDigest(canonical: ManifestEntry[]): string {
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

export function manifestSize(entries: ManifestEntry[]): number {
  return entries.reduce((total, entry) => total + entry.size, 0);
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new TypeError(`not an s3 uri: ${uri}`);
  return { bucket: match[1]!, key: match[2]! };
}
