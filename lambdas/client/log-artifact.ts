import pLimit from "p-limit";
import { basename } from "node:path";
import { availableParallelism } from "node:os";
import {
  MAX_FILES_PER_REQUEST,
  commitRequest,
  type CommitRequest,
  type CommitResponse,
  type UploadPlan,
} from "../schemas/artifacts.js";
import { seg, type ApiClient } from "./api-client.js";
import { collectFiles } from "./collect-files.js";
import { MregError } from "./errors.js";
import { hashWithCache, type HashCache } from "./hash-files.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import type { RetryOptions } from "./retry.js";
import { uploadBlobs, type BlobSource, type UploadedPart } from "./upload-blobs.js";
import type { UploadStateStore } from "./upload-state.js";

export interface LogArtifactOptions {
  project: string;
  name: string;
  /** `model`, `dataset` or any name; defaults to `model`. */
  type?: string;
  /** Files and directories to log. */
  paths?: string[];
  /** `s3://bucket/key` objects to log by reference; `s3://bucket/prefix/` lists the prefix with your AWS credentials. */
  refs?: string[];
  aliases?: string[];
  metadata?: Record<string, unknown>;
  description?: string;
  runId?: string;
  signal?: AbortSignal;
  progress?: ProgressReporter;
  /** Called as each multipart part is acknowledged (tests interrupt uploads from here). */
  onPartUploaded?: (part: UploadedPart) => void;
  onRetry?: (what: string, error: unknown, attempt: number) => void;
}

export interface LogArtifactResult {
  project: string;
  artifact: string;
  version: string;
  index: number;
  digest: string;
  /** False when identical content was already a version: that one is returned (and aliased). */
  created: boolean;
  aliases: string[];
  files: number;
  /** Total bytes of the files logged (references included). */
  size: number;
  /** Bytes sent to the store by this call. */
  uploadedBytes: number;
  /** Bytes of multipart parts an interrupted earlier call had already sent. */
  resumedBytes: number;
  /** Bytes the store already held (deduplicated by SHA-256), not sent. */
  reusedBytes: number;
  /** Bytes read to compute hashes (0 when the hash cache knew every file). */
  hashedBytes: number;
  timings: { hashMs: number; planMs: number; transferMs: number; completeMs: number; uploadMs: number; commitMs: number; totalMs: number };
}

export interface LogDeps {
  api: ApiClient;
  hashCache?: HashCache;
  uploadState?: UploadStateStore;
  concurrency: number;
  retry?: Partial<RetryOptions>;
}

interface Entry {
  path: string;
  size: number;
  sha256: string;
  absolutePath: string;
}

export async function logArtifact(deps: LogDeps, options: LogArtifactOptions): Promise<LogArtifactResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  const base = `/v1/projects${seg(options.project)}/artifacts${seg(options.name)}`;
  const local = await collectFiles(options.paths ?? []);
  const references = await expandReferences(options.refs ?? []);
  for (const ref of references) {
    if (local.some((f) => f.path === ref.path)) {
      throw new MregError(`${ref.ref} would be logged as ${ref.path}, which a local file already is`);
    }
  }
  if (local.length + references.length === 0) throw new MregError("nothing to log: no files found");
  if (local.length + references.length > MAX_FILES_PER_REQUEST) {
    throw new MregError(`a version holds at most ${MAX_FILES_PER_REQUEST} files; this one would have ${local.length + references.length}`);
  }
  // Validated here with the server's own schema, so a bad alias fails before any byte is hashed.
  const draft = toCommit(options, local.map((f) => ({ path: f.path, size: f.size, sha256: "0".repeat(64) })), references);

  // 1. Hash (the cache answers for unchanged files without reading them).
  const hashStarted = performance.now();
  const hashLimit = pLimit(Math.max(1, Math.min(4, availableParallelism())));
  let hashedBytes = 0;
  progress.start("hash", local.reduce((sum, f) => sum + f.size, 0));
  const entries: Entry[] = await Promise.all(
    local.map((file) =>
      hashLimit(async () => {
        const hashed = await hashWithCache(file.absolutePath, deps.hashCache, {
          signal: options.signal,
          onBytes: (bytes) => progress.advance("hash", bytes),
        });
        if (hashed.cached) progress.advance("hash", hashed.size);
        else hashedBytes += hashed.size;
        return { path: file.path, size: hashed.size, sha256: hashed.sha256, absolutePath: file.absolutePath };
      }),
    ),
  );
  progress.end("hash");
  const hashMs = performance.now() - hashStarted;

  // 2–3. Plan (which blobs does the store lack?) and send them, a batch of blobs at a time.
  const sources = new Map<string, BlobSource>();
  const blobs: { path: string; size: number; sha256: string }[] = [];
  for (const entry of entries) {
    if (sources.has(entry.sha256)) continue;
    sources.set(entry.sha256, { sha256: entry.sha256, size: entry.size, path: entry.absolutePath });
    blobs.push({ path: entry.path, size: entry.size, sha256: entry.sha256 });
  }
  const present = new Set<string>();
  const totals = { uploadedBytes: 0, resumedBytes: 0, transferMs: 0, completeMs: 0 };
  let planMs = 0;
  const uploadStarted = performance.now();
  for (const batch of planBatches(blobs)) {
    const planStarted = performance.now();
    const plan = await deps.api.post<UploadPlan>(`${base}/uploads`, { files: batch }, options.signal);
    planMs += performance.now() - planStarted;
    for (const sha of plan.present) present.add(sha);
    progress.start("upload", plan.uploads.reduce((sum, u) => sum + u.size, 0));
    const uploaded = await uploadBlobs(plan, sources, {
      concurrency: deps.concurrency,
      state: deps.uploadState,
      retry: deps.retry,
      signal: options.signal,
      onBytes: (delta) => progress.advance("upload", delta),
      onPartUploaded: options.onPartUploaded,
      onRetry: options.onRetry,
      completeUpload: (request, signal) => deps.api.post(`${base}/uploads/complete`, request, signal),
      refreshUpload: async (blob) => {
        const file = blobs.find((b) => b.sha256 === blob.sha256)!;
        const fresh = await deps.api.post<UploadPlan>(`${base}/uploads`, { files: [file] }, options.signal);
        return fresh.uploads[0];
      },
    });
    progress.end("upload");
    totals.uploadedBytes += uploaded.uploadedBytes;
    totals.resumedBytes += uploaded.resumedBytes;
    totals.transferMs += uploaded.transferMs;
    totals.completeMs += uploaded.completeMs;
  }
  const uploadMs = performance.now() - uploadStarted - planMs;

  // 4. Commit the manifest.
  const commitStarted = performance.now();
  const body = { ...draft, files: [...entries.map(({ path, size, sha256 }) => ({ path, size, sha256 })), ...references] };
  const committed = await deps.api.post<CommitResponse>(`${base}/versions`, body, options.signal);
  const commitMs = performance.now() - commitStarted;

  const reusedBytes = [...present].reduce((sum, sha) => sum + (sources.get(sha)?.size ?? 0), 0);
  return {
    project: options.project,
    artifact: options.name,
    version: committed.version,
    index: committed.index,
    digest: committed.digest,
    created: committed.created,
    aliases: committed.aliases,
    files: entries.length + references.length,
    size: entries.reduce((sum, e) => sum + e.size, 0),
    uploadedBytes: totals.uploadedBytes,
    resumedBytes: totals.resumedBytes,
    reusedBytes,
    hashedBytes,
    timings: {
      hashMs: Math.round(hashMs),
      planMs: Math.round(planMs),
      transferMs: totals.transferMs,
      completeMs: totals.completeMs,
      uploadMs: Math.round(uploadMs),
      commitMs: Math.round(commitMs),
      totalMs: Math.round(performance.now() - started),
    },
  };
}

