import type { ErrorCode } from "../contract/errors.js";

/** One error hierarchy for the whole registry; each code's HTTP status is in lambdas/contract/errors.ts. */
export abstract class RegistryError extends Error {
  abstract readonly code: ErrorCode;
  /** Fields the error body carries besides the message (lambdas/contract/errors.ts). */
  readonly details?: Record<string, unknown>;
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options);
    this.name = new.target.name;
    if (options?.details !== undefined) this.details = options.details;
  }
}

export class ValidationError extends RegistryError {
  readonly code = "invalid_request";
}

export class UnauthorizedError extends RegistryError {
  readonly code = "unauthorized";
}

export class ForbiddenError extends RegistryError {
  readonly code = "forbidden";
}

export class NotFoundError extends RegistryError {
  readonly code = "not_found";
}

export class ConflictError extends RegistryError {
  readonly code = "conflict";
}

/** Another request holds the claim to verify a blob the request needs: retry the same request shortly. */
export class BlobBusyError extends RegistryError {
  readonly code = "blob_busy";
}

/** A compare-and-swap expectation did not hold; `details.current` names what holds the alias now. */
export class PreconditionFailedError extends RegistryError {
  readonly code = "precondition_failed";
}

export class PayloadTooLargeError extends RegistryError {
  readonly code = "payload_too_large";
}

/** The request is well-formed but refers to bytes or objects that do not check out. */
export class UnprocessableError extends RegistryError {
  readonly code = "unprocessable";
}

export class TooManyRequestsError extends RegistryError {
  readonly code = "too_many_requests";
}

/**
 * Stored data no longer matches what the registry recorded of it (a manifest whose bytes do
 * not hash to the version's digest, or that is gone): it is refused, never served.
 */
export class IntegrityError extends RegistryError {
  readonly code = "integrity_error";
}
