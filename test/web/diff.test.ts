import { describe, expect, it } from "vitest";
import type { FileResponse } from "../../web/src/api/types";
import { compareMetadata, diffFiles, flattenMetadata, summarizeChanges } from "../../web/src/lib/diff";

const file = (path: string, sha: string, size = 10): FileResponse => ({
  path,
  size,
  sha256: sha.repeat(64).slice(0, 64),
  url: `https://s3/${path}`,
});

describe("metadata comparison", () => {
  it("flattens nested objects to dotted keys and keeps arrays and empty objects as values", () => {
    expect(flattenMetadata({ acc: 0.9, train: { lr: 0.01, opt: { name: "adam" } }, layers: [1, 2], extra: {} })).toEqual({
      acc: 0.9,
      "train.lr": 0.01,
      "train.opt.name": "adam",
      layers: [1, 2],
      extra: {},
    });
  });

  it("lists every key of any version, sorted, and flags the ones that differ", () => {
    const rows = compareMetadata([
      { acc: 0.9, epochs: 10, train: { lr: 0.01 } },
      { acc: 0.95, epochs: 10, train: { lr: 0.01 }, note: "more data" },
    ]);
    expect(rows).toEqual([
      { key: "acc", values: [0.9, 0.95], differs: true },
      { key: "epochs", values: [10, 10], differs: false },
      { key: "note", values: [undefined, "more data"], differs: true },
      { key: "train.lr", values: [0.01, 0.01], differs: false },
    ]);
  });

  it("compares arrays by value", () => {
    expect(compareMetadata([{ shape: [1, 2] }, { shape: [1, 2] }, { shape: [2, 1] }])[0]!.differs).toBe(true);
    expect(compareMetadata([{ shape: [1, 2] }, { shape: [1, 2] }])[0]!.differs).toBe(false);
  });
});

describe("file diff", () => {
  it("reports added, removed, changed by hash and unchanged files, in path order", () => {
    const before = [file("model.bin", "a"), file("config.json", "b"), file("old.txt", "c")];
    const after = [file("model.bin", "d", 12), file("config.json", "b"), file("new.txt", "e")];
    const changes = diffFiles(before, after);
    expect(changes.map((c) => [c.kind, c.path])).toEqual([
      ["unchanged", "config.json"],
      ["changed", "model.bin"],
      ["added", "new.txt"],
      ["removed", "old.txt"],
    ]);
    expect(summarizeChanges(changes)).toEqual({ added: 1, removed: 1, changed: 1, unchanged: 1 });
  });

  it("treats a file with the same hash but another presigned URL as unchanged", () => {
    const a = file("w.bin", "f");
    expect(diffFiles([a], [{ ...a, url: "https://elsewhere" }])[0]!.kind).toBe("unchanged");
  });

  it("compares references by the object they pin (ETag and version id)", () => {
    const ref = { path: "data.csv", size: 5, ref: "s3://b/data.csv", etag: '"1"', versionId: "x", url: "u" };
    expect(diffFiles([ref], [{ ...ref }])[0]!.kind).toBe("unchanged");
    expect(diffFiles([ref], [{ ...ref, etag: '"2"' }])[0]!.kind).toBe("changed");
  });
});
