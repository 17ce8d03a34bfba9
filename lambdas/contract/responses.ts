import * as z from "zod";
import { automationEvent } from "./automations.js";

/**
 * What the API answers, as schemas: the TypeScript types the handlers and the clients use are
 * inferred from them (re-exported by the request files beside them), and the OpenAPI
 * document (lambdas/contract/openapi.ts) is generated from them, so the three cannot drift.
 * Objects are closed: a field the code answers but no schema names fails the contract test.
 */

/** A page of a list: `nextCursor` is present while more items follow. */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().optional() });

const headers = z.record(z.string(), z.string());
const timestamp = z.string();

const orgRole = z.enum(["admin", "member", "viewer"]);
const registryRole = z.enum(["viewer", "member", "admin"]);

export const healthResponse = z.object({ status: z.literal("ok") });

export const presignedPut = z.object({ sha256: z.string(), size: z.int(), method: z.literal("PUT"), url: z.string(), headers });
export type PresignedPut = z.infer<typeof presignedPut>;

export const presignedMultipart = z.object({
  sha256: z.string(),
  size: z.int(),
  multipart: z.object({
    uploadId: z.string(),
    partSize: z.int(),
    parts: z.array(z.object({ partNumber: z.int(), url: z.string(), headers })),
  }),
});
export type PresignedMultipart = z.infer<typeof presignedMultipart>;

/** A presigned PUT for bytes whose SHA-256 is declared later, at commit, with the uploadId. */
export const openUpload = z.object({
  path: z.string(),
  size: z.int(),
  uploadId: z.string(),
  method: z.literal("PUT"),
  url: z.string(),
  headers,
});
export type OpenUpload = z.infer<typeof openUpload>;

export const uploadPlan = z.object({
  uploads: z.array(z.union([presignedPut, presignedMultipart])),
  present: z.array(z.string()),
  /**
   * One entry per requested open upload the registry granted (present when `open` was asked
   * for). Files it would take only as multipart are left out: hash those first, then plan them.
   */
  open: z.array(openUpload).optional(),
});
export type UploadPlan = z.infer<typeof uploadPlan>;

export const completedUpload = z.object({ sha256: z.string(), size: z.int(), verified: z.literal(true), alreadyPresent: z.boolean() });

export const commitResponse = z.object({
  version: z.string(),
  index: z.int(),
  digest: z.string(),
  created: z.boolean(),
  aliases: z.array(z.string()),
});
export type CommitResponse = z.infer<typeof commitResponse>;

export const versionResponse = z.object({
  version: z.string(),
  index: z.int(),
  digest: z.string(),
  type: z.string(),
  aliases: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  description: z.string().nullable(),
  createdAt: timestamp,
  createdBy: z.string(),
  size: z.int(),
  fileCount: z.int(),
  runId: z.string().optional(),
  project: z.string(),
  artifact: z.string(),
  /** Present when the version has an expiry: `kept` says why the retention sweep left it in place once expired. */
  retention: z.object({ expiresAt: timestamp, kept: z.string().optional() }).optional(),
});
export type VersionResponse = z.infer<typeof versionResponse>;

export const fileResponse = z.object({
  path: z.string(),
  size: z.int(),
  sha256: z.string().optional(),
  ref: z.string().optional(),
  etag: z.string().optional(),
  versionId: z.string().optional(),
  url: z.string(),
});
export type FileResponse = z.infer<typeof fileResponse>;

/** A page of a version's files (`GET …/versions/{v}/files`). */
export const filesPage = page(fileResponse).extend({
  /**
   * The digest of the version the files belong to: the SHA-256 of the canonical manifest
   * (lambdas/contract/manifest.ts) of all its files, every page and prefix together.
   */
  digest: z.string(),
});
export type FilesPage = z.infer<typeof filesPage>;

/** A project: a namespace artifacts are logged into, listed with how many artifacts it holds. */
export const projectResponse = z.object({
  name: z.string(),
  artifactCount: z.int(),
  createdAt: timestamp,
  createdBy: z.string(),
  /** Default retention of versions committed into the project, in days. */
  ttlDays: z.int().optional(),
});
export type ProjectResponse = z.infer<typeof projectResponse>;

export const artifactResponse = z.object({
  project: z.string(),
  name: z.string(),
  type: z.string(),
  createdAt: timestamp,
  createdBy: z.string(),
  versionCount: z.int(),
  latest: z.string().nullable(),
  aliases: z.record(z.string(), z.string()),
});
export type ArtifactResponse = z.infer<typeof artifactResponse>;

