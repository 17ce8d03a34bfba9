import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../lambdas/core/errors.js";
import {
  defaultPayload,
  jsonEscape,
  renderTemplate,
  signatureOf,
  validateTemplate,
  type PayloadContext,
} from "../../lambdas/core/webhook-payload.js";

const context: PayloadContext = {
  eventType: "ADD_ARTIFACT_ALIAS",
  actor: "ana",
  at: "2025-01-01T00:00:00.000Z",
  registry: "model",
  collection: "mnist-classifier",
  version: "v3",
  alias: "production",
  previousVersion: "v2",
  type: "model",
  source: { project: "vision", artifact: "mnist", version: "v7", digest: "d".repeat(64) },
  metadata: { accuracy: 0.98, note: 'a "quoted"\nline \\ end', tags: ["a", "b"], "dotted.key": "flat", train: { lr: 0.001 } },
  automation: { id: "auto-1", name: "deploy" },
};

describe("renderTemplate", () => {
  it("fills every variable", () => {
    const template = JSON.stringify({
      type: "${event_type}",
      author: "${event_author}",
      version: "${artifact_version}",
      ref: "${artifact_version_string}",
      collection: "${artifact_collection_name}",
      alias: "${alias}",
      project: "${project_name}",
    });
    expect(JSON.parse(renderTemplate(template, context))).toEqual({
      type: "ADD_ARTIFACT_ALIAS",
      author: "ana",
      version: "v3",
      ref: "@model/mnist-classifier:v3",
      collection: "mnist-classifier",
      alias: "production",
      project: "vision",
    });
  });

  it("JSON-escapes values, so quotes, newlines and backslashes in metadata cannot break the payload", () => {
    const rendered = renderTemplate('{"note": "${artifact_metadata.note}", "tags": "${artifact_metadata.tags}"}', context);
    expect(JSON.parse(rendered)).toEqual({ note: 'a "quoted"\nline \\ end', tags: '["a","b"]' });
  });

  it("puts numbers where the template has them unquoted", () => {
    expect(JSON.parse(renderTemplate('{"accuracy": ${artifact_metadata.accuracy}}', context))).toEqual({ accuracy: 0.98 });
  });

  it("reads a key with a dot in its name, else a nested key; a missing one renders empty", () => {
    const rendered = renderTemplate(
      '{"a": "${artifact_metadata.dotted.key}", "b": "${artifact_metadata.train.lr}", "c": "${artifact_metadata.nope}", "d": "${artifact_metadata.train.nope}"}',
      context,
    );
    expect(JSON.parse(rendered)).toEqual({ a: "flat", b: "0.001", c: "", d: "" });
  });

  it("renders an absent alias and project as empty strings", () => {
    const link = { ...context, eventType: "LINK_ARTIFACT" as const, alias: undefined, source: undefined };
    expect(JSON.parse(renderTemplate('{"alias": "${alias}", "project": "${project_name}"}', link))).toEqual({ alias: "", project: "" });
  });

  it("does not treat metadata prototype properties as keys", () => {
    expect(renderTemplate('"${artifact_metadata.constructor}"', context)).toBe('""');
  });
});

describe("validateTemplate", () => {
  it("accepts JSON with variables inside strings and metadata anywhere", () => {
    expect(() => validateTemplate('{"text": "${event_author} set ${alias}", "acc": ${artifact_metadata.accuracy}}')).not.toThrow();
  });

  it("names unknown variables", () => {
    expect(() => validateTemplate('{"a": "${artifact_name}", "b": "${artifact_metadata.}"}')).toThrow(
      /unknown variables: \$\{artifact_name\}, \$\{artifact_metadata\.\}/,
    );
  });

  it("refuses a template that is not JSON once filled, such as a string variable outside quotes", () => {
    expect(() => validateTemplate('{"who": ${event_author}}')).toThrow(ValidationError);
    expect(() => validateTemplate("{not json")).toThrow(/must be JSON/);
  });
});

describe("defaultPayload", () => {
  it("describes the event, the version, its source and metadata, and the automation", () => {
    expect(JSON.parse(defaultPayload(context))).toEqual({
      event_type: "ADD_ARTIFACT_ALIAS",
      event_author: "ana",
      occurred_at: "2025-01-01T00:00:00.000Z",
      registry: "model",
      collection: "mnist-classifier",
      version: "v3",
      artifact_version_string: "@model/mnist-classifier:v3",
      alias: "production",
      previous_version: "v2",
      type: "model",
      source: context.source,
      metadata: context.metadata,
      automation: { id: "auto-1", name: "deploy" },
    });
  });
});

describe("signatureOf", () => {
  it("is sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'> keyed by the secret", () => {
    const body = '{"event_type":"LINK_ARTIFACT"}';
    const expected = createHmac("sha256", "s3cret-s3cret-s3cret").update(`1700000000.${body}`).digest("hex");
    expect(signatureOf("s3cret-s3cret-s3cret", 1700000000, body)).toBe(`sha256=${expected}`);
    // A known vector, so that a change of construction cannot pass unnoticed.
    expect(signatureOf("key", 1, "{}")).toBe(`sha256=${createHmac("sha256", "key").update("1.{}").digest("hex")}`);
    expect(signatureOf("key", 2, "{}")).not.toBe(signatureOf("key", 1, "{}"));
  });
});

describe("jsonEscape", () => {
  it("escapes control characters and leaves plain text alone", () => {
    expect(jsonEscape("plain")).toBe("plain");
    expect(jsonEscape("\u0001\t")).toBe("\\u0001\\t");
    expect(jsonEscape(undefined)).toBe("");
    expect(jsonEscape(null)).toBe("null");
  });
});
