/**
 * The preview of an automation's payload, rendered the way the dispatcher renders it
 * (lambdas/core/webhook-payload.ts; test/web/template-preview.test.ts holds the two together).
 */
export interface SampleEvent {
  eventType: "LINK_ARTIFACT" | "ADD_ARTIFACT_ALIAS";
  actor: string;
  at: string;
  registry: string;
  collection: string;
  version: string;
  alias?: string;
  previousVersion?: string;
  aliases?: string[];
  type?: string;
  source?: { project: string; artifact: string; version: string; digest: string };
  metadata: Record<string, unknown>;
  automation: { id: string; name: string };
}

const SIMPLE: Record<string, (e: SampleEvent) => string> = {
  event_type: (e) => e.eventType,
  event_author: (e) => e.actor,
  artifact_version: (e) => e.version,
  artifact_version_string: (e) => `@${e.registry}/${e.collection}:${e.version}`,
  artifact_collection_name: (e) => e.collection,
  alias: (e) => e.alias ?? "",
  project_name: (e) => e.source?.project ?? "",
};

export const TEMPLATE_VARIABLES = [...Object.keys(SIMPLE), "artifact_metadata.KEY"];

const METADATA_PREFIX = "artifact_metadata.";
const VARIABLE = /\$\{([^}]*)\}/g;

function jsonEscape(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return JSON.stringify(text).slice(1, -1);
}

function metadataValue(metadata: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(metadata, key)) return metadata[key];
  let value: unknown = metadata;
  for (const part of key.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function variableValue(name: string, event: SampleEvent): unknown {
  if (name.startsWith(METADATA_PREFIX)) return metadataValue(event.metadata, name.slice(METADATA_PREFIX.length));
  return SIMPLE[name]?.(event);
}

export function renderTemplate(template: string, event: SampleEvent): string {
  return template.replace(VARIABLE, (_, name: string) => jsonEscape(variableValue(name, event)));
}

export function defaultPayload(event: SampleEvent): string {
  return JSON.stringify({
    event_type: event.eventType,
    event_author: event.actor,
    occurred_at: event.at,
    registry: event.registry,
    collection: event.collection,
    version: event.version,
    artifact_version_string: `@${event.registry}/${event.collection}:${event.version}`,
    alias: event.alias ?? null,
    previous_version: event.previousVersion ?? null,
    ...(event.aliases ? { aliases: event.aliases } : {}),
    type: event.type ?? null,
    source: event.source ?? null,
    metadata: event.metadata,
    automation: event.automation,
  });
}

export type Preview = { ok: true; body: string } | { ok: false; error: string; body?: string };

/** The body a delivery of this sample event would carry, pretty-printed, or why the template is refused. */
export function previewPayload(template: string | undefined, event: SampleEvent): Preview {
  if (!template || template.trim() === "") return { ok: true, body: JSON.stringify(JSON.parse(defaultPayload(event)), null, 2) };
  const unknown = [...template.matchAll(VARIABLE)]
    .map((m) => m[1]!)
    .filter((name) => !(name in SIMPLE) && !(name.startsWith(METADATA_PREFIX) && name.length > METADATA_PREFIX.length));
  if (unknown.length > 0) {
    return { ok: false, error: `Unknown variables: ${[...new Set(unknown)].map((n) => `\${${n}}`).join(", ")}` };
  }
  const body = renderTemplate(template, event);
  try {
    return { ok: true, body: JSON.stringify(JSON.parse(body), null, 2) };
  } catch {
    return { ok: false, error: "The template is not JSON once filled in: put string variables inside quotes.", body };
  }
}

/** A plausible event for the preview, from what the form knows. */
export function sampleEvent(input: {
  event: SampleEvent["eventType"];
  registry: string;
  collection?: string;
  actor: string;
  metadata?: Record<string, unknown>;
  automationName: string;
}): SampleEvent {
  const collection = input.collection || "my-collection";
  return {
    eventType: input.event,
    actor: input.actor,
    at: new Date(0).toISOString().replace("1970-01-01", "2026-01-01"),
    registry: input.registry,
    collection,
    version: "v3",
    ...(input.event === "ADD_ARTIFACT_ALIAS" ? { alias: "production", previousVersion: "v2" } : { aliases: ["latest"] }),
    type: "model",
    source: { project: "vision", artifact: "mnist-cnn", version: "v7", digest: "0".repeat(64) },
    metadata: input.metadata ?? { accuracy: 0.991, epochs: 10 },
    automation: { id: "01SAMPLE000000000000000000", name: input.automationName || "preview" },
  };
}
