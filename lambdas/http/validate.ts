import type { z } from "zod";
import { ValidationError } from "../core/errors.js";

/** Parses with one schema per request; issues become one readable 400 message. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 10)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message));
  throw new ValidationError(`invalid ${what}: ${issues.join("; ")}`);
}
