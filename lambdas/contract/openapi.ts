import * as z from "zod";
import { apiKeysQuery, createApiKeyRequest, createUserRequest, updateUserRequest } from "./admin.js";
import {
  commitRequest,
  completeUploadRequest,
  deleteQuery,
  gcQuery,
  filesQuery,
  setAliasRequest,
  updateVersionRequest,
  uploadPlanRequest,
} from "./artifacts.js";
import { createAutomationRequest, deliveryId } from "./automations.js";
import { bulkDeleteQuery, updateProjectRequest, versionDeletionRequest } from "./jobs.js";
import { alias, name, pageQuery } from "./common.js";
import { ERROR_STATUS, errorResponseBody, type ErrorCode } from "./errors.js";
import {
  HF_RUN_ID_HEADER,
  hfCommitLine,
  hfCommitResponse,
  hfErrorBody,
  hfErrorCode,
  hfLfsBatchRequest,
  hfLfsBatchResponse,
  hfLfsCompleteQuery,
  hfLfsCompleteRequest,
  hfLfsCompleteResponse,
  hfPathsInfoRequest,
  hfPreuploadRequest,
  hfPreuploadResponse,
  hfRepoInfo,
  hfTreeEntry,
  hfTreeQuery,
} from "./hf.js";
import { HF_MOUNT, HF_PROJECTS_MOUNT } from "./hf-mounts.js";
import {
  collectionsQuery,
  createCollectionRequest,
  createRegistryRequest,
  deleteCollectionQuery,
  deleteRegistryQuery,
  linkRequest,
  memberRequest,
  promotionDecision,
  promotionRequest,
  promotionsQuery,
  updateCollectionRequest,
  updateRegistryRequest,
} from "./registries.js";
import * as responses from "./responses.js";
import { routes, type Permission, type Route } from "./routes.js";
import { createRunRequest, lineageQuery, logMetricsRequest, metricHistoryQuery, runInputRequest } from "./runs.js";

/**
 * The OpenAPI 3.1 document of the API, generated from the route table (every route, its
 * permission) and the zod schemas the handlers validate with and answer by. OpenAPI 3.1
 * schemas are JSON Schema 2020-12, which zod 4 writes natively (`z.toJSONSchema`), so no
 * generator sits in between. Served at GET /v1/openapi.json; `npm run openapi` writes it
 * to docs/openapi.json.
 */

export const OPENAPI_VERSION = "3.1.1";
/** The API's version: the `/v1` of its paths. */
export const API_VERSION = "1";

type RouteKey = Route extends infer R ? (R extends Route ? `${R["function"]}.${R["operation"]}` : never) : never;

interface ResponseDoc {
  description: string;
  /** Registered under `name` in components.schemas; absent for an empty answer. */
  schema?: [name: string, schema: z.ZodType];
  contentType?: string;
  headers?: Record<string, { description: string; schema: object; required?: boolean }>;
}

interface OperationDoc {
  summary: string;
  description?: string;
  query?: z.ZodObject;
  body?: [name: string, schema: z.ZodType];
  bodyContentType?: string;
  /** A body the route also takes empty (its fields all have defaults). */
  bodyOptional?: boolean;
  responses: Record<number, ResponseDoc>;
  /** Error statuses beyond the ones every route of its kind may answer (see `errorStatuses`). */
  errors?: number[];
}

const json = (name: string, schema: z.ZodType): [string, z.ZodType] => [name, schema];
const ok = (description: string, name: string, schema: z.ZodType): Record<number, ResponseDoc> => ({
  200: { description, schema: json(name, schema) },
});
const created = (description: string, name: string, schema: z.ZodType): Record<number, ResponseDoc> => ({
  201: { description, schema: json(name, schema) },
});

const r = responses;
const bulkResponses: Record<number, ResponseDoc> = {
  200: { description: "With `dryRun=true`: what would go; nothing was written.", schema: json("DeletionPlan", r.deletionPlanResponse) },
  202: { description: "The job, queued.", schema: json("JobResponse", r.jobResponse) },
};
const ArtifactPage = r.page(r.artifactResponse);
const VersionPage = r.page(r.versionResponse);
const FilePage = r.filesPage;
const AuditEventPage = r.page(r.auditEventResponse);
const UserPage = r.page(r.userResponse);
const ApiKeyPage = r.page(r.apiKeyResponse);
const RegistryPage = r.page(r.registryResponse);
const CollectionPage = r.page(r.collectionResponse);
const CollectionVersionPage = r.page(r.collectionVersionResponse);
const AutomationPage = r.page(r.automationResponse);
const DeliveryPage = r.page(r.deliveryResponse);
const ProjectPage = r.page(r.projectResponse);
const MemberPage = r.page(r.memberResponse);
const PromotionPage = r.page(r.promotionResponse);
const DeletedRegistry = z.object({ deleted: z.string(), members: z.array(z.string()), automations: z.array(z.string()) });
const DeletedCollection = z.object({ deleted: z.string(), unlinked: z.array(z.string()) });
const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
const TreeEntries = z.array(hfTreeEntry);