export const deletedVersionResponse = z.object({ deleted: z.string(), unlinked: z.array(z.string()) });

/**
 * What a delete would remove and free (`?dryRun=true`), written nowhere. `reclaimableBytes`
 * are the bytes of blobs nothing else references: what the collector frees once the grace
 * period after the delete has passed.
 */
export const deleteDryRunResponse = z.object({
  dryRun: z.literal(true),
  versions: z.array(z.string()),
  links: z.array(z.string()),
  files: z.int().min(0),
  logicalBytes: z.int().min(0),
  reclaimableBytes: z.int().min(0),
  reclaimableBlobs: z.int().min(0),
});

export const registryDeleteDryRunResponse = deleteDryRunResponse.extend({
  members: z.array(z.string()),
  automations: z.array(z.string()),
});

export const usageResponse = z.object({
  logicalBytes: z.int().min(0),
  storedBytes: z.int().min(0),
  dedupRatio: z.number().min(0),
  versions: z.int().min(0),
  files: z.int().min(0),
  blobs: z.int().min(0),
});

export const projectUsageResponse = usageResponse.extend({ project: z.string() });
export type UsageResponse = z.infer<typeof usageResponse>;
export type ProjectUsageResponse = z.infer<typeof projectUsageResponse>;

export const gcReportResponse = z.object({
  dryRun: z.boolean(),
  releasesFinished: z.int().min(0),
  releasesFailed: z.int().min(0),
  examined: z.int().min(0),
  deleted: z.int().min(0),
  deletedBytes: z.int().min(0),
  dismissed: z.int().min(0),
  skipped: z.int().min(0),
  graceHours: z.number().min(0),
});
export const aliasSetResponse = z.object({ alias: z.string(), version: z.string(), previous: z.string().nullable() });
export const aliasRemovedResponse = z.object({ alias: z.string(), previous: z.string() });

/** One change, newest first in history lists: who, when, what, and the details of its kind. */
export const auditEventResponse = z.looseObject({ action: z.string(), actor: z.string(), at: timestamp });

export const userResponse = z.object({
  id: z.string(),
  name: z.string(),
  role: orgRole,
  status: z.enum(["active", "deactivated"]),
  createdAt: timestamp,
});
export type UserResponse = z.infer<typeof userResponse>;

/** The registries in which a user holds a membership, with the role each grants. */
export const membershipsResponse = z.object({
  user: z.string(),
  orgRole,
  items: z.array(z.object({ registry: z.string(), role: registryRole })),
});
export type MembershipsResponse = z.infer<typeof membershipsResponse>;

/** What listing shows of a key: never the secret, never its hash. */
export const apiKeyResponse = z.object({
  id: z.string(),
  user: z.string(),
  createdAt: timestamp,
  expiresAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
  lastUsedAt: timestamp.nullable(),
});
export type ApiKeyResponse = z.infer<typeof apiKeyResponse>;

/** The secret, shown this once. */
export const createdApiKeyResponse = apiKeyResponse.extend({ key: z.string() });
export type CreatedApiKeyResponse = z.infer<typeof createdApiKeyResponse>;

export const registryResponse = z.object({
  name: z.string(),
  description: z.string().nullable(),
  visibility: z.enum(["organization", "restricted"]),
  artifactTypes: z.array(z.string()).nullable(),
  protectedAliases: z.array(z.string()),
  /** Distinct admins who must approve a move of a protected alias (promotions); 0: admins move it directly. */
  approvalsRequired: z.int(),
  createdAt: timestamp,
  createdBy: z.string(),
  /** The caller's effective role in this registry. */
  role: registryRole,
});
export type RegistryResponse = z.infer<typeof registryResponse>;

export const memberGrantedResponse = z.object({ registry: z.string(), user: z.string(), role: registryRole });
export const memberRevokedResponse = z.object({ registry: z.string(), user: z.string(), revoked: z.literal(true) });

export const collectionResponse = z.object({
  registry: z.string(),
  name: z.string(),
  type: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  aliases: z.record(z.string(), z.string()),
  latest: z.string().nullable(),
  linkCount: z.int(),
  createdAt: timestamp,
  createdBy: z.string(),
});
export type CollectionResponse = z.infer<typeof collectionResponse>;

