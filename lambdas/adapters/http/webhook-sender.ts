import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { ValidationError } from "../../core/errors.js";
import type { WebhookRequest, WebhookResponse, WebhookSender } from "../../core/ports.js";
import { hostOf, parseWebhookUrl, refusalOf, type TargetPolicy } from "../../core/webhook-targets.js";

export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/** Raised inside the connection's DNS lookup when an address is not allowed. */
class RefusedTarget extends Error {}

/** Response bodies are read only so far: a receiver cannot make a delivery hold much memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Posts webhooks with node:http(s). The target's addresses are checked after DNS
 * resolution, inside the connection's own lookup, so the address checked is the address
 * connected to (no window for DNS rebinding); redirects are not followed.
 */
export class HttpWebhookSender implements WebhookSender {
  constructor(
    private readonly policy: TargetPolicy,
    private readonly resolve: Resolve = resolveAll,
  ) {}

  async checkTarget(url: string): Promise<void> {
    const host = hostOf(parseWebhookUrl(url));
    let addresses: LookupAddress[];
    try {
      addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await this.resolve(host);
    } catch (error) {
      throw new ValidationError(`url host ${host} does not resolve`, { cause: error });
    }
    const refusal = this.refusal(addresses);
    if (refusal) throw new ValidationError(`url is not an allowed webhook target: ${refusal}`);
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    let url: URL;
    try {
      url = parseWebhookUrl(request.url);
    } catch (error) {
      return { error: { kind: "refused", message: (error as Error).message }, latencyMs: elapsed() };
    }
    const host = hostOf(url);
    if (isIP(host)) {
      // Connections to IP literals skip the lookup below.
      const refusal = this.refusal([{ address: host, family: isIP(host) }]);
      if (refusal) return { error: { kind: "refused", message: refusal }, latencyMs: elapsed() };
    }
    try {
      const response = await this.post(url, request);
      return { ...response, latencyMs: elapsed() };
    } catch (error) {
      const kind = error instanceof RefusedTarget ? "refused" : isTimeout(error) ? "timeout" : "network";
      return { error: { kind, message: describe(error) }, latencyMs: elapsed() };
    }
  }

  private refusal(addresses: LookupAddress[]): string | undefined {
    if (addresses.length === 0) return "the host has no address";
    for (const { address } of addresses) {
      const refusal = refusalOf(address, this.policy);
      if (refusal) return refusal;
    }
    return undefined;
  }

  private readonly checkedLookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addresses) => {
        const refusal = this.refusal(addresses);
        if (refusal) return callback(new RefusedTarget(refusal), "", 0);
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        const first = addresses.find((a) => !options.family || a.family === options.family) ?? addresses[0]!;
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };

  private post(url: URL, request: WebhookRequest): Promise<Pick<WebhookResponse, "statusCode" | "retryAfterMs">> {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method: "POST",
          headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
          lookup: this.checkedLookup,
          agent: false,
          signal: AbortSignal.timeout(request.timeoutMs),
        },
        (res: IncomingMessage) => {
          let received = 0;
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (received > MAX_RESPONSE_BYTES) res.destroy();
          });
          const done = () => resolve({ statusCode: res.statusCode, retryAfterMs: retryAfterMs(res.headers["retry-after"]) });
          res.on("end", done);
          res.on("close", done);
          res.on("error", done);
        },
      );
      req.on("error", reject);
      req.end(request.body);
    });
  }
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The request's only abort signal is its timeout. */
function isTimeout(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (isTimeout(error)) return "no response within the timeout";
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
