import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { attachEmulatorLedger, type EmulatorLedger } from "./emulator-ledger.js";
import { generateS3Credentials, type S3Credentials } from "./s3-credentials.js";

const require = createRequire(import.meta.url);

export interface S3Emulator {
  endpoint: string;
  port: number;
  /** The only key pair this emulator accepts. */
  credentials: S3Credentials;
  /** The emulator's files as the registry may read them in-process; undefined for an unknown store. */
  ledger?: EmulatorLedger;
  stop(): Promise<void>;
}

interface S3rverInstance {
  store?: unknown;
  middleware: KoaMiddleware[];
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

/** What the middleware below reads of Koa's context. */
interface KoaContext {
  method: string;
  query: Record<string, string | string[] | undefined>;
  get(header: string): string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

type S3ErrorConstructor = new (code: string, message: string, detail?: Record<string, string>) => Error;

interface AwsAccount {
  createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  revokeAccessKey(accessKeyId: string): void;
}

const S3Error = require("@20minutes/s3rver/lib/models/error") as S3ErrorConstructor;
/**
 * s3rver checks signatures against one process-wide account registry, which ships with the
 * public key pair S3RVER/S3RVER. That pair is revoked here, before any emulator starts; each
 * emulator registers its own pair and, in front of s3rver, accepts no other key id.
 */
const { DUMMY_ACCOUNT: account } = require("@20minutes/s3rver/lib/models/account") as { DUMMY_ACCOUNT: AwsAccount };
account.revokeAccessKey("S3RVER");
/** Emulators in this process holding each key id (two stacks on one data dir share a pair). */
const registered = new Map<string, number>();

function registerKeyPair(credentials: S3Credentials): () => void {
  account.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey);
  registered.set(credentials.accessKeyId, (registered.get(credentials.accessKeyId) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (registered.get(credentials.accessKeyId) ?? 1) - 1;
    if (left > 0) {
      registered.set(credentials.accessKeyId, left);
    } else {
      registered.delete(credentials.accessKeyId);
      account.revokeAccessKey(credentials.accessKeyId);
    }
  };
}

/** S3's own bound on a presigned URL's lifetime. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** How far a request's signing time may be in the future (S3 allows 15 minutes of skew). */
const MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * s3rver verifies a signature when a request carries one, but serves a request that carries
 * none as if it were the account's (list, GET, PUT, DELETE of anything). This runs first and
 * lets through only requests signed with SigV4 by `accessKeyId` (header or presigned URL, the
 * latter unexpired), plus CORS preflights (which cannot be signed and only read CORS rules);
 * s3rver then checks the signature itself against the registered secret.
 */
export function requireSignature(accessKeyId: string, now: () => number = Date.now): KoaMiddleware {
  return async (ctx, next) => {
    if (ctx.method === "OPTIONS" && ctx.get("origin") !== "" && ctx.get("access-control-request-method") !== "") return next();
    const refuse = (code: string, message: string): never => {
      throw new S3Error(code, message);
    };
    const query = ctx.query;
    const authorization = ctx.get("authorization");
    const headerSigned = authorization !== "";
    const querySigned = "X-Amz-Algorithm" in query;
    if ("Signature" in query || "AWSAccessKeyId" in query || /^AWS\s/i.test(authorization)) {
      refuse("InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
    }
    if (!headerSigned && !querySigned) {
      refuse("AccessDenied", "Access Denied: anonymous requests are refused; sign them with the registry's credentials");
    }
    let keyId: string | undefined;
    if (headerSigned) {
      // Parsed exactly as s3rver's authentication middleware parses it, so both see the same key id.
      if (!/^AWS4-HMAC-SHA256\s/i.test(authorization)) refuse("InvalidRequest", "Unsupported Authorization Type");
      const components = new Map(
        authorization
          .split(" ")
          .slice(1)
          .join("")
          .split(",")
          .map((component) => {
            const [key, ...value] = component.split("=");
            return [key, value.join("=")] as const;
          }),
      );
      keyId = components.get("Credential")?.split("/")[0];
    } else {
      const single = (name: string): string => {
        const value = query[name];
        if (typeof value !== "string" || value === "") {
          return refuse("AuthorizationQueryParametersError", `${name} must be given exactly once`);
        }
        return value;
      };
      for (const name of ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"]) {
        single(name);
      }
      keyId = single("X-Amz-Credential").split("/")[0];
      const signedAt = parseAmzDate(single("X-Amz-Date"));
      const expires = single("X-Amz-Expires");
      if (signedAt === undefined) refuse("AuthorizationQueryParametersError", "X-Amz-Date must be yyyyMMdd'T'HHmmss'Z'");
      if (!/^\d{1,6}$/.test(expires) || Number(expires) < 1 || Number(expires) > MAX_PRESIGN_SECONDS) {
        refuse("AuthorizationQueryParametersError", `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGN_SECONDS}`);
      }
      const at = now();
      if (signedAt! > at + MAX_SKEW_MS) refuse("AccessDenied", "Request is not valid yet");
      if (at > signedAt! + Number(expires) * 1000) refuse("AccessDenied", "Request has expired");
    }
    if (keyId !== accessKeyId) {
      refuse("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    }
    return next();
  };
}

function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Starts @20minutes/s3rver on 127.0.0.1, persisting under `directory`, with the registry's
 * bucket created before it serves (its own configuration avoids the SDK's root-path quirk).
 * It answers only requests signed with `credentials` (a random pair when none is given).
 */
export async function startS3Emulator(options: {
  directory: string;
  buckets: string[];
  port?: number;
  credentials?: S3Credentials;
  /** Objects whose SHA-256 the emulator takes as it writes them (see EmulatorLedger); all by default. */
  hashObject?: (bucket: string, key: string) => boolean;
}): Promise<S3Emulator> {
  await mkdir(options.directory, { recursive: true });
  const credentials = options.credentials ?? generateS3Credentials();
  const S3rver = require("@20minutes/s3rver") as S3rverConstructor;
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    vhostBuckets: false,
    // Not amazonaws.com: no Host header a client sends can make a request a vhost or website one.
    serviceEndpoint: "mreg-s3-emulator.invalid",
    allowMismatchedSignatures: false,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  // Koa composes its middleware when it starts listening: this one runs before all of s3rver's.
  server.middleware.unshift(requireSignature(credentials.accessKeyId));
  // Koa reports request errors (clients hanging up mid-upload) here; they are not fatal.
  server.on("error", () => undefined);
  const ledger = attachEmulatorLedger(server.store, { hashObject: options.hashObject });
  const release = registerKeyPair(credentials);
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    release();
    throw error;
  }
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    credentials,
    ...(ledger ? { ledger } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        release();
      }
    },
  };
}
