import { randomUUID } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { errorBodyOf, ERROR_STATUS, INTERNAL_ERROR_MESSAGE, type ErrorCode } from "../lambdas/contract/errors.js";
import { matchRoute, routes, type FunctionName } from "../lambdas/contract/routes.js";
import { MAX_BODY_BYTES } from "../lambdas/contract/limits.js";
import { HF_MOUNT } from "../lambdas/contract/hf-mounts.js";
import type { ApiHandler } from "../lambdas/http/api-handler.js";
import { createWebAssets, type WebAssets } from "./web-assets.js";

const API_ROOT = "/v1";

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface LocalServerOptions {
  port: number;
  host?: string;
  /** This stack's entry point of every function (lambdas/handlers/index.ts). */
  handlers: Record<FunctionName, ApiHandler>;
  /** Where requests the server answers itself (no route, wrong method, body too large) are logged. */
  logger: Logger;
  /** The built web app (web/dist), served on the API's origin for every path outside /v1 and /hf. */
  webRoot?: string;
}

/**
 * Serves the route table over node:http: each request becomes the API Gateway (REST, v1)
 * proxy event Lambda would get and goes to the same handler function.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const host = options.host ?? "127.0.0.1";
  // The web app (web/dist) on the same origin as the API: everything outside /v1 and /hf.
  const web = createWebAssets(options.webRoot);
  const server = createServer((req, res) => {
    const requestId = randomUUID();
    serve(options, web, requestId, req, res).catch((error: unknown) => {
      options.logger.error("local server error", { requestId, error });
      if (!res.headersSent) sendError(res, "internal", INTERNAL_ERROR_MESSAGE, requestId);
    });
  });
  server.keepAliveTimeout = 65_000;
  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "EADDRINUSE" ? new Error(`port ${port} on ${host} is already in use; set MREG_PORT to a free port`) : error);
    });
    server.listen(port, host, () => resolve());
  });
}

async function serve(
  options: LocalServerOptions,
  web: WebAssets,
  requestId: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  // Answered here, as API Gateway answers them before any function runs; logged like the rest.
  const refuse = (code: ErrorCode, message: string) => {
    sendError(res, code, message, requestId);
    options.logger.info("request", {
      requestId,
      method,
      route: null,
      path: url.pathname,
      principal: null,
      status: ERROR_STATUS[code],
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
    });
  };
  if (!isApiPath(url.pathname) && (await web.serve(req, res, url.pathname))) return;
  const match = matchRoute(routes, method, url.pathname);
  if (!match) {
    req.resume();
    return refuse("not_found", `no route ${method} ${url.pathname}`);
  }
  if ("allowed" in match) {
    req.resume();
    res.setHeader("allow", match.allowed.join(", "));
    return refuse("method_not_allowed", `${method} is not allowed here`);
  }
  const body = await readBody(req);
  if (body === undefined) return refuse("payload_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`);
  const event = toProxyEvent(req, url, match.route.path, match.params, body.body, body.base64, requestId);
  const handler = options.handlers[match.route.function as FunctionName];
  const result: APIGatewayProxyResult = await handler(event);
  res.writeHead(result.statusCode, result.headers as Record<string, string>);
  res.end(result.body);
}

/** The API's own paths: /v1, and the Hugging Face Hub protocol under /hf (lambdas/contract/hf-mounts.ts). */
function isApiPath(pathname: string): boolean {
  return [API_ROOT, HF_MOUNT].some((root) => pathname === root || pathname.startsWith(`${root}/`));
}

/**
 * The body as API Gateway hands it to Lambda: text, or base64 when it is not UTF-8 (the
 * handler refuses that, rather than read replacement characters); undefined once it grows
 * past the limit (the rest is drained).
 */
async function readBody(req: IncomingMessage): Promise<{ body: string; base64: boolean } | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  if (tooLarge) return undefined;
  const bytes = Buffer.concat(chunks);
  return isUtf8(bytes) ? { body: bytes.toString("utf8"), base64: false } : { body: bytes.toString("base64"), base64: true };
}

function toProxyEvent(
  req: IncomingMessage,
  url: URL,
  resource: string,
  pathParameters: Record<string, string>,
  body: string,
  base64: boolean,
  requestId: string,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  // headersDistinct keeps every occurrence (req.headers keeps only the first Authorization),
  // as API Gateway's multiValueHeaders do; `headers` keeps the last, as API Gateway's.
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values === undefined || values.length === 0) continue;
    headers[name] = values.at(-1)!;
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiValueQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const now = new Date();
  return {
    resource,
    path: url.pathname,
    httpMethod: req.method ?? "GET",
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body === "" ? null : body,
    isBase64Encoded: base64,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: req.method ?? "GET",
      identity: localIdentity(req.socket.remoteAddress ?? "127.0.0.1", req.headers["user-agent"] ?? null),
      path: url.pathname,
      stage: "local",
      requestId,
      requestTimeEpoch: now.getTime(),
      resourceId: "local",
      resourcePath: resource,
    },
  };
}

function localIdentity(sourceIp: string, userAgent: string | null): APIGatewayProxyEvent["requestContext"]["identity"] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}

function sendError(res: ServerResponse, code: ErrorCode, message: string, requestId: string): void {
  res.writeHead(ERROR_STATUS[code], { "content-type": "application/json" });
  res.end(JSON.stringify(errorBodyOf(code, message, requestId)));
}
