import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fileSpec, sha256, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Reference tracking and the garbage collector against an embedded registry (DynamoDB Local,
 * the S3 emulator, the real handlers), with no grace period and the collector driven by
 * hand (`POST /v1/admin/gc`).
 */
let s: TestStack;

type Spec = ReturnType<typeof fileSpec>;

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_GC_GRACE_HOURS: "0", MREG_GC_INTERVAL_MS: "86400000" } });
});
afterAll(async () => {
  await s?.stop();
});

/** Plans, uploads what is missing and commits, as a client does; re-plans when the commit finds a blob gone or busy. */
async function logVersion(project: string, artifact: string, files: Spec[], attempts = 10): Promise<{ status: number; body: any }> {
  const declared = files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }));
  const bytes = new Map(files.map((f) => [f.sha256, f.bytes]));
  let last: { status: number; body: any } | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const plan = await s.api("POST", "/v1/uploads", { files: declared });
    expect(plan.status).toBe(200);
    await uploadPlanned(plan.body, bytes);
    last = await s.api("POST", `/v1/projects/${project}/artifacts/${artifact}/versions`, { type: "model", files: declared });
    if (last.status < 300) return last;
    expect([409, 422]).toContain(last.status);
  }
  return last!;
}

/** A presigned GET of a blob, straight from the store: 404 once the collector deleted it. */
async function blobStatus(sha: string): Promise<number> {
  const url = await s.stack.services.blobs.presignBlobGet(sha, "probe.bin");
  return (await fetch(url)).status;
}

/** Every file of a version downloads and hashes to what its manifest says. */
async function checkDownloads(project: string, artifact: string, version: string): Promise<void> {
  const files = await s.api("GET", `/v1/projects/${project}/artifacts/${artifact}/versions/${version}/files`);
  expect(files.status).toBe(200);
  for (const file of files.body.items as { url: string; sha256: string; path: string }[]) {
    const response = await fetch(file.url);
    expect(response.status, `${project}/${artifact}:${version} ${file.path}`).toBe(200);
    expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(file.sha256);
  }
}

const gc = async (dryRun = false) => {
  const round = await s.api("POST", `/v1/admin/gc${dryRun ? "?dryRun=true" : ""}`);
  expect(round.status).toBe(200);
  return round.body as { deleted: number; deletedBytes: number; releasesFinished: number; examined: number };
};

