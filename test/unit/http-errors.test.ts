import { describe, expect, it } from "vitest";
import { ERROR_STATUS, errorBodyOf, type ErrorCode } from "../../lambdas/contract/errors.js";
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
    expect(errorResponse(error, "req-1")).toEqual({ status, body: { error: { code, message: error.message, requestId: "req-1" } } });
  });

  it.each(["ThrottlingException", "ProvisionedThroughputExceededException", "SlowDown"])("maps the store's %s to 429", (name) => {
    const error = Object.assign(new Error("Rate exceeded for table mreg-prod"), { name });
    expect(errorResponse(error, "req-2")).toEqual({
      status: 429,
      body: { error: { code: "too_many_requests", message: "the registry is busy; retry shortly", requestId: "req-2" } },
    });
  });

  it("turns anything else into a 500 that leaks nothing, handing the error on for the log", () => {
    const error = new Error("connect ECONNREFUSED 10.0.0.7:8000 table arn:aws:dynamodb:eu-west-1:123456789012:table/mreg");

    const { internal, ...response } = errorResponse(error, "req-3");

    expect(response).toEqual({ status: 500, body: { error: { code: "internal", message: "internal error", requestId: "req-3" } } });
    expect(JSON.stringify(response)).not.toContain("ECONNREFUSED");
    expect(internal).toBe(error);
  });

  it.each([
    ["a string", "boom"],
    ["null", null],
    ["undefined", undefined],
    ["a TypeError", new TypeError("x is undefined")],
  ])("turns %s into a 500", (_, thrown) => {
    expect(errorResponse(thrown, "r").status).toBe(500);
  });

  it("answers every code with the status the contract's table gives it", () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(errorBodyOf(code as ErrorCode, "m", "r")).toEqual({ error: { code, message: "m", requestId: "r" } });
      expect(status).toBeGreaterThanOrEqual(400);
    }
    for (const error of [new ValidationError("x"), new ConflictError("x"), new UnprocessableError("x")]) {
      expect(errorResponse(error, "r").status).toBe(ERROR_STATUS[error.code]);
    }
  });
});
