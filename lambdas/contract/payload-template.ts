/**
 * Automation payloads: the template variables, how a template is rendered and the default
 * payload. Shared by the dispatcher (lambdas/core/webhooks.ts) and the web app's preview
 * (web/src/lib/template-preview.ts), so the preview is exactly what a delivery carries.
 */
import type * as z from "zod";
import type { automationEvent } from "./automations.js";

type AutomationEvent = z.infer<typeof automationEvent>;

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

export const SIMPLE_VARIABLES = {
  event_type: (c: PayloadContext) => c.eventType,
  event_author: (c: PayloadContext) => c.actor,
  artifact_version: (c: PayloadContext) => c.version,
  artifact_version_string: (c: PayloadContext) => `@${c.registry}/${c.collection}:${c.version}`,
  artifact_collection_name: (c: PayloadContext) => c.collection,
  alias: (c: PayloadContext) => c.alias ?? "",
  project_name: (c: PayloadContext) => c.source?.project ?? "",
} satisfies Record<string, (context: PayloadContext) => string>;

export const METADATA_PREFIX = "artifact_metadata.";
export const VARIABLE = /\$\{([^}]*)\}/g;

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

/** Every variable a template may name. */
export const TEMPLATE_VARIABLES = [...Object.keys(SIMPLE_VARIABLES), "artifact_metadata.KEY"];

/** The variables `template` names that no event has, each once. */
export function unknownVariables(template: string): string[] {
  const names = [...template.matchAll(VARIABLE)]
    .map((m) => m[1]!)
    .filter((name) => !(name in SIMPLE_VARIABLES) && !(name.startsWith(METADATA_PREFIX) && name.length > METADATA_PREFIX.length));
  return [...new Set(names)];
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
