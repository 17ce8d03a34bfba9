import type { FileResponse } from "../api/types";

/** A nested metadata object as dotted keys (`train.lr`), arrays and scalars as leaves. */
export function flattenMetadata(value: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner) && Object.keys(inner).length > 0) {
      Object.assign(out, flattenMetadata(inner as Record<string, unknown>, name));
    } else {
      out[name] = inner;
    }
  }
  return out;
}

export interface MetadataRow {
  key: string;
  /** One value per version, in the order given; undefined where a version lacks the key. */
  values: unknown[];
  differs: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Metadata of several versions side by side: every key any of them has, sorted, flagged where they differ. */
export function compareMetadata(metadata: Record<string, unknown>[]): MetadataRow[] {
  const flat = metadata.map((m) => flattenMetadata(m));
  const keys = [...new Set(flat.flatMap((m) => Object.keys(m)))].sort((a, b) => a.localeCompare(b));
  return keys.map((key) => {
    const values = flat.map((m) => (Object.hasOwn(m, key) ? m[key] : undefined));
    return { key, values, differs: values.some((v) => !same(v, values[0])) };
  });
}

export type FileChange =
  | { kind: "added"; path: string; after: FileResponse }
  | { kind: "removed"; path: string; before: FileResponse }
  | { kind: "changed"; path: string; before: FileResponse; after: FileResponse }
  | { kind: "unchanged"; path: string; after: FileResponse };

/** What identifies a file's content: its SHA-256, or for a reference the object it pins. */
function contentOf(file: FileResponse): string {
  if (file.sha256) return `sha256:${file.sha256}`;
  return `ref:${file.ref ?? ""}#${file.etag ?? ""}#${file.versionId ?? ""}#${file.size}`;
}

/** Files of `after` against `before`, by path: added, removed, changed (by hash) or unchanged, in path order. */
export function diffFiles(before: FileResponse[], after: FileResponse[]): FileChange[] {
  const old = new Map(before.map((f) => [f.path, f]));
  const now = new Map(after.map((f) => [f.path, f]));
  const paths = [...new Set([...old.keys(), ...now.keys()])].sort();
  return paths.map((path): FileChange => {
    const b = old.get(path);
    const a = now.get(path);
    if (!b) return { kind: "added", path, after: a! };
    if (!a) return { kind: "removed", path, before: b };
    return contentOf(a) === contentOf(b) ? { kind: "unchanged", path, after: a } : { kind: "changed", path, before: b, after: a };
  });
}

export function summarizeChanges(changes: FileChange[]): Record<FileChange["kind"], number> {
  const counts = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  for (const change of changes) counts[change.kind]++;
  return counts;
}
