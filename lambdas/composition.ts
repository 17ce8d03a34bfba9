import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { monotonicFactory } from "ulid";
import { DynamoArtifactStore } from "./adapters/dynamodb/artifact-store.js";
import { DynamoAutomationStore } from "./adapters/dynamodb/automation-store.js";
import { DynamoBlobLedger } from "./adapters/dynamodb/blob-ledger.js";
import { DynamoIdentityStore } from "./adapters/dynamodb/identity-store.js";
import { DynamoLineageStore } from "./adapters/dynamodb/lineage-store.js";
import { DynamoRegistryStore } from "./adapters/dynamodb/registry-store.js";
import { HttpWebhookSender } from "./adapters/http/webhook-sender.js";
import { S3BlobStore, type BlobStoreOptions } from "./adapters/s3/blob-store.js";
import { loadConfig, type Config } from "./config.js";
import type {
  ArtifactStore,
  AutomationStore,
  BlobLedger,
  BlobStore,
  Clock,
  IdentityStore,
  Ids,
  LineageStore,
  RegistryStore,
  WebhookSender,
} from "./core/ports.js";
import type { UploadLimits } from "./core/upload-blobs.js";
import { MAX_RETRY_DELAY_MS, type DeliveryPolicy } from "./core/webhook-retry.js";

export interface Services {
  config: Config;
  artifacts: ArtifactStore;
  ledger: BlobLedger;
  identity: IdentityStore;
  registries: RegistryStore;
  blobs: BlobStore;
  clock: Clock;
  ids: Ids;
  limits: UploadLimits;
  lineage: LineageStore;
  automations: AutomationStore;
  webhooks: WebhookSender;
  deliveryPolicy: DeliveryPolicy;
}

export function createS3Client(
  config: Pick<Config, "AWS_REGION" | "MREG_S3_FORCE_PATH_STYLE" | "MREG_S3_EMULATOR">,
): S3Client {
  const client = new S3Client({
    region: config.AWS_REGION,
    forcePathStyle: config.MREG_S3_FORCE_PATH_STYLE,
    // Otherwise the SDK adds a CRC32 of an empty body to presigned PUTs and streams aws-chunked.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  if (config.MREG_S3_EMULATOR) {
    // The SDK signs `/bucket/` for bucket-level calls; @20minutes/s3rver checks `/bucket`.
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { path?: unknown };
        if (typeof request.path === "string" && /^\/[^/]+\/$/.test(request.path)) {
          request.path = request.path.slice(0, -1);
        }
        return next(args);
      },
      { step: "build", name: "trimBucketRootSlash" },
    );
  }
  return client;
}

/** Lets the local stack use a BlobStore that knows its in-process emulator; Lambda uses S3BlobStore. */
export type BlobStoreFactory = (client: S3Client, options: BlobStoreOptions) => BlobStore;

export function createServices(
  config: Config = loadConfig(),
  createBlobStore: BlobStoreFactory = (client, options) => new S3BlobStore(client, options),
): Services {
  // Endpoints come from AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3, so Lambda,
  // the local server and the tests share this code path.
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: config.AWS_REGION }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const s3 = createS3Client(config);
  const ulid = monotonicFactory();
  return {
    config,
    artifacts: new DynamoArtifactStore(dynamo, config.MREG_TABLE_NAME),
    ledger: new DynamoBlobLedger(dynamo, config.MREG_TABLE_NAME),
    identity: new DynamoIdentityStore(dynamo, config.MREG_TABLE_NAME),
    registries: new DynamoRegistryStore(dynamo, config.MREG_TABLE_NAME),
    blobs: createBlobStore(s3, {
      bucket: config.MREG_BUCKET,
      urlExpirySeconds: config.MREG_URL_EXPIRY_SECONDS,
      signChecksums: config.MREG_SIGN_CHECKSUMS,
    }),
    clock: { now: () => new Date() },
    ids: { next: () => ulid() },
    limits: { multipartThreshold: config.MREG_MULTIPART_THRESHOLD, partSize: config.MREG_PART_SIZE },
    lineage: new DynamoLineageStore(dynamo, config.MREG_TABLE_NAME),
    automations: new DynamoAutomationStore(dynamo, config.MREG_TABLE_NAME),
    webhooks: new HttpWebhookSender({
      allowLoopback: config.MREG_WEBHOOK_ALLOW_LOOPBACK,
      allowPrivate: config.MREG_WEBHOOK_ALLOW_PRIVATE,
    }),
    deliveryPolicy: {
      maxAttempts: config.MREG_WEBHOOK_MAX_ATTEMPTS,
      baseDelayMs: config.MREG_WEBHOOK_BACKOFF_MS,
      maxDelayMs: MAX_RETRY_DELAY_MS,
      timeoutMs: config.MREG_WEBHOOK_TIMEOUT_MS,
    },
  };
}

let services: Services | undefined;

/** Created once per process (one Lambda container) on first use. */
export function getServices(): Services {
  services ??= createServices();
  return services;
}

/** The local stack wires its own services (emulator endpoints) before serving. */
export function useServices(replacement: Services | undefined): void {
  services = replacement;
}
