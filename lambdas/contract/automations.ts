import * as z from "zod";
import { name } from "./common.js";

export const automationEvent = z.enum(["LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS", "PROMOTION_REQUESTED", "PROMOTION_APPROVED"]);

export const createAutomationRequest = z.strictObject({
  name: z.string().min(1).max(128),
  event: automationEvent,
  collection: name.optional(),
  /** A regular expression the whole alias must match (alias and promotion events only). */
  aliasPattern: z.string().min(1).max(256).optional(),
  url: z.string().min(1).max(2048),
  secret: z.string().min(16, "must be at least 16 characters").max(256).optional(),
  /** JSON text with `${variables}`, or a JSON object holding them in its strings. */
  payloadTemplate: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
});
export type CreateAutomationRequest = z.infer<typeof createAutomationRequest>;

/** Delivery ids are ULID-shaped (26 Crockford base32 characters). */
export const deliveryId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "is not a delivery id");

export interface AutomationResponse {
  id: string;
  registry: string;
  name: string;
  event: z.infer<typeof automationEvent>;
  collection: string | null;
  aliasPattern: string | null;
  url: string;
  /** Whether deliveries are signed; the secret itself is never returned. */
  hasSecret: boolean;
  payloadTemplate: string | null;
  createdAt: string;
  createdBy: string;
}

export interface DeliveryResponse {
  id: string;
  automationId: string;
  status: "pending" | "delivered" | "failed";
  event: {
    type: z.infer<typeof automationEvent>;
    collection: string;
    version: string;
    alias?: string;
    actor: string;
    at: string;
  };
  attemptCount: number;
  attempts: {
    attempt: number;
    at: string;
    latencyMs: number;
    statusCode?: number;
    error?: string;
    outcome: "delivered" | "retry" | "failed";
  }[];
  nextAttemptAt: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  /** The body as sent (on a single delivery, not in lists). */
  payload?: unknown;
}