/** The request's `hf` answers as HF clients read them; the registry's own names follow in `mreg`. */
const HF_REVISION =
  "A revision: `main` (or `HEAD`) for `latest`, an alias, `vN`, or the 40-hex commit id of a version (`sha`, `X-Repo-Commit`), which never changes.";

const operations: Record<RouteKey, OperationDoc> = {
  "health.health": { summary: "Answers while the API is up", responses: ok("The API is up.", "HealthResponse", r.healthResponse) },
  "health.openapi": {
    summary: "This document",
    description: "The OpenAPI 3.1 document of the API, generated from the route table and the request and response schemas.",
    responses: ok("The OpenAPI document.", "OpenApiDocument", OpenApiDocument),
  },
  "artifacts.planUpload": {
    summary: "Plans the upload of the blobs the store lacks",
    description:
      "Answers a presigned single PUT or a multipart plan for each blob the registry does not hold; blobs it holds are listed as present. `open` asks for uploads whose SHA-256 is named at commit.",
    body: json("UploadPlanRequest", uploadPlanRequest),
    responses: ok("The upload plan.", "UploadPlan", r.uploadPlan),
    errors: [422],
  },
  "artifacts.completeUpload": {
    summary: "Completes a multipart upload and verifies the blob",
    body: json("CompleteUploadRequest", completeUploadRequest),
    responses: ok("The blob is verified.", "CompletedUpload", r.completedUpload),
    errors: [409, 422],
  },
  "artifacts.commitVersion": {
    summary: "Commits a manifest as the artifact's next version",
    description: "Identical content answers the version that holds it (200, `created: false`) with the requested aliases applied.",
    body: json("CommitRequest", commitRequest),
    responses: {
      201: { description: "A new version.", schema: json("CommitResponse", r.commitResponse) },
      200: { description: "The version that holds the same content.", schema: json("CommitResponse", r.commitResponse) },
    },
    errors: [409, 422],
  },
  "artifacts.listArtifacts": {
    summary: "Lists a project's artifacts",
    query: pageQuery,
    responses: ok("A page of artifacts.", "ArtifactPage", ArtifactPage),
  },
  "artifacts.getArtifact": {
    summary: "An artifact with its aliases",
    responses: ok("The artifact.", "ArtifactResponse", r.artifactResponse),
  },
  "artifacts.listVersions": {
    summary: "Lists an artifact's versions, newest first",
    query: pageQuery,
    responses: ok("A page of versions.", "VersionPage", VersionPage),
  },
  "artifacts.getVersion": { summary: "One version", responses: ok("The version.", "VersionResponse", r.versionResponse) },
  "artifacts.listFiles": {
    summary: "A version's files with presigned GET URLs",
    query: filesQuery,
    responses: ok("A page of files.", "FilePage", FilePage),
  },
  "artifacts.deleteVersion": {
    summary: "Deletes a version (409 while collections link it, unless `force=true`)",
    description:
      "With `dryRun=true` nothing is written: the answer says what would go (the version, the links a forced delete removes, files, `logicalBytes`) and `reclaimableBytes`, the bytes of blobs nothing else references.",
    query: deleteQuery,
    responses: ok(
      "The version is deleted, or what would go.",
      "DeletedVersion",
      z.union([r.deletedVersionResponse, r.deleteDryRunResponse]),
    ),
    errors: [409],
  },
  "artifacts.projectUsage": {
    summary: "A project's storage: logical bytes, stored bytes after dedup, versions, files",
    responses: ok("The project's usage.", "ProjectUsage", r.projectUsageResponse),
  },
  "artifacts.orgUsage": {
    summary: "The whole registry's storage (org admins)",
    responses: ok("The usage of every project.", "Usage", r.usageResponse),
  },
  "artifacts.collectGarbage": {
    summary: "Runs one round of the garbage collector (org admins)",
    description:
      "Finishes the pending releases of deleted versions, then deletes the blobs nothing has referenced for `MREG_GC_GRACE_HOURS`. With `dryRun=true` it answers what it would delete and writes nothing.",
    query: gcQuery,
    responses: ok("What the round did.", "GcReport", r.gcReportResponse),
  },
  "artifacts.setAlias": {
    summary: "Points an artifact alias at a version",
    description: "With `expectedVersion` a compare-and-swap: 412 (naming the `current` holder) when the alias names anything else.",
    body: json("SetAliasRequest", setAliasRequest),
    responses: ok("The alias moved.", "AliasSet", r.aliasSetResponse),
    errors: [412],
  },
  "artifacts.updateVersion": {
    summary: "Edits a version's description and metadata",
    description: "Metadata is merged key by key; a key set to null is removed. The files, and so the digest, never change.",
    body: json("UpdateVersionRequest", updateVersionRequest),
    responses: ok("The version after the edit.", "VersionResponse", r.versionResponse),
  },
  "artifacts.deleteArtifact": {
    summary: "Deletes an artifact with all its versions, in a background job",
    description:
      "Answers 202 with the job (`GET /v1/jobs/{id}` follows it). Linked versions are skipped and reported unless `force=true`; " +
      "the artifact goes once no version is left, its history stays readable. `dryRun=true` answers what would go and writes nothing.",
    query: bulkDeleteQuery,
    responses: bulkResponses,
  },
  "artifacts.deleteVersions": {
    summary: "Deletes the versions of an artifact matching a filter, in a background job",
    description:
      "Conditions combine: `olderThan` (ISO time or `30d`, `12h`, `90m`), `aliasAbsent`, `notLinked`. As the artifact delete otherwise.",
    query: bulkDeleteQuery,
    body: json("VersionDeletionRequest", versionDeletionRequest),
    responses: bulkResponses,
  },
  "artifacts.deleteProject": {
    summary: "Deletes a project with all its artifacts, in a background job (org admins)",
    description: "Runs and their lineage records stay. As the artifact delete otherwise.",
    query: bulkDeleteQuery,
    responses: bulkResponses,
  },
  "artifacts.updateProject": {
    summary: "Sets a project's default retention (`ttlDays`; null removes it)",
    description: "Versions committed afterwards expire `ttlDays` after their commit unless the commit names its own expiry.",
    body: json("UpdateProjectRequest", updateProjectRequest),
    responses: ok("The project.", "ProjectResponse", r.projectResponse),
  },
  "artifacts.getJob": {
    summary: "A background job with its progress",
    responses: ok("The job.", "JobResponse", r.jobResponse),
  },
  "artifacts.listProjects": {
    summary: "Lists projects with their artifact counts",
    query: pageQuery,
    responses: ok("A page of projects.", "ProjectPage", ProjectPage),
  },
  "artifacts.removeAlias": {
    summary: "Removes an artifact alias",
    responses: ok("The alias is gone.", "AliasRemoved", r.aliasRemovedResponse),
  },
  "artifacts.listHistory": {
    summary: "An artifact's audit events, newest first",
    query: pageQuery,
    responses: ok("A page of audit events.", "AuditEventPage", AuditEventPage),
  },
  "admin.whoami": { summary: "The caller", responses: ok("The user the key belongs to.", "UserResponse", r.userResponse) },
  "admin.createUser": {
    summary: "Creates a user",
    body: json("CreateUserRequest", createUserRequest),
    responses: created("The user.", "UserResponse", r.userResponse),
    errors: [409],
  },
  "admin.listUsers": { summary: "Lists users", query: pageQuery, responses: ok("A page of users.", "UserPage", UserPage) },
  "admin.createApiKey": {
    summary: "Creates an API key (the secret is answered this once)",
    body: json("CreateApiKeyRequest", createApiKeyRequest),
    responses: created("The key with its secret.", "CreatedApiKey", r.createdApiKeyResponse),
    // A deactivated user, or one at the cap of live keys.
    errors: [409],
  },
  "admin.listApiKeys": {
    summary: "Lists API keys (never their secrets)",
    query: apiKeysQuery,
    responses: ok("A page of keys.", "ApiKeyPage", ApiKeyPage),
  },
  "admin.updateUser": {
    summary: "Changes a user's org role or status",
    description: "A deactivated user's keys, or a lowered role, take effect on the very next request.",
    body: json("UpdateUserRequest", updateUserRequest),
    responses: ok("The user after the change.", "UserResponse", r.userResponse),
  },
  "admin.listMemberships": {
    summary: "The registries in which a user holds a membership",
    responses: ok("The user's memberships.", "MembershipsResponse", r.membershipsResponse),
  },
  "admin.revokeApiKey": { summary: "Revokes an API key", responses: ok("The revoked key.", "ApiKeyResponse", r.apiKeyResponse) },
  "registries.createRegistry": {
    summary: "Creates a registry",
    body: json("CreateRegistryRequest", createRegistryRequest),
    responses: created("The registry.", "RegistryResponse", r.registryResponse),
    errors: [409],
  },
  "registries.listRegistries": {
    summary: "Lists the registries the caller may see",
    query: pageQuery,
    responses: ok("A page of registries.", "RegistryPage", RegistryPage),
  },
  "registries.getRegistry": {
    summary: "A registry and the caller's role in it",
    responses: ok("The registry.", "RegistryResponse", r.registryResponse),
  },
  "registries.updateRegistry": {
    summary: "Edits a registry's description or approvals required",
    body: json("UpdateRegistryRequest", updateRegistryRequest),
    responses: ok("The registry after the edit.", "RegistryResponse", r.registryResponse),
  },
  "registries.deleteRegistry": {
    summary: "Deletes an empty registry with its memberships and automations",
    description: "With `dryRun=true` nothing is written: the answer says what would go.",
    query: deleteRegistryQuery,
    responses: ok("What went with it, or would.", "DeletedRegistry", z.union([DeletedRegistry, r.registryDeleteDryRunResponse])),
    errors: [409],
  },
  "registries.listMembers": {
    summary: "Lists the registry's members with their roles",
    query: pageQuery,
    responses: ok("A page of members.", "MemberPage", MemberPage),
  },
  "registries.putMember": {
    summary: "Grants a user a role in the registry",
    body: json("MemberRequest", memberRequest),
    responses: ok("The membership.", "MemberGranted", r.memberGrantedResponse),
  },
  "registries.removeMember": {
    summary: "Revokes a membership",
    responses: ok("The membership is gone.", "MemberRevoked", r.memberRevokedResponse),
  },
  "registries.createCollection": {
    summary: "Creates a collection",
    body: json("CreateCollectionRequest", createCollectionRequest),
    responses: created("The collection.", "CollectionResponse", r.collectionResponse),
    errors: [409, 422],
  },
  "registries.listCollections": {
    summary: "Lists collections, by tag or name",
    query: collectionsQuery,
    responses: ok("A page of collections.", "CollectionPage", CollectionPage),
  },
  "registries.getCollection": {
    summary: "A collection with its aliases and tags",
    responses: ok("The collection.", "CollectionResponse", r.collectionResponse),
  },
  "registries.link": {
    summary: "Links an artifact version (the collection is created on first link)",
    body: json("LinkRequest", linkRequest),
    responses: {
      201: { description: "A new link.", schema: json("LinkResponse", r.linkResponse) },
      200: { description: "The version was linked already: the first link.", schema: json("LinkResponse", r.linkResponse) },
    },
    errors: [409, 422],
  },
  "registries.listCollectionVersions": {
    summary: "Lists a collection's versions, newest first",
    query: pageQuery,
    responses: ok("A page of collection versions.", "CollectionVersionPage", CollectionVersionPage),
  },
  "registries.getCollectionVersion": {
    summary: "Resolves a collection version",
    responses: ok("The collection version.", "CollectionVersionResponse", r.collectionVersionResponse),
  },
  "registries.listCollectionFiles": {
    summary: "A collection version's files with presigned GET URLs",
    query: filesQuery,
    responses: ok("A page of files.", "FilePage", FilePage),
  },
  "registries.unlink": {
    summary: "Unlinks a collection version",
    responses: ok("The link is gone.", "Unlinked", r.unlinkedResponse),
    errors: [409],
  },
  "registries.setCollectionAlias": {
    summary: "Points a collection alias at a version (protected aliases: admins only)",
    description: "With `expectedVersion` a compare-and-swap: 412 (naming the `current` holder) when the alias names anything else.",
    body: json("SetAliasRequest", setAliasRequest),
    responses: ok("The alias moved.", "AliasSet", r.aliasSetResponse),
    errors: [409, 412],
  },
  "registries.updateCollection": {
    summary: "Edits a collection's markdown description or its tags",
    body: json("UpdateCollectionRequest", updateCollectionRequest),
    responses: ok("The collection after the edit.", "CollectionResponse", r.collectionResponse),
  },
  "registries.deleteCollection": {
    summary: "Deletes a collection (with links only with `force=true`, unlinking each)",
    description:
      "With `dryRun=true` nothing is written: the answer names the links a forced delete removes (no version goes, so nothing is reclaimable).",
    query: deleteCollectionQuery,
    responses: ok("What went with it, or would.", "DeletedCollection", z.union([DeletedCollection, r.deleteDryRunResponse])),
    errors: [409],
  },
  "registries.requestPromotion": {
    summary: "Asks for a protected alias to move to a version",
    body: json("PromotionRequest", promotionRequest),
    responses: created("The promotion request.", "PromotionResponse", r.promotionResponse),
    errors: [409, 422],
  },
  "registries.listPromotions": {
    summary: "Lists a collection's promotion requests, newest first",
    query: promotionsQuery,
    responses: ok("A page of promotions.", "PromotionPage", PromotionPage),
  },
  "registries.getPromotion": {
    summary: "One promotion request",
    responses: ok("The promotion.", "PromotionResponse", r.promotionResponse),
  },
  "registries.approvePromotion": {
    summary: "Approves a promotion (another registry admin than the asker); the last approval moves the alias",
    body: json("PromotionDecision", promotionDecision),
    bodyOptional: true,
    responses: ok("The promotion after the approval.", "PromotionResponse", r.promotionResponse),
    errors: [409],
  },
  "registries.rejectPromotion": {
    summary: "Rejects a promotion",
    body: json("PromotionDecision", promotionDecision),
    bodyOptional: true,
    responses: ok("The promotion after the rejection.", "PromotionResponse", r.promotionResponse),
    errors: [409],
  },
  "registries.removeCollectionAlias": {
    summary: "Removes a collection alias",
    responses: ok("The alias is gone.", "AliasRemoved", r.aliasRemovedResponse),
  },
  "registries.tagCollection": { summary: "Tags a collection", responses: ok("The tag.", "CollectionTagged", r.collectionTaggedResponse) },
  "registries.untagCollection": {
    summary: "Untags a collection",
    responses: ok("The tag.", "CollectionTagged", r.collectionTaggedResponse),
  },
  "registries.tagCollectionVersion": {
    summary: "Tags a collection version",
    responses: ok("The tag.", "VersionTagged", r.versionTaggedResponse),
  },
  "registries.untagCollectionVersion": {
    summary: "Untags a collection version",
    responses: ok("The tag.", "VersionTagged", r.versionTaggedResponse),
  },
  "registries.listCollectionHistory": {
    summary: "A collection's audit events, newest first",
    query: pageQuery,
    responses: ok("A page of audit events.", "AuditEventPage", AuditEventPage),
  },
  "lineage.createRun": {
    summary: "Creates a run, or updates an existing one's name and config",
    body: json("CreateRunRequest", createRunRequest),
    bodyOptional: true,
    responses: {
      201: { description: "A new run.", schema: json("RunResponse", r.runResponse) },
      200: { description: "The run existed: its name and config are updated.", schema: json("RunResponse", r.runResponse) },
    },
  },
  "lineage.getRun": { summary: "A run with its metric summary", responses: ok("The run.", "RunResponse", r.runResponse) },
  "lineage.addRunInput": {
    summary: "Records an artifact version as a run's input",
    body: json("RunInputRequest", runInputRequest),
    responses: ok("The input edge.", "RunInput", r.runInputResponse),
  },
  "lineage.logRunMetrics": {
    summary: "Logs metric points of a run",
    body: json("LogMetricsRequest", logMetricsRequest),
    responses: ok("The points are recorded.", "LogMetricsResponse", r.logMetricsResponse),
    errors: [422],
  },
  "lineage.getRunMetricHistory": {
    summary: "One metric's history",
    query: metricHistoryQuery,
    responses: ok("The metric's points.", "MetricHistoryResponse", r.metricHistoryResponse),
  },
  "lineage.runLineage": {
    summary: "Runs and versions around a run",
    query: lineageQuery,
    responses: ok("The graph.", "LineageResponse", r.lineageResponse),
  },
  "lineage.versionLineage": {
    summary: "Runs and versions around an artifact version",
    query: lineageQuery,
    responses: ok("The graph.", "LineageResponse", r.lineageResponse),
  },
  "lineage.collectionVersionLineage": {
    summary: "Runs and versions around a collection version's source",
    query: lineageQuery,
    responses: ok("The graph.", "LineageResponse", r.lineageResponse),
  },
  "automations.createAutomation": {
    summary: "Creates a webhook automation",
    body: json("CreateAutomationRequest", createAutomationRequest),
    responses: created("The automation (never its secret).", "AutomationResponse", r.automationResponse),
    errors: [422],
  },
  "automations.listAutomations": {
    summary: "Lists a registry's automations",
    query: pageQuery,
    responses: ok("A page of automations.", "AutomationPage", AutomationPage),
  },
  "automations.getAutomation": { summary: "One automation", responses: ok("The automation.", "AutomationResponse", r.automationResponse) },
  "automations.deleteAutomation": {
    summary: "Deletes an automation",
    responses: ok("The automation is gone.", "AutomationDeleted", r.automationDeletedResponse),
  },
  "automations.listDeliveries": {
    summary: "An automation's deliveries, newest first",
    query: pageQuery,
    responses: ok("A page of deliveries.", "DeliveryPage", DeliveryPage),
  },
  "automations.getDelivery": {
    summary: "One delivery with its payload",
    responses: ok("The delivery.", "DeliveryResponse", r.deliveryResponse),
  },
  "automations.replayDelivery": {
    summary: "Sends a delivery again",
    responses: ok("The delivery after the attempt.", "DeliveryResponse", r.deliveryResponse),
    errors: [409],
  },

  "hf.repoInfo": {
    summary: "Hugging Face: a repository's revision (`sha`) and its files",
    description: `What \`model_info\`/\`repo_info\` and \`snapshot_download\` read. ${HF_REVISION} Sending \`${HF_RUN_ID_HEADER}\` records the version as that run's input.`,
    responses: ok("The revision.", "HfRepoInfo", hfRepoInfo),
  },
  "hf.tree": {
    summary: "Hugging Face: a folder's files and folders at a revision",
    description: 'Paged: the next page is in the `Link` header (`rel="next"`, absolute).',
    query: hfTreeQuery,
    responses: {
      200: {
        description: "A page of entries.",
        schema: json("HfTreeEntries", TreeEntries),
        headers: { Link: { description: 'The next page: `<url>; rel="next"`.', schema: { type: "string" } } },
      },
    },
  },
  "hf.pathsInfo": {
    summary: "Hugging Face: the entries among the given paths",
    description: "JSON (`@huggingface/hub`) or a form with `paths` repeated (`huggingface_hub`).",
    body: json("HfPathsInfoRequest", hfPathsInfoRequest),
    responses: ok("The entries that exist.", "HfTreeEntries", TreeEntries),
  },
  "hf.resolve": {
    summary: "Hugging Face: where a file's bytes are",
    description: `A redirect to a presigned GET of the store, with the file's metadata on the redirect itself (a HEAD that does not follow it learns everything). Range requests go to the store with the redirect. ${HF_REVISION}`,
    responses: {
      302: {
        description: "The file is at `Location`.",
        headers: {
          Location: { description: "A presigned GET of the file's bytes.", schema: { type: "string" }, required: true },
          ETag: {
            description: "The file's SHA-256 (a reference entry: the pinned S3 ETag), quoted.",
            schema: { type: "string" },
            required: true,
          },
          "X-Linked-Etag": { description: "The same as ETag.", schema: { type: "string" }, required: true },
          "X-Linked-Size": { description: "The file's size in bytes.", schema: { type: "string" }, required: true },
          "X-Repo-Commit": { description: "The revision's commit id.", schema: { type: "string" }, required: true },
        },
      },
    },
  },
  "hf.preupload": {
    summary: "Hugging Face: how each file is to be uploaded (always LFS)",
    body: json("HfPreuploadRequest", hfPreuploadRequest),
    responses: ok("Upload modes.", "HfPreuploadResponse", hfPreuploadResponse),
  },
  "hf.lfsBatch": {
    summary: "Hugging Face: the LFS batch of an upload",
    description:
      "`basic` (one presigned PUT) or `multipart` (presigned part URLs in `header`, `chunk_size`, completion at `href`); objects the registry holds get no action. Never `xet`.",
    body: json("HfLfsBatchRequest", hfLfsBatchRequest),
    bodyContentType: "application/vnd.git-lfs+json",
    responses: {
      200: {
        description: "The batch.",
        schema: json("HfLfsBatchResponse", hfLfsBatchResponse),
        contentType: "application/vnd.git-lfs+json",
      },
    },
    errors: [422],
  },
  "hf.lfsComplete": {
    summary: "Hugging Face: completes a multipart LFS upload",
    description:
      "Sent without a token, as the clients send it: the URL names the upload's unguessable id, like the part URLs it comes with.",
    query: hfLfsCompleteQuery,
    body: json("HfLfsCompleteRequest", hfLfsCompleteRequest),
    responses: ok("The blob is verified.", "HfLfsCompleteResponse", hfLfsCompleteResponse),
    errors: [409, 422],
  },
  "hf.commit": {
    summary: "Hugging Face: commits to a branch, making a new artifact version",
    description: `NDJSON, one operation per line (\`header\`, \`lfsFile\`, \`deletedFile\`, \`deletedFolder\`), applied to the branch's files: \`main\` is \`latest\`, any other branch an alias that moves to the new version. Identical content is the version that holds it. The summary and description become the version's description; \`${HF_RUN_ID_HEADER}\` names the producing run.`,
    body: json("HfCommitLine", hfCommitLine),
    bodyContentType: "application/x-ndjson",
    responses: ok("The commit.", "HfCommitResponse", hfCommitResponse),
    errors: [409, 422],
  },
};

