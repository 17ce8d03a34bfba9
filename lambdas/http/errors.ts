import { BUSY_MESSAGE, ERROR_STATUS, INTERNAL_ERROR_MESSAGE, errorBodyOf, type ErrorResponseBody } from "../contract/errors.js";
import { RegistryError } from "../core/errors.js";

export interface ErrorAnswer {
  status: number;
  body: ErrorResponseBody;
  /** Set when the failure is ours: the caller learns nothing of it, the log everything. */
  internal?: unknown;
}

/** The one place where a thrown error becomes an HTTP answer: its code's status from lambdas/contract/errors.ts. */
export function errorResponse(error: unknown, requestId: string): ErrorAnswer {
  if (error instanceof RegistryError) {
    return { status: ERROR_STATUS[error.code], body: errorBodyOf(error.code, error.message, requestId, error.details) };
  }
  if (isThrottling(error)) {
    return { status: ERROR_STATUS.too_many_requests, body: errorBodyOf("too_many_requests", BUSY_MESSAGE, requestId) };
  }
  return { status: ERROR_STATUS.internal, body: errorBodyOf("internal", INTERNAL_ERROR_MESSAGE, requestId), internal: error };
}

function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === "ProvisionedThroughputExceededException" || name === "ThrottlingException" || name === "SlowDown";
}
