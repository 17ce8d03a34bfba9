import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { admit, type RegistryAccess } from "../core/authorize.js";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../core/errors.js";
import type { Principal } from "../core/model.js";
import type { Services } from "../composition.js";
import { MAX_BODY_BYTES } from "../contract/limits.js";
import { routes, type FunctionName, type OperationOf, type RouteDefinition } from "../contract/routes.js";
import type { BusinessMetrics, Observability } from "../observability.js";
import { errorResponse } from "./errors.js";

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
  const { logger, metrics, tracer } = observability;
  const table: RouteDefinition[] = routes.filter((r) => r.function === fn);
  return async (event, context) => {
    const started = performance.now();
    // API Gateway's id: its own error answers and access log lines carry the same one.
    const requestId = event.requestContext?.requestId || context?.awsRequestId || randomUUID();
    if (context) logger.addContext(context);
    const route = table.find((r) => r.method === event.httpMethod && r.path === event.resource);
    const segment = tracer?.getSegment();
    const subsegment = segment?.addNewSubsegment(`## ${fn}.${route?.operation ?? "unrouted"}`);
    if (tracer && subsegment) {
      tracer.setSegment(subsegment);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      if (route) tracer.putAnnotation("route", `${route.method} ${route.path}`);
    }
    let principal: Principal | undefined;
    let response: APIGatewayProxyResult;
    try {
      if (!route) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`);
      const operation = operations[route.operation as OperationOf<F>];
      const params = Object.fromEntries(Object.entries(event.pathParameters ?? {}).map(([k, v]) => [k, decodePathParameter(v ?? "")]));
      const admitted = await admit(services, header(event, "authorization"), route.permission, params, (who) => {
        principal = who;
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
      if (answer.internal !== undefined) {
        // Ours: logged whole here, the caller is told nothing about it.
        logger.error("unhandled error", { requestId, error: answer.internal });
        tracer?.addErrorAsMetadata(answer.internal as Error);
      }
      response = toResponse(answer);
    } finally {
      metrics.flush();
    }
    if (tracer && subsegment && segment) {
      tracer.putAnnotation("status", response.statusCode);
      subsegment.close();
      tracer.setSegment(segment);
    }
    logger.info("request", {
      requestId,
      method: event.httpMethod,
      route: route?.path ?? null,
      path: event.path,
      principal: principal?.userId ?? null,
      status: response.statusCode,
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
    });
    return response;
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

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name) return value ?? undefined;
  }
  return undefined;
}

function parseBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body === "") return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError("request body is not valid JSON", { cause: error });
  }
}

function toResponse(result: ApiResult): APIGatewayProxyResult {
  if (!("body" in result)) return { statusCode: result.status, headers: {}, body: "" };
  return {
    statusCode: result.status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify(result.body),
  };
}
