import * as z from "zod";
import { S3_LIMITS } from "./limits.js";
import { hasLoneSurrogate, userJsonObject } from "./user-json.js";

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const name = z.string().regex(NAME_PATTERN, "must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");

/** Aliases share the name rules but must not be readable as a version (`v3`, `3`). */
export const alias = name.refine((value) => !/^v?\d+$/.test(value), {
  message: "must not look like a version number",
});

/** The alias every append moves by itself. */
export const AUTOMATIC_ALIAS = "latest";

/** An alias a request may set (a commit's, a link's) or protect: any but the automatic one. */
export const settableAlias = alias.refine((value) => value !== AUTOMATIC_ALIAS, {
  message: "latest is maintained by the registry and cannot be set by hand",
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

/** Characters Windows refuses in a file name (`:` would also open an NTFS alternate data stream). */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
/** Device names Windows reserves, alone or before an extension (`nul`, `CON.txt`, `com1.json`). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]) *(\.|$)/i;
/** ext4, APFS and NTFS all cap one name at 255 (bytes, or UTF-16 units): counted in UTF-8, the strictest. */
const MAX_SEGMENT_BYTES = 255;
const utf8 = new TextEncoder();

/**
 * Why a manifest path cannot be written on every OS a client runs on (Linux, macOS,
 * Windows), or undefined. README, "Input rules", lists the rules.
 */
export function pathProblem(value: string): string | undefined {
  if (value.startsWith("/")) return "must be relative";
  if (value.includes("\\")) return "must use / as separator";
  if (hasControlCharacter(value)) return "must not contain control characters";
  if (hasLoneSurrogate(value)) return "must be well-formed Unicode";
  for (const segment of value.split("/")) {
    if (segment === "" || segment === "." || segment === "..") return "must not contain empty, '.' or '..' segments";
    if (WINDOWS_FORBIDDEN.test(segment)) return 'must not contain < > : " | ? * (Windows cannot write them)';
    if (segment.endsWith(".") || segment.endsWith(" ")) return "no name in it may end with a dot or a space (Windows drops them)";
    if (WINDOWS_DEVICE.test(segment)) return `must not use the Windows device name ${segment.split(".")[0]!.trim()} as a name`;
    if (utf8.encode(segment).length > MAX_SEGMENT_BYTES) return `no name in it may be longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

export const filePath = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((value, ctx) => {
    const problem = pathProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * Paths of one manifest that one OS would write to one place: equal once case and Unicode
 * normalisation are ignored (macOS and Windows do), or a file that is also a directory of
 * another path (`a` and `a/b`). Each clash once, at the later path's index.
 */
export function manifestPathClashes(paths: string[]): { index: number; message: string }[] {
  const fold = (path: string) => path.normalize("NFC").toLowerCase();
  const files = new Map<string, string>();
  const clashes: { index: number; message: string }[] = [];
  for (const [index, path] of paths.entries()) {
    const folded = fold(path);
    const same = files.get(folded);
    if (same !== undefined && same !== path) {
      clashes.push({ index, message: `${path} and ${same} differ only in case or Unicode normalisation (one file on macOS and Windows)` });
    }
    if (same === undefined) files.set(folded, path);
  }
  const directories = new Map<string, string>();
  for (const path of paths) {
    const segments = fold(path).split("/");
    for (let i = 1; i < segments.length; i++) {
      const directory = segments.slice(0, i).join("/");
      if (!directories.has(directory)) directories.set(directory, path);
    }
  }
  for (const [index, path] of paths.entries()) {
    const inside = directories.get(fold(path));
    if (inside !== undefined) clashes.push({ index, message: `${path} is a file and also a directory (of ${inside})` });
  }
  return clashes;
}

/** Free text a user writes (descriptions): tabs and line breaks, but no other control character. */
export function text(max: number) {
  return z
    .string()
    .max(max)
    .refine((value) => !hasControlCharacter(value.replace(/[\t\n\r]/g, "")), { message: "must not contain control characters" })
    .refine((value) => !hasLoneSurrogate(value), { message: "must be well-formed Unicode" });
}

/** A one-line label (a run's or an automation's name, a display name): no control character at all. */
export function label(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !hasControlCharacter(value), { message: "must not contain control characters" })
    .refine((value) => !hasLoneSurrogate(value), { message: "must be well-formed Unicode" });
}

/** User JSON: see ./user-json.ts. */
export const metadata = userJsonObject;

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(2048).optional(),
});

/** An error answer as clients read it: the code, the message, and whatever details the error carries (a 412's `current`). */
export const errorBody = z.object({
  error: z.looseObject({ code: z.string(), message: z.string() }),
});
