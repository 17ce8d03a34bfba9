import type { APIGatewayProxyEvent } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../lambdas/core/api-keys.js";
import type { OrgRole } from "../../lambdas/core/model.js";
import type { Services } from "../../lambdas/composition.js";
import { loadConfig } from "../../lambdas/config.js";
import { createApiHandlers } from "../../lambdas/handlers/index.js";
import { MAX_BODY_BYTES } from "../../lambdas/contract/limits.js";
import { createApiHandler, ok, type ApiHandler, type Operation } from "../../lambdas/http/api-handler.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";
import { captureStdout, testObservability } from "../support/observability.js";

const P = "/v1/projects/{project}/artifacts/{name}";

let deps: FakeDeps;
let services: Services;
let observability: ReturnType<typeof testObservability>;
const keys: Record<OrgRole, string> = { admin: "", member: "", viewer: "" };

beforeEach(async () => {
  deps = fakeDeps();
  services = { ...deps, config: loadConfig({ MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs" }) };
  observability = testObservability();
  for (const role of ["admin", "member", "viewer"] as const) {
    const user = { id: role, name: role, orgRole: role, status: "active", createdAt: "2024-01-01T00:00:00.000Z" } as const;
    await deps.identity.createUser(user);
    const key = generateApiKey();
    await deps.identity.createApiKey({ id: `k-${role}`, userId: role, keyHash: key.keyHash, createdAt: "2024-01-01T00:00:00.000Z" }, user);
    keys[role] = key.secret;
  }
});

/** The REST (v1) proxy event API Gateway sends for a request on `resource`. */
function event(
  method: string,
  resource: string,
  options: {
    params?: Record<string, string>;
    query?: Record<string, string>;
    body?: unknown;
    key?: string;
    base64?: boolean;
  } = {},
): APIGatewayProxyEvent {
  const params = options.params ?? {};
  const path = resource.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
  const text = options.body === undefined ? null : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  return {
    httpMethod: method,
    resource,
    path,
    pathParameters: Object.keys(params).length > 0 ? params : null,
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    headers: options.key === undefined ? {} : { Authorization: `Bearer ${options.key}` },
    multiValueHeaders: {},
    body: text !== null && options.base64 ? Buffer.from(text).toString("base64") : text,
    isBase64Encoded: options.base64 ?? false,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent["requestContext"],
  };
}

const json = (response: { body: string }) => JSON.parse(response.body) as any;

describe("createApiHandler", () => {
  const calls: unknown[] = [];
  const record: Operation = async (request) => {
    calls.push(request.body);
    return ok({ principal: request.principal, params: request.params, query: request.query, body: request.body });
  };
  const operations = {
    planUpload: record,
    completeUpload: record,
    commitVersion: record,
    listArtifacts: record,
    getArtifact: record,
    listVersions: record,
    getVersion: record,
    listFiles: record,
    deleteVersion: record,
    setAlias: record,
    removeAlias: record,
    listHistory: record,
    updateVersion: record,
    listProjects: record,
    deleteArtifact: record,
    deleteVersions: record,
    deleteProject: record,
    getJob: record,
    updateProject: record,
    projectUsage: record,
    orgUsage: record,
    collectGarbage: record,
  };
  const handle = (e: APIGatewayProxyEvent) => createApiHandler("artifacts", operations, services, observability)(e);
  const versions = { project: "vision", name: "mnist" };

  beforeEach(() => {
    calls.length = 0;
  });

  it("runs the operation with the principal, parameters, query and parsed body", async () => {
    const response = await handle(
      event("POST", `${P}/versions`, { params: versions, query: { dryRun: "1" }, body: { type: "model" }, key: keys.member }),
    );

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ "content-type": "application/json" });
    expect(json(response)).toEqual({
      principal: { userId: "member", orgRole: "member" },
      params: versions,
      query: { dryRun: "1" },
      body: { type: "model" },
    });
  });

  it("decodes each path parameter once", async () => {
    const e = event("GET", `${P}/versions/{v}`, { params: versions, key: keys.viewer });
    e.pathParameters = { project: "vision", name: "mnist", v: "release%2520candidate" };
    expect(json(await handle(e)).params.v).toBe("release%20candidate");
  });

  it("decodes a base64 body", async () => {
    const response = await handle(
      event("POST", `${P}/versions`, { params: versions, body: { type: "m" }, key: keys.member, base64: true }),
    );
    expect(json(response).body).toEqual({ type: "m" });
  });

  it("answers 404 JSON for a route this function does not serve", async () => {
    const response = await handle(event("GET", "/v1/registries", { key: keys.admin }));
    expect(response.statusCode).toBe(404);
    expect(json(response)).toEqual({
      error: { code: "not_found", message: "no route GET /v1/registries", requestId: expect.any(String) },
    });
    expect(calls).toEqual([]);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const response = await handle(event("POST", `${P}/versions`, { params: versions, body: "{type:", key: keys.member }));
    expect(response.statusCode).toBe(400);
    expect(json(response).error).toEqual({
      code: "invalid_request",
      message: "request body is not valid JSON",
      requestId: expect.any(String),
    });
    expect(calls).toEqual([]);
  });

  it("answers 413 for a body over 6 MiB and accepts one of exactly 6 MiB", async () => {
    const filler = (bytes: number) => JSON.stringify({ pad: "x".repeat(bytes - '{"pad":""}'.length) });
    const over = await handle(event("POST", `${P}/versions`, { params: versions, body: filler(MAX_BODY_BYTES + 1), key: keys.member }));
    expect(over.statusCode).toBe(413);
    expect(json(over).error.code).toBe("payload_too_large");
    expect(calls).toEqual([]);

    const limit = await handle(event("POST", `${P}/versions`, { params: versions, body: filler(MAX_BODY_BYTES), key: keys.member }));
    expect(limit.statusCode).toBe(200);
  });

  it.each([
    ["no Authorization header", undefined],
    ["an unknown key", generateApiKey().secret],
  ])("answers 401 for %s and runs nothing", async (_, key) => {
    const response = await handle(event("POST", `${P}/versions`, { params: versions, body: "{not json", key }));
    expect(response.statusCode).toBe(401);
    expect(json(response).error.code).toBe("unauthorized");
    expect(calls).toEqual([]);
  });

  it("reads the Authorization header whatever its case", async () => {
    const e = event("GET", `${P}/versions`, { params: versions });
    e.headers = { authorization: `Bearer ${keys.viewer}` };
    expect((await handle(e)).statusCode).toBe(200);
  });

  it.each([
    [
      "multiValueHeaders (API Gateway)",
      (e: APIGatewayProxyEvent, a: string, b: string) => {
        e.headers = { Authorization: b };
        e.multiValueHeaders = { Authorization: [a, b] };
      },
    ],
    [
      "two spellings of the name",
      (e: APIGatewayProxyEvent, a: string, b: string) => {
        e.headers = { Authorization: a, authorization: b };
      },
    ],
    [
      "two spellings in multiValueHeaders",
      (e: APIGatewayProxyEvent, a: string, b: string) => {
        e.headers = { authorization: b };
        e.multiValueHeaders = { Authorization: [a], authorization: [b] };
      },
    ],
  ])("answers 400 for two Authorization headers in %s, whichever keys they carry, and runs nothing", async (_, set) => {
    for (const [a, b] of [
      [keys.admin, keys.admin],
      [keys.viewer, keys.admin],
      [keys.admin, generateApiKey().secret],
    ]) {
      const e = event("POST", `${P}/versions`, { params: versions, body: { type: "model" } });
      set(e, `Bearer ${a}`, `Bearer ${b}`);
      const response = await handle(e);
      expect(response.statusCode).toBe(400);
      expect(json(response).error.message).toBe("the request carries more than one Authorization header; send exactly one");
    }
    expect(calls).toEqual([]);
    // One header in both maps, as API Gateway sends a single one: accepted.
    const single = event("GET", `${P}/versions`, { params: versions });
    single.headers = { Authorization: `Bearer ${keys.viewer}` };
    single.multiValueHeaders = { Authorization: [`Bearer ${keys.viewer}`] };
    expect((await handle(single)).statusCode).toBe(200);
  });

  it("answers 400 for a base64 body that is not UTF-8, rather than read replacement characters", async () => {
    const e = event("POST", `${P}/versions`, { params: versions, key: keys.member });
    e.body = Buffer.concat([Buffer.from('{"type": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]).toString("base64");
    e.isBase64Encoded = true;
    const response = await handle(e);
    expect(response.statusCode).toBe(400);
    expect(json(response).error.message).toBe("request body is not valid UTF-8");
    expect(calls).toEqual([]);
  });

  it.each([
    ["10 000 levels of arrays", `{"metadata": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`, "metadata.0.0.0"],
    ["a number no double holds", '{"metadata": {"n": 18446744073709551616}}', "metadata.n: 18446744073709551616 cannot be held exactly"],
    ["Infinity", '{"metadata": {"n": [1, 1e400]}}', "metadata.n.1: 1e400 is too large"],
    ["a key twice", '{"metadata": {"a": 1, "b": {"c": 1, "c": 2}}}', "metadata.b.c: appears twice"],
    ["a lone surrogate", '{"description": "x\\ud800y"}', "description: must be well-formed Unicode"],
    ["a lone surrogate in a key", '{"metadata": {"\\udfff": 1}}', "keys must be well-formed Unicode"],
  ])("answers 400 naming where for a body with %s, before any operation runs", async (_, body, message) => {
    const response = await handle(event("POST", `${P}/versions`, { params: versions, body, key: keys.member }));
    expect(response.statusCode).toBe(400);
    expect(json(response).error.message).toContain(message);
    expect(calls).toEqual([]);
  });

  it("answers 403 to a viewer on a write route and lets it read", async () => {
    const write = await handle(event("POST", `${P}/versions`, { params: versions, body: {}, key: keys.viewer }));
    expect(write.statusCode).toBe(403);
    expect(json(write).error.code).toBe("forbidden");
    expect(calls).toEqual([]);

    const read = await handle(event("GET", `${P}/versions`, { params: versions, key: keys.viewer }));
    expect(read.statusCode).toBe(200);
  });

  it("keeps version deletion to admins", async () => {
    const target = { ...versions, v: "v0" };
    expect((await handle(event("DELETE", `${P}/versions/{v}`, { params: target, key: keys.member }))).statusCode).toBe(403);
    expect((await handle(event("DELETE", `${P}/versions/{v}`, { params: target, key: keys.admin }))).statusCode).toBe(200);
  });

  it("turns an unexpected failure into a 500 that says nothing more, and logs it whole", async () => {
    const stdout = captureStdout();
    const failing = createApiHandler(
      "artifacts",
      { ...operations, listVersions: async () => Promise.reject(new Error("secret table arn")) },
      services,
      testObservability("info"),
    );
    const e = event("GET", `${P}/versions`, { params: versions, key: keys.viewer });
    e.requestContext = { requestId: "req-500" } as APIGatewayProxyEvent["requestContext"];
    const response = await failing(e);
    stdout.restore();
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain("arn");
    expect(json(response)).toEqual({ error: { code: "internal", message: "internal error", requestId: "req-500" } });
    const [error, request] = stdout.lines();
    expect(error).toMatchObject({ level: "ERROR", message: "unhandled error", requestId: "req-500" });
    expect(JSON.stringify(error)).toContain("secret table arn");
    expect(request).toMatchObject({ level: "INFO", message: "request", requestId: "req-500", status: 500 });
  });

  it("logs one line per request: request id, route, principal, status and latency", async () => {
    const stdout = captureStdout();
    const logging = createApiHandler("artifacts", operations, services, testObservability("info"));
    const e = event("GET", `${P}/versions/{v}`, { params: { ...versions, v: "v1" }, key: keys.viewer });
    e.requestContext = { requestId: "req-1" } as APIGatewayProxyEvent["requestContext"];
    await logging(e);
    const denied = event("POST", `${P}/versions`, { params: versions, body: {}, key: keys.viewer });
    denied.requestContext = { requestId: "req-2" } as APIGatewayProxyEvent["requestContext"];
    const refused = await logging(denied);
    stdout.restore();

    expect(json(refused).error.requestId).toBe("req-2");
    const lines = stdout.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: "INFO",
      message: "request",
      service: "mreg",
      requestId: "req-1",
      method: "GET",
      route: `${P}/versions/{v}`,
      path: "/v1/projects/vision/artifacts/mnist/versions/v1",
      principal: "viewer",
      status: 200,
      latencyMs: expect.any(Number),
    });
    expect(lines[1]).toMatchObject({ requestId: "req-2", principal: "viewer", status: 403 });
  });

  it("logs nothing below its level", async () => {
    const stdout = captureStdout();
    const quiet = createApiHandler("artifacts", operations, services, testObservability("silent"));
    await quiet(event("GET", `${P}/versions`, { params: versions, key: keys.viewer }));
    stdout.restore();
    expect(stdout.text()).toBe("");
  });

  it("answers 204 with no body when the operation says so", async () => {
    const empty = createApiHandler("artifacts", { ...operations, removeAlias: async () => ({ status: 204 }) }, services, observability);
    const response = await empty(event("DELETE", `${P}/aliases/{alias}`, { params: { ...versions, alias: "x" }, key: keys.member }));
    expect(response).toMatchObject({ statusCode: 204, body: "" });
  });
});

describe("the health function", () => {
  it("answers 200 without a key", async () => {
    const health = createApiHandler(
      "health",
      { health: async () => ok({ status: "ok" }), openapi: async () => ok({}) },
      services,
      observability,
    );
    const response = await health(event("GET", "/v1/health"));
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ status: "ok" });
  });
});

