/** Response shapes the SDK returns; the registry's own schemas where they exist. */
export type {
  CollectionResponse,
  CollectionVersionResponse,
  LinkResponse,
  RegistryResponse,
} from "../../../lambdas/contract/registries.js";

export interface VersionSource {
  project: string;
  artifact: string;
  version: string;
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
