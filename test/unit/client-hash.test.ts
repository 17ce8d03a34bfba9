import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { AbortedError } from "../../clients/node/src/errors.js";
import { HashCache, hashFile, hashFileOnWorker, hashWithCache } from "../../clients/node/src/hash-files.js";

let dir: string;
let cache: HashCache;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mreg-hash-"));
  cache = new HashCache(join(dir, "cache"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const past = new Date(Date.now() - 3_600_000);

async function writeOld(path: string, bytes: Buffer | string, when = past): Promise<void> {
  await writeFile(path, bytes);
  await utimes(path, when, when);
}

describe.each([
  ["hashFile", hashFile],
  ["hashFileOnWorker", hashFileOnWorker],
])("%s", (_name, hash) => {
  test("streams: equal to hashing the whole buffer, across read chunks, with progress, and for empty files", async () => {
    const big = randomBytes(9 * 1024 * 1024 + 7);
    await writeFile(join(dir, "big"), big);
    await writeFile(join(dir, "empty"), "");
    let reported = 0;
    expect(await hash(join(dir, "big"), { onBytes: (n) => (reported += n) })).toEqual({ sha256: sha(big), size: big.length });
    expect(reported).toBe(big.length);
    expect(await hash(join(dir, "empty"))).toEqual({ sha256: sha(""), size: 0 });
  });
});

describe("hashFileOnWorker", () => {
  test("a missing file fails with the filesystem's code; an abort stops the worker", async () => {
    await expect(hashFileOnWorker(join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
    await writeFile(join(dir, "big"), randomBytes(32 * 1024 * 1024));
    const controller = new AbortController();
    const hashing = hashFileOnWorker(join(dir, "big"), { signal: controller.signal, onBytes: () => controller.abort() });
    await expect(hashing).rejects.toBeInstanceOf(AbortedError);
  });
});

describe("hashWithCache", () => {
  test("an unchanged file is answered from the cache without reading it", async () => {
    const path = join(dir, "weights.bin");
    await writeOld(path, "weights-1");
    expect(await hashWithCache(path, cache)).toEqual({ sha256: sha("weights-1"), size: 9, cached: false });
    let read = 0;
    expect(await hashWithCache(path, cache, { onBytes: (n) => (read += n) })).toEqual({ sha256: sha("weights-1"), size: 9, cached: true });
    expect(read).toBe(0);
  });

  test("new content under the same size is noticed through the mtime", async () => {
    const path = join(dir, "weights.bin");
    await writeOld(path, "weights-1");
    await hashWithCache(path, cache);
    await writeOld(path, "weights-2", new Date(past.getTime() + 1000));
    expect(await hashWithCache(path, cache)).toMatchObject({ sha256: sha("weights-2"), cached: false });
  });

  test("a file replaced by another with the same size and mtime is noticed through the inode", async () => {
    const path = join(dir, "weights.bin");
    await writeOld(path, "weights-1");
    await hashWithCache(path, cache);
    const before = await stat(path);
    const other = join(dir, "incoming.bin");
    await writeOld(other, "weights-2");
    await rename(other, path);
    const after = await stat(path);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    expect(after.ino).not.toBe(before.ino);
    expect(await hashWithCache(path, cache)).toMatchObject({ sha256: sha("weights-2"), cached: false });
  });

  test("a file modified just now is not cached: it could change again within the same mtime tick", async () => {
    const path = join(dir, "fresh.bin");
    await writeFile(path, "still being written");
    await hashWithCache(path, cache);
    expect(await hashWithCache(path, cache)).toMatchObject({ cached: false });
  });

  test("the cache is keyed by absolute path: a copy elsewhere is hashed", async () => {
    await writeOld(join(dir, "a.bin"), "same");
    await writeOld(join(dir, "b.bin"), "same");
    await hashWithCache(join(dir, "a.bin"), cache);
    expect(await hashWithCache(join(dir, "b.bin"), cache)).toMatchObject({ cached: false });
  });

  test("works without a cache", async () => {
    await writeOld(join(dir, "a.bin"), "x");
    expect(await hashWithCache(join(dir, "a.bin"), undefined)).toEqual({ sha256: sha("x"), size: 1, cached: false });
  });
});
