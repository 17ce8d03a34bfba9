import * as z from "zod";
import { S3_LIMITS } from "./limits.js";

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const name = z.string().regex(NAME_PATTERN, "must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");

/** Aliases share the name rules but must not be readable as a version (`v3`, `3`). */
export const alias = name.refine((value) => !/^v?\d+$/.test(value), {
  message: "must not look like a version number",
});

export const sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters")
  .transform((value) => value.toLowerCase());

/** S3 caps one object at 5 TiB; anything larger cannot be a real file. */
export const MAX_FILE_SIZE = S3_LIMITS.maxObjectSize;

export const size = z.int().min(0).max(MAX_FILE_SIZE);

/** C0 controls, DEL and the C1 controls (U+0080–U+009F): no file system a client writes to wants them in a name. */
export function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

export const filePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((value) => !value.startsWith("/"), { message: "must be relative" })
  .refine((value) => !value.includes("\\"), { message: "must use / as separator" })
  .refine((value) => !hasControlCharacter(value), {
    message: "must not contain control characters",
  })
  .refine((value) => value.split("/").every((s) => s !== "" && s !== "." && s !== ".."), {
    message: "must not contain empty, '.' or '..' segments",
  });

export const metadata = z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= 64 * 1024, {
  message: "must serialise to at most 64 KiB",
});

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(2048).optional(),
});

/** An error answer as clients read it: the code, the message, and whatever details the error carries (a 412's `current`). */
export const errorBody = z.object({
  error: z.looseObject({ code: z.string(), message: z.string() }),
});
