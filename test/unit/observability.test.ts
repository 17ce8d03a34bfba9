import { Metrics } from "@aws-lambda-powertools/metrics";
import { afterEach, describe, expect, it } from "vitest";
import { emfMetrics } from "../../lambdas/functions/runtime.js";
import { createLambdaRuntime } from "../../lambdas/functions/runtime.js";
import { deliveryOutcome, meterVerifiedBytes, METRICS_NAMESPACE, SERVICE_NAME } from "../../lambdas/observability.js";
import { FakeBlobStore, sha256Hex } from "../support/fakes.js";
import { captureStdout, recordingMetrics } from "../support/observability.js";

let stdout: ReturnType<typeof captureStdout> | undefined;

afterEach(() => {
  stdout?.restore();
  stdout = undefined;
});

const emf = () => emfMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }));

describe("business metrics in CloudWatch EMF", () => {
  it("writes what one invocation recorded as one line, under the mreg namespace", () => {
    const metrics = emf();
    stdout = captureStdout();
    metrics.versionCommitted();
    metrics.versionCommitted();
    metrics.bytesVerified(1234);
    metrics.linkCreated();
    expect(stdout.text()).toBe("");
    metrics.flush();
    const lines = stdout.lines();
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: "mreg",
        Dimensions: [["service"]],
        Metrics: expect.arrayContaining([
          { Name: "VersionsCommitted", Unit: "Count" },
          { Name: "BytesVerified", Unit: "Bytes" },
          { Name: "LinksCreated", Unit: "Count" },
        ]),
      },
    ]);
    expect(line).toMatchObject({ service: "mreg", VersionsCommitted: [1, 1], BytesVerified: 1234, LinksCreated: 1 });
  });

  it("writes nothing at all for an invocation that recorded nothing", () => {
    const metrics = emf();
    stdout = captureStdout();
    metrics.flush();
    expect(stdout.text()).toBe("");
  });

  it("counts webhook deliveries by outcome, the outcome a dimension of their own line", () => {
    const metrics = emf();
    stdout = captureStdout();
    metrics.webhookDeliveries("delivered", 3);
    metrics.webhookDeliveries("retry", 1);
    const lines = stdout.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ outcome: "delivered", WebhookDeliveries: 3 });
    expect(lines[1]).toMatchObject({ outcome: "retry", WebhookDeliveries: 1 });
    expect(lines[0]!._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service", "outcome"]]);
    expect(deliveryOutcome("pending")).toBe("retry");
    expect(deliveryOutcome("failed")).toBe("failed");
  });
});

describe("meterVerifiedBytes", () => {
  it("counts the bytes the store verified, and only those", async () => {
    const store = new FakeBlobStore();
    const metrics = recordingMetrics();
    const blobs = meterVerifiedBytes(store, metrics);
    const good = "verified bytes";
    store.stage(sha256Hex(good), good);
    expect(await blobs.promoteStagedBlob(sha256Hex(good), good.length)).toEqual({ status: "verified" });
    // Wrong bytes under a declared hash, and nothing uploaded at all: not verified, not counted.
    store.stage(sha256Hex("declared"), "other bytes");
    expect((await blobs.promoteStagedBlob(sha256Hex("declared"), 8)).status).toBe("mismatch");
    expect((await blobs.promoteStagedBlob(sha256Hex("absent"), 6)).status).toBe("missing");
    expect(metrics.calls).toEqual([["bytesVerified", good.length]]);
  });

  it("leaves every other method to the store, private state included", async () => {
    class Store extends FakeBlobStore {
      readonly #prefix = "https://blobs.example/";
      override async presignBlobGet(sha256: string): Promise<string> {
        return `${this.#prefix}${sha256}`;
      }
    }
    const blobs = meterVerifiedBytes(new Store(), recordingMetrics());
    expect(await blobs.presignBlobGet("abc", "f")).toBe("https://blobs.example/abc");
    expect((await blobs.presignBlobPut("a".repeat(64))).url).toEqual(expect.any(String));
  });
});

describe("the Lambda runtime", () => {
  it("builds services and observability from the environment once, and refuses a bad one by name", () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs", MREG_LOG_LEVEL: "warn" });
      const runtime = createLambdaRuntime();
      expect(runtime.services.config).toMatchObject({ tableName: "mreg", bucket: "mreg-blobs", logLevel: "warn" });
      expect(runtime.observability.logger.getLevelName()).toBe("WARN");
      // Outside Lambda the tracer stays off.
      expect(runtime.observability.tracer?.isTracingEnabled()).toBe(false);

      process.env.MREG_PART_SIZE = "1024";
      expect(() => createLambdaRuntime()).toThrow(/MREG_PART_SIZE/);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
