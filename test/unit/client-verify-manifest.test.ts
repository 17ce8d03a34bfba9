import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IntegrityError } from "../../clients/node/src/errors.js";
import { listingDigest, verifyListing } from "../../clients/node/src/verify-manifest.js";
import { canonicalManifest, manifestDigest, verifyStoredManifest } from "../../lambdas/core/manifest.js";
import type { FileResponse } from "../../lambdas/contract/artifacts.js";

/** The fixture the Python client's tests check too (clients/python/tests/test_units.py). */
const golden = JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/canonical-manifest.json"), "utf8")) as {
  entries: FileResponse[];
  digest: string;
};
const listing = (): FileResponse[] => golden.entries.map((e) => ({ ...e, url: `https://store.example/${encodeURIComponent(e.path)}` }));

describe("the canonical manifest", () => {
  it("hashes to the same digest on the server and in the client, whatever the order and the extra fields", () => {
    expect(manifestDigest(canonicalManifest(golden.entries as never))).toBe(golden.digest);
    expect(listingDigest(listing())).toBe(golden.digest);
    expect(listingDigest(listing().reverse())).toBe(golden.digest);
    expect(verifyStoredManifest(golden.digest, JSON.stringify({ digest: golden.digest, entries: golden.entries }))).toHaveLength(5);
  });
});

describe("verifyListing", () => {
  it("accepts the listing of the version", () => {
    expect(() => verifyListing(listing(), golden.digest, "p/a:v0")).not.toThrow();
  });

  it.each<[string, (files: FileResponse[]) => FileResponse[]]>([
    ["a file pointed at other bytes", (files) => files.map((f, i) => (i === 0 ? { ...f, sha256: "d".repeat(64) } : f))],
    ["a size changed", (files) => files.map((f, i) => (i === 0 ? { ...f, size: 6 } : f))],
    ["a file added", (files) => [...files, { path: "evil.sh", size: 1, sha256: "e".repeat(64), url: "x" }]],
    ["a file left out (a page missing)", (files) => files.slice(1)],
    ["a path renamed", (files) => files.map((f, i) => (i === 0 ? { ...f, path: "z/ete.bin" } : f))],
    ["a reference's ETag changed", (files) => files.map((f) => (f.ref ? { ...f, etag: "other" } : f))],
    [
      "a blob turned into a reference",
      (files) => files.map((f, i) => (i === 0 ? { path: f.path, size: f.size, ref: "s3://evil/x", etag: "e", url: f.url } : f)),
    ],
    ["an entry with neither sha256 nor ref", (files) => files.map((f, i) => (i === 0 ? { path: f.path, size: f.size, url: f.url } : f))],
  ])("refuses a listing with %s", (_, change) => {
    expect(() => verifyListing(change(listing()), golden.digest, "p/a:v0")).toThrow(IntegrityError);
    expect(() => verifyListing(change(listing()), golden.digest, "p/a:v0")).toThrow(
      /p\/a:v0: the registry's file list does not match the version's digest/,
    );
  });
});
