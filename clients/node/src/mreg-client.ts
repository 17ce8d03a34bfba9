import { join } from "node:path";
import type { z } from "zod";
import {
  setAliasRequest,
  updateVersionRequest,
  type ArtifactResponse,
  type FileResponse,
  type ProjectResponse,
  type VersionResponse,
} from "../../../lambdas/contract/artifacts.js";
import type { ProjectUsageResponse, UsageResponse } from "../../../lambdas/contract/responses.js";
import { alias as aliasSchema, name as nameSchema } from "../../../lambdas/contract/common.js";
import { versionDeletionRequest } from "../../../lambdas/contract/jobs.js";
import type { DeletionPlanResponse, JobResponse } from "../../../lambdas/contract/responses.js";
import { ApiClient, seg } from "./api-client.js";
import { resolveSettings } from "./client-config.js";
import { MregError } from "./errors.js";
import { HashCache } from "./hash-files.js";
import { logArtifact, type LogArtifactOptions, type LogArtifactResult } from "./log-artifact.js";
import { formatRef, parseCollectionTarget, parseRef, type Ref } from "./parse-ref.js";
import {
  createRegistryRequest,
  linkRequest,
  promotionRequest,
  updateCollectionRequest,
  type PromotionResponse,
  type RegistryResponse as CreatedRegistry,
} from "../../../lambdas/contract/registries.js";
import type {
  CollectionResponse,
  CollectionVersionResponse,
  HistoryEvent,
  LinkResponse,
  Page,
  RegistryResponse,
} from "./registry-types.js";
import type { RetryOptions } from "./retry.js";
import { UploadStateStore } from "./upload-state.js";
import {
  basePath,
  listVerifiedFiles,
  resolveVersion,
  useArtifact,
  type UseArtifactOptions,
  type UseArtifactResult,
  type VersionRef,
} from "./use-artifact.js";

export interface MregClientOptions {
  url: string;
  apiKey: string;
  /** Hash cache, download cache and multipart resume state live here; none: no caching, no resume. */
  cacheDir?: string;
  /** Transfers in flight at once (single PUTs, parts and downloads); default 8. */
  concurrency?: number;
  retry?: Partial<RetryOptions>;
  /** How long requests answered 409 `blob_busy` are tried again (BLOB_BUSY_RETRY in retry.ts by default). */
  blobBusyRetry?: Partial<RetryOptions>;
  fetch?: typeof fetch;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

export type RefInput = string | Ref;

const DEFAULT_CONCURRENCY = 8;

/**
 * The typed SDK: `logArtifact`, `useArtifact`, `link`, aliases, tags, lists and history over
 * the registry's HTTP API, with the request schemas the server validates against.
 */
export class MregClient {
  readonly api: ApiClient;
  readonly cacheDir: string | undefined;
  private readonly concurrency: number;
  private readonly retry: Partial<RetryOptions> | undefined;
  private readonly hashCache: HashCache | undefined;
  private readonly uploadState: UploadStateStore | undefined;

  constructor(options: MregClientOptions) {
    this.api = new ApiClient({
      url: options.url,
      apiKey: options.apiKey,
      retry: options.retry,
      blobBusyRetry: options.blobBusyRetry,
      fetch: options.fetch,
    });
    this.cacheDir = options.cacheDir;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.retry = options.retry;
    this.hashCache = options.cacheDir === undefined ? undefined : new HashCache(join(options.cacheDir, "hashes"));
    this.uploadState = options.cacheDir === undefined ? undefined : new UploadStateStore(join(options.cacheDir, "uploads"));
  }

  /** From MREG_URL / MREG_API_KEY / MREG_CACHE_DIR or the configuration `mreg login` wrote. */
  static async fromEnvironment(overrides: Partial<MregClientOptions> = {}): Promise<MregClient> {
    const settings = await resolveSettings(overrides.url === undefined ? {} : { url: overrides.url });
    return new MregClient({ ...settings, ...overrides });
  }

  /** Hashes, uploads what the store lacks, commits; identical content returns the existing version. */
  async logArtifact(options: LogArtifactOptions): Promise<LogArtifactResult> {
    return logArtifact(
      { api: this.api, hashCache: this.hashCache, uploadState: this.uploadState, concurrency: this.concurrency, retry: this.retry },
      options,
    );
  }

