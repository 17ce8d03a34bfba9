import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  commitVersion,
  deleteArtifactVersion,
  getArtifact,
  getVersion,
  listArtifactHistory,
  listArtifacts,
  listFiles,
  listVersions,
  removeArtifactAlias,
  setArtifactAlias,
} from "../../lambdas/core/artifact-versions.js";
import { ConflictError, IntegrityError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import { canonicalManifest, manifestDigest } from "../../lambdas/core/manifest.js";
import type { Principal } from "../../lambdas/core/model.js";
import type { CommitRequest } from "../../lambdas/contract/artifacts.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const alice: Principal = { userId: "alice", orgRole: "member" };
const ref = { project: "vision", artifact: "mnist" };

let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

/** A blob file whose bytes the client has PUT to its presigned URL. */
function uploaded(path: string, content: string) {
  const sha256 = sha256Hex(content);
  deps.blobs.stage(sha256, content);
  return { path, size: Buffer.byteLength(content), sha256 };
}

async function commit(files: CommitRequest["files"], extra: Partial<CommitRequest> = {}) {
  return commitVersion(deps, alice, ref, { type: "model", files, ...extra });
}

const deleteVersion = (d: FakeDeps, principal: Principal, r: typeof ref, selector: string, force = false) =>
  deleteArtifactVersion(d, principal, r, selector, force);

/** Commits `n` versions of distinct content: v0 … v(n-1). */
async function commitMany(n: number) {
  for (let i = 0; i < n; i++) await commit([uploaded("weights.bin", `weights ${i}`)]);
}

describe("commitVersion", () => {
  it("creates v0 with 201, writes the manifest under its digest and records the event", async () => {
    const files = [uploaded("b.bin", "bbb"), uploaded("a.bin", "a")];

    const result = await commit(files, { aliases: ["best"], metadata: { acc: 0.9 }, description: "first" });

    const digest = manifestDigest(canonicalManifest(files));
    expect(result).toEqual({ version: "v0", index: 0, digest, created: true, aliases: ["best", "latest"] });
    expect(deps.blobs.manifests.get(digest)!.map((e) => e.path)).toEqual(["a.bin", "b.bin"]);
    expect(await getVersion(deps, ref, "v0")).toMatchObject({
      version: "v0",
      type: "model",
      metadata: { acc: 0.9 },
      description: "first",
      size: 4,
      fileCount: 2,
      createdBy: "alice",
      createdAt: "2025-01-01T00:00:00.000Z",
      aliases: ["best", "latest"],
    });
    expect(deps.artifacts.events("vision", "mnist")).toEqual([
      expect.objectContaining({ action: "version.created", actor: "alice", version: "v0", digest }),
      expect.objectContaining({ action: "alias.set", alias: "best", to: "v0" }),
    ]);
  });

  it("returns the existing version with 200 and created:false for identical content, applying the aliases", async () => {
    const files = [uploaded("a.bin", "a"), uploaded("b.bin", "b")];
    const first = await commit(files);

    const again = await commit([...files].reverse(), { aliases: ["production"] });

    expect(again).toEqual({ ...first, created: false, aliases: ["latest", "production"] });
    expect((await listVersions(deps, ref, { limit: 10 })).items).toHaveLength(1);
    expect((await deps.artifacts.listAliases("vision", "mnist")).production).toBe(0);
  });

  it("deletes an open upload named by a commit of content that is a version already", async () => {
    const files = [uploaded("a.bin", "a")];
    await commit(files);
    const { uploadId } = await deps.blobs.presignOpenPut();
    deps.blobs.objects.set(`staging/open/${uploadId}`, Buffer.from("a"));

    const again = await commit([{ ...files[0]!, uploadId }]);

    expect(again).toMatchObject({ version: "v0", created: false });
    expect(deps.blobs.objects.has(`staging/open/${uploadId}`)).toBe(false);
  });

  it("numbers versions without gaps and moves latest to each new one", async () => {
    await commitMany(3);

    expect((await getVersion(deps, ref, "latest")).version).toBe("v2");
    expect((await getVersion(deps, ref, "v1")).aliases).toEqual([]);
    expect(await getArtifact(deps, ref)).toMatchObject({ versionCount: 3, latest: "v2", aliases: { latest: "v2" } });
  });

  it("refuses a blob that was never uploaded with 422 naming its path, and creates nothing", async () => {
    const present = uploaded("ok.bin", "ok");
    const absent = { path: "dir/missing.bin", size: 3, sha256: sha256Hex("nope") };

    const error = await commit([present, absent]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("dir/missing.bin");
    expect(await deps.artifacts.getArtifact("vision", "mnist")).toBeUndefined();
    expect(deps.blobs.manifests.size).toBe(0);
  });

  it("never lets a version point at bytes other than the declared ones", async () => {
    const declared = { path: "w.bin", size: 7, sha256: sha256Hex("weights") };
    deps.blobs.stage(declared.sha256, "malware");

    await expect(commit([declared])).rejects.toThrow(UnprocessableError);

    expect(await deps.artifacts.getArtifact("vision", "mnist")).toBeUndefined();
    expect(deps.blobs.blob(declared.sha256)).toBeUndefined();
    expect(await deps.ledger.verifiedBlobs([declared.sha256])).toEqual(new Map());
  });

  it("refuses a declared size other than the verified blob's", async () => {
    const f = uploaded("w.bin", "weights");
    await commit([f]);
    await expect(commit([{ ...f, path: "other.bin", size: 8 }])).rejects.toThrow(UnprocessableError);
  });

  it("pins references by what the store says about them", async () => {
    deps.blobs.putReference("s3://datasets/mnist/train.csv", { size: 1234, etag: "abc", versionId: "v-9" });
    deps.blobs.putReference("s3://datasets/mnist/test.csv", { size: 55, etag: "def" });

    const result = await commit([
      { path: "train.csv", ref: "s3://datasets/mnist/train.csv" },
      { path: "test.csv", ref: "s3://datasets/mnist/test.csv" },
    ]);

    expect(deps.blobs.manifests.get(result.digest)).toEqual([
      { path: "test.csv", ref: "s3://datasets/mnist/test.csv", size: 55, etag: "def" },
      { path: "train.csv", ref: "s3://datasets/mnist/train.csv", size: 1234, etag: "abc", versionId: "v-9" },
    ]);
    expect((await getVersion(deps, ref, "v0")).size).toBe(1289);
  });

  it("treats a reference whose object changed as new content", async () => {
    deps.blobs.putReference("s3://datasets/k", { size: 1, etag: "one" });
    const first = await commit([{ path: "k", ref: "s3://datasets/k" }]);
    deps.blobs.putReference("s3://datasets/k", { size: 1, etag: "two" });
    const second = await commit([{ path: "k", ref: "s3://datasets/k" }]);
    expect(second.created).toBe(true);
    expect(second.digest).not.toBe(first.digest);
  });

  it("refuses a missing reference with 422 naming it", async () => {
    const error = await commit([uploaded("a.bin", "a"), { path: "gone.csv", ref: "s3://datasets/not/there.csv" }]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toContain("s3://datasets/not/there.csv");
    expect(await deps.artifacts.getArtifact("vision", "mnist")).toBeUndefined();
  });

  it("refuses a type other than the artifact's with 409", async () => {
    await commit([uploaded("a.bin", "a")]);
    await expect(commitVersion(deps, alice, ref, { type: "dataset", files: [uploaded("b.bin", "b")] })).rejects.toThrow(ConflictError);
    expect((await listVersions(deps, ref, { limit: 10 })).items).toHaveLength(1);
  });

  describe("when a concurrent commit lands between its read and its write", () => {
    /** Runs `meanwhile` right after the commit under test has read the artifact's state. */
    function interleave(meanwhile: () => Promise<unknown>) {
      const read = deps.artifacts.readCommitState.bind(deps.artifacts);
      vi.spyOn(deps.artifacts, "readCommitState").mockImplementationOnce(async (...args) => {
        const state = await read(...args);
        await meanwhile();
        return state;
      });
    }

    it("answers the winner's version for the same content", async () => {
      const files = [uploaded("a.bin", "a")];
      interleave(() => commitVersion(deps, { userId: "bob", orgRole: "member" }, ref, { type: "model", files }));

      const result = await commit(files, { aliases: ["best"] });

      expect(result).toMatchObject({ version: "v0", created: false, aliases: ["best", "latest"] });
      expect((await listVersions(deps, ref, { limit: 10 })).items).toHaveLength(1);
    });

    it("takes the next number for other content, moving latest off the winner", async () => {
      interleave(() => commitVersion(deps, { userId: "bob", orgRole: "member" }, ref, { type: "model", files: [uploaded("b.bin", "b")] }));

      const result = await commit([uploaded("a.bin", "a")]);

      expect(result).toMatchObject({ version: "v1", created: true, aliases: ["latest"] });
      expect((await getVersion(deps, ref, "v0")).aliases).toEqual([]);
    });

    it("refuses with 409 when the winner created the artifact with another type", async () => {
      interleave(() =>
        commitVersion(deps, { userId: "bob", orgRole: "member" }, ref, { type: "dataset", files: [uploaded("b.bin", "b")] }),
      );

      await expect(commit([uploaded("a.bin", "a")])).rejects.toThrow("vision/mnist holds dataset versions; it cannot take type model");
      expect((await listVersions(deps, ref, { limit: 10 })).items.map((v) => v.type)).toEqual(["dataset"]);
    });
  });

  it("refuses a requested latest alias with 400, as the alias routes do, and writes nothing", async () => {
    await expect(commit([uploaded("a.bin", "a")], { aliases: ["latest", "best"] })).rejects.toThrow(
      "the latest alias is maintained by the registry and cannot be set or removed",
    );
    expect(deps.artifacts.events("vision", "mnist")).toEqual([]);
    const result = await commit([uploaded("a.bin", "a")], { aliases: ["best", "best"] });
    expect(result.aliases).toEqual(["best", "latest"]);
    expect(deps.artifacts.events("vision", "mnist").map((e) => e.action)).toEqual(["version.created", "alias.set"]);
  });
});

describe("resolving a version", () => {
  beforeEach(async () => {
    await commitMany(4);
    await setArtifactAlias(deps, alice, ref, "production", "v1");
  });

  it.each([
    ["v3", "v3"],
    ["3", "v3"],
    ["production", "v1"],
    ["latest", "v3"],
  ])("resolves %s to %s", async (selector, expected) => {
    expect((await getVersion(deps, ref, selector)).version).toBe(expected);
  });

  it.each(["v4", "99", "staging"])("answers 404 for %s", async (selector) => {
    await expect(getVersion(deps, ref, selector)).rejects.toThrow(NotFoundError);
  });

  it("answers 404 for an artifact that does not exist", async () => {
    await expect(getVersion(deps, { ...ref, artifact: "other" }, "latest")).rejects.toThrow(NotFoundError);
    await expect(getArtifact(deps, { ...ref, artifact: "other" })).rejects.toThrow(NotFoundError);
    await expect(listVersions(deps, { ...ref, artifact: "other" }, { limit: 10 })).rejects.toThrow(NotFoundError);
  });
});

describe("aliases", () => {
  beforeEach(async () => {
    await commitMany(3);
  });

  it("moves an alias so that exactly one version holds it, and reports where it was", async () => {
    expect(await setArtifactAlias(deps, alice, ref, "production", "v0")).toEqual({
      alias: "production",
      version: "v0",
      previous: null,
    });

    expect(await setArtifactAlias(deps, alice, ref, "production", 1)).toEqual({
      alias: "production",
      version: "v1",
      previous: "v0",
    });

    const holders = await Promise.all(["v0", "v1", "v2"].map(async (v) => (await getVersion(deps, ref, v)).aliases.includes("production")));
    expect(holders).toEqual([false, true, false]);
    expect((await getArtifact(deps, ref)).aliases).toEqual({ latest: "v2", production: "v1" });
    expect(deps.artifacts.events("vision", "mnist").slice(-2)).toEqual([
      expect.objectContaining({ action: "alias.set", alias: "production", to: "v0" }),
      expect.objectContaining({ action: "alias.moved", alias: "production", from: "v0", to: "v1" }),
    ]);
  });

  it("removes an alias and answers 404 when there is none", async () => {
    await setArtifactAlias(deps, alice, ref, "best", "v1");

    expect(await removeArtifactAlias(deps, alice, ref, "best")).toEqual({ alias: "best", previous: "v1" });
    expect((await getVersion(deps, ref, "v1")).aliases).toEqual([]);
    await expect(getVersion(deps, ref, "best")).rejects.toThrow(NotFoundError);
    await expect(removeArtifactAlias(deps, alice, ref, "best")).rejects.toThrow(NotFoundError);
  });

  it("refuses to set or remove latest with 400", async () => {
    await expect(setArtifactAlias(deps, alice, ref, "latest", "v0")).rejects.toThrow(ValidationError);
    await expect(removeArtifactAlias(deps, alice, ref, "latest")).rejects.toThrow(ValidationError);
    expect((await getVersion(deps, ref, "latest")).version).toBe("v2");
  });

  it("answers 404 for an alias on a version that does not exist", async () => {
    await expect(setArtifactAlias(deps, alice, ref, "best", "v7")).rejects.toThrow(NotFoundError);
    expect((await deps.artifacts.listAliases("vision", "mnist")).best).toBeUndefined();
  });
});

describe("deleteVersion", () => {
  beforeEach(async () => {
    await commitMany(3);
  });

  it("moves latest back to the newest remaining version and never reuses the number", async () => {
    expect(await deleteVersion(deps, alice, ref, "latest")).toEqual({ deleted: "v2", unlinked: [] });

    expect((await getVersion(deps, ref, "latest")).version).toBe("v1");
    await expect(getVersion(deps, ref, "v2")).rejects.toThrow(NotFoundError);
    expect(await getArtifact(deps, ref)).toMatchObject({ versionCount: 2, latest: "v1" });

    const next = await commit([uploaded("weights.bin", "weights 3")]);
    expect(next.version).toBe("v3");
    expect((await getVersion(deps, ref, "latest")).version).toBe("v3");
  });

  it("takes the deleted version's aliases with it and leaves latest alone when it did not hold it", async () => {
    await setArtifactAlias(deps, alice, ref, "production", "v1");

    await deleteVersion(deps, alice, ref, "production");

    await expect(getVersion(deps, ref, "production")).rejects.toThrow(NotFoundError);
    expect((await getVersion(deps, ref, "latest")).version).toBe("v2");
    expect(deps.artifacts.events("vision", "mnist").at(-1)).toMatchObject({
      action: "version.deleted",
      version: "v1",
      aliases: ["production"],
    });
  });

  it("creates a new number when the deleted content is logged again", async () => {
    await deleteVersion(deps, alice, ref, "v0");
    const again = await commit([uploaded("weights.bin", "weights 0")]);
    expect(again).toMatchObject({ version: "v3", created: true });
  });

  describe("of a version a collection links", () => {
    beforeEach(async () => {
      const v1 = (await deps.artifacts.getVersion("vision", "mnist", 1))!;
      const at = deps.clock.now().toISOString();
      await deps.registries.createRegistry({
        name: "model",
        visibility: "organization",
        protectedAliases: [],
        createdAt: at,
        createdBy: "root",
      });
      await deps.registries.link({
        registry: "model",
        collection: "mnist-classifier",
        source: { project: "vision", artifact: "mnist", index: 1, digest: v1.digest },
        type: "model",
        metadata: {},
        size: v1.size,
        fileCount: v1.fileCount,
        sourceRevision: 0,
        newCollection: { tags: [] },
        aliases: ["production"],
        actor: "alice",
        at: deps.clock.now().toISOString(),
      });
    });

    it("refuses with 409 naming the link and deletes nothing", async () => {
      const error = await deleteVersion(deps, alice, ref, "v1").catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConflictError);
      expect((error as Error).message).toContain("@model/mnist-classifier:v0");
      expect((await getVersion(deps, ref, "v1")).version).toBe("v1");
      expect(await deps.registries.getLink("model", "mnist-classifier", 0)).toBeDefined();
    });

    it("unlinks first when forced", async () => {
      expect(await deleteVersion(deps, alice, ref, "v1", true)).toEqual({
        deleted: "v1",
        unlinked: ["@model/mnist-classifier:v0"],
      });

      await expect(getVersion(deps, ref, "v1")).rejects.toThrow(NotFoundError);
      expect(await deps.registries.getLink("model", "mnist-classifier", 0)).toBeUndefined();
      expect((await deps.registries.listCollectionAliases("model", "mnist-classifier")).production).toBeUndefined();
    });
  });

  it("leaves no latest once every version is gone", async () => {
    for (const v of ["v2", "v1", "v0"]) await deleteVersion(deps, alice, ref, v);
    expect(await getArtifact(deps, ref)).toMatchObject({ versionCount: 0, latest: null, aliases: {} });
    expect((await listVersions(deps, ref, { limit: 10 })).items).toEqual([]);
    await expect(deleteVersion(deps, alice, ref, "v0")).rejects.toThrow(NotFoundError);
  });
});

describe("listing", () => {
  it("lists versions newest first, one page at a time", async () => {
    await commitMany(5);

    const first = await listVersions(deps, ref, { limit: 2 });
    const second = await listVersions(deps, ref, { limit: 2, cursor: first.nextCursor });
    const third = await listVersions(deps, ref, { limit: 2, cursor: second.nextCursor });

    expect([first, second, third].map((p) => p.items.map((v) => v.version))).toEqual([["v4", "v3"], ["v2", "v1"], ["v0"]]);
    expect(third.nextCursor).toBeUndefined();
  });

  it("refuses a cursor from another list", async () => {
    await commitMany(3);
    const page = await listVersions(deps, ref, { limit: 1 });
    await expect(listArtifactHistory(deps, ref, { limit: 1, cursor: page.nextCursor })).rejects.toThrow(ValidationError);
  });

  it("lists the artifacts of a project only", async () => {
    await commit([uploaded("a", "a")]);
    await commitVersion(deps, alice, { project: "vision", artifact: "cifar" }, { type: "dataset", files: [uploaded("b", "b")] });
    await commitVersion(deps, alice, { project: "audio", artifact: "wav" }, { type: "dataset", files: [uploaded("c", "c")] });

    const page = await listArtifacts(deps, "vision", { limit: 10 });
    expect(page.items.map((a) => [a.name, a.type, a.latest])).toEqual([
      ["cifar", "dataset", "v0"],
      ["mnist", "model", "v0"],
    ]);
  });

  it("lists history newest first", async () => {
    await commitMany(2);
    deps.clock.advance(1000);
    await setArtifactAlias(deps, alice, ref, "best", "v0");

    const history = await listArtifactHistory(deps, ref, { limit: 10 });
    expect(history.items.map((e) => e.action)).toEqual(["alias.set", "version.created", "version.created"]);
    await expect(listArtifactHistory(deps, { ...ref, artifact: "nope" }, { limit: 10 })).rejects.toThrow(NotFoundError);
  });
});

describe("listFiles", () => {
  const paths = ["config.json", "weights/part-1.bin", "weights/part-2.bin", "weights/part-3.bin", "z.txt"];

  beforeEach(async () => {
    deps.blobs.putReference("s3://datasets/train.csv", { size: 9, etag: "e", versionId: "ver-1" });
    await commit([...paths.map((p) => uploaded(p, `bytes of ${p}`)), { path: "data/train.csv", ref: "s3://datasets/train.csv" }]);
  });

  it("lists every entry in path order with a download URL", async () => {
    const page = await listFiles(deps, ref, "latest", { limit: 100 });

    expect(page.items.map((f) => f.path)).toEqual(["config.json", "data/train.csv", ...paths.slice(1)]);
    expect(page.nextCursor).toBeUndefined();
    const config = page.items[0]!;
    expect(config).toMatchObject({ sha256: sha256Hex("bytes of config.json"), size: 20 });
    expect(config.url).toContain(`blobs/${config.sha256}`);
    expect(config.url).toContain("filename=config.json");
    expect(page.items[1]).toMatchObject({ ref: "s3://datasets/train.csv", versionId: "ver-1" });
    expect(page.items[1]!.url).toContain("versionId=ver-1");
  });

  it("keeps to a prefix and pages through it with a cursor", async () => {
    const first = await listFiles(deps, ref, "v0", { prefix: "weights/", limit: 2 });
    const second = await listFiles(deps, ref, "v0", { prefix: "weights/", limit: 2, cursor: first.nextCursor });

    expect(first.items.map((f) => f.path)).toEqual(["weights/part-1.bin", "weights/part-2.bin"]);
    expect(second.items.map((f) => f.path)).toEqual(["weights/part-3.bin"]);
    expect(second.nextCursor).toBeUndefined();
  });

  it("gives no cursor when the page ends exactly at the last entry", async () => {
    const page = await listFiles(deps, ref, "v0", { prefix: "weights/", limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(page.nextCursor).toBeUndefined();
  });

  it("answers 404 for an unknown version", async () => {
    await expect(listFiles(deps, ref, "v1", { limit: 10 })).rejects.toThrow(NotFoundError);
  });

  it("carries the version's digest on every page, which the whole listing hashes to", async () => {
    const version = await getVersion(deps, ref, "v0");
    const first = await listFiles(deps, ref, "v0", { limit: 4 });
    const second = await listFiles(deps, ref, "v0", { limit: 4, cursor: first.nextCursor });
    expect(first.digest).toBe(version.digest);
    expect(second.digest).toBe(version.digest);
    expect(manifestDigest(canonicalManifest([...first.items, ...second.items] as never))).toBe(version.digest);
  });
});

describe("a manifest changed in the store", () => {
  let digest: string;
  const tampered = (entries: unknown[]) => JSON.stringify({ digest, entries });

  beforeEach(async () => {
    digest = (await commit([uploaded("model.bin", "weights"), uploaded("config.json", "{}")])).digest;
  });

  it.each([
    [
      "an entry pointed at other bytes",
      () =>
        tampered([
          { path: "config.json", size: 2, sha256: sha256Hex("{}") },
          { path: "model.bin", size: 4, sha256: sha256Hex("evil") },
        ]),
    ],
    [
      "an entry added",
      () =>
        tampered([
          { path: "config.json", size: 2, sha256: sha256Hex("{}") },
          { path: "evil.sh", size: 4, sha256: sha256Hex("evil") },
          { path: "model.bin", size: 7, sha256: sha256Hex("weights") },
        ]),
    ],
    ["an entry removed", () => tampered([{ path: "model.bin", size: 7, sha256: sha256Hex("weights") }])],
    [
      "a blob entry turned into a reference",
      () =>
        tampered([
          { path: "config.json", size: 2, sha256: sha256Hex("{}") },
          { path: "model.bin", ref: "s3://evil/x", size: 7, etag: "e" },
        ]),
    ],
    ["bytes that are not JSON", () => "not json"],
    ["JSON without entries", () => JSON.stringify({ digest })],
    ["entries of the wrong shape", () => tampered([null, 3])],
  ])("is never served: %s is a 500 naming the version and its digest", async (_, text) => {
    deps.blobs.overwriteManifest(digest, text());
    const error = await listFiles(deps, ref, "v0", { limit: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe("integrity_error");
    expect((error as Error).message).toContain("vision/mnist:v0");
    expect((error as Error).message).toContain(digest);
  });

  it("keeps being served when only fields outside the digest were added, without them", async () => {
    deps.blobs.overwriteManifest(
      digest,
      tampered([
        { path: "config.json", size: 2, sha256: sha256Hex("{}"), url: "https://evil.example/x" },
        { path: "model.bin", size: 7, sha256: sha256Hex("weights"), note: "x" },
      ]),
    );
    const page = await listFiles(deps, ref, "v0", { limit: 100 });
    expect(page.items.map((f) => f.url)).not.toContain("https://evil.example/x");
    expect(page.items.every((f) => !("note" in f))).toBe(true);
  });

  it("is an integrity error when it is gone", async () => {
    deps.blobs.deleteManifest(digest);
    await expect(listFiles(deps, ref, "v0", { limit: 100 })).rejects.toThrow(/vision\/mnist:v0: the manifest with digest .* is missing/);
  });
});
