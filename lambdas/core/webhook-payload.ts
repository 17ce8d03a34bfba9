import { createHmac } from "node:crypto";
import { METADATA_PREFIX, TEMPLATE_VARIABLES, VARIABLE, unknownVariables } from "../contract/payload-template.js";
import { ValidationError } from "./errors.js";

// The rendering is the contract's, shared with the web app's preview.
export { MAX_TEMPLATE_LENGTH, defaultPayload, jsonEscape, renderTemplate, type PayloadContext } from "../contract/payload-template.js";

/**
 * Refuses a template that names an unknown variable or is not JSON once rendered (with a
 * number for every metadata value, which is valid both inside and outside quotes).
 */
export function validateTemplate(template: string): void {
  const unknown = unknownVariables(template);
  if (unknown.length > 0) {
    throw new ValidationError(
      `payloadTemplate names unknown variables: ${unknown.map((n) => `\${${n}}`).join(", ")}; ` +
        `known: ${TEMPLATE_VARIABLES.map((n) => `\${${n}}`).join(" ")}`,
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

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, the X-Mreg-Signature header the README documents under Deliveries. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
