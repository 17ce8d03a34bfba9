import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureCollectionSearchIndex } from "../lambdas/adapters/dynamodb/collection-search.js";
import { ensureTable } from "../lambdas/adapters/dynamodb/ensure-table.js";
import { ensureProjectIndex } from "../lambdas/adapters/dynamodb/project-index.js";
import { Re2AliasPatterns } from "../lambdas/adapters/regex/re2-alias-patterns.js";
import { EmulatorBlobStore } from "./emulator-blob-store.js";
import { createDynamoClient, createServices, type BlobStoreFactory, type Services } from "../lambdas/composition.js";
import { CONFIG_VARIABLES, loadConfig, type Config, type ConfigInput } from "../lambdas/config.js";
import { bootstrapAdmin } from "../lambdas/core/bootstrap-admin.js";
import { createApiHandlers } from "../lambdas/handlers/index.js";
import { localObservability } from "../lambdas/observability.js";
import { MULTIPART_THRESHOLD } from "../lambdas/settings.js";
import { acquireDataDirLock, type DataDirLock } from "./data-dir-lock.js";
import { startDeliveryWorkers } from "./delivery-workers.js";
import { startDynamoDbLocal } from "./dynamodb-local.js";
import { startJobWorker } from "./job-worker.js";
import { loadOrCreateS3Credentials, S3_CREDENTIALS_FILE } from "./s3-credentials.js";
import { startS3Emulator } from "./s3-emulator.js";
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
  /** The data dir's lock when the caller took it already (`npm start` does, first thing); taken here otherwise. Released by stop(). */
  lock?: DataDirLock;
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

/**
 * Where local mode's defaults differ from AWS's: each applies only when its variable is not
 * set, so an explicit setting (MREG_WEBHOOK_ALLOW_LOOPBACK=false, say) always wins.
 */
export function localDefaults(env: Readonly<Record<string, string | undefined>>): Partial<ConfigInput> {
  const defaults: { [K in keyof typeof CONFIG_VARIABLES]?: ConfigInput[K] } = {
    // Webhook receivers on this machine are the point of local mode.
    webhookAllowLoopback: true,
    multipartThreshold: LOCAL_MULTIPART_THRESHOLD,
  };
  return Object.fromEntries(
    Object.entries(defaults).filter(([key]) => {
      const value = env[CONFIG_VARIABLES[key as keyof typeof CONFIG_VARIABLES]];
      return value === undefined || value === "";
    }),
  );
}

/**
 * What the embedded stack is built around: a variable asking for something else cannot be
 * honoured here, so it stops the start rather than being ignored.
 */
const FIXED_IN_LOCAL_MODE = {
  tableName: LOCAL_TABLE,
  bucket: LOCAL_BUCKET,
  s3ForcePathStyle: "true",
  s3Emulator: "true",
} as const satisfies { [K in keyof typeof CONFIG_VARIABLES]?: string };

function refuseFixedSettings(env: Readonly<Record<string, string | undefined>>): void {
  for (const [key, fixed] of Object.entries(FIXED_IN_LOCAL_MODE)) {
    const variable = CONFIG_VARIABLES[key as keyof typeof FIXED_IN_LOCAL_MODE];
    const value = env[variable];
    if (value !== undefined && value !== "" && value !== fixed) {
      throw new Error(`${variable}=${value} cannot apply to the embedded registry, which always uses ${fixed}: unset it`);
    }
  }
}

/** DynamoDB Local, the S3 emulator and the API server, all on loopback, data under `dataDir`. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const dataDir = resolve(options.dataDir);
  const adminKeyFile = join(dataDir, "admin-key");
  refuseFixedSettings(env);
  // Before anything opens the data dir: a second server on it would lose acknowledged writes.
  const lock = options.lock ?? (await acquireDataDirLock(dataDir));
  // Stopped in reverse: the lock goes last, once DynamoDB Local (which holds it too) has exited.
  const stops: (() => Promise<void>)[] = [() => lock.release()];
  const stop = async () => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // The emulator's own key pair, kept with the data: the store answers nobody else.
    const credentials = await loadOrCreateS3Credentials(dataDir);
    const inheritFds = lock.fd === undefined ? [] : [lock.fd];
    const [dynamo, s3] = await Promise.all([
      startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb"), port: options.emulatorPorts?.dynamodb, inheritFds, log }).then(
        (d) => (stops.push(d.stop), d),
      ),
      startS3Emulator({
        directory: join(dataDir, "s3"),
        port: options.emulatorPorts?.s3,
        buckets: [LOCAL_BUCKET, ...(options.extraBuckets ?? [])],
        credentials,
        // Only what the registry verifies: staged uploads and multipart blobs.
        hashObject: (bucket, key) => bucket === LOCAL_BUCKET && (key.startsWith("staging/") || key.startsWith("blobs/")),
      }).then((s) => (stops.push(s.stop), s)),
    ]);
    log(`S3 emulator at ${s3.endpoint}, answering only requests signed with the key pair in ${join(dataDir, S3_CREDENTIALS_FILE)}`);
    const config = loadConfig(env, {
      tableName: LOCAL_TABLE,
      bucket: LOCAL_BUCKET,
      region: "us-east-1",
      endpoints: { dynamodb: dynamo.endpoint, s3: s3.endpoint },
      // DynamoDB Local runs with -sharedDb: any key reads the one database; the S3 emulator checks its own.
      credentials,
      s3ForcePathStyle: true,
      s3Emulator: true,
      // The data dir lock makes this process the table's only user: a crashed server's blob claims are taken over at once.
      soleServer: true,
      ...localDefaults(env),
    });
    // The emulator runs in this process: verification reads its files directly (HTTP otherwise).
    const ledger = s3.ledger;
    const createBlobStore: BlobStoreFactory | undefined = ledger
      ? (client, blobOptions) => new EmulatorBlobStore(client, blobOptions, ledger)
      : undefined;
    const services = createServices(config, { createBlobStore, aliasPatterns: new Re2AliasPatterns() });
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
    const checkpointFile = join(dataDir, "stream-checkpoint.json");
    stops.push((await startDeliveryWorkers({ services, observability, checkpointFile, log })).stop);
    stops.push(startJobWorker({ services, observability, log }).stop);
    const server = await startLocalServer({
      port: options.port,
      handlers: createApiHandlers(services, observability),
      logger: observability.logger,
    });
    stops.push(server.close);
    lock.describe({ url: server.url });
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
