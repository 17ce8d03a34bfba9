import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import pLimit from "p-limit";
import type { FileResponse } from "../../../lambdas/contract/artifacts.js";
import { IntegrityError, MregError, TransferError, throwIfAborted } from "./errors.js";
import { hashWithCache, type HashCache } from "./hash-files.js";
import { getToFile, stripQuotes, type DownloadedFile } from "./http-transfer.js";
import { DEFAULT_RETRY, retryWithBackoff, type RetryOptions } from "./retry.js";

export interface DownloadFilesOptions {
  /** Absolute directory the tree is written under. */
  dir: string;
  /** Root of the download cache (`blobs/` by SHA-256, `refs/` by reference and ETag); none: no cache. */
  cacheDir?: string;
  /** Lets files already in place be recognised without reading them. */
  hashCache?: HashCache;
  concurrency: number;
  retry?: Partial<RetryOptions>;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
  onRetry?: (what: string, error: unknown, attempt: number) => void;
}

export interface DownloadFilesResult {
  /** Bytes fetched over the network. */
  downloadedBytes: number;
  /** Bytes copied from the local cache. */
  cachedBytes: number;
  /** Bytes of files already in place with the right content. */
  presentBytes: number;
  files: number;
}

/**
 * Writes every entry under `dir`: files already there with the right SHA-256 are left alone,
 * cached blobs are copied, the rest are fetched in parallel, verified and cached. Each file
 * appears whole or not at all (temp file, then rename).
 */
export async function downloadFiles(entries: FileResponse[], options: DownloadFilesOptions): Promise<DownloadFilesResult> {
  const result: DownloadFilesResult = { downloadedBytes: 0, cachedBytes: 0, presentBytes: 0, files: entries.length };
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const limit = pLimit(options.concurrency);
  const root = resolve(options.dir);
  const fetches: Fetches = new Map();
  const placed: Placed = { files: [], dirs: [] };
  const targets = entries.map((entry) => [entry, destinationOf(root, entry.path)] as const);
  // Every transfer ends (the others are stopped at the first failure) before this answers, so
  // nothing is written after it: a failure's clean-up sees everything this call placed.
  const outcomes = await Promise.allSettled(
    targets.map(([entry, dest]) =>
      limit(() => downloadOne(entry, dest, { ...options, signal }, result, fetches, placed)).catch((error: unknown) => {
        stop.abort(error);
        throw error;
      }),
    ),
  );
  const failure = outcomes.find((outcome) => outcome.status === "rejected");
  if (failure !== undefined) {
    const cause: unknown = stop.signal.aborted && !options.signal?.aborted ? stop.signal.reason : failure.reason;
    // A version that does not check out is not half-installed: what this call placed goes again.
    if (cause instanceof IntegrityError) await undoPlacements(placed);
    throw cause;
  }
  return result;
}

/** What one downloadFiles call wrote into the destination tree. */
interface Placed {
  files: string[];
  /** [first directory created, deepest directory created] per mkdir that created any. */
  dirs: [string, string][];
}

async function undoPlacements(placed: Placed): Promise<void> {
  await Promise.all(placed.files.map((file) => rm(file, { force: true })));
  for (const [first, deepest] of placed.dirs) {
    for (let dir = deepest; ; dir = dirname(dir)) {
      // Only directories this call created, and only when empty (a concurrent writer keeps its own).
      await rmdir(dir).catch(() => undefined);
      if (dir === first || dirname(dir) === dir) break;
    }
  }
}

/** The registry validates paths; this keeps a hostile manifest from writing outside `root` anyway. */
export function destinationOf(root: string, path: string): string {
  const dest = resolve(root, path);
  if (!dest.startsWith(root + sep)) throw new MregError(`refusing to write ${path}: it leaves ${root}`);
  return dest;
}

export function blobCachePath(cacheDir: string, sha256: string): string {
  return join(cacheDir, "blobs", sha256.slice(0, 2), sha256);
}

export function refCachePath(cacheDir: string, entry: Pick<FileResponse, "ref" | "etag" | "versionId">): string {
  const key = createHash("sha256")
    .update(`${entry.ref}\0${entry.etag ?? ""}\0${entry.versionId ?? ""}`)
    .digest("hex");
  return join(cacheDir, "refs", key.slice(0, 2), key);
}

type Options = DownloadFilesOptions & { signal: AbortSignal };

/** In-flight fetches into the cache, by cache path, for one downloadFiles call. */
type Fetches = Map<string, Promise<boolean>>;

