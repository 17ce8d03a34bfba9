import { beforeEach, describe, expect, it } from "vitest";
import { commitVersion, getVersion } from "../../lambdas/core/artifact-versions.js";
import { NotFoundError } from "../../lambdas/core/errors.js";
import type { Principal } from "../../lambdas/core/model.js";
import { setProjectRetention, sweepExpired } from "../../lambdas/core/retention.js";
import { updateVersion } from "../../lambdas/core/version-edits.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const alice: Principal = { userId: "alice", orgRole: "member" };
const ref = { project: "vision", artifact: "mnist" };
const DAY = 86_400_000;
let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

async function commit(i: number, extra: Record<string, unknown> = {}) {
  const content = `weights ${i}`;
  const sha256 = sha256Hex(content);
  deps.blobs.stage(sha256, content);
  return commitVersion(deps, alice, ref, { type: "model", files: [{ path: "w.bin", size: content.length, sha256 }], ...extra });
}

async function link(index: number, aliases: string[]) {
  const v = (await deps.artifacts.getVersion("vision", "mnist", index))!;
  if (!deps.registries.registries.has("model")) {
    await deps.registries.createRegistry({
      name: "model",
      visibility: "organization",
      protectedAliases: ["production"],
      createdAt: deps.clock.now().toISOString(),
      createdBy: "root",
    });
  }
  await deps.registries.link({
    registry: "model",
    collection: "mnist",
    source: { project: "vision", artifact: "mnist", index, digest: v.digest },
    type: "model",
    metadata: {},
    size: v.size,
    fileCount: v.fileCount,
    sourceRevision: 0,
    newCollection: { tags: [] },
    aliases,
    actor: "root",
    at: deps.clock.now().toISOString(),
  });
}

describe("expiry at commit", () => {
  it("takes the commit's expiresAt or ttlDays, else the project's default, else none", async () => {
    await commit(0);
    expect((await getVersion(deps, ref, "v0")).retention).toBeUndefined();
    await commit(1, { ttlDays: 2 });
    expect((await getVersion(deps, ref, "v1")).retention).toEqual({
      expiresAt: new Date(deps.clock.now().getTime() + 2 * DAY).toISOString(),
    });
    await commit(2, { expiresAt: "2030-01-01T00:00:00+02:00" });
    expect((await getVersion(deps, ref, "v2")).retention).toEqual({ expiresAt: "2029-12-31T22:00:00.000Z" });

    expect(await setProjectRetention(deps, alice, "vision", 30)).toMatchObject({ name: "vision", ttlDays: 30 });
    await commit(3);
    expect((await getVersion(deps, ref, "v3")).retention?.expiresAt).toBe(new Date(deps.clock.now().getTime() + 30 * DAY).toISOString());
    expect(await setProjectRetention(deps, alice, "vision", null)).not.toHaveProperty("ttlDays");
    await commit(4);
    expect((await getVersion(deps, ref, "v4")).retention).toBeUndefined();
    await expect(setProjectRetention(deps, alice, "nowhere", 3)).rejects.toThrow(NotFoundError);
  });
});

describe("sweepExpired", () => {
  it("deletes expired unlinked versions, keeps linked ones and protected-alias holders and says why", async () => {
    await commit(0, { ttlDays: 1 });
    await commit(1, { ttlDays: 1 });
    await commit(2, { ttlDays: 1 });
    await commit(3, { ttlDays: 10 });
    await link(1, []);
    await link(2, ["production"]);
    expect(await sweepExpired(deps)).toEqual({ deleted: 0, kept: 0, errors: [] });

    deps.clock.advance(2 * DAY);
    expect(await sweepExpired(deps)).toEqual({ deleted: 1, kept: 2, errors: [] });

    await expect(getVersion(deps, ref, "v0")).rejects.toThrow(NotFoundError);
    expect((await getVersion(deps, ref, "v1")).retention).toMatchObject({ kept: "linked into @model/mnist:v0" });
    expect((await getVersion(deps, ref, "v2")).retention).toMatchObject({
      kept: "linked into @model/mnist:v1 (protected alias production)",
    });
    expect((await getVersion(deps, ref, "v3")).retention).not.toHaveProperty("kept");
    expect(deps.artifacts.events("vision", "mnist").filter((e) => e.action === "version.deleted")).toEqual([
      expect.objectContaining({ actor: "retention", version: "v0" }),
    ]);
    // Kept versions leave the index: the next sweep does not read them again.
    expect(await sweepExpired(deps)).toEqual({ deleted: 0, kept: 0, errors: [] });
  });

  it("decides again on a kept version given a new expiry, and an expiry removed keeps the version", async () => {
    await commit(0, { ttlDays: 1 });
    await commit(1, { ttlDays: 5 });
    await link(0, []);
    deps.clock.advance(2 * DAY);
    await sweepExpired(deps);
    const edited = await updateVersion(deps, alice, ref, "v0", { expiresAt: new Date(deps.clock.now().getTime() + DAY).toISOString() });
    expect(edited.retention).not.toHaveProperty("kept");
    expect((await updateVersion(deps, alice, ref, "v1", { expiresAt: null })).retention).toBeUndefined();
    deps.clock.advance(10 * DAY);
    expect(await sweepExpired(deps)).toMatchObject({ deleted: 0, kept: 1 });
    expect((await getVersion(deps, ref, "v1")).version).toBe("v1");
  });
});
