import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { monotonicFactory } from "ulid";
import { DynamoArtifactStore } from "./adapters/dynamodb/artifact-store.js";
import { DynamoAutomationStore } from "./adapters/dynamodb/automation-store.js";
import { DynamoBlobLedger } from "./adapters/dynamodb/blob-ledger.js";
import { DynamoIdentityStore } from "./adapters/dynamodb/identity-store.js";
import { DynamoLineageStore } from "./adapters/dynamodb/lineage-store.js";
import { DynamoPromotionStore } from "./adapters/dynamodb/promotion-store.js";
import { DynamoRegistryStore } from "./adapters/dynamodb/registry-store.js";
import { HttpWebhookSender } from "./adapters/http/webhook-sender.js";
import { S3BlobStore, type BlobStoreOptions } from "./adapters/s3/blob-store.js";
import type { Config } from "./config.js";
import type {
  ArtifactStore,
  AutomationStore,
  BlobLedger,
  BlobStore,
  Clock,
  IdentityStore,
  Ids,
  LineageStore,
  PromotionStore,
  RegistryStore,
  WebhookSender,
} from "./core/ports.js";
import type { UploadLimits } from "./core/upload-blobs.js";
import type { DeliveryPolicy } from "./core/webhook-retry.js";
import { WEBHOOK_MAX_RETRY_DELAY_MS } from "./settings.js";

export interface Services {
  config: Config;
  artifacts: ArtifactStore;
  ledger: BlobLedger;
  identity: IdentityStore;
  registries: RegistryStore;
  promotions: PromotionStore;
  blobs: BlobStore;
  clock: Clock;
  ids: Ids;
  limits: UploadLimits;
  lineage: LineageStore;
  automations: AutomationStore;
  webhooks: WebhookSender;
  deliveryPolicy: DeliveryPolicy;
}

/** Where the SDK clients connect, and as whom: the SDK's own defaults when the config names none. */
type ClientConfig = Pick<Config, "region" | "endpoints" | "credentials">;

export function createDynamoClient(config: ClientConfig): DynamoDBClient {
  return new DynamoDBClient({
    region: config.region,
    ...(config.endpoints.dynamodb ? { endpoint: config.endpoints.dynamodb } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
}

export function createS3Client(config: ClientConfig & Pick<Config, "s3ForcePathStyle" | "s3Emulator">): S3Client {
  const client = new S3Client({
    region: config.region,
    ...(config.endpoints.s3 ? { endpoint: config.endpoints.s3 } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    forcePathStyle: config.s3ForcePathStyle,
    // Otherwise the SDK adds a CRC32 of an empty body to presigned PUTs and streams aws-chunked.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  if (config.s3Emulator) {
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

export interface ServiceOptions {
  createBlobStore?: BlobStoreFactory;
  /** Wraps the DynamoDB client before any store uses it: Lambda traces its calls. */
  instrumentDynamo?: (client: DynamoDBClient) => DynamoDBClient;
}

/**
 * The composition root: every adapter wired from one validated configuration. Nothing here
 * is global, so two stacks (or two tests) can hold their own services in one process.
 */
export function createServices(config: Config, options: ServiceOptions = {}): Services {
  const createBlobStore = options.createBlobStore ?? ((client, blobOptions) => new S3BlobStore(client, blobOptions));
  const base = createDynamoClient(config);
  const dynamo = DynamoDBDocumentClient.from(options.instrumentDynamo?.(base) ?? base, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const s3 = createS3Client(config);
  const ulid = monotonicFactory();
  return {
    config,
    artifacts: new DynamoArtifactStore(dynamo, config.tableName),
    ledger: new DynamoBlobLedger(dynamo, config.tableName),
    identity: new DynamoIdentityStore(dynamo, config.tableName),
    registries: new DynamoRegistryStore(dynamo, config.tableName),
    promotions: new DynamoPromotionStore(dynamo, config.tableName),
    blobs: createBlobStore(s3, {
      bucket: config.bucket,
      urlExpirySeconds: config.urlExpirySeconds,
      signChecksums: config.signChecksums,
    }),
    clock: { now: () => new Date() },
    ids: { next: () => ulid() },
    limits: { multipartThreshold: config.multipartThreshold, partSize: config.partSize },
    lineage: new DynamoLineageStore(dynamo, config.tableName),
    automations: new DynamoAutomationStore(dynamo, config.tableName),
    webhooks: new HttpWebhookSender({
      allowLoopback: config.webhookAllowLoopback,
      allowPrivate: config.webhookAllowPrivate,
    }),
    deliveryPolicy: {
      maxAttempts: config.webhookMaxAttempts,
      baseDelayMs: config.webhookBackoffMs,
      maxDelayMs: WEBHOOK_MAX_RETRY_DELAY_MS,
      timeoutMs: config.webhookTimeoutMs,
    },
  };
}
