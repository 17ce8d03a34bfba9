import { join, resolve } from "node:path";
import type { FileResponse, VersionResponse } from "../../../lambdas/contract/artifacts.js";
import { seg, type ApiClient } from "./api-client.js";
import { downloadFiles } from "./download-files.js";
import { IntegrityError, MregError } from "./errors.js";
import type { HashCache } from "./hash-files.js";
import { formatRef, type Ref } from "./parse-ref.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import type { CollectionVersionResponse, Page, VersionSource } from "./registry-types.js";
import type { RetryOptions } from "./retry.js";
import { verifyListing } from "./verify-manifest.js";

export type VersionRef = Extract<Ref, { kind: "artifact" | "collection" }>;

export interface UseArtifactOptions {
  /** Where to write the files; defaults to `./artifacts/<name>-<version>`. */
  dir?: string;
  /** Download only the files whose path starts with this. */
  prefix?: string;
  /** Record the version as an input of this run (in the artifact's project). */
  run?: string;
  /** Use and fill the download cache (default true). */
  cache?: boolean;
  signal?: AbortSignal;
  progress?: ProgressReporter;
  onRetry?: (what: string, error: unknown, attempt: number) => void;
}

export interface UseArtifactResult {
  /** Absolute path of the directory holding the files. */
  path: string;
  /** The reference with its version resolved, e.g. `@model/mnist:v2`. */
  ref: string;
  version: string;
  /** The artifact version behind it (itself, for artifact references). */
  source: VersionSource;
  files: number;
  size: number;
  downloadedBytes: number;
  cachedBytes: number;
  presentBytes: number;
}

export interface UseDeps {
  api: ApiClient;
  cacheDir?: string;
  hashCache?: HashCache;
  concurrency: number;
  retry?: Partial<RetryOptions>;
}

/** `/v1/projects/p/artifacts/a` or `/v1/registries/r/collections/c`: both serve versions, files, aliases, history. */
export function basePath(ref: VersionRef): string {
  return ref.kind === "artifact"
    ? `/v1/projects${seg(ref.project)}/artifacts${seg(ref.artifact)}`
    : `/v1/registries${seg(ref.registry)}/collections${seg(ref.collection)}`;
}

export interface ResolvedVersion {
  ref: VersionRef & { version: string };
  version: VersionResponse | CollectionVersionResponse;
  source: VersionSource;
}

export async function resolveVersion(api: ApiClient, ref: VersionRef, signal?: AbortSignal): Promise<ResolvedVersion> {
  const selector = ref.version ?? "latest";
  const version = await api.get<VersionResponse | CollectionVersionResponse>(
    `${basePath(ref)}/versions${seg(selector)}`,
    undefined,
    signal,
  );
  const source =
    "source" in version && version.source
      ? version.source
      : ref.kind === "artifact"
        ? { project: ref.project, artifact: ref.artifact, version: version.version }
        : undefined;
  if (!source) throw new MregError(`the registry answered ${formatRef(ref)} without its source artifact version`);
  return { ref: { ...ref, version: version.version }, version, source };
}

/** Every manifest entry of a resolved version (all pages), optionally under a prefix. */
export async function listAllFiles(
  api: ApiClient,
  ref: VersionRef & { version: string },
  prefix?: string,
  signal?: AbortSignal,
  onPage?: (page: Page<FileResponse> & { digest?: string }) => void,
): Promise<FileResponse[]> {
  const files: FileResponse[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<Page<FileResponse> & { digest?: string }>(
      `${basePath(ref)}/versions${seg(ref.version)}/files`,
      { prefix, cursor },
      signal,
    );
    onPage?.(page);
    files.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return files;
}

/**
 * Every file of a resolved version, checked against the digest the registry reports for the
 * version before anything is trusted (so the whole list is read even for a prefix, which is
 * then applied here), optionally under a prefix.
 */
export async function listVerifiedFiles(
  api: ApiClient,
  resolved: ResolvedVersion,
  prefix?: string,
  signal?: AbortSignal,
): Promise<FileResponse[]> {
  const digest = resolved.version.digest;
  const what = formatRef(resolved.ref);
  if (typeof digest !== "string") throw new IntegrityError(`${what}: the registry did not report the version's digest`);
  const files = await listAllFiles(api, resolved.ref, undefined, signal, (page) => {
    if (page.digest !== undefined && page.digest !== digest) {
      throw new IntegrityError(`${what}: the registry listed the files of digest ${page.digest}, not the version's ${digest}`);
    }
  });
  verifyListing(files, digest, what);
  return prefix === undefined ? files : files.filter((f) => f.path.startsWith(prefix));
}

export async function useArtifact(deps: UseDeps, ref: VersionRef, options: UseArtifactOptions = {}): Promise<UseArtifactResult> {
  const progress = options.progress ?? silentProgress;
  // Resolve once, then read files by number: an alias moving meanwhile cannot mix two versions.
  const resolved = await resolveVersion(deps.api, ref, options.signal);
  const files = await listVerifiedFiles(deps.api, resolved, options.prefix, options.signal);
  if (files.length === 0) {
    throw new MregError(
      options.prefix === undefined
        ? `${formatRef(resolved.ref)} has no files`
        : `${formatRef(resolved.ref)} has no files under ${options.prefix}`,
    );
  }
  const name = ref.kind === "artifact" ? ref.artifact : ref.collection;
  const dir = resolve(options.dir ?? join("artifacts", `${name}-${resolved.ref.version}`));
  const size = files.reduce((sum, f) => sum + f.size, 0);
  progress.start("download", size);
  const result = await downloadFiles(files, {
    dir,
    cacheDir: options.cache === false ? undefined : deps.cacheDir,
    hashCache: deps.hashCache,
    concurrency: deps.concurrency,
    retry: deps.retry,
    signal: options.signal,
    onBytes: (delta) => progress.advance("download", delta),
    onRetry: options.onRetry,
  });
  progress.end("download");
  if (options.run !== undefined) {
    await deps.api.post(
      `/v1/projects${seg(resolved.source.project)}/runs${seg(options.run)}/inputs`,
      { artifact: resolved.source.artifact, version: resolved.source.version },
      options.signal,
    );
  }
  return {
    path: dir,
    ref: formatRef(resolved.ref),
    version: resolved.ref.version,
    source: resolved.source,
    files: files.length,
    size,
    downloadedBytes: result.downloadedBytes,
    cachedBytes: result.cachedBytes,
    presentBytes: result.presentBytes,
  };
}
