import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import type { Principal } from "../core/model.js";
import type { RouteDefinition } from "../contract/routes.js";
import type { Observability } from "../observability.js";

/** What every request leaves behind, whichever edge answers it: one log line and, in Lambda, one trace subsegment. */
export interface RequestScope {
  requestId: string;
  route: RouteDefinition | undefined;
  /** Set once `admit` has authenticated the caller, so the log line names them. */
  principal: Principal | undefined;
  /** Logs a failure that is ours, whole: the caller is told nothing about it. */
  logInternal(internal: unknown): void;
  /** Closes the trace subsegment and writes the request's log line. */
  end(response: APIGatewayProxyResult): APIGatewayProxyResult;
}

/**
 * Opens a request of function `fn` on the edge: its id (API Gateway's, so its own error
 * answers and access log lines carry the same one), its route in `table`, and the trace
 * subsegment `## fn.operation` with the route's annotations.
 */
export function openRequest(
  fn: string,
  table: readonly RouteDefinition[],
  event: APIGatewayProxyEvent,
  context: Context | undefined,
  { logger, tracer }: Observability,
): RequestScope {
  const started = performance.now();
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
  const scope: RequestScope = {
    requestId,
    route,
    principal: undefined,
    logInternal(internal) {
      if (internal === undefined) return;
      logger.error("unhandled error", { requestId, error: internal });
      tracer?.addErrorAsMetadata(internal as Error);
    },
    end(response) {
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
        principal: scope.principal?.userId ?? null,
        status: response.statusCode,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
      return response;
    },
  };
  return scope;
}
