import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureCollectionSearchIndex } from "../lambdas/adapters/dynamodb/collection-search.js";
import { ensureTable } from "../lambdas/adapters/dynamodb/ensure-table.js";
import { EmulatorBlobStore } from "./emulator-blob-store.js";
import { createServices, useServices, type BlobStoreFactory } from "../lambdas/composition.js";
import { loadConfig } from "../lambdas/config.js";
import { bootstrapAdmin } from "../lambdas/core/bootstrap-admin.js";
import { startDeliveryWorkers } from "./delivery-workers.js";
import { startDynamoDbLocal } from "./dynamodb-local.js";
import { S3_EMULATOR_CREDENTIALS, startS3Emulator } from "./s3-emulator.js";
import { startLocalServer } from "./server.js";

export const LOCAL_TABLE = "mreg";
export const LOCAL_BUCKET = "mreg-blobs";
/** The local default for MREG_MULTIPART_THRESHOLD: 5 GiB, the largest it may be. */
export const LOCAL_MULTIPART_THRESHOLD = 5 * 1024 * 1024 * 1024;

export interface LocalStackOptions {
  dataDir: string;
  port: number;
  /** The bootstrap admin's key (MREG_ADMIN_KEY); generated and saved when absent. */
  adminKey?: string;
  /** Fixed emulator ports (MREG_DYNAMODB_PORT, MREG_S3_PORT); free loopback ports otherwise. */
  emulatorPorts?: { dynamodb?: number; s3?: number };
  /** Extra buckets to create in the emulator, e.g. for reference entries in tests. */
  extraBuckets?: string[];
  /** Configuration passed on to the handlers (MREG_PART_SIZE, MREG_MULTIPART_THRESHOLD, …). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface LocalStack {
  url: string;
  dataDir: string;
  /** The admin key when this start created or was given it; otherwise read it from `adminKeyFile`. */
  adminKey?: string;
  adminKeyFile: string;
  endpoints: { dynamodb: string; s3: string };
  stop(): Promise<void>;
}

/** DynamoDB Local, the S3 emulator and the API server, all on loopback, data under `dataDir`. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const adminKeyFile = join(dataDir, "admin-key");
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    useServices(undefined);
    for (const stopOne of stops.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const [dynamo, s3] = await Promise.all([
      startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb"), port: options.emulatorPorts?.dynamodb, log }).then((d) => (stops.push(d.stop), d)),
      startS3Emulator({
        directory: join(dataDir, "s3"),
        port: options.emulatorPorts?.s3,
        buckets: [LOCAL_BUCKET, ...(options.extraBuckets ?? [])],
        // Only what the registry verifies: staged uploads and multipart blobs.
        hashObject: (bucket, key) => bucket === LOCAL_BUCKET && (key.startsWith("staging/") || key.startsWith("blobs/")),
      }).then((s) => (stops.push(s.stop), s)),
    ]);
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3_EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
      MREG_TABLE_NAME: LOCAL_TABLE,
      MREG_BUCKET: LOCAL_BUCKET,
      MREG_S3_FORCE_PATH_STYLE: "true",
      MREG_S3_EMULATOR: "true",
      // Webhook receivers on this machine are the point of local mode.
      MREG_WEBHOOK_ALLOW_LOOPBACK: "true",
      // One machine gains nothing from parallel parts, and the emulator completes a multipart
      // upload by writing every part again: single PUTs up to S3's 5 GiB limit (see README, Benchmark).
      MREG_MULTIPART_THRESHOLD: process.env.MREG_MULTIPART_THRESHOLD || String(LOCAL_MULTIPART_THRESHOLD),
      ...options.env,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    // The emulator runs in this process: verification reads its files directly (HTTP otherwise).
    const ledger = s3.ledger;
    const blobStore: BlobStoreFactory | undefined = ledger
      ? (client, blobOptions) => new EmulatorBlobStore(client, blobOptions, ledger)
      : undefined;
    const services = createServices(loadConfig(), blobStore);
    const table = await ensureTable(new DynamoDBClient({ region: "us-east-1" }), LOCAL_TABLE);
    log(`table ${LOCAL_TABLE}: ${table}`);
    // Collections kept from before the name search index get indexed once (a marker item records it).
    const indexed = await ensureCollectionSearchIndex(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), LOCAL_TABLE);
    if (indexed) log(`name search: indexed ${indexed} existing collections`);
    const admin = await bootstrapAdmin(services, options.adminKey);
    let adminKey = options.adminKey ?? admin.secret;
    if (admin.secret) {
      await writeFile(adminKeyFile, `${admin.secret}\n`, { mode: 0o600 });
      log(`created the admin user; its API key (saved to ${adminKeyFile}):`);
      log(`  ${admin.secret}`);
    } else if (adminKey === undefined) {
      adminKey = await readFile(adminKeyFile, "utf8").then((text) => text.trim(), () => undefined);
    }
    useServices(services);
    stops.push((await startDeliveryWorkers({ services, endpoint: dynamo.endpoint, log })).stop);
    const server = await startLocalServer({ port: options.port });
    stops.push(server.close);
    return {
      url: server.url,
      dataDir,
      adminKey,
      adminKeyFile,
      endpoints: { dynamodb: dynamo.endpoint, s3: s3.endpoint },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
