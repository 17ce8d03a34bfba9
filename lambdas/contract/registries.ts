import * as z from "zod";
import { name, pageQuery, settableAlias, text } from "./common.js";

export const MAX_TAGS = 20;

export const registryRole = z.enum(["viewer", "member", "admin"]);

export const createRegistryRequest = z.strictObject({
  name,
  description: text(4096).optional(),
  visibility: z.enum(["organization", "restricted"]).default("organization"),
  artifactTypes: z.array(name).min(1).max(50).optional(),
  /** `latest` moves with every link and unlink, so it cannot be kept to admins. */
  protectedAliases: z.array(settableAlias).max(50).default([]),
});
export type CreateRegistryRequest = z.infer<typeof createRegistryRequest>;

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
export type { CollectionResponse, CollectionVersionResponse, LinkResponse, RegistryResponse } from "./responses.js";
