import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { monotonicFactory } from "ulid";
import { DynamoArtifactStore } from "./adapters/dynamodb/artifact-store.js";
import { DynamoAutomationStore } from "./adapters/dynamodb/automation-store.js";
import { DynamoBlobLedger } from "./adapters/dynamodb/blob-ledger.js";
import { DynamoJobStore } from "./adapters/dynamodb/job-store.js";
import { DynamoIdentityStore } from "./adapters/dynamodb/identity-store.js";
import { DynamoLineageStore } from "./adapters/dynamodb/lineage-store.js";
import { DynamoPromotionStore } from "./adapters/dynamodb/promotion-store.js";
import { DynamoRegistryStore } from "./adapters/dynamodb/registry-store.js";
import { tableSecret } from "./adapters/dynamodb/server-secret.js";
import { DOCUMENT_TRANSLATION } from "./adapters/dynamodb/user-json.js";
import { HttpWebhookSender } from "./adapters/http/webhook-sender.js";
import { S3BlobStore, type BlobStoreOptions } from "./adapters/s3/blob-store.js";
import type { Config } from "./config.js";
import { CursorSealer, type Cursors } from "./core/cursors.js";
import type {
  AliasPatterns,
  ArtifactStore,
  AutomationStore,
  BlobLedger,
  BlobStore,
  Clock,
  IdentityStore,
  Ids,
  JobStore,
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
  jobs: JobStore;
  blobs: BlobStore;
  clock: Clock;
  ids: Ids;
  limits: UploadLimits;
  lineage: LineageStore;
  automations: AutomationStore;
  webhooks: WebhookSender;
  deliveryPolicy: DeliveryPolicy;
  aliasPatterns: AliasPatterns;
  /** Seals every page cursor the API hands out, under the deployment's own secret. */
  cursors: Cursors;
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
  /**
   * The alias pattern engine (lambdas/adapters/regex/re2-alias-patterns.ts), given only by
   * what matches or checks patterns (the automations function, the stream consumer, the
   * local stack), so the other bundles go without it (about 150 kB minified).
   */
  aliasPatterns?: AliasPatterns;
  /** Wraps the DynamoDB client before any store uses it: Lambda traces its calls. */
  instrumentDynamo?: (client: DynamoDBClient) => DynamoDBClient;
}

/** Stands in where no alias pattern engine was wired: reaching it is a wiring mistake, not a user's. */
const WITHOUT_ALIAS_PATTERNS: AliasPatterns = {
  problem: () => {
    throw new Error("alias patterns are not wired into this function: pass aliasPatterns to createServices");
  },
  matches: () => {
    throw new Error("alias patterns are not wired into this function: pass aliasPatterns to createServices");
  },
};

/**
 * The composition root: every adapter wired from one validated configuration. Nothing here
 * is global, so two stacks (or two tests) can hold their own services in one process.
 */
export function createServices(config: Config, options: ServiceOptions = {}): Services {
  const createBlobStore = options.createBlobStore ?? ((client, blobOptions) => new S3BlobStore(client, blobOptions));
  const base = createDynamoClient(config);
  const dynamo = DynamoDBDocumentClient.from(options.instrumentDynamo?.(base) ?? base, DOCUMENT_TRANSLATION);
  const cursors = new CursorSealer(tableSecret(dynamo, config.tableName, "cursor"));
  const s3 = createS3Client(config);
  const ulid = monotonicFactory();
  return {
    config,
    artifacts: new DynamoArtifactStore(dynamo, config.tableName, cursors),
    ledger: new DynamoBlobLedger(dynamo, config.tableName, { soleHolder: config.soleServer }),
    identity: new DynamoIdentityStore(dynamo, config.tableName, cursors),
    registries: new DynamoRegistryStore(dynamo, config.tableName, cursors),
    promotions: new DynamoPromotionStore(dynamo, config.tableName, cursors),
    jobs: new DynamoJobStore(dynamo, config.tableName, cursors),
    blobs: createBlobStore(s3, {
      bucket: config.bucket,
      urlExpirySeconds: config.urlExpirySeconds,
      signChecksums: config.signChecksums,
    }),
    clock: { now: () => new Date() },
    ids: { next: () => ulid() },
    limits: { multipartThreshold: config.multipartThreshold, partSize: config.partSize },
    lineage: new DynamoLineageStore(dynamo, config.tableName, cursors),
    automations: new DynamoAutomationStore(dynamo, config.tableName, cursors),
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
    aliasPatterns: options.aliasPatterns ?? WITHOUT_ALIAS_PATTERNS,
    cursors,
  };
}
