import { describe, expect, it } from "vitest";
import { ApiError } from "../../web/src/api/client";
import { aliasConflictMessage, aliasMoveBody, descriptionValue, metadataPatch, nextTags } from "../../web/src/lib/edits";

const original = { accuracy: 0.9, candidate: true, train: { epochs: 10, optimizer: "adam" }, tags: ["a", "b"] };

describe("metadata edits as a merge patch", () => {
  it("sends changed and new keys with their values and removed keys as null, nothing unchanged", () => {
    const edited = JSON.stringify({ accuracy: 0.95, train: { optimizer: "adam", epochs: 10 }, tags: ["a", "b"], f1: 0.91 });
    expect(metadataPatch(original, edited)).toEqual({
      ok: true,
      patch: { accuracy: 0.95, f1: 0.91, candidate: null },
      set: ["accuracy", "f1"],
      removed: ["candidate"],
    });
  });

  it("sends a nested object whole when any part of it changed (the server replaces objects whole)", () => {
    const result = metadataPatch(original, JSON.stringify({ ...original, train: { epochs: 12, optimizer: "adam" } }));
    expect(result).toMatchObject({ ok: true, patch: { train: { epochs: 12, optimizer: "adam" } }, set: ["train"], removed: [] });
  });

  it("finds no change in the same object, whatever its key order", () => {
    const reordered = JSON.stringify({ tags: ["a", "b"], train: { optimizer: "adam", epochs: 10 }, candidate: true, accuracy: 0.9 });
    expect(metadataPatch(original, reordered)).toEqual({ ok: true, patch: {}, set: [], removed: [] });
    // An array's order is its value.
    expect(metadataPatch(original, JSON.stringify({ ...original, tags: ["b", "a"] }))).toMatchObject({ set: ["tags"] });
  });

  it("refuses what is not a JSON object, and null values (null means remove)", () => {
    expect(metadataPatch(original, "{accuracy: 1}")).toMatchObject({ ok: false, error: expect.stringContaining("Not valid JSON") });
    expect(metadataPatch(original, "[1, 2]")).toMatchObject({ ok: false, error: expect.stringContaining("JSON object") });
    expect(metadataPatch(original, "null")).toMatchObject({ ok: false });
    expect(metadataPatch(original, JSON.stringify({ ...original, candidate: null }))).toEqual({
      ok: false,
      error: "candidate is null: remove the key instead (null is how a key is removed).",
    });
  });

  it("removes every key when the object is emptied", () => {
    expect(metadataPatch({ a: 1, b: 2 }, "{}")).toEqual({ ok: true, patch: { a: null, b: null }, set: [], removed: ["a", "b"] });
  });
});

describe("other edits", () => {
  it("turns a blank description into null (removes it) and keeps any other text as typed", () => {
    expect(descriptionValue("  \n ")).toBeNull();
    expect(descriptionValue("# Card\n")).toBe("# Card\n");
  });

  it("replaces the whole tag set", () => {
    expect(nextTags(["vision"], "nlp", true)).toEqual(["vision", "nlp"]);
    expect(nextTags(["vision"], "vision", true)).toEqual(["vision"]);
    expect(nextTags(["vision", "nlp"], "vision", false)).toEqual(["nlp"]);
  });
});

describe("alias moves as compare-and-swap", () => {
  it("expects what the page showed, or nothing for an alias not set yet", () => {
    expect(aliasMoveBody("v3", "v2")).toEqual({ version: "v3", expectedVersion: "v2" });
    expect(aliasMoveBody("v3", undefined)).toEqual({ version: "v3", expectedVersion: null });
  });

  it("names the holder when the alias moved meanwhile, and ignores other failures", () => {
    const moved = new ApiError(412, "precondition_failed", "staging names v4, not v2", { code: "precondition_failed", current: "v4" });
    expect(aliasConflictMessage("staging", moved)).toBe("staging was moved meanwhile to v4: the page now shows it; choose again.");
    const removed = new ApiError(412, "precondition_failed", "gone", { current: null });
    expect(aliasConflictMessage("staging", removed)).toBe("staging was removed meanwhile: the page now shows it; choose again.");
    expect(aliasConflictMessage("staging", new ApiError(403, "forbidden", "no"))).toBeNull();
    expect(aliasConflictMessage("staging", new Error("x"))).toBeNull();
  });
});
