import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { admit, type RegistryAccess } from "../core/authorize.js";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../core/errors.js";
import type { Principal } from "../core/model.js";
import { getServices, type Services } from "../composition.js";
import { routes, type FunctionName, type OperationOf, type RouteDefinition } from "../contract/routes.js";
import { errorResponse } from "./errors.js";

/** Lambda's synchronous payload limit; larger bodies are refused before parsing. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

export interface ApiRequest {
  principal: Principal;
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  services: Services;
  /** The registry and the caller's role in it, on routes that require a registry permission. */
  registry?: RegistryAccess;
}

export type ApiResult = { status: number; body: unknown } | { status: 204 };

export type Operation = (request: ApiRequest) => Promise<ApiResult>;

export const ok = (body: unknown): ApiResult => ({ status: 200, body });
export const created = (body: unknown): ApiResult => ({ status: 201, body });

/**
 * Builds the Lambda entry point of one function: finds the route the event came in on,
 * authenticates, authorizes, parses the body and runs the operation the table names.
 */
export function createApiHandler<F extends FunctionName>(
  fn: F,
  operations: Record<OperationOf<F>, Operation>,
  resolveServices: () => Services = getServices,
) {
  const table: RouteDefinition[] = routes.filter((r) => r.function === fn);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const route = table.find((r) => r.method === event.httpMethod && r.path === event.resource);
      if (!route) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`);
      const operation = operations[route.operation as OperationOf<F>];
      const services = resolveServices();
      const params = Object.fromEntries(
        Object.entries(event.pathParameters ?? {}).map(([k, v]) => [k, decodePathParameter(v ?? "")]),
      );
      const { principal, registry } = await admit(services, header(event, "authorization"), route.permission, params);
      const result = await operation({
        principal,
        registry,
        params,
        query: Object.fromEntries(
          Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? ""]),
        ),
        body: parseBody(event),
        services,
      });
      return toResponse(result);
    } catch (error) {
      const { status, body } = errorResponse(error);
      return toResponse({ status, body });
    }
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
