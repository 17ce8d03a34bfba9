import { describe, expect, it } from "vitest";
import { ValidationError } from "../../lambdas/core/errors.js";
import { parse } from "../../lambdas/http/validate.js";
import { commitRequest, completeUploadRequest, setAliasRequest, uploadPlanRequest } from "../../lambdas/contract/artifacts.js";
import { alias, filePath, MAX_FILE_SIZE, name, pageQuery, sha256, size } from "../../lambdas/contract/common.js";

const hex = "ab".repeat(32);
const blob = (path: string, extra: Record<string, unknown> = {}) => ({ path, size: 1, sha256: hex, ...extra });

describe("names", () => {
  it.each(["mnist", "A", "9lives", "resnet-50_v2.1", "x".repeat(128)])("accepts %j", (value) => {
    expect(name.safeParse(value).success).toBe(true);
  });

  it.each(["", "-lead", ".hidden", "_x", "has space", "slash/inside", "ünïcode", "x".repeat(129), "a:b"])("refuses %j", (value) => {
    expect(name.safeParse(value).success).toBe(false);
  });

  it("refuses aliases that read as version numbers", () => {
    for (const value of ["v3", "3", "v0012"]) expect(alias.safeParse(value).success).toBe(false);
    for (const value of ["production", "v3-candidate", "best", "v"]) expect(alias.safeParse(value).success).toBe(true);
  });
});

describe("file paths", () => {
  it.each(["model.bin", "weights/layer.0/w.bin", "a b/c d.txt", "..hidden", "a..b", "ünïcode/ファイル", "\u00a0nbsp"])(
    "accepts %j",
    (value) => {
      expect(filePath.safeParse(value).success).toBe(true);
    },
  );

  it.each([
    ["absolute", "/etc/passwd"],
    ["a parent segment", "a/../b"],
    ["a leading parent segment", "../b"],
    ["a trailing parent segment", "a/.."],
    ["a dot segment", "./a"],
    ["an empty segment", "a//b"],
    ["a trailing slash", "a/"],
    ["a backslash", "a\\b"],
    ["a windows traversal", "..\\secret"],
    ["a newline", "a\nb"],
    ["a NUL", "a\u0000b"],
    ["DEL", "a\u007fb"],
    ["a C1 control (NEL)", "a\u0085b"],
    ["a C1 control (CSI)", "a\u009bb"],
    ["empty", ""],
    ["too long", "a".repeat(1025)],
  ])("refuses %s", (_, value) => {
    expect(filePath.safeParse(value).success).toBe(false);
  });
});

describe("digests and sizes", () => {
  it("accepts 64 hex characters and lowercases them", () => {
    expect(sha256.parse("AB".repeat(32))).toBe(hex);
  });

  it.each([
    ["too short", "ab".repeat(31)],
    ["too long", "ab".repeat(33)],
    ["not hex", "zz".repeat(32)],
    ["0x-prefixed", `0x${"a".repeat(62)}`],
  ])("refuses a sha256 %s", (_, value) => {
    expect(sha256.safeParse(value).success).toBe(false);
  });

  it.each([-1, 1.5, MAX_FILE_SIZE + 1, Number.MAX_SAFE_INTEGER, Infinity, Number.NaN, "10"])("refuses the size %s", (value) => {
    expect(size.safeParse(value).success).toBe(false);
  });

  it("accepts empty files and files up to 5 TiB", () => {
    expect(size.safeParse(0).success).toBe(true);
    expect(size.safeParse(MAX_FILE_SIZE).success).toBe(true);
  });
});