async function downloadOne(
  entry: FileResponse,
  dest: string,
  options: Options,
  result: DownloadFilesResult,
  fetches: Fetches,
  placed: Placed,
): Promise<void> {
  throwIfAborted(options.signal);
  if (entry.sha256 !== undefined && (await holds(dest, entry.sha256, entry.size, options.hashCache))) {
    result.presentBytes += entry.size;
    options.onBytes?.(entry.size);
    return;
  }
  const created = await mkdir(dirname(dest), { recursive: true });
  if (created !== undefined) placed.dirs.push([created, dirname(dest)]);
  const cached = options.cacheDir === undefined ? undefined : cachePathOf(options.cacheDir, entry);
  if (cached === undefined) {
    await fetchVerified(entry, dest, options);
    placed.files.push(dest);
    result.downloadedBytes += entry.size;
  } else {
    // Entries with equal bytes share one fetch into the cache; the others copy from it.
    let fetching = fetches.get(cached);
    const first = fetching === undefined;
    if (first) {
      // Registered before any await, so a concurrent entry with the same bytes waits for this fetch.
      fetching = sizeOf(cached).then((size) => (size === entry.size ? false : fetchVerified(entry, cached, options).then(() => true)));
      fetches.set(cached, fetching);
    }
    const fetched = await fetching!;
    await placeCopy(cached, dest);
    placed.files.push(dest);
    if (fetched && first) result.downloadedBytes += entry.size;
    else result.cachedBytes += entry.size;
    if (!(fetched && first)) options.onBytes?.(entry.size);
  }
  if (entry.sha256 !== undefined && options.hashCache) {
    // Written by us from verified bytes: remember the hash so the next use or log need not read it.
    await options.hashCache.set(dest, await stat(dest), entry.sha256);
  }
}

/** Fetches into a temp file next to `target`, checks size, SHA-256 or ETag, then renames. */
async function fetchVerified(entry: FileResponse, target: string, options: Options): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const temp = tempNameFor(target);
  try {
    const got = await retryWithBackoff(() => getToFile(entry.url, temp, options), {
      ...DEFAULT_RETRY,
      ...options.retry,
      signal: options.signal,
      onRetry: (error, attempt) => options.onRetry?.(entry.path, error, attempt),
    }).catch((error: unknown) => {
      throw describeFailure(entry, error);
    });
    checkDownloaded(entry, got);
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
}

function cachePathOf(cacheDir: string, entry: FileResponse): string | undefined {
  if (entry.sha256 !== undefined) return blobCachePath(cacheDir, entry.sha256);
  if (entry.ref !== undefined && entry.etag !== undefined) return refCachePath(cacheDir, entry);
  return undefined;
}

async function holds(path: string, sha256: string, size: number, hashCache: HashCache | undefined): Promise<boolean> {
  if ((await sizeOf(path)) !== size) return false;
  return (await hashWithCache(path, hashCache)).sha256 === sha256;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

/** Copy-on-write where the filesystem can, a plain copy elsewhere; then an atomic rename. */
async function placeCopy(source: string, dest: string): Promise<void> {
  const temp = tempNameFor(dest);
  try {
    await copyFile(source, temp, constants.COPYFILE_FICLONE);
    await rename(temp, dest);
  } finally {
    await rm(temp, { force: true });
  }
}

function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.mreg-tmp`);
}

function checkDownloaded(entry: FileResponse, got: DownloadedFile): void {
  if (entry.ref !== undefined) {
    const changed =
      (entry.etag !== undefined && got.etag !== undefined && stripQuotes(entry.etag) !== got.etag) ||
      (entry.versionId !== undefined && got.versionId !== undefined && entry.versionId !== got.versionId);
    if (changed) {
      throw new IntegrityError(
        `${entry.ref} (${entry.path}) changed since it was logged: ETag ${entry.etag}${entry.versionId ? ` version ${entry.versionId}` : ""} then, ETag ${got.etag}${got.versionId ? ` version ${got.versionId}` : ""} now`,
      );
    }
  }
  if (got.size !== entry.size) {
    throw new IntegrityError(
      entry.ref !== undefined
        ? `${entry.ref} (${entry.path}) changed since it was logged: ${entry.size} bytes then, ${got.size} now`
        : `${entry.path}: received ${got.size} bytes, expected ${entry.size}`,
    );
  }
  if (entry.sha256 !== undefined && got.sha256 !== entry.sha256) {
    throw new IntegrityError(
      `${entry.path}: received bytes with sha256 ${got.sha256}, expected ${entry.sha256}: the store's copy does not match the version, so none of its files were kept`,
    );
  }
}

function describeFailure(entry: FileResponse, error: unknown): unknown {
  if (!(error instanceof TransferError) || entry.ref === undefined) return error;
  if (error.status === 404) {
    return new MregError(`${entry.ref} (${entry.path}) no longer exists${entry.versionId ? ` in version ${entry.versionId}` : ""}`, {
      cause: error,
    });
  }
  if (error.status === 403) {
    return new MregError(`${entry.ref} (${entry.path}) is not readable with the registry's credentials`, { cause: error });
  }
  return error;
}
