import { ApiError } from "../api/client";

type Json = Record<string, unknown>;

export type MetadataEdit = { ok: true; patch: Json; set: string[]; removed: string[] } | { ok: false; error: string };

/** Key order does not make two values different. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The PATCH body's `metadata` for an edited JSON object: the server merges it key by key
 * (lambdas/core, README "Editing"), so only changed keys are sent, and a key that is gone
 * from the edit is sent as `null`, which removes it. A key whose new value is `null` would
 * be removed as well, so it is refused rather than silently dropped.
 */
export function metadataPatch(original: Json, editedText: string): MetadataEdit {
  let edited: unknown;
  try {
    edited = JSON.parse(editedText);
  } catch (error) {
    return { ok: false, error: `Not valid JSON: ${(error as Error).message}` };
  }
  if (edited === null || typeof edited !== "object" || Array.isArray(edited)) {
    return { ok: false, error: 'Metadata is a JSON object: { "key": value, … }.' };
  }
  const next = edited as Json;
  const patch: Json = {};
  const set: string[] = [];
  const removed: string[] = [];
  for (const [key, value] of Object.entries(next)) {
    if (value === null) return { ok: false, error: `${key} is null: remove the key instead (null is how a key is removed).` };
    if (!(key in original) || canonical(original[key]) !== canonical(value)) {
      patch[key] = value;
      set.push(key);
    }
  }
  for (const key of Object.keys(original)) {
    if (!(key in next)) {
      patch[key] = null;
      removed.push(key);
    }
  }
  return { ok: true, patch, set, removed };
}

/** A description as the PATCH sends it: blank removes it. */
export function descriptionValue(text: string): string | null {
  return text.trim() === "" ? null : text;
}

/**
 * An alias move as a compare-and-swap: the alias must still name what the page showed
 * (`null`: not set), so two people moving it at once cannot silently overwrite each other.
 */
export function aliasMoveBody(version: string, shown: string | undefined): { version: string; expectedVersion: string | null } {
  return { version, expectedVersion: shown ?? null };
}

/** The message for a move refused because the alias changed since the page read it (412), or null for any other failure. */
export function aliasConflictMessage(alias: string, error: unknown): string | null {
  if (!(error instanceof ApiError) || error.status !== 412) return null;
  const current = error.details.current;
  return typeof current === "string"
    ? `${alias} was moved meanwhile to ${current}: the page now shows it; choose again.`
    : `${alias} was removed meanwhile: the page now shows it; choose again.`;
}

/** The whole tag set after adding or removing one (the collection PATCH replaces the set). */
export function nextTags(tags: string[], tag: string, add: boolean): string[] {
  return add ? (tags.includes(tag) ? tags : [...tags, tag]) : tags.filter((t) => t !== tag);
}
