export { MregClient, type MregClientOptions, type PageOptions, type RefInput } from "./mreg-client.js";
export type { LogArtifactOptions, LogArtifactResult } from "./log-artifact.js";
export type { UseArtifactOptions, UseArtifactResult } from "./use-artifact.js";
export type { ProgressPhase, ProgressReporter } from "./progress.js";
export { parseRef, formatRef, type Ref } from "./parse-ref.js";
export { ApiError, MregError, TransferError, AbortedError } from "./errors.js";
export type {
  CollectionResponse,
  CollectionVersionResponse,
  HistoryEvent,
  LinkResponse,
  Page,
  RegistryResponse,
  VersionSource,
} from "./registry-types.js";
