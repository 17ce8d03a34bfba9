import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { admit, type RegistryAccess } from "../core/authorize.js";
import { NotFoundError } from "../core/errors.js";
import { HubNotFoundError, revisionSelectorParam } from "../core/hub.js";
import type { Principal } from "../core/model.js";
import type { Services } from "../composition.js";
import { HF_TOKEN_PREFIX } from "../contract/hf.js";
import { HF_MOUNT, HF_PROJECTS_MOUNT } from "../contract/hf-mounts.js";
import { routes, type OperationOf, type RouteDefinition } from "../contract/routes.js";
import type { BusinessMetrics, Observability } from "../observability.js";
import { authorizationOf, type ApiHandler } from "./api-handler.js";
import { errorResponse } from "./errors.js";
import { openRequest } from "./request-scope.js";

export interface HubRequest {
  method: string;
  principal: Principal;
  /** The registry and the caller's role in it, on registry repositories. */
  registry?: RegistryAccess;
  /** Decoded path parameters; `name` without the `.git` the LFS URLs add. */
  params: Record<string, string>;
  query: Record<string, string>;
  header(name: string): string | undefined;
  /** The raw body: JSON, a form, or NDJSON depending on the route. */
  body: string;
  services: Services;
  metrics: BusinessMetrics;
  /** Absolute URL of the mount the request came in on (…/hf or …/hf/_projects), for links the clients follow. */
  mountUrl: string;
}

export interface HubResult {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON; absent for redirects and HEAD. */
  body?: unknown;
}

export type HubOperation = (request: HubRequest) => Promise<HubResult>;
export type HubOperations = Record<OperationOf<"hf">, HubOperation>;

/**
 * The entry point of the `hf` function: the route table's `/hf` routes answered in the
 * Hugging Face Hub's dialect. The same authentication and permission check as every other
 * route (core `admit`), with `hf_<key>` read as the key; errors carry the `X-Error-Code` and
 * `X-Error-Message` headers the HF clients branch on, and a body whose `error` is the message.
 */
export function createHubHandler(operations: HubOperations, services: Services, observability: Observability): ApiHandler {
  const { metrics } = observability;
  const table: RouteDefinition[] = routes.filter((r) => r.function === "hf");
  return async (event, context) => {
    const scope = openRequest("hf", table, event, context, observability);
    const { requestId, route } = scope;
    let response: APIGatewayProxyResult;
    try {
      if (!route) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`);
      const params = decodeParams(event.pathParameters ?? {}, route.path);
      // The registry's `{v}` lets the access check read the collection version with the registry.
      const admitParams = params.revision === undefined ? params : { ...params, v: revisionSelectorParam(params.revision) };
      let admitted;
      try {
        admitted = await admit(services, hubAuthorization(event), route.permission, admitParams, (who) => {
          scope.principal = who;
        });
      } catch (error) {
        // A registry the caller may not see is a repository that does not exist.
        if (error instanceof NotFoundError && !(error instanceof HubNotFoundError))
          throw new HubNotFoundError("RepoNotFound", error.message);
        throw error;
      }
      const result = await operations[route.operation as OperationOf<"hf">]({
        method: event.httpMethod,
        principal: admitted.principal,
        registry: admitted.registry,
        params,
        query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? ""])),
        header: (name) => header(event, name),
        body:
          event.body === null || event.body === undefined
            ? ""
            : event.isBase64Encoded
              ? Buffer.from(event.body, "base64").toString("utf8")
              : event.body,
        services,
        metrics,
        mountUrl: mountUrl(event, route),
      });
      response = {
        statusCode: result.status,
        headers: {
          ...(result.body === undefined ? {} : { "content-type": "application/json" }),
          "cache-control": "no-store",
          ...result.headers,
          "x-request-id": requestId,
        },
        body: result.body === undefined || event.httpMethod === "HEAD" ? "" : JSON.stringify(result.body),
      };
    } catch (error) {
      const answer = errorResponse(error, requestId);
      scope.logInternal(answer.internal);
      const message = answer.body.error.message;
      response = {
        statusCode: answer.status,
        headers: {
          "content-type": "application/json",
          "cache-control": "no-store",
          "x-request-id": requestId,
          "x-error-message": headerSafe(message),
          ...(error instanceof HubNotFoundError ? { "x-error-code": error.hubCode } : {}),
          ...(error instanceof HubNotFoundError && error.commit ? { "x-repo-commit": error.commit } : {}),
        },
        body: event.httpMethod === "HEAD" ? "" : JSON.stringify({ error: message, code: answer.body.error.code, requestId }),
      };
    } finally {
      metrics.flush();
    }
    return scope.end(response);
  };
}

/**
 * `Bearer hf_<key>` (what `@huggingface/hub` insists on) is the key; a plain key works as
 * well. One credential per request, as on /v1: two Authorization headers are a 400.
 */
function hubAuthorization(event: APIGatewayProxyEvent): string | undefined {
  const value = authorizationOf(event);
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match || !match[1]!.startsWith(HF_TOKEN_PREFIX) || match[1]!.length === HF_TOKEN_PREFIX.length) return value;
  return `Bearer ${match[1]!.slice(HF_TOKEN_PREFIX.length)}`;
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name) return value ?? undefined;
  }
  return undefined;
}

/** Decoded once, a greedy `{path+}` segment by segment; the LFS URLs name the repository `{name}.git`. */
function decodeParams(raw: Record<string, string | undefined>, template: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    const text = value ?? "";
    params[key] = template.includes(`{${key}+}`) ? text.split("/").map(decode).join("/") : decode(text);
  }
  if (template.includes("/info/lfs/") && params.name?.endsWith(".git")) params.name = params.name.slice(0, -".git".length);
  return params;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The public URL of the mount: scheme and host as the caller used them, and whatever API
 * Gateway put before the resource path (its stage, a custom domain's base path).
 */
function mountUrl(event: APIGatewayProxyEvent, route: RouteDefinition): string {
  const host = header(event, "host") ?? "localhost";
  const proto = (header(event, "x-forwarded-proto") ?? "http").split(",")[0]!.trim();
  const publicPath = event.requestContext?.path ?? event.path;
  const base = publicPath.endsWith(event.path) ? publicPath.slice(0, publicPath.length - event.path.length) : "";
  const mount = route.path.startsWith(`${HF_PROJECTS_MOUNT}/`) ? HF_PROJECTS_MOUNT : HF_MOUNT;
  return `${proto}://${host}${base}${mount}`;
}

/** Header values are one line of visible ASCII. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, " ").slice(0, 1000);
}
