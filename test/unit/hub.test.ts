import { describe, expect, it } from "vitest";
import { commitId, parseRevision, revisionSelectorParam } from "../../lambdas/core/hub.js";

const digest = "ab".repeat(32);

describe("commit ids", () => {
  it("are the digest's first 32 hex digits and the number in 8, so they parse back", () => {
    const id = commitId(digest, 300);
    expect(id).toBe(`${"ab".repeat(16)}0000012c`);
    expect(parseRevision(id)).toEqual({ index: 300, digestPrefix: "ab".repeat(16) });
    expect(revisionSelectorParam(id)).toBe("v300");
  });

  it("differ for two numbers of equal content", () => {
    expect(commitId(digest, 0)).not.toBe(commitId(digest, 1));
  });

  it("beyond any version number name nothing", () => {
    expect(parseRevision(`${"0".repeat(32)}ffffffff`)).toMatchObject({ index: -1 });
  });
});

describe("revisions", () => {
  it("read main and HEAD as latest, and anything else as the registry reads {v}", () => {
    expect(parseRevision("main")).toEqual({ alias: "latest" });
    expect(parseRevision("HEAD")).toEqual({ alias: "latest" });
    expect(parseRevision("production")).toEqual({ alias: "production" });
    expect(parseRevision("v3")).toEqual({ index: 3 });
    expect(parseRevision("3")).toEqual({ index: 3 });
    expect(revisionSelectorParam("main")).toBe("latest");
    expect(revisionSelectorParam("production")).toBe("production");
    // Upper-case hex is no commit id (the clients write lower case): it is an alias name.
    expect(parseRevision("AB".repeat(20))).toEqual({ alias: "AB".repeat(20) });
  });
});
