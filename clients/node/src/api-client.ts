import type { IncomingMessage } from "node:http";
import { errorBody } from "../../../lambdas/contract/common.js";
import { ApiError } from "./errors.js";
import { isStaleConnection, openRequest } from "./http-agents.js";
import { BLOB_BUSY_RETRY, DEFAULT_RETRY, isBlobBusy, retryWithBackoff, type RetryOptions } from "./retry.js";

export interface ApiClientOptions {
  url: string;
  apiKey: string;
  retry?: Partial<RetryOptions>;
  /** How long a request answered 409 `blob_busy` is tried again (BLOB_BUSY_RETRY by default). */
  blobBusyRetry?: Partial<RetryOptions>;
  fetch?: typeof fetch;
  userAgent?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** What the client reads of an answer; fetch's Response has it too. */
interface Answer {
  status: number;
  ok: boolean;
  text(): Promise<string>;
}

type Transport = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<Answer>;

/** JSON over HTTP with the API key; error bodies become ApiError, transient failures are retried. */
export class ApiClient {
  readonly url: string;
  private readonly fetch: Transport;

  constructor(private readonly options: ApiClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.fetch = options.fetch ?? nodeHttp;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }

  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("POST", path, { body, signal });
  }

  put<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("PUT", path, { body, signal });
  }

  patch<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("PATCH", path, { body, signal });
  }

  delete<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("DELETE", path, { query, signal });
  }

  /**
   * Every call the SDK makes is idempotent (plans, commits by digest, links, alias and tag
   * puts), so all of them are retried on network errors, 429 and 5xx; and, for longer, while
   * the registry answers that another upload is verifying a blob the request needs.
   */
  async request<T>(method: string, path: string, options: { body?: unknown; query?: Query; signal?: AbortSignal } = {}): Promise<T> {
    const target = new URL(`${this.url}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) target.searchParams.set(key, String(value));
    }
    const signal = options.signal ? { signal: options.signal } : {};
    const attempt = () =>
      retryWithBackoff(() => this.once<T>(method, target, options.body, options.signal), {
        ...DEFAULT_RETRY,
        retries: 3,
        ...this.options.retry,
        ...signal,
      });
    return retryWithBackoff(attempt, {
      ...BLOB_BUSY_RETRY,
      ...(this.options.retry?.sleep ? { sleep: this.options.retry.sleep } : {}),
      ...this.options.blobBusyRetry,
      shouldRetry: isBlobBusy,
      ...signal,
    });
  }

  private async once<T>(method: string, target: URL, body: unknown, signal?: AbortSignal): Promise<T> {
    let response: Answer;
    try {
      response = await this.fetch(target, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: "application/json",
          "user-agent": this.options.userAgent ?? "mreg-client",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      // No answer at all: status stays undefined, which the retry treats as transient.
      throw new ApiError(0, "unreachable", `cannot reach the registry at ${this.url}: ${describeCause(error)}`, {
        cause: error,
      });
    }
    const text = await response.text();
    if (!response.ok) throw toApiError(response.status, text, method, target);
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new ApiError(response.status, "bad_response", `the registry answered ${method} ${target.pathname} with invalid JSON`, {
        cause: error,
      });
    }
  }
}

function toApiError(status: number, text: string, method: string, target: URL): ApiError {
  let parsed;
  try {
    parsed = errorBody.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (parsed?.success) {
    const { code, message, ...details } = parsed.data.error;
    return new ApiError(status, code, message, { details });
  }
  const hint = status === 404 ? " (is this an mreg registry, and does it serve this route?)" : "";
  return new ApiError(status, "http_error", `${method} ${target.pathname} failed with HTTP ${status}${hint}`);
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? (error as NodeJS.ErrnoException).code ?? cause?.message ?? (error as Error).message ?? String(error);
}

/**
 * fetch's shape over node:http, the default transport. Every command of the CLI would pay
 * for fetch: its first call loads its implementation (about 20 ms of CPU), and its idle
 * kept-alive connection holds the process open about 85 ms after the last answer, where
 * node:http's lets it exit at once (measured on Node 20).
 */
const nodeHttp: Transport = async (url, init) => {
  const headers = init.body === undefined ? init.headers : { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) };
  for (let attempt = 0; ; attempt++) {
    const request = openRequest(url, init.method, headers, init.signal);
    let answered = false;
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        request.once("response", resolve);
        request.on("error", reject);
        request.end(init.body);
      });
      answered = true;
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      const status = response.statusCode ?? 0;
      return { status, ok: status >= 200 && status < 300, text: async () => text };
    } catch (error) {
      request.destroy();
      if (attempt === 0 && isStaleConnection(request, error, answered) && !init.signal?.aborted) continue;
      throw error;
    }
  }
};

/** Encodes each path segment: `seg("p", "a b")` → `/p/a%20b`. */
export function seg(...segments: (string | number)[]): string {
  return segments.map((s) => `/${encodeURIComponent(String(s))}`).join("");
}
