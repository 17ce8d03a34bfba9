import { createHash } from "node:crypto";
import { statSync, type BigIntStats } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Transform, type Readable } from "node:stream";

/**
 * What the registry knows about the files of an in-process @20minutes/s3rver
 * `FilesystemStore` (4.x): where an object's bytes live, which of them are being written
 * right now, and the SHA-256 of the bytes the store itself wrote into each object file.
 *
 * The store keeps `<root>/<bucket>/<key dirs>/<name>._S3rver_object` (the bytes) next to
 * `…._S3rver_object.md5` and `…._S3rver_metadata.json`, and writes them in place. The
 * ledger wraps the store's own methods on the live instance (nothing is patched globally),
 * so every write that goes through the emulator, whether a PUT, a multipart completion, a
 * copy or a delete, is seen starting and ending.
 */
export interface EmulatorLedger {
  /** Where the store keeps the bytes of `bucket/key`. */
  objectPath(bucket: string, key: string): string;
  /** Where the store keeps a side file of `bucket/key` (`object.md5`, `metadata.json`). */
  sidePath(bucket: string, key: string, resource: "object.md5" | "metadata.json"): string;
  /** True while the emulator writes or deletes that object. */
  busy(path: string): boolean;
  /** Bumped each time a write or delete of that object starts. */
  generation(path: string): number;
  /** The SHA-256 of the bytes the emulator streamed into `path`, if nothing touched it since. */
  ingested(path: string): IngestRecord | undefined;
  /**
   * Marks `from` as moved to `to` by the caller (a rename it did synchronously): both
   * generations move on, and what was known of `from` is now known of `to`.
   */
  moved(from: string, to: string): void;
}

/** The identity of a file's current content, as far as the filesystem tells. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface IngestRecord {
  generation: number;
  sha256: string;
  size: number;
  identity: FileIdentity;
}

export function identityOf(stats: BigIntStats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

const OBJECT_SUFFIX = "._S3rver_object";

interface S3rverObject {
  bucket: string;
  key: string;
  content: unknown;
}

interface FilesystemStoreShape {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, metadata?: unknown): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

const attached = new WeakMap<object, EmulatorLedger>();

/**
 * Attaches a ledger to the emulator's store, or answers undefined when the store is not the
 * one this code knows (another emulator, another layout): the caller then stays on HTTP.
 */
export function attachEmulatorLedger(
  store: unknown,
  options: {
    /** Which objects to hash as they are written (all by default); others are only tracked. */
    hashObject?: (bucket: string, key: string) => boolean;
  } = {},
): EmulatorLedger | undefined {
  const hashObject = options.hashObject ?? (() => true);
  if (!isFilesystemStore(store)) return undefined;
  const known = attached.get(store);
  if (known) return known;
  // The layout this code relies on, asked of the store itself.
  const probe = store.getResourcePath("bucket", "dir/name", "object");
  if (probe !== join(store.rootDirectory, "bucket", "dir", `name${OBJECT_SUFFIX}`)) return undefined;

  const writers = new Map<string, number>();
  const generations = new Map<string, number>();
  const ingests = new Map<string, IngestRecord>();
  const begin = (path: string): number => {
    writers.set(path, (writers.get(path) ?? 0) + 1);
    const generation = (generations.get(path) ?? 0) + 1;
    generations.set(path, generation);
    ingests.delete(path);
    return generation;
  };
  const end = (path: string): void => {
    const left = (writers.get(path) ?? 1) - 1;
    if (left > 0) writers.set(path, left);
    else writers.delete(path);
  };

  const ledger: EmulatorLedger = {
    objectPath: (bucket, key) => store.getResourcePath(bucket, key, "object"),
    sidePath: (bucket, key, resource) => store.getResourcePath(bucket, key, resource),
    busy: (path) => writers.has(path),
    generation: (path) => generations.get(path) ?? 0,
    ingested: (path) => ingests.get(path),
    moved(from, to) {
      const record = ingests.get(from);
      begin(from);
      end(from);
      begin(to);
      end(to);
      if (record) {
        // A rename changes the inode's ctime: take the identity again (the caller renamed synchronously).
        ingests.set(to, { ...record, generation: generations.get(to)!, identity: identityOf(statSync(to, { bigint: true })) });
      }
    },
  };

  const putObject = store.putObject.bind(store);
  /**
   * The store writes in place: a PUT cut short (a client that stopped sending) leaves part
   * of a body behind. S3 stores nothing for a failed PUT, so neither does this.
   */
  const putOrRemove = async (object: S3rverObject, path: string) => {
    try {
      return await putObject(object);
    } catch (error) {
      if (writers.get(path) === 1) await removeObjectFiles(store, object.bucket, object.key);
      throw error;
    }
  };
  store.putObject = async (object) => {
    const path = store.getResourcePath(object.bucket, object.key, "object");
    const generation = begin(path);
    try {
      const source = object.content;
      const isStream = typeof (source as { pipe?: unknown } | null)?.pipe === "function";
      if ((!Buffer.isBuffer(source) && !isStream) || !hashObject(object.bucket, object.key)) return await putOrRemove(object, path);
      // Hash the bytes on their way into the file: the same chunks the store writes.
      // Inline: measured against moving it to a worker thread (batches handed over), which made a 1 GiB PUT slower here, not faster.
      const hash = createHash("sha256");
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      // The store answers a Buffer before its write has landed; a stream is waited for.
      const input: Readable = Buffer.isBuffer(source) ? new PassThrough().end(source) : (source as Readable);
      input.on("error", (error) => tap.destroy(error));
      object.content = input.pipe(tap);
      const result = await putOrRemove(object, path);
      const sha256 = hash.digest("hex");
      // Deleted as it landed (an unneeded upload): nothing to record.
      const stats = await stat(path, { bigint: true }).catch(() => undefined);
      if (stats !== undefined && generations.get(path) === generation && writers.get(path) === 1 && Number(stats.size) === size) {
        ingests.set(path, { generation, sha256, size, identity: identityOf(stats) });
      }
      return result;
    } finally {
      end(path);
    }
  };

  const copyObject = store.copyObject.bind(store);
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, metadata) => {
    const path = store.getResourcePath(destBucket, destKey, "object");
    begin(path);
    try {
      return await copyObject(srcBucket, srcKey, destBucket, destKey, metadata);
    } finally {
      end(path);
    }
  };

  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    const path = store.getResourcePath(bucket, key, "object");
    begin(path);
    try {
      await deleteObject(bucket, key);
    } finally {
      end(path);
    }
  };

  attached.set(store, ledger);
  return ledger;
}

async function removeObjectFiles(store: FilesystemStoreShape, bucket: string, key: string): Promise<void> {
  await Promise.all(
    ["object", "object.md5", "metadata.json"].map((resource) => rm(store.getResourcePath(bucket, key, resource), { force: true })),
  );
}

function isFilesystemStore(store: unknown): store is FilesystemStoreShape {
  if (typeof store !== "object" || store === null) return false;
  const s = store as Record<string, unknown>;
  return (
    typeof s.rootDirectory === "string" &&
    typeof s.getResourcePath === "function" &&
    typeof s.putObject === "function" &&
    typeof s.copyObject === "function" &&
    typeof s.deleteObject === "function"
  );
}
