import { RemovalPolicy, Size } from "aws-cdk-lib";
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
  type Integration,
  type RequestValidator,
} from "aws-cdk-lib/aws-apigateway";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { BUSY_MESSAGE, ERROR_STATUS, INTERNAL_ERROR_MESSAGE, errorBodyOf, type ErrorCode } from "../../lambdas/contract/errors.js";
import type { RouteDefinition } from "../../lambdas/contract/routes.js";
import { API_GATEWAY_TIMEOUT_SECONDS } from "../../lambdas/settings.js";

export interface RegistryApiProps {
  restApiName: string;
  routes: readonly RouteDefinition[];
  /** The integration serving the routes of one function. */
  integrationFor: (functionName: string) => Integration;
  throttleRateLimit: number;
  throttleBurstLimit: number;
}

export const STAGE_NAME = "prod";

/**
 * The REST API, built from the route table: one resource per path, one method per route,
 * each wired to the function the table names. Routes added to the table are deployed
 * without touching this file.
 */
export class RegistryApi extends Construct {
  readonly api: RestApi;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: RegistryApiProps) {
    super(scope, id);
    assertNoSiblingVariables(props.routes);

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: RetentionDays.THREE_MONTHS,
      // Who called what and when outlives the API it was recorded for.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new RestApi(this, "Rest", {
      restApiName: props.restApiName,
      description: "mreg model and artifact registry",
      // Training jobs call from inside a region; an edge distribution would only add a hop.
      endpointTypes: [EndpointType.REGIONAL],
      // Access and execution logs need the account's API Gateway logging role; kept on
      // teardown because other APIs in the account and region may rely on it.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      // File listings carry one presigned URL per entry; they compress well.
      minCompressionSize: Size.kibibytes(1),
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: accessLogFormat(),
        loggingLevel: MethodLoggingLevel.ERROR,
        // Request and response bodies hold API keys (once) and presigned URLs: never log them.
        dataTraceEnabled: false,
        metricsEnabled: false,
      },
    });

    // The stack's ApiUrl output says the same under a readable name.
    this.api.node.tryRemoveChild("Endpoint");

    const authorizationHeader = this.api.addRequestValidator("AuthorizationHeader", {
      requestValidatorName: "authorization-header",
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    for (const route of props.routes) {
      this.addRoute(route, props.integrationFor(route.function), authorizationHeader);
    }
    addErrorResponses(this.api);
  }

  private addRoute(route: RouteDefinition, integration: Integration, validator: RequestValidator): void {
    const resource = this.api.root.resourceForPath(route.path);
    const authenticated = route.permission !== "public";
    resource.addMethod(route.method, integration, {
      operationName: `${route.function}.${route.operation}`,
      // Callers authenticate with registry API keys (hashed in the table), checked by the
      // handler; API Gateway only refuses requests that carry no key at all, for free.
      authorizationType: AuthorizationType.NONE,
      ...(authenticated ? { requestParameters: { "method.request.header.Authorization": true }, requestValidator: validator } : {}),
    });
  }
}

/**
 * API Gateway allows one variable child per resource (`/a/{x}` and `/a/{y}` cannot both
 * exist), and CloudFormation only finds out at deploy time: check at synth instead.
 */
export function assertNoSiblingVariables(routes: readonly RouteDefinition[]): void {
  const variableChild = new Map<string, { segment: string; path: string }>();
  for (const route of routes) {
    const segments = route.path.split("/").filter((s) => s !== "");
    segments.forEach((segment, i) => {
      if (!segment.startsWith("{")) return;
      const parent = `/${segments.slice(0, i).join("/")}`;
      const seen = variableChild.get(parent);
      if (seen && seen.segment !== segment) {
        throw new Error(
          `routes ${seen.path} and ${route.path} name the variable under ${parent} differently ` +
            `(${seen.segment} vs ${segment}); API Gateway needs one name per position`,
        );
      }
      variableChild.set(parent, { segment, path: route.path });
    });
  }
}

