import { flattenMetadata } from "./diff";

export interface VersionMetadata {
  version: string;
  index: number;
  metadata: Record<string, unknown>;
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Metadata keys (dotted) that hold a number in at least two of the versions: the ones worth a chart. */
export function numericKeys(versions: VersionMetadata[]): string[] {
  const counts = new Map<string, number>();
  for (const version of versions) {
    for (const [key, value] of Object.entries(flattenMetadata(version.metadata))) {
      if (numeric(value) !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts]
    .filter(([, n]) => n >= Math.min(2, versions.length))
    .map(([key]) => key)
    .sort();
}

export interface Series {
  key: string;
  /** Versions in link order (oldest first), as chart labels. */
  labels: string[];
  /** X positions: the versions' numbers. */
  x: number[];
  /** The key's value per version; null where a version lacks it or it is not a number. */
  y: (number | null)[];
  min: number | null;
  max: number | null;
  /** The version with the highest value (ties: the newest). */
  best: string | null;
}

/** One numeric metadata key across versions, oldest first: what the "compare performance" chart draws. */
export function seriesFor(versions: VersionMetadata[], key: string): Series {
  const sorted = [...versions].sort((a, b) => a.index - b.index);
  const y = sorted.map((v) => numeric(flattenMetadata(v.metadata)[key]) ?? null);
  const present = y.filter((v): v is number => v !== null);
  let best: string | null = null;
  let bestValue = -Infinity;
  sorted.forEach((v, i) => {
    const value = y[i];
    if (value !== null && value !== undefined && value >= bestValue) {
      bestValue = value;
      best = v.version;
    }
  });
  return {
    key,
    labels: sorted.map((v) => v.version),
    x: sorted.map((v) => v.index),
    y,
    min: present.length ? Math.min(...present) : null,
    max: present.length ? Math.max(...present) : null,
    best,
  };
}