  /** Resolves, downloads what is not already local, verifies, returns the directory. */
  async useArtifact(ref: RefInput, options: UseArtifactOptions = {}): Promise<UseArtifactResult> {
    return useArtifact(
      {
        api: this.api,
        cacheDir: this.cacheDir,
        hashCache: this.hashCache,
        concurrency: this.concurrency,
        retry: this.retry,
      },
      versionRef(ref),
      options,
    );
  }

  /** Creates a registry (org admins only). */
  async createRegistry(request: z.input<typeof createRegistryRequest>): Promise<CreatedRegistry> {
    return this.api.post<CreatedRegistry>("/v1/registries", validated(createRegistryRequest, request, "registry"));
  }

  /** Links an artifact version into a registry collection (created if missing); linking twice returns the first link. */
  async link(
    source: RefInput,
    target: string | { registry: string; collection: string },
    options: { aliases?: string[] } = {},
  ): Promise<LinkResponse> {
    const from = toRef(source);
    if (from.kind !== "artifact") throw new MregError(`link takes an artifact version (project/artifact:version), not ${formatRef(from)}`);
    const to = typeof target === "string" ? parseCollectionTarget(target) : target;
    for (const alias of options.aliases ?? []) checkAlias(alias);
    const body = validated(
      linkRequest,
      {
        project: from.project,
        artifact: from.artifact,
        version: from.version ?? "latest",
        ...(options.aliases?.length ? { aliases: options.aliases } : {}),
      },
      "link",
    );
    return this.api.post<LinkResponse>(`/v1/registries${seg(to.registry)}/collections${seg(to.collection)}/links`, body);
  }