describe("garbage collection", () => {
  test("a blob shared by two artifacts survives deleting one and is reclaimed after the other; dry runs say what the deletes free", async () => {
    const shared = fileSpec("weights.bin", "shared weights of two artifacts");
    const onlyA = fileSpec("head.bin", "only artifact a has this head");
    expect((await logVersion("usage", "a", [shared, onlyA])).status).toBe(201);
    expect((await logVersion("usage", "b", [shared])).status).toBe(201);
    // Nothing unreferenced yet (both blobs were referenced right after verification).
    await gc();

    const before = await s.api("GET", "/v1/projects/usage/usage");
    expect(before.body).toEqual({
      project: "usage",
      logicalBytes: 2 * shared.size + onlyA.size,
      storedBytes: shared.size + onlyA.size,
      dedupRatio: Math.round(((2 * shared.size + onlyA.size) / (shared.size + onlyA.size)) * 1000) / 1000,
      versions: 2,
      files: 3,
      blobs: 2,
    });

    const dry = await s.api("DELETE", "/v1/projects/usage/artifacts/a/versions/v0?dryRun=true");
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      dryRun: true,
      versions: ["usage/a:v0"],
      links: [],
      files: 2,
      logicalBytes: shared.size + onlyA.size,
      reclaimableBytes: onlyA.size,
      reclaimableBlobs: 1,
    });
    // Nothing was written: the version is there, its history unchanged.
    expect((await s.api("GET", "/v1/projects/usage/artifacts/a/versions/v0")).status).toBe(200);

    expect((await s.api("DELETE", "/v1/projects/usage/artifacts/a/versions/v0")).status).toBe(200);
    const first = await gc();
    expect(first.deletedBytes).toBe(dry.body.reclaimableBytes);
    expect(await blobStatus(onlyA.sha256)).toBe(404);
    expect(await blobStatus(shared.sha256)).toBe(200);
    await checkDownloads("usage", "b", "v0");
    expect((await s.api("GET", "/v1/projects/usage/usage")).body).toMatchObject({ storedBytes: shared.size, versions: 1, blobs: 1 });

    const dryB = await s.api("DELETE", "/v1/projects/usage/artifacts/b/versions/v0?dryRun=true");
    expect(dryB.body).toMatchObject({ reclaimableBytes: shared.size });
    expect((await s.api("DELETE", "/v1/projects/usage/artifacts/b/versions/v0")).status).toBe(200);
    expect((await gc()).deletedBytes).toBe(shared.size);
    expect(await blobStatus(shared.sha256)).toBe(404);
    expect((await s.api("GET", "/v1/projects/usage/usage")).body).toMatchObject({ logicalBytes: 0, storedBytes: 0, versions: 0 });
    const org = await s.api("GET", "/v1/usage");
    expect(org.status).toBe(200);
    expect(org.body.storedBytes).toBeGreaterThanOrEqual(0);
  });

  test("a commit racing the collector on the same blob never ends with a committed version missing bytes (20 rounds)", async () => {
    const committed: string[] = [];
    for (let round = 0; round < 20; round++) {
      const file = fileSpec("model.bin", `raced bytes of round ${round}`);
      // The blob becomes unreferenced: its only version goes.
      expect((await logVersion("race", `old-${round}`, [file])).status).toBe(201);
      expect((await s.api("DELETE", `/v1/projects/race/artifacts/old-${round}/versions/v0`)).status).toBe(200);
      // A client plans, uploads and commits the same bytes while the collector runs.
      const [commit] = await Promise.all([logVersion("race", "new", [file]), gc(), round % 2 === 0 ? gc() : Promise.resolve()]);
      expect(commit.status, JSON.stringify(commit.body)).toBe(201);
      committed.push(commit.body.version as string);
      await gc();
      for (const version of committed) await checkDownloads("race", "new", version);
    }
  }, 120_000);

  test("a crash between a version's delete and the release of its references is finished by the collector", async () => {
    const file = fileSpec("ckpt.bin", "bytes whose release a crash interrupted");
    expect((await logVersion("crash", "a", [file])).status).toBe(201);
    // The store's delete alone: the version and its pending release are written; the request died before releasing.
    const release = await s.stack.services.artifacts.deleteVersion(
      { project: "crash", artifact: "a", actor: "root", at: new Date().toISOString() },
      0,
    );
    expect(release).toMatchObject({ project: "crash", artifact: "a", index: 0, done: 0 });
    expect((await s.stack.services.ledger.blobRefs([file.sha256])).get(file.sha256)).toMatchObject({ refs: 1 });

    const round = await gc();
    expect(round.releasesFinished).toBeGreaterThanOrEqual(1);
    // Released this round; collected this round or the next (the index is read after the releases).
    if (round.deleted === 0) await gc();
    expect(await blobStatus(file.sha256)).toBe(404);
    expect(await s.stack.services.ledger.pendingReleases(10)).toEqual([]);
  });

  test("collection and registry deletes answer dry runs without writing", async () => {
    expect((await s.api("POST", "/v1/registries", { name: "gcreg" })).status).toBe(201);
    const file = fileSpec("w.bin", "linked for a dry run");
    expect((await logVersion("dry", "m", [file])).status).toBe(201);
    const link = await s.api("POST", "/v1/registries/gcreg/collections/c/links", { project: "dry", artifact: "m", version: "v0" });
    expect(link.status).toBe(201);

    expect((await s.api("DELETE", "/v1/registries/gcreg/collections/c?dryRun=true")).status).toBe(409);
    const dry = await s.api("DELETE", "/v1/registries/gcreg/collections/c?dryRun=true&force=true");
    expect(dry.body).toEqual({
      dryRun: true,
      versions: [],
      links: ["@gcreg/c:v0"],
      files: 0,
      logicalBytes: 0,
      reclaimableBytes: 0,
      reclaimableBlobs: 0,
    });
    expect((await s.api("GET", "/v1/registries/gcreg/collections/c")).status).toBe(200);
    expect((await s.api("DELETE", "/v1/registries/gcreg?dryRun=true")).status).toBe(409);
    expect((await s.api("DELETE", "/v1/registries/gcreg/collections/c?force=true")).status).toBe(200);
    const registry = await s.api("DELETE", "/v1/registries/gcreg?dryRun=true");
    expect(registry.body).toMatchObject({ dryRun: true, versions: [], links: [] });
    expect((await s.api("GET", "/v1/registries/gcreg")).status).toBe(200);
  });
});
