import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, configEnvironment, loadConfig } from "../../lambdas/config.js";
import { MAX_PLANNED_PARTS, S3_LIMITS } from "../../lambdas/contract/limits.js";
import {
  BUCKET_LIFECYCLE,
  MULTIPART_THRESHOLD,
  PART_SIZE,
  STREAM_POLL_MS,
  UPLOAD_RESUME_SECONDS,
  URL_EXPIRY_SECONDS,
  WEBHOOK_BACKOFF_MS,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_MAX_RETRY_DELAY_MS,
  WEBHOOK_SWEEP_MS,
  JOB_POLL_MS,
  GC_GRACE_HOURS,
  GC_INTERVAL_MS,
  WEBHOOK_TIMEOUT_MS,
} from "../../lambdas/settings.js";
import { readSettings } from "../../infra/settings.js";
import { App } from "aws-cdk-lib";

const DAY = 24 * 3600;
const required = { MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs" };

describe("the settings of lambdas/settings.ts", () => {
  it("hand out a multipart upload for resuming only while the bucket keeps it", () => {
    expect(UPLOAD_RESUME_SECONDS).toBeLessThan(BUCKET_LIFECYCLE.abortIncompleteMultipartDays * DAY);
    // Staged and open uploads outlive the longest deployed URL that could still be writing to them.
    expect(BUCKET_LIFECYCLE.stagingExpiryDays * DAY).toBeGreaterThan(URL_EXPIRY_SECONDS.maxInLambda);
  });

  it("keep every default within its bounds, and the deployed and local caps within S3's", () => {
    for (const bounds of [
      URL_EXPIRY_SECONDS,
      MULTIPART_THRESHOLD,
      PART_SIZE,
      WEBHOOK_TIMEOUT_MS,
      WEBHOOK_BACKOFF_MS,
      WEBHOOK_MAX_ATTEMPTS,
      STREAM_POLL_MS,
      WEBHOOK_SWEEP_MS,
    ]) {
      expect(bounds.default).toBeGreaterThanOrEqual(bounds.min);
      expect(bounds.default).toBeLessThanOrEqual(bounds.max);
    }
    expect(URL_EXPIRY_SECONDS.maxInLambda).toBeLessThanOrEqual(URL_EXPIRY_SECONDS.max);
    expect(URL_EXPIRY_SECONDS.max).toBe(S3_LIMITS.maxPresignSeconds);
    expect(MULTIPART_THRESHOLD.local).toBe(S3_LIMITS.maxSinglePutSize);
    expect(PART_SIZE.min).toBe(S3_LIMITS.minPartSize);
    expect(WEBHOOK_BACKOFF_MS.max).toBe(WEBHOOK_MAX_RETRY_DELAY_MS);
    // A file of the largest single PUT fits a plan at the default part size within the plan's cap.
    expect(S3_LIMITS.maxSinglePutSize / PART_SIZE.default).toBeLessThanOrEqual(MAX_PLANNED_PARTS);
  });

  it("bound the deployed URL lifetime (CDK context) with the same numbers", () => {
    const settingsWith = (value: unknown) => readSettings(new App({ context: { "mreg:urlExpirySeconds": value } }).node);
    expect(readSettings(new App().node).urlExpirySeconds).toBe(URL_EXPIRY_SECONDS.default);
    expect(settingsWith(URL_EXPIRY_SECONDS.maxInLambda).urlExpirySeconds).toBe(URL_EXPIRY_SECONDS.maxInLambda);
    expect(() => settingsWith(URL_EXPIRY_SECONDS.maxInLambda + 1)).toThrow(/mreg:urlExpirySeconds/);
    expect(() => settingsWith(URL_EXPIRY_SECONDS.min - 1)).toThrow(/mreg:urlExpirySeconds/);
  });
});

describe("loadConfig", () => {
  it("gives every setting its default from lambdas/settings.ts", () => {
    expect(loadConfig(required)).toEqual({
      tableName: "mreg",
      bucket: "mreg-blobs",
      region: "us-east-1",
      endpoints: {},
      urlExpirySeconds: URL_EXPIRY_SECONDS.default,
      multipartThreshold: MULTIPART_THRESHOLD.default,
      partSize: PART_SIZE.default,
      signChecksums: true,
      s3ForcePathStyle: false,
      s3Emulator: false,
      soleServer: false,
      webhookAllowLoopback: false,
      webhookAllowPrivate: false,
      webhookTimeoutMs: WEBHOOK_TIMEOUT_MS.default,
      webhookBackoffMs: WEBHOOK_BACKOFF_MS.default,
      webhookMaxAttempts: WEBHOOK_MAX_ATTEMPTS.default,
      logLevel: "info",
      streamPollMs: STREAM_POLL_MS.default,
      webhookSweepMs: WEBHOOK_SWEEP_MS.default,
      jobPollMs: JOB_POLL_MS.default,
      gcGraceHours: GC_GRACE_HOURS.default,
      gcIntervalMs: GC_INTERVAL_MS.default,
    });
  });

  it("reads variables, ignores empty ones, and lets values given in code win", () => {
    const config = loadConfig(
      {
        ...required,
        MREG_PART_SIZE: String(8 * 1024 * 1024),
        MREG_SIGN_CHECKSUMS: "false",
        MREG_LOG_LEVEL: "DEBUG",
        MREG_URL_EXPIRY_SECONDS: "",
      },
      { partSize: 32 * 1024 * 1024, webhookAllowLoopback: true, endpoints: { s3: "http://127.0.0.1:9000" } },
    );
    expect(config).toMatchObject({
      partSize: 32 * 1024 * 1024,
      signChecksums: false,
      logLevel: "debug",
      urlExpirySeconds: URL_EXPIRY_SECONDS.default,
      webhookAllowLoopback: true,
      endpoints: { s3: "http://127.0.0.1:9000" },
    });
  });

  it("refuses bad values, naming each by the variable or the key it came from", () => {
    const problems = (() => {
      try {
        loadConfig({ MREG_BUCKET: "b", MREG_PART_SIZE: "1", MREG_LOG_LEVEL: "loud" });
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();
    expect(problems).toMatch(/^invalid mreg configuration: /);
    for (const name of ["tableName", "MREG_BUCKET", "MREG_PART_SIZE", "MREG_LOG_LEVEL"]) expect(problems).toContain(`${name}: `);
    expect(() => loadConfig(required, { multipartThreshold: S3_LIMITS.maxSinglePutSize + 1 })).toThrow(/multipartThreshold/);
    expect(() => loadConfig({ ...required, MREG_SIGN_CHECKSUMS: "yes" })).toThrow(/MREG_SIGN_CHECKSUMS/);
  });

  it("turns settings back into the variables it reads", () => {
    const variables = configEnvironment({ tableName: "table", bucket: "bucket", urlExpirySeconds: 600, signChecksums: true });
    expect(variables).toEqual({
      MREG_TABLE_NAME: "table",
      MREG_BUCKET: "bucket",
      MREG_URL_EXPIRY_SECONDS: "600",
      MREG_SIGN_CHECKSUMS: "true",
    });
    expect(loadConfig(variables)).toMatchObject({ tableName: "table", bucket: "bucket", urlExpirySeconds: 600, signChecksums: true });
    expect(new Set(Object.values(CONFIG_VARIABLES)).size).toBe(Object.keys(CONFIG_VARIABLES).length);
  });
});

describe("local mode's defaults", () => {
  it("apply only where no variable is set: an explicit setting wins", async () => {
    const { localDefaults, LOCAL_MULTIPART_THRESHOLD } = await import("../../local/stack.js");
    expect(localDefaults({})).toEqual({ webhookAllowLoopback: true, multipartThreshold: LOCAL_MULTIPART_THRESHOLD });
    expect(localDefaults({ MREG_WEBHOOK_ALLOW_LOOPBACK: "" })).toMatchObject({ webhookAllowLoopback: true });
    const explicit = { MREG_WEBHOOK_ALLOW_LOOPBACK: "false", MREG_MULTIPART_THRESHOLD: String(8 * 1024 * 1024) };
    expect(localDefaults(explicit)).toEqual({});
    const config = loadConfig(explicit, { tableName: "mreg", bucket: "mreg-blobs", ...localDefaults(explicit) });
    expect(config.webhookAllowLoopback).toBe(false);
    expect(config.multipartThreshold).toBe(8 * 1024 * 1024);
  });

  it.each([
    ["MREG_BUCKET", "elsewhere"],
    ["MREG_TABLE_NAME", "other"],
    ["MREG_S3_FORCE_PATH_STYLE", "false"],
    ["MREG_S3_EMULATOR", "false"],
  ])("refuse %s=%s, which the embedded registry cannot honour, before starting anything", async (variable, value) => {
    const { startLocalStack } = await import("../../local/stack.js");
    await expect(startLocalStack({ dataDir: "/nonexistent/never-created", port: 0, env: { [variable]: value } })).rejects.toThrow(
      `${variable}=${value} cannot apply to the embedded registry`,
    );
  });
});
