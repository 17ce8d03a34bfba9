import type { FunctionName } from "../lambdas/contract/routes.js";

/** What a function may do to the metadata table (exact actions in `tableActions`). */
export type TableAccess = "none" | "read" | "readwrite";

/**
 * What a function may do to file bytes, one capability per use of the `BlobStore` port.
 * `bucketGrants` below turns each into exact actions on key prefixes.
 */
export type BucketCapability =
  /** Presign single PUTs into staging/ (and staging/open/), promote staging/ → blobs/, run multipart uploads into blobs/. */
  | "upload"
  /** Presign GETs of blobs/. */
  | "download"
  | "readManifests"
  | "writeManifests"
  /** HEAD and presigned GET of `s3://` reference entries in the operator-listed buckets. */
  | "readReferences"
  /** Delete blobs/ objects the garbage collector condemned (lambdas/core/gc.ts). */
  | "collect";

export interface FunctionAccess {
  table: TableAccess;
  bucket: readonly BucketCapability[];
  memorySize?: number;
  timeoutSeconds?: number;
}

/**
 * Every function of the route table and what it may touch. Typed against the route table:
 * a function added there without a line here fails `tsc`, `npm run synth` and the infra
 * tests, so no function is ever deployed with guessed privileges (there is no default).
 */
export const functionAccess = {
  // Public and touches nothing; it still gets the configuration every handler validates.
  health: { table: "none", bucket: [], memorySize: 256, timeoutSeconds: 5 },
  artifacts: {
    table: "readwrite",
    bucket: ["upload", "download", "readManifests", "writeManifests", "readReferences"],
    // Completing a multipart upload hashes the whole blob inside the request; one full vCPU
    // (1769 MB) hashes fastest, and the timeout lets a verification outlive API Gateway's
    // 29 s so that the blob's claim is released or the blob marked verified either way.
    memorySize: 1769,
    timeoutSeconds: 900,
  },
  // Links, aliases, tags and history are table writes; files of a linked version are
  // downloads through its manifest, never uploads.
  registries: { table: "readwrite", bucket: ["download", "readManifests", "readReferences"] },
  // Users and API keys live in the table only.
  admin: { table: "readwrite", bucket: [] },
  // Runs and their input edges are table items; lineage is read by key from the table.
  lineage: { table: "readwrite", bucket: [] },
  // Automations and their delivery log are table items; a replay is an outbound HTTPS call.
  automations: { table: "readwrite", bucket: [] },
  // The Hugging Face Hub protocol: the artifacts function's uploads, commits and downloads
  // (lambdas/handlers/hf.ts), so its capabilities and its sizing for multipart verification.
  hf: {
    table: "readwrite",
    bucket: ["upload", "download", "readManifests", "writeManifests", "readReferences"],
    memorySize: 1769,
    timeoutSeconds: 900,
  },
  // The index signature lets a function be declared before its routes land in the table.
} as const satisfies Record<FunctionName, FunctionAccess> & Record<string, FunctionAccess>;

/**
 * The stream consumer is not in the route table; its access is declared here all the same.
 * Besides the stream (granted by its event source) it reads automations and links and
 * writes webhook deliveries and their attempts.
 */
export const streamConsumerAccess: FunctionAccess = { table: "readwrite", bucket: [], memorySize: 256, timeoutSeconds: 60 };

/** The scheduled webhook sweeper: reads due deliveries and their automations, records attempts. */
export const deliverySweeperAccess: FunctionAccess = { table: "readwrite", bucket: [], memorySize: 256, timeoutSeconds: 60 };

/**
 * The scheduled job runner: advances bulk delete jobs (lambdas/core/jobs.ts) through the
 * version delete use case, which writes the table and then releases the version's blob
 * references, reading its manifest (lambdas/core/gc.ts). Five minutes per invocation, of
 * which the last 30 s start no step (lambdas/handlers/job-runner.ts).
 */
export const jobRunnerAccess: FunctionAccess = { table: "readwrite", bucket: ["readManifests"], memorySize: 512, timeoutSeconds: 300 };

/**
 * The scheduled garbage collector: releases deleted versions' references (reading their
 * manifests) and deletes condemned blobs' objects and items; nothing else in the bucket.
 */
export const garbageCollectorAccess: FunctionAccess = {
  table: "readwrite",
  bucket: ["readManifests", "collect"],
  memorySize: 512,
  timeoutSeconds: 900,
};

/** DynamoDB actions per access level; TransactWriteItems is authorised item by item through these. */
export const tableActions: Record<TableAccess, readonly string[]> = {
  none: [],
  read: ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"],
  readwrite: [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
  ],
};

/** Key prefixes of the registry bucket, as the S3 adapter writes them. */
export type KeyPrefix = "blobs/" | "staging/" | "manifests/";

/**
 * Exact S3 actions per capability and prefix. HeadObject is authorised by s3:GetObject,
 * CopyObject by s3:GetObject on the source and s3:PutObject on the target, and
 * Create/UploadPart/CompleteMultipartUpload by s3:PutObject.
 */
export const bucketGrants: Record<Exclude<BucketCapability, "readReferences">, Partial<Record<KeyPrefix, readonly string[]>>> = {
  upload: {
    // Presigned PUTs are executed with the signer's role, so the role itself must be able to write.
    "staging/": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
    // Mismatching bytes are deleted; abandoned multipart uploads are aborted.
    "blobs/": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
  },
  download: { "blobs/": ["s3:GetObject"] },
  readManifests: { "manifests/": ["s3:GetObject"] },
  writeManifests: { "manifests/": ["s3:PutObject"] },
  collect: { "blobs/": ["s3:DeleteObject"] },
};

/** References may pin a version id, which needs GetObjectVersion besides GetObject. */
export const referenceActions = ["s3:GetObject", "s3:GetObjectVersion"] as const;

/** The union of actions per prefix for a set of capabilities, sorted, for one statement per prefix. */
export function bucketActionsByPrefix(capabilities: readonly BucketCapability[]): Map<KeyPrefix, string[]> {
  const byPrefix = new Map<KeyPrefix, Set<string>>();
  for (const capability of capabilities) {
    if (capability === "readReferences") continue;
    for (const [prefix, actions] of Object.entries(bucketGrants[capability]) as [KeyPrefix, readonly string[]][]) {
      const set = byPrefix.get(prefix) ?? new Set<string>();
      for (const action of actions) set.add(action);
      byPrefix.set(prefix, set);
    }
  }
  return new Map([...byPrefix].map(([prefix, actions]) => [prefix, [...actions].sort()]));
}

/** The declaration of a function, or a build-stopping error naming the file to edit. */
export function accessOf(functionName: string): FunctionAccess {
  const access = (functionAccess as Record<string, FunctionAccess>)[functionName];
  if (!access) {
    throw new Error(
      `function "${functionName}" is in lambdas/contract/routes.ts but has no declaration in infra/function-access.ts; ` +
        "declare the table access and bucket capabilities it needs",
    );
  }
  return access;
}
