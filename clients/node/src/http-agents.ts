import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Kept-alive connections, one pool per protocol, shared by the registry's API and the store's presigned URLs. */
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/** Starts a request through the shared pools; the caller writes the body and ends it. */
export function openRequest(url: string | URL, method: string, headers: Record<string, string>, signal?: AbortSignal): ClientRequest {
  const target = typeof url === "string" ? new URL(url) : url;
  const secure = target.protocol === "https:";
  return (secure ? httpsRequest : httpRequest)(target, {
    method,
    headers,
    agent: secure ? agents.https : agents.http,
    ...(signal ? { signal } : {}),
  });
}

/**
 * A kept-alive connection the server closed while it sat idle fails as soon as it is used:
 * such a request is sent again at once on a new connection, as node:http's documentation advises.
 */
export function isStaleConnection(request: ClientRequest, error: unknown, answered: boolean): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return request.reusedSocket && !answered && (code === "ECONNRESET" || code === "EPIPE");
}
