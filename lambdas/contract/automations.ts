import * as z from "zod";
import { label, name } from "./common.js";
import { userJsonObject } from "./user-json.js";

export const automationEvent = z.enum(["LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS", "PROMOTION_REQUESTED", "PROMOTION_APPROVED"]);

export const createAutomationRequest = z.strictObject({
  name: label(128),
  event: automationEvent,
  collection: name.optional(),
  /** A regular expression the whole alias must match (alias and promotion events only). */
  aliasPattern: z.string().min(1).max(256).optional(),
  url: z.string().min(1).max(2048),
  secret: z.string().min(16, "must be at least 16 characters").max(256).optional(),
  /** JSON text with `${variables}`, or a JSON object holding them in its strings. */
  payloadTemplate: z.union([z.string().min(1), userJsonObject]).optional(),
});
export type CreateAutomationRequest = z.infer<typeof createAutomationRequest>;

/** Delivery ids are ULID-shaped (26 Crockford base32 characters). */
export const deliveryId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "is not a delivery id");

// What the automation routes answer: schemas in lambdas/contract/responses.ts, types inferred from them.
export type { AutomationResponse, DeliveryResponse } from "./responses.js";
