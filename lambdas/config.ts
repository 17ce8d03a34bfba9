import * as z from "zod";
import {
  DEFAULT_LOG_LEVEL,
  GC_GRACE_HOURS,
  GC_INTERVAL_MS,
  LOG_LEVELS,
  MULTIPART_THRESHOLD,
  PART_SIZE,
  STREAM_POLL_MS,
  URL_EXPIRY_SECONDS,
  WEBHOOK_BACKOFF_MS,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_SWEEP_MS,
  JOB_POLL_MS,
  WEBHOOK_TIMEOUT_MS,
  type Bounded,
} from "./settings.js";

const integer = (bounds: Bounded) => z.coerce.number().int().min(bounds.min).max(bounds.max).default(bounds.default);
/** A real boolean from code, "true"/"false" from an environment variable. */
const flag = (fallback: boolean) => z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(fallback);

const schema = z.object({
  tableName: z.string().min(3),
  bucket: z.string().min(3),
  region: z.string().min(1).default("us-east-1"),
  /** Absent in Lambda; the SDK then also honours AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3. */
  endpoints: z.object({ dynamodb: z.url().optional(), s3: z.url().optional() }).default({}),
  /** Absent in Lambda, which puts its role's credentials in the environment; the local stack names its emulators'. */
  credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
  urlExpirySeconds: integer(URL_EXPIRY_SECONDS),
  // S3 parts are at least 5 MiB (but the last); single PUTs promoted by CopyObject at most 5 GiB.
  multipartThreshold: integer(MULTIPART_THRESHOLD),
  partSize: integer(PART_SIZE),
  signChecksums: flag(true),
  s3ForcePathStyle: flag(false),
  /** Set by the local stack: the S3 emulator wants bucket-root requests without a trailing slash. */
  s3Emulator: flag(false),
  /**
   * Set by the local stack only (no variable): this process is the only one using the table,
   * which the data dir lock guarantees, so blob claims of other processes are a crashed
   * server's (lambdas/adapters/dynamodb/blob-ledger.ts).
   */
  soleServer: flag(false),
  /** Webhook targets on loopback or private addresses are refused unless allowed (local mode allows loopback). */
  webhookAllowLoopback: flag(false),
  webhookAllowPrivate: flag(false),
  webhookTimeoutMs: integer(WEBHOOK_TIMEOUT_MS),
  webhookBackoffMs: integer(WEBHOOK_BACKOFF_MS),
  webhookMaxAttempts: integer(WEBHOOK_MAX_ATTEMPTS),
  logLevel: z.preprocess((v) => (typeof v === "string" ? v.toLowerCase() : v), z.enum(LOG_LEVELS)).default(DEFAULT_LOG_LEVEL),
  /** Local mode only: the stream poller's and the delivery sweeper's intervals. */
  streamPollMs: integer(STREAM_POLL_MS),
  webhookSweepMs: integer(WEBHOOK_SWEEP_MS),
  /** Local mode only: the jobs worker's interval (bulk deletes, expired versions). */
  jobPollMs: integer(JOB_POLL_MS),
  /** Hours an unreferenced blob waits before the collector deletes it (lambdas/core/gc.ts). */
  gcGraceHours: integer(GC_GRACE_HOURS),
  /** Local mode only: how often the collector runs (local/stack.ts). */
  gcIntervalMs: integer(GC_INTERVAL_MS),
});

export type Config = z.output<typeof schema>;
/** What a caller may give: anything with a default may be left out; numbers and flags may be strings. */
export type ConfigInput = z.input<typeof schema>;

/** The environment variable each setting is read from. */
export const CONFIG_VARIABLES = {
  tableName: "MREG_TABLE_NAME",
  bucket: "MREG_BUCKET",
  region: "AWS_REGION",
  urlExpirySeconds: "MREG_URL_EXPIRY_SECONDS",
  multipartThreshold: "MREG_MULTIPART_THRESHOLD",
  partSize: "MREG_PART_SIZE",
  signChecksums: "MREG_SIGN_CHECKSUMS",
  s3ForcePathStyle: "MREG_S3_FORCE_PATH_STYLE",
  s3Emulator: "MREG_S3_EMULATOR",
  webhookAllowLoopback: "MREG_WEBHOOK_ALLOW_LOOPBACK",
  webhookAllowPrivate: "MREG_WEBHOOK_ALLOW_PRIVATE",
  webhookTimeoutMs: "MREG_WEBHOOK_TIMEOUT_MS",
  webhookBackoffMs: "MREG_WEBHOOK_BACKOFF_MS",
  webhookMaxAttempts: "MREG_WEBHOOK_MAX_ATTEMPTS",
  logLevel: "MREG_LOG_LEVEL",
  streamPollMs: "MREG_STREAM_POLL_MS",
  webhookSweepMs: "MREG_WEBHOOK_SWEEP_MS",
  jobPollMs: "MREG_JOB_POLL_MS",
  gcGraceHours: "MREG_GC_GRACE_HOURS",
  gcIntervalMs: "MREG_GC_INTERVAL_MS",
} as const satisfies Partial<Record<keyof Config, string>>;

type Variable = keyof typeof CONFIG_VARIABLES;

/**
 * The configuration from environment variables (`env`, empty ones count as unset) and
 * `values`, which win. Read once at cold start: a bad value fails it with every problem
 * listed, each under the name it was given by.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env, values: Partial<ConfigInput> = {}): Config {
  const fromEnv: Record<string, string> = {};
  for (const [key, variable] of Object.entries(CONFIG_VARIABLES)) {
    const value = env[variable];
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const parsed = schema.safeParse({ ...fromEnv, ...values });
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => {
        const [key, ...rest] = issue.path.map(String);
        const name = key !== undefined && key in fromEnv && !(key in values) ? CONFIG_VARIABLES[key as Variable] : key;
        return `${[name, ...rest].join(".")}: ${issue.message}`;
      })
      .join("; ");
    throw new Error(`invalid mreg configuration: ${problems}`);
  }
  return parsed.data;
}

/** The environment variables that give a function these settings (infra/ deploys them). */
export function configEnvironment(values: { [K in Variable]?: string | number | boolean }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).flatMap(([key, value]) => (value === undefined ? [] : [[CONFIG_VARIABLES[key as Variable], String(value)]])),
  );
}