/** Path parameters by name (`{id}` is a key's id under /v1/api-keys, an automation's elsewhere). */
const PARAMETERS: Record<string, { schema: z.ZodType; description: string }> = {
  project: { schema: name, description: "A project." },
  name: { schema: name, description: "An artifact of the project." },
  registry: { schema: name, description: "A registry." },
  collection: { schema: name, description: "A collection of the registry." },
  v: { schema: z.string().min(1).max(140), description: "A version: `v3`, `3`, an alias or `latest`." },
  alias: { schema: alias, description: "An alias." },
  tag: { schema: name, description: "A tag." },
  user: { schema: name, description: "A user's id." },
  id: { schema: z.string().min(1).max(64), description: "An API key's id, or an automation's." },
  delivery: { schema: deliveryId, description: "A webhook delivery's id." },
  run: { schema: name, description: "A run's id." },
  revision: { schema: z.string().min(1).max(140), description: HF_REVISION },
  path: { schema: z.string().min(1).max(1024), description: "A file's path in the repository; it may contain `/`." },
  oid: { schema: z.string().regex(/^[0-9a-f]{64}$/), description: "The blob's SHA-256." },
};

const PERMISSION_TEXT: Record<Permission, string> = {
  public: "Public: no key needed.",
  "org:read": "Needs any user's key (`org:read`).",
  "org:admin": "Needs an org admin (`org:admin`).",
  "user:self": "Needs the key of the user the path names, or an org admin's (`user:self`).",
  "project:read": "Needs an org viewer or above (`project:read`).",
  "project:write": "Needs an org member or above (`project:write`).",
  "project:admin": "Needs an org admin (`project:admin`).",
  "registry:read": "Needs a viewer of the registry (`registry:read`); a restricted registry is invisible (404) to non-members.",
  "registry:write": "Needs a member of the registry (`registry:write`).",
  "registry:admin": "Needs an admin of the registry (`registry:admin`).",
};