function accessLogFormat(): AccessLogFormat {
  const quotedErrorMessage = "__ERROR_MESSAGE_STRING__";
  const format = JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    ip: AccessLogField.contextIdentitySourceIp(),
    userAgent: AccessLogField.contextIdentityUserAgent(),
    method: AccessLogField.contextHttpMethod(),
    resource: AccessLogField.contextResourcePath(),
    path: AccessLogField.contextPath(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    responseLatencyMs: AccessLogField.contextResponseLatency(),
    integrationLatencyMs: AccessLogField.contextIntegrationLatency(),
    integrationStatus: AccessLogField.contextIntegrationStatus(),
    error: quotedErrorMessage,
    errorType: AccessLogField.contextErrorResponseType(),
  });
  // messageString arrives JSON-quoted and escaped, so it goes in without quotes of its own.
  return AccessLogFormat.custom(format.replace(`"${quotedErrorMessage}"`, AccessLogField.contextErrorMessageString()));
}

/**
 * API Gateway's own refusals, answered with the registry's error body
 * (lambdas/contract/errors.ts): the same codes and statuses as the handlers'. A response
 * without a status keeps the one API Gateway chose; one without a message passes API
 * Gateway's own on.
 */
export const gatewayErrors: { type: ResponseType; code: ErrorCode; keepStatus?: boolean; message?: string }[] = [
  // Only the Authorization header is validated, so a failed validation means no API key.
  { type: ResponseType.BAD_REQUEST_PARAMETERS, code: "unauthorized", message: "missing Authorization header; expected 'Bearer <api key>'" },
  // REST APIs answer unknown paths and methods as if they needed IAM signatures.
  { type: ResponseType.MISSING_AUTHENTICATION_TOKEN, code: "not_found", message: "no route for this method and path" },
  { type: ResponseType.RESOURCE_NOT_FOUND, code: "not_found", message: "no route for this method and path" },
  { type: ResponseType.REQUEST_TOO_LARGE, code: "payload_too_large", message: "request body is too large" },
  { type: ResponseType.THROTTLED, code: "too_many_requests", message: BUSY_MESSAGE },
  {
    type: ResponseType.INTEGRATION_TIMEOUT,
    code: "timeout",
    message: `the request outlasted API Gateway's ${API_GATEWAY_TIMEOUT_SECONDS} s; it may still complete, retry it`,
  },
  { type: ResponseType.DEFAULT_4XX, code: "bad_request", keepStatus: true },
  { type: ResponseType.DEFAULT_5XX, code: "internal", keepStatus: true, message: INTERNAL_ERROR_MESSAGE },
];

const MESSAGE_SLOT = "__MREG_MESSAGE__";
const REQUEST_ID_SLOT = "__MREG_REQUEST_ID__";

/**
 * The mapping template of one gateway response: the body `errorBodyOf` builds, with API
 * Gateway's request id (the one its access log records) and, without a message of our own,
 * its error message, which `messageString` renders JSON-quoted.
 */
export function gatewayErrorTemplate(code: ErrorCode, message?: string): string {
  const body = JSON.stringify(errorBodyOf(code, MESSAGE_SLOT, REQUEST_ID_SLOT));
  return body
    .replace(`"${MESSAGE_SLOT}"`, message === undefined ? "$context.error.messageString" : JSON.stringify(message))
    .replace(REQUEST_ID_SLOT, "$context.requestId");
}

function addErrorResponses(api: RestApi): void {
  for (const { type, code, keepStatus, message } of gatewayErrors) {
    api.addGatewayResponse(`Error${type.responseType}`, {
      type,
      ...(keepStatus ? {} : { statusCode: String(ERROR_STATUS[code]) }),
      responseHeaders: { "Cache-Control": "'no-store'" },
      templates: { "application/json": gatewayErrorTemplate(code, message) },
    });
  }
}
