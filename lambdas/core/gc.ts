import { randomUUID } from "node:crypto";
import { limiter } from "./concurrency.js";
import { isReference, type ManifestEntry, type VersionRecord } from "./model.js";
import type { ArtifactStore, BlobLedger, BlobRefs, BlobStore, Clock, PendingRelease } from "./ports.js";
import { GC } from "../contract/limits.js";

/**
 * Reference tracking and the garbage collector. A blob item counts the live versions whose
 * manifest names it (`refs`): the commit that creates a version takes one reference on each
 * of its distinct blobs in its own transaction (conditioned on the blob being verified), and
 * a version's delete records a pending release in its own transaction, which is then given
 * back chunk by chunk, exactly once (lambdas/adapters/dynamodb/blob-ledger.ts says which
 * condition holds which invariant). The collector deletes a blob only once it has no
 * reference, and a grace period has passed since its last one went.
 */
export interface GcDeps {
  ledger: BlobLedger;
  blobs: BlobStore;
  clock: Clock;
}

/** The distinct blobs a manifest names, sorted: the order releases are chunked in. */
export function manifestBlobs(entries: ManifestEntry[]): Map<string, number> {
  const blobs = new Map<string, number>();
  for (const entry of entries) if (!isReference(entry)) blobs.set(entry.sha256, entry.size);
  return new Map([...blobs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Gives back a deleted version's references, from the chunk the release has reached. Each
 * chunk is conditioned on that progress, so two runners (the delete's request, a collector)
 * never release one twice: the one that loses stops. True when this call finished it.
 */
export async function finishRelease(deps: GcDeps, release: PendingRelease): Promise<boolean> {
  const blobs = [...manifestBlobs(await deps.blobs.getManifest(release.digest)).keys()];
  const chunks: string[][] = [];
  for (let i = 0; i < blobs.length; i += GC.releaseChunk) chunks.push(blobs.slice(i, i + GC.releaseChunk));
  if (chunks.length === 0) chunks.push([]);
  const at = deps.clock.now().toISOString();
  for (let chunk = release.done; chunk < chunks.length; chunk++) {
    if (!(await deps.ledger.releaseRefs(release, chunk, chunks[chunk]!, chunk === chunks.length - 1, at))) return false;
  }
  return true;
}

export interface GcOptions {
  graceHours: number;
  /** Answers what a round would delete, writing nothing. */
  dryRun?: boolean;
  /** Blobs examined at most (GC.batch). */
  limit?: number;
}

export interface GcReport {
  dryRun: boolean;
  /** Pending releases of deleted versions this round finished (a dry run finishes none). */
  releasesFinished: number;
  releasesFailed: number;
  /** Blobs the unreferenced index offered. */
  examined: number;
  /** Blobs deleted (object and item), or that would be in a dry run, and their bytes. */
  deleted: number;
  deletedBytes: number;
  /** Blobs referenced again, or untracked: taken out of the index. */
  dismissed: number;
  /** Blobs another collector holds, that changed since read, or whose deletion failed (retried by a later round). */
  skipped: number;
}

/**
 * One round: finishes pending releases, then deletes each blob that has had no reference
 * for the grace period. A blob is condemned first (a conditioned write that a commit taking
 * a reference, or a release, makes fail), then its object is deleted within the condemnation's
 * lease, then its item; until the item is gone, no commit can reference it (the commit's
 * condition wants it verified) and no upload can verify it again (its claim is refused).
 */
export async function collectGarbage(deps: GcDeps, options: GcOptions): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const report: GcReport = {
    dryRun,
    releasesFinished: 0,
    releasesFailed: 0,
    examined: 0,
    deleted: 0,
    deletedBytes: 0,
    dismissed: 0,
    skipped: 0,
  };
  if (!dryRun) {
    for (const release of await deps.ledger.pendingReleases(GC.releases)) {
      try {
        if (await finishRelease(deps, release)) report.releasesFinished++;
      } catch {
        // An unreadable manifest keeps its release pending, for the next round (and an operator).
        report.releasesFailed++;
      }
    }
  }
  const now = deps.clock.now();
  const before = new Date(now.getTime() - options.graceHours * 3600 * 1000).toISOString();
  const candidates = await deps.ledger.unreferencedBlobs(before, options.limit ?? GC.batch);
  report.examined = candidates.length;
  for (const blob of candidates) {
    const verdict = judge(blob, now.toISOString());
    if (verdict === "dismiss") {
      if (!dryRun) await deps.ledger.dismissBlob(blob);
      report.dismissed++;
      continue;
    }
    if (verdict === "skip") {
      report.skipped++;
      continue;
    }
    if (dryRun) {
      report.deleted++;
      report.deletedBytes += blob.size;
      continue;
    }
    // A failure (the store refusing, the lease running short) leaves the blob condemned: its
    // lease runs out and a later round takes it over. The others go on.
    const collected = await collect(deps, blob).catch(() => false);
    if (collected) {
      report.deleted++;
      report.deletedBytes += blob.size;
    } else {
      report.skipped++;
    }
  }
  return report;
}

function judge(blob: BlobRefs, now: string): "collect" | "dismiss" | "skip" {
  if (blob.state === "condemned") return blob.condemnedUntil !== undefined && blob.condemnedUntil < now ? "collect" : "skip";
  if (blob.state !== "verified") return "skip";
  if (!blob.tracked || blob.refs > 0) return "dismiss";
  return "collect";
}

/** Condemns, deletes the object within the lease, then the item. False when the condemnation was refused. */
async function collect(deps: GcDeps, blob: BlobRefs): Promise<boolean> {
  const id = randomUUID();
  const at = deps.clock.now();
  const leaseUntil = new Date(at.getTime() + GC.condemnLeaseMs).toISOString();
  if (!(await deps.ledger.condemnBlob(blob, id, at.toISOString(), leaseUntil))) return false;
  // Stops before the lease could run out: after it, another collector may take the blob over.
  const signal = AbortSignal.timeout(GC.condemnLeaseMs / 2);
  await deps.blobs.deleteBlob(blob.sha256, signal);
  return deps.ledger.forgetBlob(blob.sha256, id);
}

export interface ReclaimEstimate {
  files: number;
  /** The versions' sizes, summed: what their manifests name. */
  logicalBytes: number;
  /** Bytes of the blobs that nothing else references: what deleting the versions frees (after the grace). */
  reclaimableBytes: number;
  reclaimableBlobs: number;
}

/**
 * What deleting `versions` would free: the blobs whose every reference is one of these
 * versions. Reads each distinct manifest once and the blobs' counts in one batch; blobs
 * that are untracked (verified before reference tracking, until a recount) are never
 * reclaimable. For every delete that removes versions, so they answer alike.
 */
export async function estimateReclaim(
  deps: { ledger: BlobLedger; blobs: BlobStore },
  versions: Pick<VersionRecord, "digest" | "size" | "fileCount">[],
): Promise<ReclaimEstimate> {
  const perDigest = new Map<string, number>();
  for (const version of versions) perDigest.set(version.digest, (perDigest.get(version.digest) ?? 0) + 1);
  const limit = limiter(8);
  const manifests = await Promise.all(
    [...perDigest].map(([digest, count]) => limit(async () => ({ blobs: manifestBlobs(await deps.blobs.getManifest(digest)), count }))),
  );
  const going = new Map<string, number>();
  for (const { blobs, count } of manifests) for (const sha256 of blobs.keys()) going.set(sha256, (going.get(sha256) ?? 0) + count);
  const refs = going.size === 0 ? new Map<string, BlobRefs>() : await deps.ledger.blobRefs([...going.keys()]);
  let reclaimableBytes = 0;
  let reclaimableBlobs = 0;
  for (const [sha256, count] of going) {
    const blob = refs.get(sha256);
    if (!blob || blob.state !== "verified" || !blob.tracked || blob.refs - count > 0) continue;
    reclaimableBytes += blob.size;
    reclaimableBlobs++;
  }
  return {
    files: versions.reduce((sum, v) => sum + v.fileCount, 0),
    logicalBytes: versions.reduce((sum, v) => sum + v.size, 0),
    reclaimableBytes,
    reclaimableBlobs,
  };
}

/** Every live version, following pages of the projects index, artifacts and versions. */
export async function allVersions(artifacts: ArtifactStore, project?: string): Promise<VersionRecord[]> {
  const versions: VersionRecord[] = [];
  const projects: string[] = [];
  if (project !== undefined) projects.push(project);
  else {
    let cursor: string | undefined;
    do {
      const page = await artifacts.listProjects({ limit: 100, cursor });
      projects.push(...page.items.map((p) => p.name));
      cursor = page.nextCursor;
    } while (cursor);
  }
  for (const name of projects) {
    let cursor: string | undefined;
    do {
      const page = await artifacts.listArtifacts(name, { limit: 100, cursor });
      for (const artifact of page.items) {
        let versionCursor: string | undefined;
        do {
          const versionPage = await artifacts.listVersions(name, artifact.name, { limit: 100, cursor: versionCursor });
          versions.push(...versionPage.items);
          versionCursor = versionPage.nextCursor;
        } while (versionCursor);
      }
      cursor = page.nextCursor;
    } while (cursor);
  }
  return versions;
}

/** Longer than any commit can run (the artifacts function's timeout is 15 minutes). */
const PIN_SETTLE_MS = 60 * 60 * 1000;

export interface RecountReport {
  blobs: number;
  /** Blob items whose count (or tracking) was set. */
  updated: number;
  /** Blob items that changed while counting: left as they are, for the next recount. */
  changed: number;
  /** Blob items pinned by a commit lately, whose count a recount does not lower yet. */
  pinned: number;
  /** Blobs some version names that have no verified item: bytes a version would miss. */
  missing: string[];
}

/**
 * Recomputes every blob's count from the manifests of the live versions (and of deleted
 * ones whose release is not finished), and marks blobs tracked: for blobs verified before
 * reference tracking, and for the leaks a crash between a pin and its commit leaves. The
 * counts read come first and every write is conditioned on the blob's `refsRevision` as
 * read then, so a commit or release that ran meanwhile makes that blob be left alone; a
 * version seen both live and pending counts twice (a leak, never a loss).
 */
export async function recountRefs(deps: GcDeps & { artifacts: ArtifactStore }): Promise<RecountReport> {
  const read = await deps.ledger.allBlobs();
  const versions = await allVersions(deps.artifacts);
  const pending: PendingRelease[] = await deps.ledger.pendingReleases(100_000);
  const counts = new Map<string, number>();
  const perDigest = new Map<string, number>();
  for (const version of versions) perDigest.set(version.digest, (perDigest.get(version.digest) ?? 0) + 1);
  const limit = limiter(8);
  await Promise.all(
    [...perDigest].map(([digest, count]) =>
      limit(async () => {
        for (const sha256 of manifestBlobs(await deps.blobs.getManifest(digest)).keys())
          counts.set(sha256, (counts.get(sha256) ?? 0) + count);
      }),
    ),
  );
  for (const release of pending) {
    const blobs = [...manifestBlobs(await deps.blobs.getManifest(release.digest)).keys()];
    // Chunks not yet released still hold their reference.
    for (const sha256 of blobs.slice(release.done * GC.releaseChunk)) counts.set(sha256, (counts.get(sha256) ?? 0) + 1);
  }
  const at = deps.clock.now().toISOString();
  const report: RecountReport = { blobs: read.length, updated: 0, changed: 0, pinned: 0, missing: [] };
  const known = new Set<string>();
  for (const blob of read) {
    if (blob.state !== "verified") continue;
    known.add(blob.sha256);
    const refs = counts.get(blob.sha256) ?? 0;
    if (blob.tracked && blob.refs === refs) continue;
    // A reference pinned by a commit that has not written its version yet looks like a leak:
    // never lowered until every commit that could still hold it is over.
    if (refs < blob.refs && blob.pinnedAt !== undefined && Date.parse(blob.pinnedAt) > Date.parse(at) - PIN_SETTLE_MS) {
      report.pinned++;
      continue;
    }
    if (await deps.ledger.setRefs(blob, refs, at)) report.updated++;
    else report.changed++;
  }
  report.missing = [...counts.keys()].filter((sha256) => !known.has(sha256)).sort();
  return report;
}