export const linkResponse = z.object({ version: z.string(), index: z.int(), created: z.boolean(), aliases: z.array(z.string()) });
export type LinkResponse = z.infer<typeof linkResponse>;

export const collectionVersionResponse = z.object({
  registry: z.string(),
  collection: z.string(),
  version: z.string(),
  index: z.int(),
  digest: z.string(),
  type: z.string(),
  aliases: z.array(z.string()),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  description: z.string().nullable(),
  createdAt: timestamp,
  createdBy: z.string(),
  size: z.int(),
  fileCount: z.int(),
  source: z.object({ project: z.string(), artifact: z.string(), version: z.string(), digest: z.string() }),
});
export type CollectionVersionResponse = z.infer<typeof collectionVersionResponse>;

export const memberResponse = z.object({ user: z.string(), role: registryRole, grantedAt: timestamp, grantedBy: z.string() });
export type MemberResponse = z.infer<typeof memberResponse>;

const decisionNote = z.object({ by: z.string(), at: timestamp, note: z.string().optional() });

export const promotionResponse = z.object({
  id: z.string(),
  registry: z.string(),
  collection: z.string(),
  alias: z.string(),
  /** The collection version the alias is to move to. */
  version: z.string(),
  /** What the alias named when the request was made (null: nothing); the move happens only from there. */
  from: z.string().nullable(),
  note: z.string().nullable(),
  status: z.enum(["pending", "approved", "rejected", "stale"]),
  requestedBy: z.string(),
  requestedAt: timestamp,
  approvals: z.array(decisionNote),
  /** Distinct approvals the move needs now (the registry's setting, at least 1). */
  approvalsRequired: z.int(),
  rejection: decisionNote.nullable(),
  decidedAt: timestamp.nullable(),
  /** Why a stale request can no longer move the alias. */
  staleReason: z.string().nullable(),
});
export type PromotionResponse = z.infer<typeof promotionResponse>;

export const unlinkedResponse = z.object({ unlinked: z.string() });
export const collectionTaggedResponse = z.object({ tag: z.string(), changed: z.boolean() });
export const versionTaggedResponse = z.object({ tag: z.string(), version: z.string(), changed: z.boolean() });

export const runResponse = z.object({
  project: z.string(),
  id: z.string(),
  name: z.string().nullable(),
  config: z.record(z.string(), z.unknown()),
  /** The last value logged for each metric key. */
  summary: z.record(z.string(), z.number()),
  createdAt: timestamp,
  createdBy: z.string(),
});
export type RunResponse = z.infer<typeof runResponse>;

export const runInputResponse = z.object({
  run: z.string(),
  project: z.string(),
  input: z.object({ project: z.string(), artifact: z.string(), version: z.string(), index: z.int(), digest: z.string() }),
});

export const metricPoint = z.object({ step: z.int().nullable(), value: z.number() });
export type MetricPoint = z.infer<typeof metricPoint>;

export const logMetricsResponse = z.object({
  project: z.string(),
  run: z.string(),
  /** Points recorded by this request. */
  points: z.int(),
  summary: z.record(z.string(), z.number()),
});
export type LogMetricsResponse = z.infer<typeof logMetricsResponse>;

export const metricHistoryResponse = z.object({
  project: z.string(),
  run: z.string(),
  key: z.string(),
  /** Points ever logged for the key; `points` holds at most MAX_METRIC_POINTS of them. */
  count: z.int(),
  points: z.array(metricPoint),
});
export type MetricHistoryResponse = z.infer<typeof metricHistoryResponse>;

/** Cursors for the edges of a node that this answer did not follow. */
export const moreEdges = z.object({ up: z.string().optional(), down: z.string().optional() });
export type MoreEdges = z.infer<typeof moreEdges>;

export const lineageNode = z.discriminatedUnion("kind", [
  z.object({
    id: z.string(),
    kind: z.literal("run"),
    project: z.string(),
    run: z.string(),
    name: z.string().nullable(),
    createdAt: timestamp.nullable(),
    createdBy: z.string().nullable(),
    more: moreEdges.optional(),
  }),
  z.object({
    id: z.string(),
    kind: z.literal("version"),
    project: z.string(),
    artifact: z.string(),
    version: z.string(),
    index: z.int(),
    type: z.string().optional(),
    digest: z.string().optional(),
    aliases: z.array(z.string()).optional(),
    createdAt: timestamp.optional(),
    createdBy: z.string().optional(),
    /** The version was deleted after the edge was recorded. */
    deleted: z.literal(true).optional(),
    more: moreEdges.optional(),
  }),
]);
export type LineageNode = z.infer<typeof lineageNode>;

