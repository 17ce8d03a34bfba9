/**
 * Every error code the registry answers with, and its HTTP status: the handlers, the local
 * server and API Gateway's own gateway responses (infra/constructs/registry-api.ts) all
 * build their error bodies from this table through `errorBodyOf`.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  /** API Gateway refused the request before any function saw it, for a reason of its own. */
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  /** A compare-and-swap expectation (an alias's `expectedVersion`) did not hold: nothing was changed. */
  precondition_failed: 412,
  payload_too_large: 413,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
  /** API Gateway gave up waiting for the function; the request may still complete. */
  timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorResponseBody {
  /** Some errors carry details besides the message: a 412 names the alias's `current` holder. */
  error: { code: ErrorCode; message: string; requestId: string; [detail: string]: unknown };
}

/** The one shape of an error answer: `{"error": {"code", "message", "requestId", …details}}`. */
export function errorBodyOf(code: ErrorCode, message: string, requestId: string, details?: Record<string, unknown>): ErrorResponseBody {
  return { error: { ...details, code, message, requestId } };
}

/** What callers are told about a failure that is ours; the details go to the log only. */
export const INTERNAL_ERROR_MESSAGE = "internal error";
/** What throttled callers are told, whether the store or API Gateway throttled them. */
export const BUSY_MESSAGE = "the registry is busy; retry shortly";
