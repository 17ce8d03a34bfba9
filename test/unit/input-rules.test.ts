import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { describe, expect, it } from "vitest";
import { DOCUMENT_TRANSLATION, storableJson } from "../../lambdas/adapters/dynamodb/user-json.js";
import { commitRequest, uploadPlanRequest } from "../../lambdas/contract/artifacts.js";
import { label, manifestPathClashes, pathProblem, text } from "../../lambdas/contract/common.js";
import { createRegistryRequest, linkRequest } from "../../lambdas/contract/registries.js";
import { createRunRequest, logMetricsRequest } from "../../lambdas/contract/runs.js";
import { MAX_USER_JSON_DEPTH, userJsonObject, userJsonProblem } from "../../lambdas/contract/user-json.js";
import { numberProblem, parseJsonBody } from "../../lambdas/http/json-body.js";

const SHA = "a".repeat(64);
const file = (path: string) => ({ path, size: 1, sha256: SHA });

/** `{"a": {"a": … 1}}` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value as Record<string, unknown>;
}

describe("user JSON", () => {
  it("keeps constructor, prototype and the other Object.prototype names as ordinary keys, unchanged", () => {
    const value = JSON.parse(
      '{"constructor": "ResNet50", "prototype": {"name": "Set"}, "toString": 1, "hasOwnProperty": [true], "valueOf": null,' +
        ' "nested": {"constructor": {"name": "Number"}}}',
    );
    const parsed = userJsonObject.parse(value);
    expect(parsed).toBe(value);
    expect(Object.keys(parsed)).toEqual(["constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "nested"]);
  });

  it("refuses __proto__ as a key, at any depth, naming where", () => {
    expect(userJsonProblem(JSON.parse('{"__proto__": {"a": 1}}'))).toEqual({
      path: ["__proto__"],
      message: expect.stringContaining("__proto__"),
    });
    expect(userJsonProblem(JSON.parse('{"a": [{"b": {"__proto__": 1}}]}'))?.path).toEqual(["a", 0, "b", "__proto__"]);
  });

  it("refuses empty keys, which DynamoDB cannot store", () => {
    expect(userJsonProblem({ "": 1 })).toEqual({ path: [""], message: "empty keys cannot be stored" });
    expect(userJsonProblem({ a: { "": 1 } })?.path).toEqual(["a", ""]);
  });

  it(`takes ${MAX_USER_JSON_DEPTH} levels and refuses one more, iteratively (10 000 levels are no stack overflow)`, () => {
    expect(userJsonProblem(nested(MAX_USER_JSON_DEPTH))).toBeUndefined();
    const deeper = userJsonProblem(nested(MAX_USER_JSON_DEPTH + 1));
    expect(deeper?.message).toBe(`nests deeper than ${MAX_USER_JSON_DEPTH} levels of objects and arrays`);
    expect(deeper?.path).toHaveLength(MAX_USER_JSON_DEPTH);
    const deep = JSON.parse(`${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`);
    expect(userJsonProblem(deep)?.message).toContain("nests deeper");
    let list: unknown = [];
    for (let i = 0; i < 10_000; i++) list = [list];
    expect(userJsonProblem({ list })?.message).toContain("nests deeper");
  });

  it.each([
    [1e126, false],
    [-1e126, false],
    [9.99999999999999e125, true],
    // Sixteen nines round to the double of 1e126, which DynamoDB would refuse.
    [9.999999999999999e125, false],
    [1e-130, true],
    [1e-131, false],
    [5e-324, false],
    [1e200, false],
    [1e-200, false],
    [0, true],
    [-0, true],
    [1e20, true],
    [2 ** 64, true],
    [Number.MAX_SAFE_INTEGER, true],
  ])("takes %s only within DynamoDB's number range: %s", (n, ok) => {
    const problem = userJsonProblem({ x: { n } });
    if (ok) expect(problem).toBeUndefined();
    else expect(problem).toEqual({ path: ["x", "n"], message: expect.stringContaining("outside the range") });
  });

  it("refuses strings and keys holding a lone surrogate", () => {
    expect(userJsonProblem({ a: "x\ud800" })?.path).toEqual(["a"]);
    expect(userJsonProblem({ ["\udc00"]: 1 })?.message).toContain("well-formed");
    expect(userJsonProblem({ a: "😀 é \u0085" })).toBeUndefined();
  });

  it("keeps to 64 KiB of JSON text, counted exactly as JSON.stringify would", () => {
    const at = (n: number) => ({ pad: "x".repeat(n - '{"pad":""}'.length) });
    expect(JSON.stringify(at(64 * 1024)).length).toBe(64 * 1024);
    expect(userJsonProblem(at(64 * 1024))).toBeUndefined();
    expect(userJsonProblem(at(64 * 1024 + 1))).toEqual({ path: [], message: "must serialise to at most 64 KiB" });
    const mixed = { a: [1, true, null, "é\n"], b: { c: -1.5e-7 }, 'd"': false };
    expect(userJsonProblem(mixed)).toBeUndefined();
  });

  it("is the rule of artifact metadata, run config and metric values, with the path in the message", () => {
    const commit = commitRequest.safeParse({ type: "model", files: [file("a")], metadata: { x: { "": 1 } } });
    expect(commit.error?.issues[0]?.path).toEqual(["metadata", "x", ""]);
    expect(createRunRequest.safeParse({ config: { lr: 1e300 } }).error?.issues[0]?.path).toEqual(["config", "lr"]);
    expect(createRunRequest.safeParse({ config: [] }).success).toBe(false);
    expect(logMetricsRequest.safeParse({ items: [{ values: { loss: 1e200 } }] }).success).toBe(false);
    expect(logMetricsRequest.safeParse({ items: [{ values: { constructor: 1, toString: 2 } }] }).success).toBe(true);
    expect(logMetricsRequest.safeParse({ items: [{ values: JSON.parse('{"__proto__": 1}') }] }).success).toBe(false);
  });
});

describe("user JSON in DynamoDB", () => {
  const roundTrip = (value: unknown) =>
    unmarshall(marshall({ v: storableJson(value) }, DOCUMENT_TRANSLATION.marshallOptions), DOCUMENT_TRANSLATION.unmarshallOptions).v;

  it("writes objects as maps whatever their keys, and reads back the same value", () => {
    const value = JSON.parse(
      '{"constructor": "ResNet50", "prototype": {"name": "Set"}, "x": {"constructor": {"name": "Uint8Array"}}, "list": [{"constructor": {"name": "Boolean"}}, 2]}',
    );
    // As it was: the marshaller reads `constructor.name` as a type.
    expect(() => marshall({ v: value }, { removeUndefinedValues: true, convertClassInstanceToMap: false })).toThrow();
    expect(roundTrip(value)).toEqual(value);
    expect(Object.keys(roundTrip(value) as object)).toEqual(expect.arrayContaining(["constructor", "prototype", "x", "list"]));
  });

  it("reads numbers above 2^53 back as numbers, not BigInt", () => {
    const value = { big: 1e20, max: 9.999999999999999e125, small: 1e-130, neg: -(2 ** 64) };
    expect(roundTrip(value)).toEqual(value);
  });

  it("converts twice without loss (an item written, then its snapshot)", () => {
    const value = { a: { b: [1, { c: 2 }] } };
    expect(roundTrip(storableJson(value))).toEqual(value);
  });
});

describe("request bodies", () => {
  it.each([
    ["0.1"],
    ["1e20"],
    ["100000000000000000000"],
    ["1.50"],
    ["-0"],
    ["1E-7"],
    ["123456789012345"],
    ["0.30000000000000004"],
    ["9007199254740991"],
    ["1.0000000000000000000"],
  ])("takes %s: it comes back with the same value", (literal) => {
    expect(numberProblem(literal)).toBeUndefined();
  });

  it.each([
    ["18446744073709551616", "18446744073709552000"],
    ["9007199254740993", "9007199254740992"],
    ["0.10000000000000001", "0.1"],
    ["12345678901234567890", "12345678901234567000"],
  ])("refuses %s, which would come back as %s", (literal, back) => {
    expect(numberProblem(literal)).toBe(
      `${literal} cannot be held exactly as a number (it would come back as ${back}); send it as a string`,
    );
  });

  it("refuses what would be Infinity", () => {
    expect(numberProblem("1e400")).toBe("1e400 is too large for a number");
    expect(numberProblem("-1e400")).toBe("-1e400 is too large for a number");
  });

  it("names the path of a problem, through arrays and escaped keys", () => {
    expect(() => parseJsonBody('{"a\\"b": [0, {"c": 18446744073709551616}]}')).toThrow(
      'invalid request body: a"b.1.c: 18446744073709551616',
    );
    expect(() => parseJsonBody('{"a": 1, "b": "}\\"", "a": 2}')).toThrow("invalid request body: a: appears twice in one object");
    expect(parseJsonBody('{"a": {"x": 1}, "b": {"x": 1}, "s": "\\ud83d\\ude00"}')).toEqual({ a: { x: 1 }, b: { x: 1 }, s: "😀" });
  });

  it("refuses 65 levels of nesting and takes 64", () => {
    expect(() => parseJsonBody(`${"[".repeat(65)}${"]".repeat(65)}`)).toThrow("nests deeper than 64 levels");
    expect(parseJsonBody(`${"[".repeat(64)}${"]".repeat(64)}`)).toBeDefined();
  });
});

describe("names", () => {
  it("refuses latest in a commit's or a link's aliases, and as a protected alias", () => {
    const message = "latest is maintained by the registry and cannot be set by hand";
    expect(commitRequest.safeParse({ type: "m", files: [file("a")], aliases: ["best", "latest"] }).error?.issues[0]?.message).toBe(message);
    expect(linkRequest.safeParse({ project: "p", artifact: "a", version: 0, aliases: ["latest"] }).success).toBe(false);
    expect(createRegistryRequest.safeParse({ name: "r", protectedAliases: ["latest"] }).success).toBe(false);
    expect(commitRequest.safeParse({ type: "m", files: [file("a")], aliases: ["latest-clean"] }).success).toBe(true);
  });

  it("refuses control characters, C1 included, in labels and descriptions; descriptions keep tabs and line breaks", () => {
    for (const bad of ["a\u0000b", "a\u0085b", "a\u009fb", "a\u007fb", "a\u001bb"]) {
      expect(label(64).safeParse(bad).success, JSON.stringify(bad)).toBe(false);
      expect(text(64).safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(label(64).safeParse("a\nb").success).toBe(false);
    expect(text(64).safeParse("line 1\r\n\tline 2").success).toBe(true);
    expect(label(64).safeParse("Résumé 😀 \u00a0").success).toBe(true);
    expect(label(64).safeParse("x\ud800").success).toBe(false);
  });
});

describe("manifest paths", () => {
  it.each([
    ["a:b.bin", "Windows"],
    ["ckpt/epoch<1>.pt", "Windows"],
    ['a"b', "Windows"],
    ["a|b", "Windows"],
    ["what?", "Windows"],
    ["*.bin", "Windows"],
    ["dir./file", "dot or a space"],
    ["file ", "dot or a space"],
    ["con", "device name con"],
    ["CON.txt", "device name CON"],
    ["sub/Nul.tar.gz", "device name Nul"],
    ["com1.json", "device name com1"],
    ["LPT9", "device name LPT9"],
    ["aux .txt", "device name aux"],
    [`${"é".repeat(128)}`, "255 bytes"],
    ["a/\u0085", "control characters"],
    ["a\ud800", "well-formed"],
    ["/abs", "relative"],
    ["a\\b", "separator"],
    ["a//b", "segments"],
    ["./a", "segments"],
  ])("refuses %s (%s)", (path, why) => {
    expect(pathProblem(path)).toContain(why);
    expect(uploadPlanRequest.safeParse({ files: [file(path)] }).success).toBe(false);
    expect(commitRequest.safeParse({ type: "m", files: [file(path)] }).success).toBe(false);
  });

  it.each([
    ["console.log"],
    ["conx"],
    ["com10"],
    ["nul_weights.bin"],
    ["a.b.c"],
    [".hidden"],
    ["..x"],
    ["x..y"],
    ["é".repeat(127)],
    ["日本語/モデル.bin"],
  ])("takes %s", (path) => {
    expect(pathProblem(path)).toBeUndefined();
  });

  it("refuses a path that is a file and also a directory, whichever comes first", () => {
    expect(manifestPathClashes(["a", "a/b"])).toEqual([{ index: 0, message: "a is a file and also a directory (of a/b)" }]);
    expect(manifestPathClashes(["x/y/z", "x/y"])).toEqual([{ index: 1, message: "x/y is a file and also a directory (of x/y/z)" }]);
    expect(manifestPathClashes(["ab", "a/b", "a.b"])).toEqual([]);
    const commit = commitRequest.safeParse({ type: "m", files: [file("w/a.bin"), file("w")] });
    expect(commit.error?.issues[0]).toMatchObject({ path: ["files", 1, "path"], message: "w is a file and also a directory (of w/a.bin)" });
  });

  it("refuses paths that macOS and Windows would write to one file", () => {
    expect(manifestPathClashes(["A.bin", "a.bin"])).toEqual([
      { index: 1, message: "a.bin and A.bin differ only in case or Unicode normalisation (one file on macOS and Windows)" },
    ]);
    // é composed (NFC) and decomposed (NFD).
    expect(manifestPathClashes(["caf\u00e9", "cafe\u0301"])).toHaveLength(1);
    expect(manifestPathClashes(["Dir/a", "dir/b"])).toEqual([]);
    expect(manifestPathClashes(["Dir", "dir/b"])).toEqual([{ index: 0, message: "Dir is a file and also a directory (of dir/b)" }]);
  });
});
