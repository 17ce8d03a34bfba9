import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, test } from "vitest";
import { OffThreadHasher, type HashJob } from "../../lambdas/adapters/s3/off-thread-hash.js";

const MIB = 1024 * 1024;
const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Feeds `bytes` in socket-sized chunks of varying length, as a request stream delivers them. */
function feed(job: HashJob, bytes: Buffer): void {
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const length = Math.min(bytes.length - offset, 1 + ((i * 7919) % (128 * 1024)));
    job.update(bytes.subarray(offset, offset + length));
    offset += length;
  }
}

let hasher: OffThreadHasher;
afterEach(async () => {
  await hasher?.close();
});

describe("OffThreadHasher", () => {
  test("digests small objects inline and large ones on the worker, equal to a plain SHA-256", async () => {
    hasher = new OffThreadHasher();
    for (const size of [0, 1, 8 * MIB, 8 * MIB + 1, 21 * MIB + 5]) {
      const bytes = randomBytes(size);
      const job = hasher.start();
      feed(job, bytes);
      expect(await job.digest()).toBe(sha(bytes));
    }
  });

  test("keeps interleaved jobs apart, and an aborted job does not disturb the others", async () => {
    hasher = new OffThreadHasher();
    const a = randomBytes(12 * MIB);
    const b = randomBytes(17 * MIB);
    const jobA = hasher.start();
    const jobB = hasher.start();
    const dropped = hasher.start();
    for (let offset = 0; offset < b.length; offset += MIB) {
      jobA.update(a.subarray(offset, offset + MIB));
      dropped.update(b.subarray(offset, offset + MIB));
      jobB.update(b.subarray(offset, offset + MIB));
    }
    dropped.abort();
    expect(await Promise.all([jobB.digest(), jobA.digest()])).toEqual([sha(b), sha(a)]);
  });

  test("still digests correctly after close, on the caller's thread", async () => {
    hasher = new OffThreadHasher();
    await hasher.close();
    const bytes = randomBytes(10 * MIB);
    const job = hasher.start();
    feed(job, bytes);
    expect(await job.digest()).toBe(sha(bytes));
  });

  test("a job whose digest is pending when the worker stops settles: its digest, or an error, never a hang", async () => {
    hasher = new OffThreadHasher();
    const bytes = randomBytes(9 * MIB);
    const job = hasher.start();
    feed(job, bytes);
    const digest = job.digest();
    await hasher.close();
    const outcome = await digest.then(
      (value) => value,
      (error: unknown) => String(error),
    );
    expect([sha(bytes), "Error: the hash worker stopped"]).toContain(outcome);
  });
});