export const lineageEdge = z.object({
  from: z.string(),
  to: z.string(),
  /** `input`: a version a run used (version → run); `output`: a version a run produced (run → version). */
  kind: z.enum(["input", "output"]),
});
export type LineageEdge = z.infer<typeof lineageEdge>;

export const lineageResponse = z.object({
  root: z.string(),
  nodes: z.array(lineageNode),
  edges: z.array(lineageEdge),
  /** True when a cap (limit, fanOut) cut the graph: follow the nodes' `more` cursors. */
  truncated: z.boolean(),
  /** For a collection version: the link whose source is the root. */
  link: z.object({ registry: z.string(), collection: z.string(), version: z.string() }).optional(),
});
export type LineageResponse = z.infer<typeof lineageResponse>;

export const automationResponse = z.object({
  id: z.string(),
  registry: z.string(),
  name: z.string(),
  event: automationEvent,
  collection: z.string().nullable(),
  aliasPattern: z.string().nullable(),
  url: z.string(),
  /** Whether deliveries are signed; the secret itself is never returned. */
  hasSecret: z.boolean(),
  payloadTemplate: z.string().nullable(),
  createdAt: timestamp,
  createdBy: z.string(),
});
export type AutomationResponse = z.infer<typeof automationResponse>;

export const automationDeletedResponse = z.object({ deleted: z.string() });

export const deliveryResponse = z.object({
  id: z.string(),
  automationId: z.string(),
  status: z.enum(["pending", "delivered", "failed"]),
  event: z.object({
    type: automationEvent,
    collection: z.string(),
    version: z.string(),
    alias: z.string().optional(),
    actor: z.string(),
    at: timestamp,
  }),
  attemptCount: z.int(),
  attempts: z.array(
    z.object({
      attempt: z.int(),
      at: timestamp,
      latencyMs: z.number(),
      statusCode: z.int().optional(),
      error: z.string().optional(),
      outcome: z.enum(["delivered", "retry", "failed"]),
    }),
  ),
  nextAttemptAt: timestamp.nullable(),
  error: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  /** The body as sent (on a single delivery, not in lists). */
  payload: z.unknown().optional(),
});
export type DeliveryResponse = z.infer<typeof deliveryResponse>;

/** A background job (lambdas/core/jobs.ts): bulk deletes answer it with 202 and `GET /v1/jobs/{id}` follows it. */
export const jobResponse = z.object({
  id: z.string(),
  kind: z.enum(["artifact.delete", "versions.delete", "project.delete"]),
  status: z.enum(["queued", "running", "succeeded", "failed"]),
  project: z.string(),
  artifact: z.string().optional(),
  filter: z.object({ olderThan: timestamp.optional(), aliasAbsent: z.boolean().optional(), notLinked: z.boolean().optional() }).optional(),
  force: z.boolean(),
  progress: z.object({ total: z.int().optional(), done: z.int(), failed: z.int(), skipped: z.int() }),
  /** Versions left in place, and why (linked, protected alias); the first ones, up to a cap. */
  skipped: z.array(z.object({ version: z.string(), reason: z.string() })),
  errors: z.array(z.string()).optional(),
  createdBy: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type JobResponse = z.infer<typeof jobResponse>;

/** What a bulk delete would do (`?dryRun=true`): nothing is written. */
export const deletionPlanResponse = z.object({
  dryRun: z.literal(true),
  kind: z.enum(["artifact.delete", "versions.delete", "project.delete"]),
  versions: z.array(
    z.object({
      project: z.string(),
      artifact: z.string(),
      version: z.string(),
      size: z.int(),
      fileCount: z.int(),
      aliases: z.array(z.string()),
    }),
  ),
  skipped: z.array(z.object({ version: z.string(), reason: z.string() })),
  /** Collection links the delete would remove (with `force=true`). */
  links: z.array(z.string()),
  /** Artifacts (and for a project delete, the project) that go once their versions are gone. */
  artifacts: z.array(z.string()),
  files: z.int(),
  /** Bytes of the versions' files as logged, shared blobs counted once per version. */
  logicalBytes: z.int(),
  /** Bytes of the versions' blobs no other version references: what the collector frees after the grace. */
  reclaimableBytes: z.int().min(0),
});
export type DeletionPlanResponse = z.infer<typeof deletionPlanResponse>;
