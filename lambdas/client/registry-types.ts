/**
 * Response shapes of the registry routes (DESIGN.md, "Shapes that clients rely on") that
 * the server's schemas do not export yet.
 */
import type { VersionResponse } from "../schemas/artifacts.js";

export interface VersionSource {
  project: string;
  artifact: string;
  version: string;
}

/** A version of a registry collection: the linked artifact version, numbered per collection. */
export type CollectionVersionResponse = Omit<VersionResponse, "project" | "artifact"> & {
  registry?: string;
  collection?: string;
  source: VersionSource;
};

export interface LinkResponse {
  version: string;
  index: number;
  created: boolean;
  [field: string]: unknown;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface HistoryEvent {
  action: string;
  actor: string;
  at: string;
  [detail: string]: unknown;
}