  /**
   * Points `alias` at the version the reference names (an artifact's or a collection's).
   * With `expectedVersion` the move is a compare-and-swap: it happens only while the alias
   * names that version (`v3`), or with `null` only while it names nothing; otherwise the
   * registry answers 412 (an ApiError whose `details.current` names the holder) and nothing changes.
   */
  async setAlias(
    ref: RefInput,
    alias: string,
    options: { expectedVersion?: string | number | null } = {},
  ): Promise<{ alias: string; version: string; previous?: string | null }> {
    const target = versionRef(ref);
    if (target.version === undefined) throw new MregError(`alias set needs a version: ${formatRef(target)}:v3`);
    checkAlias(alias);
    const body = validated(
      setAliasRequest,
      { version: target.version, ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }) },
      "alias",
    );
    return this.api.put(`${basePath(target)}/aliases${seg(alias)}`, body);
  }

  /** Edits an artifact version's description and metadata (merged; a key set to null is removed). */
  async updateVersion(
    ref: RefInput,
    changes: { description?: string | null; metadata?: Record<string, unknown> },
  ): Promise<VersionResponse> {
    const target = toRef(ref);
    if (target.kind !== "artifact" || target.version === undefined) {
      throw new MregError(`edit takes an artifact version (project/artifact:version), not ${formatRef(target)}`);
    }
    return this.api.patch(`${basePath(target)}/versions${seg(target.version)}`, validated(updateVersionRequest, changes, "edit"));
  }

  /** Edits a collection's markdown description (its model card) and its tags (the whole set). */
  async updateCollection(ref: RefInput, changes: { description?: string | null; tags?: string[] }): Promise<unknown> {
    const target = collectionOf(ref);
    return this.api.patch(basePath(target), validated(updateCollectionRequest, changes, "edit"));
  }

  /**
   * Deletes an artifact with every version (`project/artifact`), the versions of one matching
   * `filter`, or a whole project (`project`), in a background job: answers the job (follow it
   * with `job`), or with `dryRun` what would go. `force` unlinks linked versions.
   */
  async bulkDelete(
    ref: RefInput,
    options: { dryRun?: boolean; force?: boolean; filter?: { olderThan?: string; aliasAbsent?: boolean; notLinked?: boolean } } = {},
  ): Promise<JobResponse | DeletionPlanResponse> {
    const target = toRef(ref);
    const query = { ...(options.dryRun ? { dryRun: "true" } : {}), ...(options.force ? { force: "true" } : {}) };
    if (target.kind === "project") return this.api.request("DELETE", `/v1/projects${seg(target.project)}`, { query });
    if (target.kind !== "artifact" || target.version !== undefined) {
      throw new MregError(`delete takes a project or project/artifact, not ${formatRef(target)}`);
    }
    if (options.filter) {
      return this.api.request("POST", `${basePath(target)}/version-deletions`, {
        query,
        body: validated(versionDeletionRequest, options.filter, "filter"),
      });
    }
    return this.api.request("DELETE", basePath(target), { query });
  }

  /** A background job with its progress. */
  async job(id: string): Promise<JobResponse> {
    return this.api.get(`/v1/jobs${seg(id)}`);
  }

  /** Every project with its artifact count. */
  /** Storage of one project (logical bytes, stored bytes after dedup, …), or of all of them (org admins). */
  async usage(project?: string): Promise<UsageResponse | ProjectUsageResponse> {
    if (project === undefined) return this.api.get("/v1/usage");
    return this.api.get(`/v1/projects${seg(nameSchema.parse(project))}/usage`);
  }

  async listProjects(options: PageOptions = {}): Promise<Page<ProjectResponse>> {
    return this.api.get("/v1/projects", { limit: options.limit, cursor: options.cursor });
  }

  /** Asks for a protected alias of a collection to move to the version the reference names; admins approve. */
  async requestPromotion(ref: RefInput, alias: string, options: { note?: string } = {}): Promise<PromotionResponse> {
    const target = toRef(ref);
    if (target.kind !== "collection" || target.version === undefined) {
      throw new MregError(`promote takes a collection version (@registry/collection:version), not ${formatRef(target)}`);
    }
    checkAlias(alias);
    const body = validated(
      promotionRequest,
      { alias, version: target.version, ...(options.note ? { note: options.note } : {}) },
      "promotion",
    );
    return this.api.post(`${basePath(target)}/promotions`, body);
  }

  /** A collection's promotion requests, newest first, optionally of one status. */
  async listPromotions(ref: RefInput, options: PageOptions & { status?: string } = {}): Promise<Page<PromotionResponse>> {
    return this.api.get(`${basePath(collectionOf(ref))}/promotions`, {
      limit: options.limit,
      cursor: options.cursor,
      status: options.status,
    });
  }

  /** Approves (registry admins other than the asker); the approval that completes the count moves the alias. */
  async approvePromotion(ref: RefInput, id: string, options: { note?: string } = {}): Promise<PromotionResponse> {
    return this.api.post(`${basePath(collectionOf(ref))}/promotions${seg(id)}/approve`, options.note ? { note: options.note } : {});
  }

  async rejectPromotion(ref: RefInput, id: string, options: { note?: string } = {}): Promise<PromotionResponse> {
    return this.api.post(`${basePath(collectionOf(ref))}/promotions${seg(id)}/reject`, options.note ? { note: options.note } : {});
  }

  async removeAlias(ref: RefInput, alias: string): Promise<unknown> {
    const target = versionRef(ref);
    checkAlias(alias);
    return this.api.delete(`${basePath(target)}/aliases${seg(alias)}`);
  }

  /** Tags a collection, or one of its versions when the reference names a version. */
  async addTag(ref: RefInput, tag: string): Promise<unknown> {
    return this.api.put(this.tagPath(ref, tag));
  }

  async removeTag(ref: RefInput, tag: string): Promise<unknown> {
    return this.api.delete(this.tagPath(ref, tag));
  }

  private tagPath(ref: RefInput, tag: string): string {
    const target = toRef(ref);
    if (target.kind !== "collection") {
      throw new MregError(
        `tags belong to registry collections and their versions (@registry/collection[:version]), not ${formatRef(target)}`,
      );
    }
    if (!nameSchema.safeParse(tag).success) throw new MregError(`invalid tag "${tag}": use letters, digits, '.', '_' and '-'`);
    const versionPart = target.version === undefined ? "" : `/versions${seg(target.version)}`;
    return `${basePath(target)}${versionPart}/tags${seg(tag)}`;
  }

  /**
   * What is under a reference: registries (none given), a project's artifacts, an
   * artifact's or collection's versions, a registry's collections, or a version's files.
   */
  async list(ref?: RefInput, options: PageOptions & { tag?: string; q?: string; prefix?: string } = {}): Promise<Page<unknown>> {
    const page = { limit: options.limit, cursor: options.cursor };
    if (ref === undefined) return this.api.get<Page<RegistryResponse>>("/v1/registries", page);
    const target = toRef(ref);
    switch (target.kind) {
      case "project":
        return this.api.get<Page<ArtifactResponse>>(`/v1/projects${seg(target.project)}/artifacts`, page);
      case "registry":
        return this.api.get<Page<CollectionResponse>>(`/v1/registries${seg(target.registry)}/collections`, {
          ...page,
          tag: options.tag,
          q: options.q,
        });
      case "artifact":
      case "collection":
        if (target.version === undefined) return this.api.get(`${basePath(target)}/versions`, page);
        return this.api.get<Page<FileResponse>>(`${basePath(target)}/versions${seg(target.version)}/files`, {
          ...page,
          prefix: options.prefix,
        });
    }
  }

  /** An artifact or collection (with its aliases), a version, or a registry. */
  async show(ref: RefInput): Promise<unknown> {
    const target = toRef(ref);
    switch (target.kind) {
      case "project":
        throw new MregError(`show needs an artifact (${target.project}/artifact) or a registry reference`);
      case "registry":
        return this.api.get(`/v1/registries${seg(target.registry)}`);
      case "artifact":
      case "collection":
        return target.version === undefined
          ? this.api.get(basePath(target))
          : this.api.get<VersionResponse | CollectionVersionResponse>(`${basePath(target)}/versions${seg(target.version)}`);
    }
  }

  /** Audit events of an artifact or a collection, newest first. */
  async history(ref: RefInput, options: PageOptions = {}): Promise<Page<HistoryEvent>> {
    const target = versionRef(ref);
    return this.api.get(`${basePath(target)}/history`, { limit: options.limit, cursor: options.cursor });
  }

  /** Runs and versions around a version; a collection version is traced through its source. */
  async lineage(ref: RefInput, options: { depth?: number } = {}): Promise<unknown> {
    const { source } = await resolveVersion(this.api, versionRef(ref));
    return this.api.get(`/v1/projects${seg(source.project)}/artifacts${seg(source.artifact)}/versions${seg(source.version)}/lineage`, {
      depth: options.depth,
    });
  }

  /** Every file of a version with presigned URLs, checked against the version's digest, without downloading. */
  async files(ref: RefInput, options: { prefix?: string } = {}): Promise<FileResponse[]> {
    const resolved = await resolveVersion(this.api, versionRef(ref));
    return listVerifiedFiles(this.api, resolved, options.prefix);
  }

  /** Records that a run used a version (lineage); `use --run` does this after downloading. */
  async recordRunInput(project: string, run: string, input: { artifact: string; version: string }): Promise<unknown> {
    return this.api.post(`/v1/projects${seg(project)}/runs${seg(run)}/inputs`, input);
  }
}

function toRef(ref: RefInput): Ref {
  return typeof ref === "string" ? parseRef(ref) : ref;
}

function collectionOf(ref: RefInput): VersionRef {
  const target = toRef(ref);
  if (target.kind !== "collection") throw new MregError(`expected @registry/collection, not ${formatRef(target)}`);
  return { ...target, version: undefined };
}

function versionRef(ref: RefInput): VersionRef {
  const target = toRef(ref);
  if (target.kind !== "artifact" && target.kind !== "collection") {
    throw new MregError(`expected project/artifact[:version] or @registry/collection[:version], not ${formatRef(target)}`);
  }
  return target;
}

function checkAlias(alias: string): void {
  const parsed = aliasSchema.safeParse(alias);
  if (!parsed.success) throw new MregError(`invalid alias "${alias}": ${parsed.error.issues[0]?.message}`);
}

/** Checks a request body with the schema the server validates it against. */
function validated<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MregError(`invalid ${what}: ${issue?.path.join(".") || "request"} ${issue?.message ?? ""}`.trimEnd());
  }
  return parsed.data;
}
