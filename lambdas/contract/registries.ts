import * as z from "zod";
import { name, pageQuery, settableAlias, text } from "./common.js";

export const MAX_TAGS = 20;

export const registryRole = z.enum(["viewer", "member", "admin"]);

/** Distinct registry admins who must approve a move of a protected alias; 0 lets admins move it directly. */
export const MAX_APPROVALS_REQUIRED = 10;
const approvalsRequired = z.int().min(0).max(MAX_APPROVALS_REQUIRED);

export const createRegistryRequest = z.strictObject({
  name,
  description: text(4096).optional(),
  visibility: z.enum(["organization", "restricted"]).default("organization"),
  artifactTypes: z.array(name).min(1).max(50).optional(),
  /** `latest` moves with every link and unlink, so it cannot be kept to admins. */
  protectedAliases: z.array(settableAlias).max(50).default([]),
  approvalsRequired: approvalsRequired.optional(),
});
export type CreateRegistryRequest = z.infer<typeof createRegistryRequest>;

/** What registry admins may change after creation; `description: null` removes it. */
export const updateRegistryRequest = z
  .strictObject({
    description: text(4096).nullable().optional(),
    approvalsRequired: approvalsRequired.optional(),
  })
  .refine((request) => request.description !== undefined || request.approvalsRequired !== undefined, {
    message: "name description or approvalsRequired to change",
  });
export type UpdateRegistryRequest = z.infer<typeof updateRegistryRequest>;

/** A collection's markdown description (its model card) and its tags (the whole set); `description: null` removes it. */
export const updateCollectionRequest = z
  .strictObject({
    description: text(4096).nullable().optional(),
    tags: z.array(name).max(MAX_TAGS).optional(),
  })
  .refine((request) => request.description !== undefined || request.tags !== undefined, {
    message: "name description or tags to change",
  });
export type UpdateCollectionRequest = z.infer<typeof updateCollectionRequest>;

/** `?force=true` unlinks every version first (each with its event); without it a collection with links is a 409. */
export const deleteCollectionQuery = z.object({
  force: z.enum(["true", "false"]).optional(),
  dryRun: z.enum(["true", "false"]).optional(),
});
/** A registry is deleted only when empty: a dry run answers what would go with it. */
export const deleteRegistryQuery = z.object({ dryRun: z.enum(["true", "false"]).optional() });

export const promotionRequest = z.strictObject({
  alias: settableAlias,
  version: z.union([z.string().min(1).max(140), z.int().min(0)]),
  note: text(2048).optional(),
});
export type PromotionRequest = z.infer<typeof promotionRequest>;

export const promotionDecision = z.strictObject({ note: text(2048).optional() });

export const promotionsQuery = pageQuery.extend({
  status: z.enum(["pending", "approved", "rejected", "stale"]).optional(),
});

export const createCollectionRequest = z.strictObject({
  name,
  type: name,
  description: text(4096).optional(),
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
  aliases: z.array(settableAlias).max(10).optional(),
  /** Used only when the link creates the collection. */
  description: text(4096).optional(),
});
export type LinkRequest = z.infer<typeof linkRequest>;

export const memberRequest = z.strictObject({ role: registryRole });

// What the registry routes answer: schemas in lambdas/contract/responses.ts, types inferred from them.
export type {
  CollectionResponse,
  CollectionVersionResponse,
  LinkResponse,
  MemberResponse,
  PromotionResponse,
  RegistryResponse,
} from "./responses.js";
