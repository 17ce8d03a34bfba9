import type { Node } from "constructs";
import * as z from "zod";
import { URL_EXPIRY_SECONDS } from "../lambdas/settings.js";

/** S3 bucket names (3–63 lowercase letters, digits, dots, hyphens); no ARNs, no wildcards. */
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a plain S3 bucket name");

/** `-c key=a,b` arrives as a string, cdk.json may hold a real array: accept both. */
const list = <T extends z.ZodType<string>>(item: T) =>
  z.preprocess(
    (value) =>
      typeof value === "string"
        ? value
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
        : value,
    z.array(item),
  );

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  stackPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,40}$/)
    .default("Mreg"),
  /**
   * Buckets the registry may read for `s3://` reference entries. None by default: a
   * reference to any other bucket is refused at commit as not found.
   */
  referenceBuckets: list(bucketName).default([]),
  /** Origins allowed to use presigned URLs from a browser; the URL's signature is the authorisation. */
  corsOrigins: list(z.string().min(1)).default(["*"]),
  /**
   * Lifetime of presigned URLs. A URL signed with the function's session credentials also
   * dies when that session does, so this stays below the session lifetime (README).
   */
  urlExpirySeconds: integer(URL_EXPIRY_SECONDS.min, URL_EXPIRY_SECONDS.maxInLambda).default(URL_EXPIRY_SECONDS.default),
  throttleRateLimit: integer(1, 10_000).default(100),
  throttleBurstLimit: integer(1, 5_000).default(200),
  /** An existing SNS topic for alarm notifications; alarms are created either way. */
  alarmTopicArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:/)
    .optional(),
});

export type Settings = z.infer<typeof schema>;

export const CONTEXT_PREFIX = "mreg:";

/** Reads `mreg:*` context (cdk.json or `-c`), failing the synth with every problem listed. */
export function readSettings(node: Node): Settings {
  const raw = Object.fromEntries(Object.keys(schema.shape).map((key) => [key, node.tryGetContext(`${CONTEXT_PREFIX}${key}`)]));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${CONTEXT_PREFIX}${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid mreg deployment settings: ${problems}`);
  }
  return parsed.data;
}
