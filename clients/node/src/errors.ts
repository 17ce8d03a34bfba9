/** A failure the user can act on; its message is the one line the CLI prints. */
export class MregError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The registry answered with an error body (`{error: {code, message}}`); status 0: no answer at all. */
export class ApiError extends MregError {
  /** Fields of the error body besides code and message: a 412 names the alias's `current` holder. */
  readonly details: Record<string, unknown>;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.details = options?.details ?? {};
  }
}

/** A presigned transfer to or from the store failed. */
export class TransferError extends MregError {
  constructor(
    message: string,
    /** The HTTP status when the store answered, undefined for network failures. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What the registry or the store handed over does not match what the version records (a file
 * list that does not hash to the version's digest, bytes that do not hash to their entry's
 * SHA-256). Never retried; nothing of it is left on disk.
 */
export class IntegrityError extends MregError {}

/** The caller's AbortSignal fired. */
export class AbortedError extends MregError {
  constructor(reason?: unknown) {
    super(typeof reason === "string" ? reason : "aborted", { cause: reason });
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(signal.reason);
}
