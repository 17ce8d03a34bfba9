import type { APIGatewayProxyEvent } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../lambdas/core/api-keys.js";
import type { Services } from "../../lambdas/composition.js";
import { loadConfig } from "../../lambdas/config.js";
import { createHubHandler, type HubOperations, type HubRequest } from "../../lambdas/http/hf-handler.js";
import { hubOperations } from "../../lambdas/handlers/hf.js";
import { fakeDeps } from "../support/fakes.js";
import { testObservability } from "../support/observability.js";

const TREE = "/hf/api/models/{registry}/{collection}/tree/{revision}";
const LFS = "/hf/_projects/{project}/{name}/info/lfs/objects/batch";

let services: Services;
let key: string;
let seen: HubRequest[];

beforeEach(async () => {
  const deps = fakeDeps();
  services = { ...deps, config: loadConfig({ MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs" }) };
  const user = { id: "ana", name: "ana", orgRole: "member", status: "active", createdAt: "2024-01-01T00:00:00.000Z" } as const;
  await deps.identity.createUser(user);
  const generated = generateApiKey();
  await deps.identity.createApiKey({ id: "k", userId: "ana", keyHash: generated.keyHash, createdAt: "2024-01-01T00:00:00.000Z" }, user);
  key = generated.secret;
  seen = [];
});

/** Every operation records its request and answers 200. */
function recordingHandler() {
  const record = async (request: HubRequest) => {
    seen.push(request);
    return { status: 200, body: { ok: true } };
  };
  const operations = Object.fromEntries(Object.keys(hubOperations).map((name) => [name, record])) as HubOperations;
  return createHubHandler(operations, services, testObservability());
}

/** An API Gateway (REST) event for `resource`, as the stage `prod` of an execute-api host delivers it. */
function event(method: string, resource: string, params: Record<string, string>, headers: Record<string, string>): APIGatewayProxyEvent {
  const path = resource.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? "");
  return {
    httpMethod: method,
    resource,
    path,
    pathParameters: params,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: null,
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: { requestId: "req-1", path: `/prod${path}` } as APIGatewayProxyEvent["requestContext"],
  };
}

describe("the hf edge", () => {
  it("reads `hf_<key>` as the key, decodes parameters, strips `.git` and knows its public URL behind the stage", async () => {
    const handler = recordingHandler();
    const headers = { Authorization: `Bearer hf_${key}`, Host: "abc.execute-api.eu-west-1.amazonaws.com", "X-Forwarded-Proto": "https" };
    const answer = await handler(event("POST", LFS, { project: "vision", name: "mnist.git" }, headers));
    expect(answer.statusCode).toBe(200);
    expect(answer.headers).toMatchObject({ "x-request-id": "req-1" });
    expect(seen[0]).toMatchObject({
      principal: { userId: "ana" },
      params: { project: "vision", name: "mnist" },
      mountUrl: "https://abc.execute-api.eu-west-1.amazonaws.com/prod/hf/_projects",
    });
  });

  it.each([
    ["different", "Bearer other"],
    ["identical", undefined],
  ])("refuses two %s Authorization headers with a 400, and answers errors in the Hugging Face form", async (_, second) => {
    const handler = recordingHandler();
    const twice = event("GET", TREE, { registry: "model", collection: "net", revision: "main" }, { authorization: `Bearer ${key}` });
    twice.multiValueHeaders = { authorization: [`Bearer ${key}`, second ?? `Bearer ${key}`] };
    const refused = await handler(twice);
    const message = "the request carries more than one Authorization header; send exactly one";
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: message, code: "invalid_request", requestId: "req-1" });
    expect(refused.headers).toMatchObject({ "x-error-message": message });
    expect(seen).toHaveLength(0);
  });

  it("answers a registry the caller cannot see as RepoNotFound", async () => {
    const handler = createHubHandler(hubOperations, services, testObservability());
    const missing = await handler(
      event("GET", TREE, { registry: "nope", collection: "net", revision: "main" }, { authorization: `Bearer hf_${key}` }),
    );
    expect(missing.statusCode).toBe(404);
    expect(missing.headers).toMatchObject({ "x-error-code": "RepoNotFound" });
  });
});
