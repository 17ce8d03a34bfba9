import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { attachEmulatorLedger, type EmulatorLedger } from "./emulator-ledger.js";

const require = createRequire(import.meta.url);

/** The emulator's one built-in key pair; it checks SigV4 signatures against it. */
export const S3_EMULATOR_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface S3Emulator {
  endpoint: string;
  port: number;
  /** The emulator's files as the registry may read them in-process; undefined for an unknown store. */
  ledger?: EmulatorLedger;
  stop(): Promise<void>;
}

interface S3rverInstance {
  store?: unknown;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

/**
 * Starts @20minutes/s3rver on 127.0.0.1, persisting under `directory`, with the registry's
 * bucket created before it serves (its own configuration avoids the SDK's root-path quirk).
 */
export async function startS3Emulator(options: {
  directory: string;
  buckets: string[];
  port?: number;
  /** Objects whose SHA-256 the emulator takes as it writes them (see EmulatorLedger); all by default. */
  hashObject?: (bucket: string, key: string) => boolean;
}): Promise<S3Emulator> {
  await mkdir(options.directory, { recursive: true });
  const S3rver = require("@20minutes/s3rver") as S3rverConstructor;
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    allowMismatchedSignatures: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  // Koa reports request errors (clients hanging up mid-upload) here; they are not fatal.
  server.on("error", () => undefined);
  const ledger = attachEmulatorLedger(server.store, { hashObject: options.hashObject });
  const address = await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    ...(ledger ? { ledger } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
  };
}
