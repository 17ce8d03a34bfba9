import * as z from "zod";

const MIB = 1024 * 1024;

const bool = z.enum(["true", "false"]).transform((v) => v === "true");

const environment = z.object({
  MREG_TABLE_NAME: z.string().min(3),
  MREG_BUCKET: z.string().min(3),
  AWS_REGION: z.string().default("us-east-1"),
  MREG_URL_EXPIRY_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  // S3 parts are at least 5 MiB (but the last); single PUTs promoted by CopyObject at most 5 GiB.
  MREG_MULTIPART_THRESHOLD: z.coerce.number().int().min(5 * MIB).max(5 * 1024 * MIB).default(64 * MIB),
  MREG_PART_SIZE: z.coerce.number().int().min(5 * MIB).max(5 * 1024 * MIB).default(16 * MIB),
  MREG_SIGN_CHECKSUMS: bool.default(true),
  MREG_S3_FORCE_PATH_STYLE: bool.default(false),
  /** Set by the local stack: the S3 emulator wants bucket-root requests without a trailing slash. */
  MREG_S3_EMULATOR: bool.default(false),
  /** Webhook targets on loopback or private addresses are refused unless allowed (local mode allows loopback). */
  MREG_WEBHOOK_ALLOW_LOOPBACK: bool.default(false),
  MREG_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  MREG_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
  /** Delay before the first retry of a webhook; each later one doubles, up to an hour. */
  MREG_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  MREG_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
});

export type Config = z.infer<typeof environment>;

/** Reads the configuration once; a bad value fails the cold start with every problem listed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environment.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid mreg configuration: ${problems}`);
  }
  return parsed.data;
}