/**
 * Error statuses a route may answer besides its operation's own: 400 for anything it parses,
 * 401/403 unless public, 404 for anything it looks up, 413 when it takes a body, 429 when the
 * store throttles, 500 for our failures.
 */
function errorStatuses(route: Route, doc: OperationDoc): number[] {
  const statuses = new Set<number>([500, 429, ...(doc.errors ?? [])]);
  const parses = route.path.includes("{") || doc.query !== undefined || doc.body !== undefined;
  if (parses) statuses.add(400);
  if (route.permission !== "public") [401, 403, 404].forEach((s) => statuses.add(s));
  else if (route.path.includes("{")) statuses.add(404);
  if (doc.body !== undefined) statuses.add(413);
  return [...statuses].sort((a, b) => a - b);
}

const STATUS_TEXT: Record<number, string> = {
  400: "The request is malformed.",
  401: "No key, or a key that is malformed, unknown, revoked or expired.",
  403: "The key's user lacks the permission.",
  404: "Not found (or not visible to the caller).",
  409: "A conflict with the current state.",
  413: "The body is too large.",
  422: "The request refers to bytes or objects that do not check out.",
  429: "The registry is busy; retry shortly.",
  500: "The registry failed; the log has the details.",
};

function codesFor(status: number): ErrorCode[] {
  return (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).filter(([, s]) => s === status).map(([code]) => code);
}

