import { currentKey, signOut } from "./session";

/** An error answer of the API, `{"error": {"code", "message"}}`, with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole `error` object, with what a code adds (a 412 names the alias's `current` holder). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** A key to use instead of the session's (signing in checks a key before keeping it). */
  key?: string;
}

/** Path segments are user data (names may hold dots): each is encoded once. */
export function path(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? encodeURIComponent(String(values[i])) : ""), "");
}

export async function api<T>(route: string, options: RequestOptions = {}): Promise<T> {
  const key = options.key ?? currentKey();
  const url = new URL(route, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      // The key travels in a header; no cookies are involved.
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network", "The registry could not be reached. Check your connection and try again.");
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } & Record<string, unknown> } | undefined)?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `The registry answered ${response.status} ${response.statusText}.`,
      error ?? {},
    );
    // A key that stopped working (revoked, expired) ends the session, unless it is being tried out.
    if (response.status === 401 && options.key === undefined && key) signOut();
    throw failure;
  }
  return parsed as T;
}

/** What a person should read for a failed request: a 403 says plainly that the role is missing. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    if (error.status === 403) return { title: "You do not have access to this", detail: error.message };
    if (error.status === 404) return { title: "Not found", detail: error.message };
    if (error.status === 401) return { title: "Signed out", detail: "Your API key was not accepted. Sign in again." };
    if (error.status === 0) return { title: "Offline", detail: error.message };
    if (error.status >= 500) return { title: "The registry failed", detail: error.message };
    return { title: "Request refused", detail: error.message };
  }
  return { title: "Something went wrong", detail: error instanceof Error ? error.message : String(error) };
}
