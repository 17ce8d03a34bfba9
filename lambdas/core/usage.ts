import { limiter } from "./concurrency.js";
import { allVersions, manifestBlobs } from "./gc.js";
import { NotFoundError } from "./errors.js";
import type { ArtifactStore, BlobStore } from "./ports.js";

export interface Usage {
  /** What the live versions' manifests name, summed per version (references to outside buckets included). */
  logicalBytes: number;
  /** Bytes of the distinct blobs the live versions name: each stored once, however many versions share it. */
  storedBytes: number;
  /** Logical bytes of blob files per stored byte (1 when nothing is stored). */
  dedupRatio: number;
  versions: number;
  files: number;
  blobs: number;
}

/**
 * Usage of the live versions of one project, or of every project: derived when asked from
 * the versions (one query per page of artifacts and of versions) and their manifests (one
 * read per distinct digest), so no counter can drift, and a delete shows at once. Blobs
 * waiting for the collector are not counted: nothing live names them.
 */
export async function usageOf(deps: { artifacts: ArtifactStore; blobs: BlobStore }, project?: string): Promise<Usage> {
  const versions = await allVersions(deps.artifacts, project);
  const perDigest = new Map<string, number>();
  for (const version of versions) perDigest.set(version.digest, (perDigest.get(version.digest) ?? 0) + 1);
  const stored = new Map<string, number>();
  let blobFileBytes = 0;
  const limit = limiter(8);
  await Promise.all(
    [...perDigest].map(([digest, count]) =>
      limit(async () => {
        const entries = await deps.blobs.getManifest(digest);
        for (const entry of entries) if ("sha256" in entry) blobFileBytes += entry.size * count;
        for (const [sha256, size] of manifestBlobs(entries)) stored.set(sha256, size);
      }),
    ),
  );
  const storedBytes = [...stored.values()].reduce((sum, size) => sum + size, 0);
  return {
    logicalBytes: versions.reduce((sum, v) => sum + v.size, 0),
    storedBytes,
    dedupRatio: storedBytes === 0 ? 1 : Math.round((blobFileBytes / storedBytes) * 1000) / 1000,
    versions: versions.length,
    files: versions.reduce((sum, v) => sum + v.fileCount, 0),
    blobs: stored.size,
  };
}

export async function projectUsage(
  deps: { artifacts: ArtifactStore; blobs: BlobStore },
  project: string,
): Promise<Usage & { project: string }> {
  const page = await deps.artifacts.listArtifacts(project, { limit: 1 });
  if (page.items.length === 0) throw new NotFoundError(`project ${project} has no artifacts`);
  return { project, ...(await usageOf(deps, project)) };
}