/** The document, built once per process. */
let built: object | undefined;

export function openApiDocument(): object {
  built ??= buildOpenApiDocument();
  return built;
}

/** The document as docs/openapi.json holds it: two-space indents, a final newline. */
export function openApiJson(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

export function buildOpenApiDocument(): object {
  const requestSchemas = z.registry<{ id: string }>();
  const responseSchemas = z.registry<{ id: string }>();
  const named = new Map<string, z.ZodType>();
  const register = (registry: typeof requestSchemas, [id, schema]: [string, z.ZodType]) => {
    // One name, one schema, across requests and responses: the components share a namespace.
    const known = named.get(id);
    if (known !== undefined && known !== schema) throw new Error(`two schemas are named ${id}`);
    if (known === undefined) {
      named.set(id, schema);
      registry.add(schema, { id });
    }
    return { $ref: `#/components/schemas/${id}` };
  };
  const errorByStatus = new Map<number, z.ZodType>();
  for (const status of new Set(Object.values(ERROR_STATUS))) {
    errorByStatus.set(
      status,
      z.object({ error: errorResponseBody.shape.error.extend({ code: z.enum(codesFor(status) as [ErrorCode, ...ErrorCode[]]) }) }),
    );
  }

  const paths: Record<string, Record<string, unknown>> = {};
  const seenIds = new Map<string, number>();
  for (const route of routes) {
    const key = `${route.function}.${route.operation}` as RouteKey;
    const doc = operations[key];
    const hf = route.function === "hf";
    const path = route.path.replace(/\{(\w+)\+\}/g, "{$1}");
    const names = [...route.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]!);
    const parameters: object[] = names.map((param) => {
      const known = PARAMETERS[param];
      if (!known) throw new Error(`path parameter {${param}} of ${route.path} has no description in lambdas/contract/openapi.ts`);
      return { name: param, in: "path", required: true, description: known.description, schema: inline(known.schema, "output") };
    });
    if (doc.query) {
      const query = inline(doc.query, "output") as { properties?: Record<string, object>; required?: string[] };
      for (const [param, schema] of Object.entries(query.properties ?? {})) {
        const { default: fallback, ...rest } = schema as { default?: unknown };
        parameters.push({
          name: param,
          in: "query",
          required: (query.required ?? []).includes(param) && fallback === undefined,
          schema: fallback === undefined ? rest : { ...rest, default: fallback },
        });
      }
    }
    if (hf && (route.operation === "repoInfo" || route.operation === "resolve" || route.operation === "commit")) {
      parameters.push({
        name: HF_RUN_ID_HEADER,
        in: "header",
        required: false,
        description:
          route.operation === "commit"
            ? "A run of the project: the version's producer (lineage)."
            : "A run of the artifact's project: the version is recorded as its input (lineage; needs `project:write`).",
        schema: inline(name, "output"),
      });
    }
    const responsesDoc: Record<string, object> = {};
    for (const [status, response] of Object.entries(doc.responses)) {
      responsesDoc[status] = {
        description: response.description,
        ...(response.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([header, h]) => [
                  header,
                  { description: h.description, required: h.required ?? false, schema: h.schema },
                ]),
              ),
            }
          : {}),
        ...(response.schema
          ? { content: { [response.contentType ?? "application/json"]: { schema: register(responseSchemas, response.schema) } } }
          : {}),
      };
    }
    for (const status of errorStatuses(route, doc)) {
      const schema = hf
        ? register(responseSchemas, ["HfError", hfErrorBody])
        : register(responseSchemas, [`Error${status}`, errorByStatus.get(status)!]);
      responsesDoc[String(status)] = {
        description: STATUS_TEXT[status] ?? "An error.",
        ...(hf
          ? {
              headers: {
                "X-Error-Code": {
                  description: "What the HF clients branch on (404s).",
                  required: false,
                  schema: inline(hfErrorCode, "output"),
                },
                "X-Error-Message": { description: "The message.", required: true, schema: { type: "string" } },
                "X-Repo-Commit": {
                  description: "On EntryNotFound: the commit the file is missing from.",
                  required: false,
                  schema: { type: "string" },
                },
              },
            }
          : {}),
        content: { "application/json": { schema } },
      };
    }
    const baseId = `${route.function}.${route.operation}`;
    const count = (seenIds.get(baseId) ?? 0) + 1;
    seenIds.set(baseId, count);
    const operation: Record<string, unknown> = {
      operationId: count === 1 ? baseId : `${baseId}.${count}`,
      summary: doc.summary,
      description: [doc.description, PERMISSION_TEXT[route.permission]].filter(Boolean).join("\n\n"),
      tags: [hf ? "huggingface" : route.function],
      "x-mreg-permission": route.permission,
      "x-mreg-function": route.function,
      ...(route.permission === "public" ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(doc.body
        ? {
            requestBody: {
              required: !doc.bodyOptional,
              content: {
                [doc.bodyContentType ?? "application/json"]:
                  doc.bodyContentType === "application/x-ndjson"
                    ? {
                        schema: { type: "string", description: "One JSON object per line, each a `HfCommitLine`." },
                        "x-mreg-line-schema": register(requestSchemas, doc.body),
                      }
                    : { schema: register(requestSchemas, doc.body) },
              },
            },
          }
        : {}),
      responses: responsesDoc,
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }

  const components = {
    ...toComponents(requestSchemas, "input"),
    ...toComponents(responseSchemas, "output"),
  };
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: "mreg",
      version: API_VERSION,
      summary: "A serverless model and artifact registry",
      description:
        `Artifacts are immutable versions of files, logged through presigned uploads; registries curate them as collections with aliases. ` +
        `Every request but the public ones carries \`Authorization: Bearer <api key>\`; errors are \`{"error": {"code", "message", "requestId"}}\`. ` +
        `The Hugging Face Hub protocol is served under \`${HF_MOUNT}\` (registry collections) and \`${HF_PROJECTS_MOUNT}\` (project artifacts), ` +
        "with the key as `hf_<api key>` or plain, and errors as the HF clients read them.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    security: [{ apiKey: [] }],
    tags: [
      { name: "health" },
      { name: "artifacts", description: "Projects' artifacts, versions, uploads and aliases." },
      { name: "registries", description: "Registries, members, collections, links, aliases and tags." },
      { name: "lineage", description: "Runs, their inputs and metrics, and lineage graphs." },
      { name: "automations", description: "Webhooks and their deliveries." },
      { name: "admin", description: "Users and API keys." },
      { name: "huggingface", description: "The Hugging Face Hub protocol (`HF_ENDPOINT`, `hubUrl`)." },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An mreg API key (`mreg_…`); on `/hf` also `hf_` followed by the key.",
        },
      },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

function inline(schema: z.ZodType, io: "input" | "output"): object {
  const { $schema: _schema, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

function toComponents(registry: z.core.$ZodRegistry<{ id: string }>, io: "input" | "output"): Record<string, object> {
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: "any", uri: (id) => `#/components/schemas/${id}` }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _schema, $id: _id, ...rest } = schema;
      return [id, rest];
    }),
  );
}
