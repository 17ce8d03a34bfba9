import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnprocessableError,
  ValidationError,
} from "../../lambdas/core/errors.js";
import { errorResponse } from "../../lambdas/http/errors.js";

let logged: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  logged = vi.spyOn(console, "error").mockImplementation(() => {});
});

afterEach(() => {
  logged.mockRestore();
});

describe("errorResponse", () => {
  it.each([
    [new ValidationError("bad name"), 400, "invalid_request"],
    [new UnauthorizedError("no key"), 401, "unauthorized"],
    [new ForbiddenError("viewer"), 403, "forbidden"],
    [new NotFoundError("no v9"), 404, "not_found"],
    [new ConflictError("type"), 409, "conflict"],
    [new PayloadTooLargeError("big"), 413, "payload_too_large"],
    [new UnprocessableError("bytes"), 422, "unprocessable"],
    [new TooManyRequestsError("slow down"), 429, "too_many_requests"],
  ])("maps %s to %i", (error, status, code) => {
    expect(errorResponse(error)).toEqual({ status, body: { error: { code, message: error.message } } });
    expect(logged).not.toHaveBeenCalled();
  });

  it.each(["ThrottlingException", "ProvisionedThroughputExceededException", "SlowDown"])(
    "maps the store's %s to 429",
    (name) => {
      const error = Object.assign(new Error("Rate exceeded for table mreg-prod"), { name });
      expect(errorResponse(error)).toEqual({
        status: 429,
        body: { error: { code: "too_many_requests", message: "the registry is busy; retry shortly" } },
      });
    },
  );

  it("turns anything else into a 500 that leaks nothing, and logs it whole", () => {
    const error = new Error("connect ECONNREFUSED 10.0.0.7:8000 table arn:aws:dynamodb:eu-west-1:123456789012:table/mreg");

    const response = errorResponse(error);

    expect(response).toEqual({ status: 500, body: { error: { code: "internal", message: "internal error" } } });
    expect(JSON.stringify(response)).not.toContain("ECONNREFUSED");
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]![0])).toContain("ECONNREFUSED");
  });

  it.each([["a string", "boom"], ["null", null], ["undefined", undefined], ["a TypeError", new TypeError("x is undefined")]])(
    "turns %s into a 500",
    (_, thrown) => {
      expect(errorResponse(thrown).status).toBe(500);
    },
  );
});