describe("the artifacts function over fake stores", () => {
  const params = { project: "vision", name: "mnist" };

  let artifactsHandler: ApiHandler;
  let healthHandler: ApiHandler;

  beforeEach(() => {
    ({ artifacts: artifactsHandler, health: healthHandler } = createApiHandlers(services, observability));
  });

  it("serves health without a key", async () => {
    expect((await healthHandler(event("GET", "/v1/health"))).statusCode).toBe(200);
  });

  it("plans uploads under /v1/uploads, which names no artifact, as under the artifact path", async () => {
    const file = { path: "w.bin", size: 7, sha256: sha256Hex("weights") };
    const plain = await artifactsHandler(event("POST", "/v1/uploads", { body: { files: [file] }, key: keys.member }));
    const scoped = await artifactsHandler(event("POST", `${P}/uploads`, { params, body: { files: [file] }, key: keys.member }));

    expect(plain.statusCode).toBe(200);
    expect(json(plain)).toMatchObject({ uploads: [{ sha256: file.sha256, method: "PUT" }], present: [] });
    expect(json(scoped)).toEqual(json(plain));
    expect((await artifactsHandler(event("POST", "/v1/uploads", { body: { files: [file] }, key: keys.viewer }))).statusCode).toBe(403);
    const badPath = await artifactsHandler(
      event("POST", `${P}/uploads`, { params: { ...params, name: "-bad" }, body: { files: [file] }, key: keys.member }),
    );
    expect(badPath.statusCode).toBe(400);
  });

  it("plans, commits and reads a version", async () => {
    const content = "weights";
    const file = { path: "w.bin", size: content.length, sha256: sha256Hex(content) };

    const plan = await artifactsHandler(event("POST", `${P}/uploads`, { params, body: { files: [file] }, key: keys.member }));
    expect(plan.statusCode).toBe(200);
    expect(json(plan)).toMatchObject({ uploads: [{ sha256: file.sha256, method: "PUT" }], present: [] });
    deps.blobs.stage(file.sha256, content);

    const commit = await artifactsHandler(
      event("POST", `${P}/versions`, { params, body: { type: "model", files: [file] }, key: keys.member }),
    );
    expect(commit.statusCode).toBe(201);
    expect(json(commit)).toMatchObject({ version: "v0", created: true });
    expect(observability.metrics.calls).toEqual([["versionCommitted"]]);

    const again = await artifactsHandler(
      event("POST", `${P}/versions`, { params, body: { type: "model", files: [file] }, key: keys.member }),
    );
    expect(again.statusCode).toBe(200);
    expect(json(again).created).toBe(false);
    // A reused version is no new version.
    expect(observability.metrics.calls).toEqual([["versionCommitted"]]);
    expect(observability.metrics.flushes).toBeGreaterThanOrEqual(3);

    const read = await artifactsHandler(event("GET", `${P}/versions/{v}`, { params: { ...params, v: "latest" }, key: keys.viewer }));
    expect(json(read)).toMatchObject({ version: "v0", fileCount: 1, createdBy: "member" });
  });

  it.each([
    ["an invalid artifact name", { ...params, name: "-bad" }, { type: "model", files: [{ path: "a", size: 1, sha256: "a".repeat(64) }] }],
    ["a path with ..", params, { type: "model", files: [{ path: "../a", size: 1, sha256: "a".repeat(64) }] }],
    ["a non-hex sha256", params, { type: "model", files: [{ path: "a", size: 1, sha256: "g".repeat(64) }] }],
    ["a negative size", params, { type: "model", files: [{ path: "a", size: -1, sha256: "a".repeat(64) }] }],
  ])("answers 400 for %s and writes nothing", async (_, p, body) => {
    const response = await artifactsHandler(event("POST", `${P}/versions`, { params: p, body, key: keys.member }));
    expect(response.statusCode).toBe(400);
    expect(json(response).error.code).toBe("invalid_request");
    expect(deps.artifacts.artifacts.size).toBe(0);
    expect(deps.ledger.blobs.size).toBe(0);
  });

  it("answers 404 for an unknown version", async () => {
    const response = await artifactsHandler(event("GET", `${P}/versions/{v}`, { params: { ...params, v: "v7" }, key: keys.viewer }));
    expect(response.statusCode).toBe(404);
  });
});

describe("business metrics recorded by operations", () => {
  it("counts a link when it is created, not when the same version is linked again", async () => {
    await deps.artifacts.add({
      project: "vision",
      artifact: "mnist",
      type: "model",
      digest: "d".repeat(64),
      metadata: {},
      size: 1,
      fileCount: 1,
      blobs: [],
      aliases: [],
      actor: "admin",
      at: "2024-06-01T00:00:00.000Z",
    });
    const { registries } = createApiHandlers(services, observability);
    const created = await registries(
      event("POST", "/v1/registries", { body: { name: "model", visibility: "organization" }, key: keys.admin }),
    );
    expect(created.statusCode).toBe(201);
    const link = () =>
      registries(
        event("POST", "/v1/registries/{registry}/collections/{collection}/links", {
          params: { registry: "model", collection: "mnist-classifier" },
          body: { project: "vision", artifact: "mnist", version: "v0" },
          key: keys.admin,
        }),
      );
    expect((await link()).statusCode).toBe(201);
    expect(json(await link()).created).toBe(false);
    expect(observability.metrics.calls).toEqual([["linkCreated"]]);
  });
});
