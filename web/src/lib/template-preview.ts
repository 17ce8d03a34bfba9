/**
 * The preview of an automation's payload: rendered by the same code as the dispatcher's
 * (lambdas/contract/payload-template.ts), on a sample event the form makes up.
 */
import { defaultPayload, renderTemplate, unknownVariables, type PayloadContext } from "../../../lambdas/contract/payload-template.js";

export { TEMPLATE_VARIABLES } from "../../../lambdas/contract/payload-template.js";

export type SampleEvent = PayloadContext;

export type Preview = { ok: true; body: string } | { ok: false; error: string; body?: string };

/** The body a delivery of this sample event would carry, pretty-printed, or why the template is refused. */
export function previewPayload(template: string | undefined, event: SampleEvent): Preview {
  if (!template || template.trim() === "") return { ok: true, body: JSON.stringify(JSON.parse(defaultPayload(event)), null, 2) };
  const unknown = unknownVariables(template);
  if (unknown.length > 0) return { ok: false, error: `Unknown variables: ${unknown.map((n) => `\${${n}}`).join(", ")}` };
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
