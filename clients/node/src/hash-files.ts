import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { MregError, throwIfAborted } from "./errors.js";

/** Two buffers of this size: the next read is in flight while the current one is hashed. */
const READ_CHUNK = 4 * 1024 * 1024;

/**
 * A file's mtime comes from a coarse clock and some filesystems keep whole seconds: a file
 * modified this close to its hashing might change again under the same mtime, so it is not
 * cached (git calls such entries "racily clean").
 */
export const RACY_WINDOW_MS = 2_000;

/**
 * Streams a file through SHA-256; memory stays at two read buffers whatever the size. The
 * next read runs on libuv's pool while this thread hashes the current buffer (about 6%
 * faster than a read stream here; SHA-256 itself is the bound, near 0.6 s per GiB).
 */
export async function hashFile(
  path: string,
  options: { onBytes?: (bytes: number) => void; signal?: AbortSignal } = {},
): Promise<{ sha256: string; size: number }> {
  throwIfAborted(options.signal);
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  const buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)];
  let size = 0;
  let current: 0 | 1 = 0;
  let pending = handle.read(buffers[0], 0, READ_CHUNK, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      throwIfAborted(options.signal);
      const chunk = buffers[current].subarray(0, bytesRead);
      size += bytesRead;
      current = current === 0 ? 1 : 0;
      pending = handle.read(buffers[current], 0, READ_CHUNK, size);
      hash.update(chunk);
      options.onBytes?.(bytesRead);
    }
  } finally {
    // A read still in flight (after an abort or an error) must finish before the file closes.
    await pending.catch(() => undefined);
    await handle.close();
  }
  throwIfAborted(options.signal);
  return { sha256: hash.digest("hex"), size };
}

/**
 * Files at least this large are hashed on a worker thread: SHA-256 of a large file keeps a
 * thread busy for seconds, and on the main thread it would stall the transfers that share
 * it (a large file is sent while it is hashed). Below this, a thread costs more than it saves.
 */
export const WORKER_HASH_MIN_BYTES = 16 * 1024 * 1024;

/**
 * The worker's whole program, plain JavaScript (it runs without the TypeScript loader): the
 * same double-buffered read as hashFile, progress posted per chunk, the digest at the end.
 */
const HASH_WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { open } = require("node:fs/promises");
(async () => {
  const hash = createHash("sha256");
  const handle = await open(workerData.path, "r");
  const chunk = workerData.chunk;
  const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  let size = 0;
  let current = 0;
  let pending = handle.read(buffers[0], 0, chunk, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const data = buffers[current].subarray(0, bytesRead);
      size += bytesRead;
      current = 1 - current;
      pending = handle.read(buffers[current], 0, chunk, size);
      hash.update(data);
      parentPort.postMessage({ bytes: bytesRead });
    }
  } finally {
    await pending.catch(() => undefined);
    await handle.close();
  }
  parentPort.postMessage({ sha256: hash.digest("hex"), size });
})().catch((error) => parentPort.postMessage({ error: error && error.message ? error.message : String(error), code: error && error.code }));
`;

/** hashFile on a worker thread; the calling thread only relays progress. Terminated on abort. */
export async function hashFileOnWorker(
  path: string,
  options: { onBytes?: (bytes: number) => void; signal?: AbortSignal } = {},
): Promise<{ sha256: string; size: number }> {
  throwIfAborted(options.signal);
  const worker = new Worker(HASH_WORKER_SOURCE, { eval: true, workerData: { path, chunk: READ_CHUNK } });
  const onAbort = () => void worker.terminate();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await new Promise((resolve, reject) => {
      worker.on("message", (message: { bytes?: number; sha256?: string; size?: number; error?: string; code?: string }) => {
        if (message.bytes !== undefined) options.onBytes?.(message.bytes);
        else if (message.sha256 !== undefined) resolve({ sha256: message.sha256, size: message.size ?? 0 });
        else reject(Object.assign(new Error(message.error), { code: message.code }));
      });
      worker.on("error", reject);
      worker.on("exit", () => reject(options.signal?.aborted ? options.signal.reason : new Error(`hashing ${path} stopped`)));
    });
  } catch (error) {
    throwIfAborted(options.signal);
    throw error;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await worker.terminate();
  }
}

interface HashCacheEntry {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
  sha256: string;
}

/**
 * Remembers the SHA-256 of a file by absolute path, valid while its size, mtime, inode and
 * device are unchanged. One small JSON file per path, so concurrent processes never fight
 * over a shared index and a huge tree does not mean a huge file to parse.
 */
export class HashCache {
  constructor(readonly dir: string) {}

  async get(path: string, stats: Stats): Promise<string | undefined> {
    let entry: HashCacheEntry;
    try {
      entry = JSON.parse(await readFile(this.entryPath(path), "utf8")) as HashCacheEntry;
    } catch {
      return undefined;
    }
    const fresh =
      entry.path === path &&
      entry.size === stats.size &&
      entry.mtimeMs === stats.mtimeMs &&
      entry.ino === stats.ino &&
      entry.dev === stats.dev;
    return fresh ? entry.sha256 : undefined;
  }

  async set(path: string, stats: Stats, sha256: string): Promise<void> {
    const entry: HashCacheEntry = { path, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino, dev: stats.dev, sha256 };
    const target = this.entryPath(path);
    await mkdir(join(this.dir), { recursive: true });
    const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(temp, JSON.stringify(entry));
    await rename(temp, target);
  }

  private entryPath(path: string): string {
    return join(this.dir, `${createHash("sha256").update(path).digest("hex")}.json`);
  }
}

export interface HashedFile {
  sha256: string;
  size: number;
  /** True when the cache answered and the file was not read. */
  cached: boolean;
}

/** The SHA-256 of `path` (absolute) when the cache knows it and its stat still matches; the file is not read. */
export async function cachedHash(path: string, cache: HashCache | undefined): Promise<{ sha256: string; size: number } | undefined> {
  if (!cache) return undefined;
  const stats = await stat(path);
  const sha256 = await cache.get(path, stats);
  return sha256 === undefined ? undefined : { sha256, size: stats.size };
}

/**
 * The SHA-256 of `path` (absolute) from the cache when its stat still matches, else by
 * reading it; a file that changes while being read is an error, not a wrong hash.
 */
export async function hashWithCache(
  path: string,
  cache: HashCache | undefined,
  options: { onBytes?: (bytes: number) => void; signal?: AbortSignal; now?: () => number } = {},
): Promise<HashedFile> {
  const before = await stat(path);
  const known = await cache?.get(path, before);
  if (known !== undefined) return { sha256: known, size: before.size, cached: true };
  const startedAt = (options.now ?? Date.now)();
  const result = before.size >= WORKER_HASH_MIN_BYTES ? await hashFileOnWorker(path, options) : await hashFile(path, options);
  const after = await stat(path);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || result.size !== before.size) {
    throw new FileChangedError(path);
  }
  if (cache && after.mtimeMs < startedAt - RACY_WINDOW_MS) await cache.set(path, after, result.sha256);
  return { ...result, cached: false };
}

export class FileChangedError extends MregError {
  constructor(readonly path: string) {
    super(`${path} changed while it was being read; log it again once it is written`);
  }
}
