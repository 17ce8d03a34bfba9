import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  RegistryError,
  TooManyRequestsError,
  UnauthorizedError,
  UnprocessableError,
  ValidationError,
} from "../core/errors.js";

/** The one place where domain errors become HTTP statuses. */
const STATUS_BY_ERROR: [new (...args: never[]) => RegistryError, number][] = [
  [ValidationError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [PayloadTooLargeError, 413],
  [UnprocessableError, 422],
  [TooManyRequestsError, 429],
];

export function errorResponse(error: unknown): { status: number; body: { error: { code: string; message: string } } } {
  for (const [type, status] of STATUS_BY_ERROR) {
    if (error instanceof type) {
      return { status, body: { error: { code: error.code, message: error.message } } };
    }
  }
  if (isThrottling(error)) {
    return { status: 429, body: { error: { code: "too_many_requests", message: "the registry is busy; retry shortly" } } };
  }
  // Anything else is our fault: log it whole, tell the caller nothing about internals.
  console.error(JSON.stringify({ level: "error", message: "unhandled error", error: describe(error) }));
  return { status: 500, body: { error: { code: "internal", message: "internal error" } } };
}

function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === "ProvisionedThroughputExceededException" || name === "ThrottlingException" || name === "SlowDown";
}

function describe(error: unknown): unknown {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error);
}