describe("requests", () => {
  it("refuses duplicate paths, also across blobs and references", () => {
    expect(uploadPlanRequest.safeParse({ files: [blob("a"), blob("a")] }).success).toBe(false);
    const commit = { type: "model", files: [blob("a"), { path: "a", ref: "s3://bucket/key" }] };
    expect(commitRequest.safeParse(commit).success).toBe(false);
  });

  it("refuses unknown fields and an empty file list", () => {
    expect(uploadPlanRequest.safeParse({ files: [blob("a", { mode: 644 })] }).success).toBe(false);
    expect(uploadPlanRequest.safeParse({ files: [] }).success).toBe(false);
    expect(commitRequest.safeParse({ type: "model", files: [blob("a")], extra: true }).success).toBe(false);
  });

  it("asks for open uploads by path and size, alone or beside hashed files", () => {
    expect(uploadPlanRequest.parse({ open: [{ path: "model.pt", size: 10 }] })).toEqual({
      files: [],
      open: [{ path: "model.pt", size: 10 }],
    });
    expect(uploadPlanRequest.safeParse({ files: [blob("a")], open: [{ path: "b", size: 1 }] }).success).toBe(true);
    expect(uploadPlanRequest.safeParse({ files: [], open: [] }).success).toBe(false);
    expect(uploadPlanRequest.safeParse({ open: [{ path: "b", size: 1, sha256: "0".repeat(64) }] }).success).toBe(false);
    expect(
      uploadPlanRequest.safeParse({
        open: [
          { path: "b", size: 1 },
          { path: "b", size: 2 },
        ],
      }).success,
    ).toBe(false);
  });

  it("lets a committed blob name the open upload that carried it, by its ULID only", () => {
    const uploadId = "01JD3Q5W8Z6N4K2M1P0R9S7T5V";
    expect(commitRequest.safeParse({ type: "model", files: [{ ...blob("a"), uploadId }] }).success).toBe(true);
    for (const bad of ["../blobs/x", "01JD3Q5W8Z6N4K2M1P0R9S7T5", "01JD3Q5W8Z6N4K2M1P0R9S7T5U", "01jd3q5w8z6n4k2m1p0r9s7t5v"]) {
      expect(commitRequest.safeParse({ type: "model", files: [{ ...blob("a"), uploadId: bad }] }).success).toBe(false);
    }
    expect(commitRequest.safeParse({ type: "model", files: [{ path: "k", ref: "s3://bucket/key", uploadId }] }).success).toBe(false);
  });

  it("accepts a commit with blobs, references, metadata and aliases", () => {
    const parsed = commitRequest.parse({
      type: "model",
      files: [blob("w.bin"), { path: "data.csv", ref: "s3://my-bucket/k/data.csv" }],
      metadata: { acc: 0.98 },
      aliases: ["best"],
      description: "d",
      runId: "run-1",
    });
    expect(parsed.files).toHaveLength(2);
  });

  it.each([
    ["an entry that is both blob and reference", { path: "x", size: 1, sha256: hex, ref: "s3://bucket/k" }],
    ["a reference to no key", { path: "x", ref: "s3://bucket/" }],
    ["a reference that is not s3", { path: "x", ref: "https://bucket/k" }],
  ])("refuses %s", (_, file) => {
    expect(commitRequest.safeParse({ type: "model", files: [file] }).success).toBe(false);
  });

  it("refuses more than 10 aliases and a version-like alias", () => {
    const aliases = Array.from({ length: 11 }, (_, i) => `a${i}x`);
    expect(commitRequest.safeParse({ type: "m", files: [blob("a")], aliases }).success).toBe(false);
    expect(commitRequest.safeParse({ type: "m", files: [blob("a")], aliases: ["v2"] }).success).toBe(false);
  });

  it("refuses metadata larger than 64 KiB", () => {
    const metadata = { blob: "x".repeat(64 * 1024) };
    expect(commitRequest.safeParse({ type: "m", files: [blob("a")], metadata }).success).toBe(false);
  });

  it("checks part numbers of a completion", () => {
    const base = { sha256: hex, uploadId: "u" };
    expect(completeUploadRequest.safeParse({ ...base, parts: [{ partNumber: 1, etag: "e" }] }).success).toBe(true);
    expect(completeUploadRequest.safeParse({ ...base, parts: [{ partNumber: 0, etag: "e" }] }).success).toBe(false);
    expect(completeUploadRequest.safeParse({ ...base, parts: [{ partNumber: 10_001, etag: "e" }] }).success).toBe(false);
    expect(completeUploadRequest.safeParse({ ...base, parts: [] }).success).toBe(false);
  });

  it("takes a version as a label or a non-negative index", () => {
    expect(setAliasRequest.safeParse({ version: "v3" }).success).toBe(true);
    expect(setAliasRequest.safeParse({ version: 3 }).success).toBe(true);
    expect(setAliasRequest.safeParse({ version: -1 }).success).toBe(false);
    expect(setAliasRequest.safeParse({}).success).toBe(false);
  });

  it("coerces and bounds page queries", () => {
    expect(pageQuery.parse({})).toEqual({ limit: 50 });
    expect(pageQuery.parse({ limit: "7", cursor: "c" })).toEqual({ limit: 7, cursor: "c" });
    for (const limit of ["0", "1001", "ten", "1.5"]) expect(pageQuery.safeParse({ limit }).success).toBe(false);
  });
});

describe("parse", () => {
  it("turns issues into one ValidationError naming the fields", () => {
    const error = (() => {
      try {
        parse(uploadPlanRequest, { files: [blob("/abs", { sha256: "nothex" })] }, "upload plan");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^invalid upload plan: /);
    expect((error as Error).message).toContain("files.0.path");
    expect((error as Error).message).toContain("files.0.sha256");
  });
});
