import { describe, expect, test } from "vitest";
import { formatRef, parseCollectionTarget, parseRef } from "../../clients/node/src/parse-ref.js";

describe("parseRef", () => {
  test.each([
    ["demo", { kind: "project", project: "demo" }],
    ["demo/mnist", { kind: "artifact", project: "demo", artifact: "mnist" }],
    ["demo/mnist:v3", { kind: "artifact", project: "demo", artifact: "mnist", version: "v3" }],
    ["demo/mnist:3", { kind: "artifact", project: "demo", artifact: "mnist", version: "3" }],
    ["demo/mnist.v2_final-1:best", { kind: "artifact", project: "demo", artifact: "mnist.v2_final-1", version: "best" }],
    ["@model", { kind: "registry", registry: "model" }],
    ["@model/mnist", { kind: "collection", registry: "model", collection: "mnist" }],
    ["@model/mnist:production", { kind: "collection", registry: "model", collection: "mnist", version: "production" }],
  ])("%s", (text, expected) => {
    expect(parseRef(text)).toEqual(expected);
    expect(formatRef(parseRef(text))).toBe(text);
  });

  test.each(["", "a/b/c", "@", "@/x", "demo:v1", "@model:v1", "demo/mnist:", "demo/mnist:a:b", "demo/-x", "de mo/x", "demo/mnist:v 1"])(
    "rejects %j with a message naming it",
    (text) => {
      expect(() => parseRef(text)).toThrow(/invalid (reference|version)/);
    },
  );

  test("link targets take @registry/collection or registry/collection, without a version", () => {
    expect(parseCollectionTarget("@model/mnist")).toEqual({ registry: "model", collection: "mnist" });
    expect(parseCollectionTarget("model/mnist")).toEqual({ registry: "model", collection: "mnist" });
    expect(() => parseCollectionTarget("@model/mnist:v1")).toThrow(/link target/);
    expect(() => parseCollectionTarget("model")).toThrow(/link target/);
  });
});
