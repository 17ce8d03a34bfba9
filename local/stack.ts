import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureCollectionSearchIndex } from "../lambdas/adapters/dynamodb/collection-search.js";
import { ensureTable } from "../lambdas/adapters/dynamodb/ensure-table.js";
import { ensureProjectIndex } from "../lambdas/adapters/dynamodb/project-index.js";
import { EmulatorBlobStore } from "./emulator-blob-store.js";
import { createDynamoClient, createServices, type BlobStoreFactory, type Services } from "../lambdas/composition.js";
import { loadConfig, type Config } from "../lambdas/config.js";
import { bootstrapAdmin } from "../lambdas/core/bootstrap-admin.js";
import { createApiHandlers } from "../lambdas/handlers/index.js";
import { localObservability } from "../lambdas/observability.js";
import { MULTIPART_THRESHOLD } from "../lambdas/settings.js";
import { startDeliveryWorkers } from "./delivery-workers.js";
import { startDynamoDbLocal } from "./dynamodb-local.js";
import { S3_EMULATOR_CREDENTIALS, startS3Emulator } from "./s3-emulator.js";
import { startLocalServer } from "./server.js";

export const LOCAL_TABLE = "mreg";
export const LOCAL_BUCKET = "mreg-blobs";
/** The local default of MREG_MULTIPART_THRESHOLD (lambdas/settings.ts says why). */
export const LOCAL_MULTIPART_THRESHOLD = MULTIPART_THRESHOLD.local;

export interface LocalStackOptions {
  dataDir: string;
  port: number;
  /** The bootstrap admin's key (MREG_ADMIN_KEY); generated and saved when absent. */
  adminKey?: string;
  /** Fixed emulator ports (MREG_DYNAMODB_PORT, MREG_S3_PORT); free loopback ports otherwise. */
  emulatorPorts?: { dynamodb?: number; s3?: number };
  /** Extra buckets to create in the emulator, e.g. for reference entries in tests. */
  extraBuckets?: string[];
  /**
   * Settings in their variable form (MREG_PART_SIZE, MREG_LOG_LEVEL, …; lambdas/config.ts),
   * as `npm start` finds them in its environment: process.env unless given. Only read: each
   * stack hands its own configuration to its own services, so stacks share nothing.
   */
  env?: Readonly<Record<string, string | undefined>>;
  log?: (line: string) => void;
}

export interface LocalStack {
  url: string;
  dataDir: string;
  /** The admin key when this start created or was given it; otherwise read it from `adminKeyFile`. */
  adminKey?: string;
  adminKeyFile: string;
  endpoints: { dynamodb: string; s3: string };
  /** What this stack's handlers run with: emulator endpoints and credentials included. */
  config: Config;
  services: Services;
  stop(): Promise<void>;
}

/** DynamoDB Local, the S3 emulator and the API server, all on loopback, data under `dataDir`. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const dataDir = resolve(options.dataDir);
  const adminKeyFile = join(dataDir, "admin-key");
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const [dynamo, s3] = await Promise.all([
      startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb"), port: options.emulatorPorts?.dynamodb, log }).then(
        (d) => (stops.push(d.stop), d),
      ),
      startS3Emulator({
        directory: join(dataDir, "s3"),
        port: options.emulatorPorts?.s3,
        buckets: [LOCAL_BUCKET, ...(options.extraBuckets ?? [])],
        // Only what the registry verifies: staged uploads and multipart blobs.
        hashObject: (bucket, key) => bucket === LOCAL_BUCKET && (key.startsWith("staging/") || key.startsWith("blobs/")),
      }).then((s) => (stops.push(s.stop), s)),
    ]);
    const config = loadConfig(env, {
      tableName: LOCAL_TABLE,
      bucket: LOCAL_BUCKET,
      region: "us-east-1",
      endpoints: { dynamodb: dynamo.endpoint, s3: s3.endpoint },
      // DynamoDB Local runs with -sharedDb: any key reads the one database; the S3 emulator checks its own.
      credentials: { ...S3_EMULATOR_CREDENTIALS },
      s3ForcePathStyle: true,
      s3Emulator: true,
      // Webhook receivers on this machine are the point of local mode.
      webhookAllowLoopback: true,
      ...(env.MREG_MULTIPART_THRESHOLD ? {} : { multipartThreshold: LOCAL_MULTIPART_THRESHOLD }),
    });
    // The emulator runs in this process: verification reads its files directly (HTTP otherwise).
    const ledger = s3.ledger;
    const createBlobStore: BlobStoreFactory | undefined = ledger
      ? (client, blobOptions) => new EmulatorBlobStore(client, blobOptions, ledger)
      : undefined;
    const services = createServices(config, { createBlobStore });
    const observability = localObservability(config);
    const tableClient = createDynamoClient(config);
    try {
      log(`table ${LOCAL_TABLE}: ${await ensureTable(tableClient, LOCAL_TABLE)}`);
      // Collections kept from before the name search index get indexed once (a marker item records it).
      const document = DynamoDBDocumentClient.from(tableClient);
      const indexed = await ensureCollectionSearchIndex(document, LOCAL_TABLE);
      if (indexed) log(`name search: indexed ${indexed} existing collections`);
      // Projects kept from before the projects index get indexed once too, before the server takes requests.
      const projects = await ensureProjectIndex(document, LOCAL_TABLE);
      if (projects) log(`projects index: indexed ${projects} existing projects`);
    } finally {
      tableClient.destroy();
    }
    const admin = await bootstrapAdmin(services, options.adminKey);
    let adminKey = options.adminKey ?? admin.secret;
    if (admin.secret) {
      await writeFile(adminKeyFile, `${admin.secret}\n`, { mode: 0o600 });
      log(`created the admin user; its API key (saved to ${adminKeyFile}):`);
      log(`  ${admin.secret}`);
    } else if (adminKey === undefined) {
      adminKey = await readFile(adminKeyFile, "utf8").then(
        (text) => text.trim(),
        () => undefined,
      );
    }
    stops.push((await startDeliveryWorkers({ services, observability, log })).stop);
    const server = await startLocalServer({
      port: options.port,
      handlers: createApiHandlers(services, observability),
      logger: observability.logger,
    });
    stops.push(server.close);
    return {
      url: server.url,
      dataDir,
      adminKey,
      adminKeyFile,
      endpoints: { dynamodb: dynamo.endpoint, s3: s3.endpoint },
      config,
      services,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
