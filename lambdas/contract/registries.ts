import * as z from "zod";
import { alias, name, pageQuery } from "./common.js";

export const MAX_TAGS = 20;

export const registryRole = z.enum(["viewer", "member", "admin"]);

/** Distinct registry admins who must approve a move of a protected alias; 0 lets admins move it directly. */
export const MAX_APPROVALS_REQUIRED = 10;
const approvalsRequired = z.int().min(0).max(MAX_APPROVALS_REQUIRED);

export const createRegistryRequest = z.strictObject({
  name,
  description: z.string().max(4096).optional(),
  visibility: z.enum(["organization", "restricted"]).default("organization"),
  artifactTypes: z.array(name).min(1).max(50).optional(),
  protectedAliases: z.array(alias).max(50).default([]),
  approvalsRequired: approvalsRequired.optional(),
});
export type CreateRegistryRequest = z.infer<typeof createRegistryRequest>;

/** What registry admins may change after creation; `description: null` removes it. */
export const updateRegistryRequest = z
  .strictObject({
    description: z.string().max(4096).nullable().optional(),
    approvalsRequired: approvalsRequired.optional(),
  })
  .refine((request) => request.description !== undefined || request.approvalsRequired !== undefined, {
    message: "name description or approvalsRequired to change",
  });
export type UpdateRegistryRequest = z.infer<typeof updateRegistryRequest>;

/** A collection's markdown description (its model card) and its tags (the whole set); `description: null` removes it. */
export const updateCollectionRequest = z
  .strictObject({
    description: z.string().max(4096).nullable().optional(),
    tags: z.array(name).max(MAX_TAGS).optional(),
  })
  .refine((request) => request.description !== undefined || request.tags !== undefined, {
    message: "name description or tags to change",
  });
export type UpdateCollectionRequest = z.infer<typeof updateCollectionRequest>;

/** `?force=true` unlinks every version first (each with its event); without it a collection with links is a 409. */
export const deleteCollectionQuery = z.object({ force: z.enum(["true", "false"]).optional() });

export const promotionRequest = z.strictObject({
  alias,
  version: z.union([z.string().min(1).max(140), z.int().min(0)]),
  note: z.string().max(2048).optional(),
});
export type PromotionRequest = z.infer<typeof promotionRequest>;

export const promotionDecision = z.strictObject({ note: z.string().max(2048).optional() });

export const promotionsQuery = pageQuery.extend({
  status: z.enum(["pending", "approved", "rejected", "stale"]).optional(),
});

export const createCollectionRequest = z.strictObject({
  name,
  type: name,
  description: z.string().max(4096).optional(),
  tags: z.array(name).max(MAX_TAGS).default([]),
});
export type CreateCollectionRequest = z.infer<typeof createCollectionRequest>;

export const collectionsQuery = pageQuery.extend({
  q: z.string().min(1).max(128).optional(),
  tag: name.optional(),
});

export const linkRequest = z.strictObject({
  project: name,
  artifact: name,
  version: z.union([z.string().min(1).max(140), z.int().min(0)]),
  aliases: z.array(alias).max(10).optional(),
  /** Used only when the link creates the collection. */
  description: z.string().max(4096).optional(),
});
export type LinkRequest = z.infer<typeof linkRequest>;

export const memberRequest = z.strictObject({ role: registryRole });

export interface RegistryResponse {
  name: string;
  description: string | null;
  visibility: "organization" | "restricted";
  artifactTypes: string[] | null;
  protectedAliases: string[];
  /** Distinct admins who must approve a move of a protected alias (promotions); 0: admins move it directly. */
  approvalsRequired: number;
  createdAt: string;
  createdBy: string;
  /** The caller's effective role in this registry. */
  role: "viewer" | "member" | "admin";
}

export interface CollectionResponse {
  registry: string;
  name: string;
  type: string;
  description: string | null;
  tags: string[];
  aliases: Record<string, string>;
  latest: string | null;
  linkCount: number;
  createdAt: string;
  createdBy: string;
}

export interface LinkResponse {
  version: string;
  index: number;
  created: boolean;
  aliases: string[];
}

export interface CollectionVersionResponse {
  registry: string;
  collection: string;
  version: string;
  index: number;
  digest: string;
  type: string;
  aliases: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  description: string | null;
  createdAt: string;
  createdBy: string;
  size: number;
  fileCount: number;
  source: { project: string; artifact: string; version: string; digest: string };
}

export interface MemberResponse {
  user: string;
  role: "viewer" | "member" | "admin";
  grantedAt: string;
  grantedBy: string;
}

export interface PromotionResponse {
  id: string;
  registry: string;
  collection: string;
  alias: string;
  /** The collection version the alias is to move to. */
  version: string;
  /** What the alias named when the request was made (null: nothing); the move happens only from there. */
  from: string | null;
  note: string | null;
  status: "pending" | "approved" | "rejected" | "stale";
  requestedBy: string;
  requestedAt: string;
  approvals: { by: string; at: string; note?: string }[];
  /** Distinct approvals the move needs now (the registry's setting, at least 1). */
  approvalsRequired: number;
  rejection: { by: string; at: string; note?: string } | null;
  decidedAt: string | null;
  /** Why a stale request can no longer move the alias. */
  staleReason: string | null;
}
