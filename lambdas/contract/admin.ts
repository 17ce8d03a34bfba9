import * as z from "zod";
import { label, name } from "./common.js";

export const orgRole = z.enum(["admin", "member", "viewer"]);

export const createUserRequest = z.strictObject({
  /** The user's handle: their id in memberships, keys and audit events. */
  name,
  role: orgRole,
  displayName: label(256).optional(),
});
export type CreateUserRequest = z.infer<typeof createUserRequest>;

export const userStatus = z.enum(["active", "deactivated"]);

/** An org admin changes a user's org role or status; a deactivated user's keys stop working at once. */
export const updateUserRequest = z
  .strictObject({ role: orgRole.optional(), status: userStatus.optional() })
  .refine((request) => request.role !== undefined || request.status !== undefined, { message: "name role or status to change" });
export type UpdateUserRequest = z.infer<typeof updateUserRequest>;

export const createApiKeyRequest = z.strictObject({
  user: name,
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
export type CreateApiKeyRequest = z.infer<typeof createApiKeyRequest>;

export const apiKeysQuery = z.object({
  user: name.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(2048).optional(),
});

// What the admin routes answer: schemas in lambdas/contract/responses.ts, types inferred from them.
export type { ApiKeyResponse, CreatedApiKeyResponse, MembershipsResponse, UserResponse } from "./responses.js";
