import * as z from "zod";

/**
 * The one rule for JSON a user hands the registry to keep (artifact metadata, run config,
 * metric values): what DynamoDB stores as given and every client reads back unchanged.
 * Anything else is a 400 naming where it is, never a 500 from the store or a value that
 * comes back different. README, "Input rules", says the same for users.
 */

/**
 * Levels of objects and arrays, the value itself counting as one. DynamoDB stores 32
 * counting the item, and an artifact version's metadata also sits one level down in its
 * alias items (lambdas/adapters/dynamodb/artifact-store.ts).
 */
export const MAX_USER_JSON_DEPTH = 30;
/** Characters of the value's JSON text: its items stay far below DynamoDB's 400 KB. */
export const MAX_USER_JSON_LENGTH = 64 * 1024;
/** DynamoDB's numbers: 0, or a magnitude from 1e-130 up to (not including) 1e126. */
export const MIN_STORED_MAGNITUDE = 1e-130;
export const MAX_STORED_MAGNITUDE = 1e126;
/**
 * A key no JavaScript client can hold as an ordinary key: JSON.parse makes it one, but the
 * AWS SDK's (un)marshaller and every `obj[key] = …` turn it into the object's prototype.
 */
export const RESERVED_KEY = "__proto__";

export interface JsonProblem {
  path: (string | number)[];
  message: string;
}

/** True when `text` holds a UTF-16 surrogate without its pair: no UTF-8 file, header or store can carry it. */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xd800 || code > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return true;
    i++;
  }
  return false;
}

/** A number DynamoDB can store: finite, and 0 or within its magnitude range. */
export function isStorableNumber(value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const magnitude = Math.abs(value);
  return magnitude === 0 || (magnitude >= MIN_STORED_MAGNITUDE && magnitude < MAX_STORED_MAGNITUDE);
}

export const NUMBER_RANGE_MESSAGE = "is outside the range a number can be stored in (0, or 1e-130 up to 1e126 in magnitude)";

interface Visit {
  value: unknown;
  depth: number;
  parent?: Visit;
  key?: string | number;
}

function pathOf(visit: Visit): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) path.unshift(at.key);
  return path;
}

/**
 * The first thing in `value` the rule refuses, with where it is; undefined when it may be
 * stored. Walks with its own stack (never the call stack), and stops as soon as the text
 * would grow past MAX_USER_JSON_LENGTH, so any input costs at most that much work.
 */
export function userJsonProblem(value: unknown): JsonProblem | undefined {
  const stack: Visit[] = [{ value, depth: 0 }];
  let length = 0;
  const problem = (visit: Visit, message: string) => ({ path: pathOf(visit), message });
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const item = visit.value;
    if (item === null) {
      length += 4;
    } else if (typeof item === "boolean") {
      length += item ? 4 : 5;
    } else if (typeof item === "number") {
      if (!isStorableNumber(item)) return problem(visit, NUMBER_RANGE_MESSAGE);
      length += String(item).length;
    } else if (typeof item === "string") {
      if (hasLoneSurrogate(item)) return problem(visit, "must be well-formed Unicode (it holds a lone surrogate)");
      length += JSON.stringify(item).length;
    } else if (typeof item === "object") {
      const depth = visit.depth + 1;
      if (depth > MAX_USER_JSON_DEPTH) {
        return problem(visit, `nests deeper than ${MAX_USER_JSON_DEPTH} levels of objects and arrays`);
      }
      if (Array.isArray(item)) {
        length += 2 + Math.max(0, item.length - 1);
        for (let i = item.length - 1; i >= 0; i--) stack.push({ value: item[i], depth, parent: visit, key: i });
      } else {
        const keys = Object.keys(item);
        length += 2 + Math.max(0, keys.length - 1);
        for (const key of keys) {
          const child: Visit = { value: (item as Record<string, unknown>)[key], depth, parent: visit, key };
          if (key === "") return problem(child, "empty keys cannot be stored");
          if (key === RESERVED_KEY) return problem(child, `${RESERVED_KEY} is not accepted as a key (JavaScript clients cannot hold it)`);
          if (hasLoneSurrogate(key)) return problem(child, "keys must be well-formed Unicode (this one holds a lone surrogate)");
          length += JSON.stringify(key).length + 1;
        }
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i]!;
          stack.push({ value: (item as Record<string, unknown>)[key], depth, parent: visit, key });
        }
      }
    } else {
      return problem(visit, "is not a JSON value");
    }
    if (length > MAX_USER_JSON_LENGTH) return { path: [], message: `must serialise to at most ${MAX_USER_JSON_LENGTH / 1024} KiB` };
  }
  return undefined;
}

/** A JSON object that follows the rule above, kept as given (no copy: its keys stay its own). */
export const userJsonObject = z
  .custom<Record<string, unknown>>((value) => typeof value === "object" && value !== null && !Array.isArray(value), {
    message: "must be a JSON object",
  })
  .superRefine((value, ctx) => {
    const found = userJsonProblem(value);
    if (found) ctx.addIssue({ code: "custom", message: found.message, path: found.path });
  });

/**
 * A record as z.record reads it, but refusing a `__proto__` key rather than leaving it out
 * of what it answers (which zod does: the value would be dropped without a word).
 */
export function recordKeepingKeys<S extends z.ZodType>(record: S) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      if (typeof value === "object" && value !== null && Object.hasOwn(value, RESERVED_KEY)) {
        ctx.addIssue({
          code: "custom",
          message: `${RESERVED_KEY} is not accepted as a key (JavaScript clients cannot hold it)`,
          path: [RESERVED_KEY],
        });
      }
    })
    .pipe(record);
}

/** A number a user logs (a metric value): stored as given, so within DynamoDB's range. */
export const userNumber = z.number().refine(isStorableNumber, { message: NUMBER_RANGE_MESSAGE });
