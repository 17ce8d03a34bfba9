import { describe, expect, it } from "vitest";
import { matchRoute, routes } from "../../lambdas/contract/routes.js";

describe("matchRoute", () => {
  it("finds the route and hands its parameters over raw, as API Gateway does", () => {
    const match = matchRoute(routes, "GET", "/v1/projects/vision%20lab/artifacts/mnist/versions/v%33");
    expect(match).toMatchObject({
      route: { operation: "getVersion", permission: "project:read" },
      params: { project: "vision%20lab", name: "mnist", v: "v%33" },
    });
  });

  it("keeps an encoded slash inside one parameter", () => {
    const match = matchRoute(routes, "GET", "/v1/projects/p/artifacts/a%2Fb");
    expect(match).toMatchObject({ route: { operation: "getArtifact" }, params: { name: "a%2Fb" } });
  });

  it("tells literal segments from parameters", () => {
    expect(matchRoute(routes, "POST", "/v1/projects/p/artifacts/a/uploads/complete")).toMatchObject({
      route: { operation: "completeUpload" },
    });
    expect(matchRoute(routes, "POST", "/v1/projects/p/artifacts/a/uploads")).toMatchObject({
      route: { operation: "planUpload" },
    });
    expect(matchRoute(routes, "DELETE", "/v1/projects/p/artifacts/a/versions/v1")).toMatchObject({
      route: { operation: "deleteVersion", permission: "project:admin" },
    });
  });

  it("answers the allowed methods when the path exists but the method does not", () => {
    const allowed = (method: string, path: string) => {
      const match = matchRoute(routes, method, path);
      return match && "allowed" in match ? [...match.allowed].sort() : match;
    };
    expect(allowed("PUT", "/v1/projects/p/artifacts/a/versions/v1")).toEqual(["DELETE", "GET", "PATCH"]);
    expect(allowed("PATCH", "/v1/projects/p/artifacts/a/versions")).toEqual(["GET", "POST"]);
    expect(allowed("GET", "/v1/projects/p/artifacts/a/aliases/prod")).toEqual(["DELETE", "PUT"]);
  });

  it.each(["/v1/nothing", "/v2/health", "/v1/projects/p/artifacts/a/versions/v1/files/extra", "/v1/projects/p/things"])(
    "answers undefined for %s",
    (path) => {
      expect(matchRoute(routes, "GET", path)).toBeUndefined();
    },
  );

  it("ignores a trailing slash", () => {
    expect(matchRoute(routes, "GET", "/v1/health/")).toMatchObject({ route: { operation: "health" } });
  });

  it("gives every route one permission and no two routes the same method and path", () => {
    const seen = new Set(routes.map((r) => `${r.method} ${r.path}`));
    expect(seen.size).toBe(routes.length);
    // The completion of a multipart Hugging Face upload is sent without a token: its URL is the capability.
    expect(routes.filter((r) => r.permission === "public").map((r) => r.path)).toEqual([
      "/v1/health",
      "/v1/openapi.json",
      "/hf/_projects/{project}/{name}/info/lfs/objects/complete/{oid}",
    ]);
  });

  it("takes the rest of the path into a trailing {name+}, and HEAD routes by their own method", () => {
    expect(matchRoute(routes, "HEAD", "/hf/model/net/resolve/main/weights/part%201.bin")).toMatchObject({
      route: { function: "hf", operation: "resolve", permission: "registry:read" },
      params: { registry: "model", collection: "net", revision: "main", path: "weights/part%201.bin" },
    });
    expect(matchRoute(routes, "GET", "/hf/model/net/resolve/main")).toBeUndefined();
    expect(matchRoute(routes, "GET", "/hf/api/models/model/net/tree/main")).toMatchObject({ route: { operation: "tree" }, params: {} });
    expect(matchRoute(routes, "GET", "/hf/api/models/model/net/tree/main/a/b")).toMatchObject({ params: { path: "a/b" } });
  });

  it("serves project artifacts under /hf/_projects before registry collections could claim the path", () => {
    expect(matchRoute(routes, "GET", "/hf/_projects/vision/resolve/resolve/main/x.bin")).toMatchObject({
      route: { permission: "project:read" },
      params: { project: "vision", name: "resolve", revision: "main", path: "x.bin" },
    });
    expect(matchRoute(routes, "POST", "/hf/_projects/vision/mnist.git/info/lfs/objects/batch")).toMatchObject({
      route: { operation: "lfsBatch", permission: "project:write" },
      params: { project: "vision", name: "mnist.git" },
    });
  });
});
