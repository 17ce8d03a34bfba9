// The wire contract, shared with the server and the Node client; types only, nothing of it is bundled.
export type { ApiKeyResponse, CreatedApiKeyResponse, UserResponse } from "../../../lambdas/contract/admin.js";
export type { ArtifactResponse, FileResponse, VersionResponse } from "../../../lambdas/contract/artifacts.js";
export type { AutomationResponse, DeliveryResponse } from "../../../lambdas/contract/automations.js";
export type {
  CollectionResponse,
  CollectionVersionResponse,
  LinkResponse,
  RegistryResponse,
} from "../../../lambdas/contract/registries.js";
export type { MemberResponse, MembershipsResponse, ProjectResponse, PromotionResponse } from "../../../lambdas/contract/responses.js";
export type { LineageEdge, LineageNode, LineageResponse, RunResponse } from "../../../lambdas/contract/runs.js";

export type Role = "viewer" | "member" | "admin";

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** One audit event: the action, who and when, and the details the action carries. */
export interface AuditEvent {
  action: string;
  actor: string;
  at: string;
  version?: string;
  alias?: string;
  from?: string;
  to?: string;
  tag?: string;
  [detail: string]: unknown;
}
