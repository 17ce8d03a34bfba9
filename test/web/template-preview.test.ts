import { describe, expect, it } from "vitest";
import { defaultPayload as serverDefault, renderTemplate as serverRender, validateTemplate } from "../../lambdas/core/webhook-payload.js";
import { previewPayload, sampleEvent } from "../../web/src/lib/template-preview";

const event = sampleEvent({
  event: "ADD_ARTIFACT_ALIAS",
  registry: "model",
  collection: "mnist",
  actor: "ana",
  metadata: { accuracy: 0.99, train: { lr: 0.01 }, note: 'says "hi"' },
  automationName: "deploy",
});

const templates = [
  '{"text": "${event_author} moved ${alias} to ${artifact_version_string}"}',
  '{"acc": ${artifact_metadata.accuracy}, "lr": ${artifact_metadata.train.lr}, "note": "${artifact_metadata.note}"}',
  '{"p": "${project_name}", "c": "${artifact_collection_name}", "v": "${artifact_version}", "t": "${event_type}", "missing": "${artifact_metadata.nope}"}',
];

describe("automation payload preview", () => {
  it.each(templates)("shows %s as the dispatcher renders it, pretty-printed", (template) => {
    expect(() => validateTemplate(template)).not.toThrow();
    expect(previewPayload(template, event)).toEqual({ ok: true, body: JSON.stringify(JSON.parse(serverRender(template, event)), null, 2) });
  });

  it("shows the default payload the dispatcher sends without a template", () => {
    expect(previewPayload("", event)).toEqual({ ok: true, body: JSON.stringify(JSON.parse(serverDefault(event)), null, 2) });
  });

  it("refuses what the server refuses: unknown variables and text that is not JSON", () => {
    expect(previewPayload('{"x": "${secret}"}', event)).toEqual({ ok: false, error: "Unknown variables: ${secret}" });
    expect(() => validateTemplate('{"x": "${secret}"}')).toThrow();
    const unquoted = previewPayload('{"x": ${event_author}}', event);
    expect(unquoted.ok).toBe(false);
    expect(() => validateTemplate('{"x": ${event_author}}')).toThrow();
  });
});
