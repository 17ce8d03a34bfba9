import * as z from "zod";

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
  /**
   * Another upload is verifying the same blob's bytes: nothing is wrong with the request, and
   * the same request succeeds once that verification ends or its holder is found gone. The
   * clients retry it with backoff.
   */
  blob_busy: 409,
  /** A compare-and-swap expectation (an alias's `expectedVersion`) did not hold: nothing was changed. */
  precondition_failed: 412,
  payload_too_large: 413,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
  /**
   * What the store holds no longer matches the registry's record of it (a manifest that does
   * not hash to its version's digest, or is gone). The registry's fault, not the caller's:
   * retrying does not help; an operator must restore the object.
   */
  integrity_error: 500,
  /** API Gateway gave up waiting for the function; the request may still complete. */
  timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one shape of an error answer, as a schema (lambdas/contract/openapi.ts documents it with each status). */
export const errorResponseBody = z.object({
  // Some errors carry details besides the message: a 412 names the alias's `current` holder.
  error: z.looseObject({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    /** The request's id, the one its log line (and API Gateway's access log) records. */
    requestId: z.string(),
  }),
});
export type ErrorResponseBody = z.infer<typeof errorResponseBody>;

/** The one shape of an error answer: `{"error": {"code", "message", "requestId", …details}}`. */
export function errorBodyOf(code: ErrorCode, message: string, requestId: string, details?: Record<string, unknown>): ErrorResponseBody {
  return { error: { ...details, code, message, requestId } };
}

/** What callers are told about a failure that is ours; the details go to the log only. */
export const INTERNAL_ERROR_MESSAGE = "internal error";
/** What throttled callers are told, whether the store or API Gateway throttled them. */
export const BUSY_MESSAGE = "the registry is busy; retry shortly";