/**
 * A plan carries one presigned URL per single PUT and per multipart part, and the answer of
 * a Lambda is capped at 6 MB: blobs are planned in batches of bounded URL count. Parts are
 * counted at S3's smallest part size (5 MiB) and the registry's cap of 1000 per blob.
 */
export const PLAN_URL_BUDGET = 2000;
const MIN_PART_SIZE = 5 * 1024 * 1024;

export function planBatches<T extends { size: number }>(blobs: T[], budget = PLAN_URL_BUDGET): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const blob of blobs) {
    const urls = Math.min(1000, Math.max(1, Math.ceil(blob.size / MIN_PART_SIZE)));
    if (current.length > 0 && used + urls > budget) {
      batches.push(current);
      current = [];
      used = 0;
    }
    current.push(blob);
    used += urls;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function toCommit(
  options: LogArtifactOptions,
  files: { path: string; size: number; sha256: string }[],
  references: { path: string; ref: string }[],
): CommitRequest {
  const request = {
    type: options.type ?? "model",
    files: [...files, ...references],
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.aliases === undefined || options.aliases.length === 0 ? {} : { aliases: options.aliases }),
    ...(options.runId === undefined ? {} : { runId: options.runId }),
  };
  const parsed = commitRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = describeIssuePath(issue.path, request);
    throw new MregError(`invalid ${where}: ${issue.message}`);
  }
  return request;
}

function describeIssuePath(path: PropertyKey[], request: { files: { path: string }[] }): string {
  const [field, index] = path;
  if (field === "files" && typeof index === "number") return `file path "${request.files[index]?.path}"`;
  if (field === "aliases") return "alias";
  return String(field ?? "request");
}

/** `s3://bucket/key` is one object logged under its last segment; `s3://bucket/prefix/` is every object below it. */
async function expandReferences(refs: string[]): Promise<{ path: string; ref: string }[]> {
  const entries: { path: string; ref: string }[] = [];
  for (const ref of refs) {
    const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(ref);
    if (!match || match[2] === "") throw new MregError(`invalid --ref ${ref}: expected s3://bucket/key or s3://bucket/prefix/`);
    const [, bucket, key] = match as unknown as [string, string, string];
    if (!key.endsWith("/")) {
      entries.push({ path: basename(key), ref });
      continue;
    }
    const { listS3Prefix } = await import("./list-s3-prefix.js");
    const objects = await listS3Prefix(bucket, key);
    if (objects.length === 0) throw new MregError(`no objects under ${ref}`);
    for (const object of objects) entries.push({ path: object.key.slice(key.length), ref: `s3://${bucket}/${object.key}` });
  }
  return entries;
}
