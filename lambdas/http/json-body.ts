import { ValidationError } from "../core/errors.js";
import { hasLoneSurrogate } from "../contract/user-json.js";

/** No request the route table serves nests deeper than user JSON (lambdas/contract/user-json.ts) under one field. */
export const MAX_BODY_DEPTH = 64;

/**
 * A request body as JSON, refused (400, naming where) when JSON.parse would quietly make it
 * something else than was sent, or when it could exhaust the stack of whatever walks it:
 * - nesting deeper than MAX_BODY_DEPTH;
 * - a number the double it becomes does not hold exactly (18446744073709551616 would be
 *   answered back as 18446744073709552000; 1e400 would be Infinity);
 * - a key twice in one object (JSON.parse keeps the last silently);
 * - a string or key with a lone surrogate escape (`"\ud800"`), which no UTF-8 store holds.
 * Parsing is JSON.parse's (native, iterative); one linear scan of the text checks the rest.
 */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError("request body is not valid JSON", { cause: error });
  }
  const problem = scan(text);
  if (problem) {
    const where = problem.path.length > 0 ? `${problem.path.join(".")}: ` : "";
    throw new ValidationError(`invalid request body: ${where}${problem.message}`);
  }
  return value;
}

interface Container {
  object: boolean;
  /** The key being read or the array index reached. */
  at: string | number;
  expectKey: boolean;
  keys?: Set<string>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Walks text already known to be valid JSON; the first problem found, with its path. */
function scan(text: string): { path: (string | number)[]; message: string } | undefined {
  const stack: Container[] = [];
  const path = () => stack.map((c) => c.at);
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i);
    const top = stack.at(-1);
    if (code === 0x7b /* { */ || code === 0x5b /* [ */) {
      if (stack.length >= MAX_BODY_DEPTH) return { path: path(), message: `nests deeper than ${MAX_BODY_DEPTH} levels` };
      stack.push(code === 0x7b ? { object: true, at: "", expectKey: true, keys: new Set() } : { object: false, at: 0, expectKey: false });
      i++;
    } else if (code === 0x7d /* } */ || code === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (code === 0x2c /* , */) {
      if (top?.object) top.expectKey = true;
      else if (top) top.at = (top.at as number) + 1;
      i++;
    } else if (code === QUOTE) {
      const end = stringEnd(text, i);
      const raw = text.slice(i, end + 1);
      const escaped = raw.includes("\\");
      const decoded = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      if (top?.object && top.expectKey) {
        top.at = decoded;
        top.expectKey = false;
        if (top.keys!.has(decoded)) return { path: path(), message: "appears twice in one object" };
        top.keys!.add(decoded);
        if (escaped && hasLoneSurrogate(decoded)) return { path: path(), message: "keys must be well-formed Unicode (lone surrogate)" };
      } else if (escaped && hasLoneSurrogate(decoded)) {
        return { path: path(), message: "must be well-formed Unicode (it holds a lone surrogate)" };
      }
      i = end + 1;
    } else if (code === 0x2d /* - */ || (code >= 0x30 && code <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const literal = text.slice(i, end);
      const problem = numberProblem(literal);
      if (problem) return { path: path(), message: problem };
      i = end;
    } else {
      // Whitespace, `:`, and the letters of true, false and null.
      i++;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function isNumberChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || code === 0x2e || code === 0x65 || code === 0x45 || code === 0x2b || code === 0x2d;
}

/**
 * Why a JSON number literal does not survive as a double, or undefined. It survives when the
 * double's shortest form (what any JSON answer carries) has the literal's decimal value:
 * `0.1`, `1e20`, `100` and `1.50` do; `18446744073709551616` and `0.10000000000000001` do not.
 */
export function numberProblem(literal: string): string | undefined {
  // At most 15 significant digits in the normal range always come back as written.
  if (literal.length <= 15 && !/[eE]/.test(literal)) return undefined;
  const value = Number(literal);
  if (!Number.isFinite(value)) return `${literal} is too large for a number`;
  const back = String(value);
  if (decimalOf(literal) === decimalOf(back)) return undefined;
  return `${literal} cannot be held exactly as a number (it would come back as ${back}); send it as a string`;
}

/** A decimal literal as `sign digits e exponent`, without leading or trailing zeros: equal text, equal value. */
function decimalOf(literal: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  const digits = whole + fraction;
  const leading = digits.length - digits.replace(/^0+/, "").length;
  const significant = digits.slice(leading).replace(/0+$/, "");
  if (significant === "") return "0";
  const point = whole.length + Number(exponent) - leading;
  return `${sign}${significant}e${point}`;
}
