import { createHash } from "node:crypto";
import { canonicalManifest as canonicalForm, canonicalManifestText } from "../contract/manifest.js";
import { IntegrityError } from "./errors.js";
import type { ManifestEntry } from "./model.js";

/** Entries sorted by path with a fixed key order, so equal content always hashes equal (lambdas/contract/manifest.ts). */
export function canonicalManifest(entries: ManifestEntry[]): ManifestEntry[] {
  return canonicalForm(entries);
}

export function manifestDigest(canonical: ManifestEntry[]): string {
  return createHash("sha256").update(canonicalManifestText(canonical)).digest("hex");
}

/** What the registry writes to the store for a manifest (BlobStore.putManifest). */
export function storedManifestText(digest: string, entries: ManifestEntry[]): string {
  return JSON.stringify({ digest, entries });
}

/**
 * The entries of a stored manifest, checked against the digest the version records: the
 * store holds bytes anyone with write access to it could have replaced, the version's
 * digest is the registry's own record. Answers the canonical form (nothing but the fields
 * the digest covers); anything else is an IntegrityError naming the digest.
 */
export function verifyStoredManifest(digest: string, text: string): ManifestEntry[] {
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch {
    throw corruptManifest(digest, "it is not JSON");
  }
  const entries = (stored as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || !entries.every(isEntryShaped)) throw corruptManifest(digest, "it does not hold a list of entries");
  const canonical = canonicalManifest(entries);
  const actual = manifestDigest(canonical);
  if (actual !== digest) throw corruptManifest(digest, `its content hashes to ${actual}`);
  return canonical;
}

export function missingManifest(digest: string, options?: { cause?: unknown }): IntegrityError {
  return new IntegrityError(`the manifest with digest ${digest} is missing from the store (or not readable by the registry)`, options);
}

function corruptManifest(digest: string, why: string): IntegrityError {
  return new IntegrityError(`the stored manifest with digest ${digest} was modified outside the registry (${why}); it is not served`);
}

/** Enough shape to canonicalise without throwing; the digest decides the rest. */
function isEntryShaped(value: unknown): value is ManifestEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return typeof entry.path === "string" && typeof entry.size === "number";
}

export function manifestSize(entries: ManifestEntry[]): number {
  return entries.reduce((total, entry) => total + entry.size, 0);
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new TypeError(`not an s3 uri: ${uri}`);
  return { bucket: match[1]!, key: match[2]! };
}
