import { createHmac } from "node:crypto";
import { ValidationError } from "./errors.js";
import type { AutomationEvent } from "./model.js";

export const MAX_TEMPLATE_LENGTH = 16 * 1024;

/** What a delivery says about the event: the default payload and every template variable come from it. */
export interface PayloadContext {
  eventType: AutomationEvent;
  actor: string;
  at: string;
  registry: string;
  collection: string;
  /** The collection version, `v3`. */
  version: string;
  alias?: string;
  /** For an alias that moved: the version it left. */
  previousVersion?: string;
  /** Aliases the link was created with (LINK_ARTIFACT). */
  aliases?: string[];
  type?: string;
  source?: { project: string; artifact: string; version: string; digest: string };
  metadata: Record<string, unknown>;
  automation: { id: string; name: string };
  /** Promotion events: the request, who asked (PROMOTION_REQUESTED) and who approved (PROMOTION_APPROVED). */
  promotion?: { id: string; requestedBy?: string; approvals?: string[]; note?: string };
}

const SIMPLE_VARIABLES = {
  event_type: (c: PayloadContext) => c.eventType,
  event_author: (c: PayloadContext) => c.actor,
  artifact_version: (c: PayloadContext) => c.version,
  artifact_version_string: (c: PayloadContext) => `@${c.registry}/${c.collection}:${c.version}`,
  artifact_collection_name: (c: PayloadContext) => c.collection,
  alias: (c: PayloadContext) => c.alias ?? "",
  project_name: (c: PayloadContext) => c.source?.project ?? "",
} satisfies Record<string, (context: PayloadContext) => string>;

const METADATA_PREFIX = "artifact_metadata.";
const VARIABLE = /\$\{([^}]*)\}/g;

/**
 * A value as text that is safe inside a JSON string literal: strings as they are, anything
 * else as its JSON, then escaped. Numbers and booleans need no escaping, so they also work
 * outside quotes.
 */
export function jsonEscape(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return JSON.stringify(text).slice(1, -1);
}

function metadataValue(metadata: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(metadata, key)) return metadata[key];
  // `${artifact_metadata.train.lr}` reaches into nested objects when no key has the dotted name.
  let value: unknown = metadata;
  for (const part of key.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function variableValue(name: string, context: PayloadContext): unknown {
  if (name.startsWith(METADATA_PREFIX)) return metadataValue(context.metadata, name.slice(METADATA_PREFIX.length));
  return SIMPLE_VARIABLES[name as keyof typeof SIMPLE_VARIABLES]?.(context);
}

/** Replaces every `${variable}` with its JSON-escaped value; an unknown or missing one renders empty. */
export function renderTemplate(template: string, context: PayloadContext): string {
  return template.replace(VARIABLE, (_, name: string) => jsonEscape(variableValue(name, context)));
}

/**
 * Refuses a template that names an unknown variable or is not JSON once rendered (with a
 * number for every metadata value, which is valid both inside and outside quotes).
 */
export function validateTemplate(template: string): void {
  const unknown = [...template.matchAll(VARIABLE)]
    .map((m) => m[1]!)
    .filter((name) => !(name in SIMPLE_VARIABLES) && !(name.startsWith(METADATA_PREFIX) && name.length > METADATA_PREFIX.length));
  if (unknown.length > 0) {
    throw new ValidationError(
      `payloadTemplate names unknown variables: ${[...new Set(unknown)].map((n) => `\${${n}}`).join(", ")}; ` +
        `known: ${[...Object.keys(SIMPLE_VARIABLES), "artifact_metadata.KEY"].map((n) => `\${${n}}`).join(" ")}`,
    );
  }
  const sample = template.replace(VARIABLE, (_, name: string) => (name.startsWith(METADATA_PREFIX) ? "0" : "sample"));
  try {
    JSON.parse(sample);
  } catch (error) {
    throw new ValidationError("payloadTemplate must be JSON once its variables are filled in: put string variables inside quotes", {
      cause: error,
    });
  }
}

/** The payload of an automation without a template. */
export function defaultPayload(context: PayloadContext): string {
  return JSON.stringify({
    event_type: context.eventType,
    event_author: context.actor,
    occurred_at: context.at,
    registry: context.registry,
    collection: context.collection,
    version: context.version,
    artifact_version_string: `@${context.registry}/${context.collection}:${context.version}`,
    alias: context.alias ?? null,
    previous_version: context.previousVersion ?? null,
    ...(context.aliases ? { aliases: context.aliases } : {}),
    type: context.type ?? null,
    source: context.source ?? null,
    metadata: context.metadata,
    automation: context.automation,
    ...(context.promotion ? { promotion: context.promotion } : {}),
  });
}

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, the X-Mreg-Signature header the README documents under Deliveries. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
