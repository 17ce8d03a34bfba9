import { describe, expect, it } from "vitest";
import { canonicalManifest, manifestDigest, manifestSize, parseS3Uri } from "../../lambdas/core/manifest.js";
import type { ManifestEntry } from "../../lambdas/core/model.js";

const sha = (c: string) => c.repeat(64);

const entries: ManifestEntry[] = [
  { path: "weights/b.bin", size: 20, sha256: sha("b") },
  { path: "config.json", size: 3, sha256: sha("c") },
  { path: "data/train.csv", ref: "s3://d/train.csv", size: 7, etag: "e1", versionId: "v1" },
  { path: "weights/a.bin", size: 10, sha256: sha("a") },
];

describe("manifest", () => {
  it("sorts entries by path", () => {
    expect(canonicalManifest(entries).map((e) => e.path)).toEqual(["config.json", "data/train.csv", "weights/a.bin", "weights/b.bin"]);
  });

  it("gives the same digest whatever the order of entries and of their keys", () => {
    const shuffled: ManifestEntry[] = [
      { sha256: sha("a"), size: 10, path: "weights/a.bin" },
      { versionId: "v1", etag: "e1", size: 7, ref: "s3://d/train.csv", path: "data/train.csv" },
      { size: 3, path: "config.json", sha256: sha("c") },
      { sha256: sha("b"), path: "weights/b.bin", size: 20 },
    ];
    expect(manifestDigest(canonicalManifest(shuffled))).toBe(manifestDigest(canonicalManifest(entries)));
    expect(manifestDigest(canonicalManifest(entries))).toMatch(/^[0-9a-f]{64}$/);
  });

  it("drops fields that are not part of an entry and an absent versionId", () => {
    const extra = [
      { path: "a", size: 1, sha256: sha("a"), url: "https://x" } as ManifestEntry,
      { path: "r", ref: "s3://b/k", size: 1, etag: "e", versionId: undefined },
    ];
    expect(canonicalManifest(extra)).toEqual([
      { path: "a", size: 1, sha256: sha("a") },
      { path: "r", ref: "s3://b/k", size: 1, etag: "e" },
    ]);
  });

  it.each([
    ["a path", { path: "config.yaml" }],
    ["a size", { size: 4 }],
    ["a sha256", { sha256: sha("d") }],
  ])("changes the digest when %s changes", (_, change) => {
    const changed = entries.map((e) => (e.path === "config.json" ? { ...e, ...change } : e)) as ManifestEntry[];
    expect(manifestDigest(canonicalManifest(changed))).not.toBe(manifestDigest(canonicalManifest(entries)));
  });

  it("changes the digest when a referenced object's etag or version changes", () => {
    const pinned = (etag: string, versionId?: string) =>
      manifestDigest(canonicalManifest([{ path: "r", ref: "s3://b/k", size: 1, etag, ...(versionId ? { versionId } : {}) }]));
    expect(new Set([pinned("e1"), pinned("e2"), pinned("e1", "v1")]).size).toBe(3);
  });

  it("adds up the sizes", () => {
    expect(manifestSize(entries)).toBe(40);
    expect(manifestSize([])).toBe(0);
  });

  it("splits an s3 uri into bucket and key", () => {
    expect(parseS3Uri("s3://my-bucket/a/b/c.csv")).toEqual({ bucket: "my-bucket", key: "a/b/c.csv" });
    expect(() => parseS3Uri("s3://bucket-only")).toThrow(TypeError);
    expect(() => parseS3Uri("https://bucket/key")).toThrow(TypeError);
  });
});
