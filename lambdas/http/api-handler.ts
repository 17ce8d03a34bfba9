import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { admit, type RegistryAccess } from "../core/authorize.js";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../core/errors.js";
import type { Principal } from "../core/model.js";
import type { Services } from "../composition.js";
import { MAX_BODY_BYTES } from "../contract/limits.js";
import { routes, type FunctionName, type OperationOf, type RouteDefinition } from "../contract/routes.js";
import type { BusinessMetrics, Observability } from "../observability.js";
import { errorResponse } from "./errors.js";
import { openRequest } from "./request-scope.js";
import { parseJsonBody } from "./json-body.js";

export interface ApiRequest {
  principal: Principal;
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  services: Services;
  /** Where operations record what their use case did (a version committed, a link created). */
  metrics: BusinessMetrics;
  /** The registry and the caller's role in it, on routes that require a registry permission. */
  registry?: RegistryAccess;
}

export type ApiResult = { status: number; body: unknown } | { status: 204 };

export type Operation = (request: ApiRequest) => Promise<ApiResult>;

/** The operations of one function of the route table, by operation name. */
export type Operations<F extends FunctionName> = Record<OperationOf<F>, Operation>;

export type ApiHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

export const ok = (body: unknown): ApiResult => ({ status: 200, body });
export const created = (body: unknown): ApiResult => ({ status: 201, body });

/**
 * Builds the entry point of one function from the services it is given (built once per
 * Lambda container, or per local stack): finds the route the event came in on,
 * authenticates, authorizes, parses the body and runs the operation the table names.
 * Every request leaves one log line (request id, route, principal, status, latency), a
 * trace subsegment in Lambda, and the business metrics its operation recorded.
 */
export function createApiHandler<F extends FunctionName>(
  fn: F,
  operations: Operations<F>,
  services: Services,
  observability: Observability,
): ApiHandler {
  const { metrics } = observability;
  const table: RouteDefinition[] = routes.filter((r) => r.function === fn);
  return async (event, context) => {
    const scope = openRequest(fn, table, event, context, observability);
    const { requestId, route } = scope;
    let response: APIGatewayProxyResult;
    try {
      if (!route) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`);
      const operation = operations[route.operation as OperationOf<F>];
      const params = Object.fromEntries(Object.entries(event.pathParameters ?? {}).map(([k, v]) => [k, decodePathParameter(v ?? "")]));
      const admitted = await admit(services, authorizationOf(event), route.permission, params, (who) => {
        scope.principal = who;
      });
      const { registry } = admitted;
      const result = await operation({
        principal: admitted.principal,
        registry,
        params,
        query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? ""])),
        body: parseBody(event),
        services,
        metrics,
      });
      response = toResponse(result);
    } catch (error) {
      const answer = errorResponse(error, requestId);
      scope.logInternal(answer.internal);
      response = toResponse(answer);
    } finally {
      metrics.flush();
    }
    return scope.end(response);
  };
}

/** API Gateway may hand path parameters over still percent-encoded; the local server decodes them. */
function decodePathParameter(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The request's one credential. Two Authorization headers (in API Gateway's
 * `multiValueHeaders`, which the local server fills alike, or under two spellings of the
 * name) are refused: which one would count is the kind of choice a proxy in front and the
 * registry can disagree on.
 */
export function authorizationOf(event: APIGatewayProxyEvent): string | undefined {
  const values: string[] = [];
  for (const [key, list] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === "authorization") values.push(...(list ?? []));
  }
  const single = Object.entries(event.headers ?? {}).filter(([key]) => key.toLowerCase() === "authorization");
  if (values.length > 1 || single.length > 1) {
    throw new ValidationError("the request carries more than one Authorization header; send exactly one");
  }
  return single[0]?.[1] ?? values[0];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body === "") return undefined;
  let text = event.body;
  if (event.isBase64Encoded) {
    try {
      // Bytes that are not UTF-8 would become U+FFFD: stored as something else than was sent.
      text = utf8.decode(Buffer.from(event.body, "base64"));
    } catch (error) {
      throw new ValidationError("request body is not valid UTF-8", { cause: error });
    }
  }
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  return parseJsonBody(text);
}

function toResponse(result: ApiResult): APIGatewayProxyResult {
  if (!("body" in result)) return { statusCode: result.status, headers: {}, body: "" };
  return {
    statusCode: result.status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify(result.body),
  };
}
