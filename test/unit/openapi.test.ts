import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument, openApiJson } from "../../lambdas/contract/openapi.js";
import { ERROR_STATUS } from "../../lambdas/contract/errors.js";
import { routes } from "../../lambdas/contract/routes.js";
import { openApiMismatch } from "../support/openapi-check.js";

const doc = buildOpenApiDocument() as {
  openapi: string;
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; securitySchemes: Record<string, any> };
};
const openApiPath = (path: string) => path.replace(/\{(\w+)\+\}/g, "{$1}");

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("is what docs/openapi.json holds (run `npm run openapi` after changing a route or a schema)", async () => {
    const committed = await readFile(join(import.meta.dirname, "../../docs/openapi.json"), "utf8");
    expect(committed === openApiJson(), "docs/openapi.json is stale: run `npm run openapi`").toBe(true);
  });

  it("has every route of the route table, with its permission, and nothing else", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
    for (const route of routes) {
      const operation = doc.paths[openApiPath(route.path)]![route.method.toLowerCase()];
      expect(operation["x-mreg-permission"]).toBe(route.permission);
      expect(operation.description).toContain(route.permission === "public" ? "Public" : `\`${route.permission}\``);
      if (route.permission === "public") expect(operation.security).toEqual([]);
      else expect(operation.security).toBeUndefined();
      const params = [...route.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]);
      expect((operation.parameters ?? []).filter((p: { in: string }) => p.in === "path").map((p: { name: string }) => p.name)).toEqual(
        params,
      );
    }
  });

  it("documents the bearer key, a 2xx answer for every route and the error body with its codes per status", () => {
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    const error404 = doc.components.schemas.Error404;
    expect(error404.properties.error.properties.code.enum).toEqual(["not_found"]);
    expect(doc.components.schemas.Error400.properties.error.properties.code.enum).toEqual(["invalid_request", "bad_request"]);
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const statuses = Object.keys(operation.responses).map(Number);
        expect(
          statuses.some((s) => s >= 200 && s < 400),
          `${method} ${path}`,
        ).toBe(true);
        for (const status of statuses.filter((s) => s >= 400)) {
          expect(Object.values(ERROR_STATUS)).toContain(status);
          const ref = operation.responses[status].content["application/json"].schema.$ref;
          expect(ref).toBe(path.startsWith("/hf") ? "#/components/schemas/HfError" : `#/components/schemas/Error${status}`);
        }
        if (operation["x-mreg-permission"] !== "public") expect(statuses).toEqual(expect.arrayContaining([401, 403]));
      }
    }
  });

  it("describes request bodies from the handlers' schemas", () => {
    const commit = doc.components.schemas.CommitRequest;
    expect(commit.required).toEqual(["type", "files"]);
    expect(commit.additionalProperties).toBe(false);
    const listFiles = doc.paths["/v1/projects/{project}/artifacts/{name}/versions/{v}/files"]!.get;
    expect(listFiles.parameters.find((p: { name: string }) => p.name === "limit")).toMatchObject({
      in: "query",
      required: false,
      schema: { type: "integer", default: 1000, maximum: 10000 },
    });
  });
});

describe("checking answers against the document", () => {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    method: "GET",
    path: "/v1/registries/model/collections/c/versions/v1/lineage?depth=2",
    status,
    headers: new Headers(headers),
    text: JSON.stringify(body),
  });
  const graph = { root: "version:p/a:v1", nodes: [], edges: [], truncated: false };

  it("accepts what the document says", () => {
    expect(openApiMismatch(answer(200, graph))).toBeUndefined();
    expect(openApiMismatch(answer(404, { error: { code: "not_found", message: "no", requestId: "r" } }))).toBeUndefined();
  });

  it("reports an undocumented field, a missing one, a wrong error code and an undocumented status", () => {
    expect(openApiMismatch(answer(200, { ...graph, secret: 1 }))).toMatch(/additional/);
    expect(openApiMismatch(answer(200, { nodes: [], edges: [], truncated: false }))).toMatch(/root/);
    expect(openApiMismatch(answer(404, { error: { code: "conflict", message: "no", requestId: "r" } }))).toMatch(/allowed values/);
    expect(openApiMismatch(answer(418, {}))).toMatch(/does not list/);
  });

  it("reports a redirect without the headers the Hugging Face clients read", () => {
    const resolve = { method: "HEAD", path: "/hf/model/c/resolve/main/a/b.bin", status: 302, text: "" };
    const headers = { location: "http://s3/x", etag: '"e"', "x-linked-etag": '"e"', "x-linked-size": "1", "x-repo-commit": "c" };
    expect(openApiMismatch({ ...resolve, headers: new Headers(headers) })).toBeUndefined();
    const { "x-repo-commit": _, ...withoutCommit } = headers;
    expect(openApiMismatch({ ...resolve, headers: new Headers(withoutCommit) })).toMatch(/X-Repo-Commit/);
  });
});
