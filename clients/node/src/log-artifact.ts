import pLimit from "p-limit";
import { basename } from "node:path";
import { availableParallelism } from "node:os";
import {
  MAX_FILES_PER_REQUEST,
  commitRequest,
  type CommitRequest,
  type CommitResponse,
  type UploadPlan,
} from "../../../lambdas/contract/artifacts.js";
import { seg, type ApiClient } from "./api-client.js";
import { collectFiles } from "./collect-files.js";
import { MregError, throwIfAborted } from "./errors.js";
import { cachedHash, hashWithCache, type HashCache } from "./hash-files.js";
import { OPEN_UPLOAD_MIN_BYTES, startOpenUploads, type OpenTransfer } from "./open-uploads.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import type { RetryOptions } from "./retry.js";
import { uploadBlobs, type BlobSource, type UploadedPart } from "./upload-blobs.js";
import { sendWhileHashing } from "./upload-order.js";
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
  /**
   * true: hash every file before sending any of its bytes. false: send a large file the hash
   * cache does not know while it is hashed (if the store turns out to hold it, the transfer is
   * stopped, so some of its bytes may have been sent for nothing). Unset: send while hashing
   * unless the machine is busy (see upload-order.ts).
   */
  hashFirst?: boolean;
  /** Files at least this large (64 MiB by default) that the hash cache does not know are sent while they are hashed. */
  openUploadMinBytes?: number;
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
  /** Files whose bytes were sent while they were hashed (open uploads). */
  sentWhileHashing: number;
  /** Bytes sent while hashing for blobs the store turned out to hold already, and failed attempts of those transfers. */
  discardedBytes: number;
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
  const draft = toCommit(
    options,
    local.map((f) => ({ path: f.path, size: f.size, sha256: "0".repeat(64) })),
    references,
  );
  const pool = pLimit(deps.concurrency);
  const transfer = {
    api: deps.api,
    base,
    pool,
    retry: deps.retry,
    signal: options.signal,
    onBytes: (delta: number) => progress.advance("upload", delta),
    onRetry: options.onRetry,
  };

  // 1. Hash (the cache answers for unchanged files without reading them). Large files it does
  //    not know may be sent while they are hashed, through open uploads, so the hash adds no time.
  const hashStarted = performance.now();
  const known = await Promise.all(local.map((file) => cachedHash(file.absolutePath, deps.hashCache)));
  const unknownLarge = sendWhileHashing(options.hashFirst)
    ? local.filter((file, i) => known[i] === undefined && file.size >= (options.openUploadMinBytes ?? OPEN_UPLOAD_MIN_BYTES))
    : [];
  const opening =
    unknownLarge.length === 0
      ? Promise.resolve(new Map<string, OpenTransfer>())
      : startOpenUploads(unknownLarge, transfer).then((opened) => {
          progress.start(
            "upload",
            [...opened.values()].reduce((sum, t) => sum + t.size, 0),
          );
          return opened;
        });
  // Settled now, so that a failure here does not leave the open uploads unobserved.
  const openingSettled = opening.then(
    (opened) => ({ opened }),
    (error: unknown) => ({ error }),
  );
  let entries: Entry[];
  let hashedBytes: number;
  try {
    ({ entries, hashedBytes } = await hashFiles(local, known, deps.hashCache, progress, options.signal));
  } catch (error) {
    const settled = await openingSettled;
    if ("opened" in settled) await stopAll(settled.opened);
    throw error;
  }
  progress.end("hash");
  const hashMs = performance.now() - hashStarted;
  const openedOrError = await openingSettled;
  if ("error" in openedOrError) throw openedOrError.error;
  const opened = openedOrError.opened;

  // 2–3. Plan (which blobs does the store lack?) and send them, a batch of blobs at a time.
  //      A blob an open upload is already sending is not sent again; one the store holds
  //      stops the open uploads of its bytes.
  const sources = new Map<string, BlobSource>();
  const blobs: { path: string; size: number; sha256: string }[] = [];
  for (const entry of entries) {
    if (sources.has(entry.sha256)) continue;
    sources.set(entry.sha256, { sha256: entry.sha256, size: entry.size, path: entry.absolutePath });
    blobs.push({ path: entry.path, size: entry.size, sha256: entry.sha256 });
  }
  const carrier = new Map<string, OpenTransfer>();
  for (const entry of entries) {
    const open = opened.get(entry.path);
    if (!open) continue;
    if (carrier.has(entry.sha256)) stopOpen(open, progress);
    else carrier.set(entry.sha256, open);
  }
  const present = new Set<string>();
  const waiting: { open: OpenTransfer; upload: UploadPlan["uploads"][number] }[] = [];
  const totals = { uploadedBytes: 0, resumedBytes: 0, completeMs: 0 };
  let planMs = 0;
  const uploadStarted = performance.now();
  // Bytes travel from the first open upload (during hashing) or from here.
  const firstByteAt = opened.size > 0 ? hashStarted : performance.now();
  let lastByteAt = firstByteAt;
  const send = async (plan: UploadPlan) => {
    const sendStarted = performance.now();
    const uploaded = await uploadBlobs(plan, sources, {
      concurrency: deps.concurrency,
      pool,
      state: deps.uploadState,
      retry: deps.retry,
      signal: options.signal,
      onBytes: transfer.onBytes,
      onPartUploaded: options.onPartUploaded,
      onRetry: options.onRetry,
      completeUpload: (request, signal) => deps.api.post(`${base}/uploads/complete`, request, signal),
      refreshUpload: async (blob) => {
        const file = blobs.find((b) => b.sha256 === blob.sha256)!;
        const fresh = await deps.api.post<UploadPlan>(`${base}/uploads`, { files: [file] }, options.signal);
        return fresh.uploads[0];
      },
    });
    totals.uploadedBytes += uploaded.uploadedBytes;
    totals.resumedBytes += uploaded.resumedBytes;
    lastByteAt = Math.max(lastByteAt, sendStarted + uploaded.transferMs);
    totals.completeMs += uploaded.completeMs;
  };
  try {
    for (const batch of planBatches(blobs)) {
      const planStarted = performance.now();
      const plan = await deps.api.post<UploadPlan>(`${base}/uploads`, { files: batch }, options.signal);
      planMs += performance.now() - planStarted;
      for (const sha of plan.present) {
        present.add(sha);
        const open = carrier.get(sha);
        if (open) stopOpen(open, progress);
      }
      const own = plan.uploads.filter((upload) => {
        const open = carrier.get(upload.sha256);
        if (open) waiting.push({ open, upload });
        return !open;
      });
      progress.start(
        "upload",
        own.reduce((sum, u) => sum + u.size, 0),
      );
      await send({ uploads: own, present: [] });
    }
    // An open upload that failed after its retries is sent again the usual way.
    for (const { open, upload } of waiting) {
      const outcome = await open.settled;
      if (outcome === "sent") {
        totals.uploadedBytes += open.size;
        lastByteAt = Math.max(lastByteAt, open.sentAt ?? performance.now());
        continue;
      }
      throwIfAborted(options.signal);
      carrier.delete(upload.sha256);
      await send({ uploads: [upload], present: [] });
    }
  } catch (error) {
    await stopAll(opened);
    throw error;
  }
  const outcomes = new Map(await Promise.all([...opened].map(async ([path, open]) => [path, await open.settled] as const)));
  progress.end("upload");
  const uploadMs = performance.now() - uploadStarted - planMs;

  // 4. Commit the manifest; each file an open upload carried names it, so the registry
  //    verifies those bytes (or deletes them when the store held the blob already).
  const commitStarted = performance.now();
  // Every open upload is named, whatever became of it: the registry verifies the first that
  // holds the file's bytes and deletes the rest (one stopped as the store answered may have
  // landed whole).
  const files = entries.map(({ path, size, sha256 }) => {
    const open = opened.get(path);
    return open ? { path, size, sha256, uploadId: open.uploadId } : { path, size, sha256 };
  });
  const body = { ...draft, files: [...files, ...references] };
  const committed = await deps.api.post<CommitResponse>(`${base}/versions`, body, options.signal);
  const commitMs = performance.now() - commitStarted;

  const reusedBytes = [...present].reduce((sum, sha) => sum + (sources.get(sha)?.size ?? 0), 0);
  // The open uploads that delivered a blob the store lacked; the bytes of all others were not needed.
  const carried = new Set(
    waiting.filter((w) => carrier.get(w.upload.sha256) === w.open && outcomes.get(w.open.path) === "sent").map((w) => w.open),
  );
  const discardedBytes = [...opened.values()].reduce(
    (sum, open) => sum + (carried.has(open) ? open.sentBytes() - open.size : open.sentBytes()),
    0,
  );
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
    sentWhileHashing: carried.size,
    discardedBytes,
    timings: {
      hashMs: Math.round(hashMs),
      planMs: Math.round(planMs),
      transferMs: Math.round(lastByteAt - firstByteAt),
      completeMs: totals.completeMs,
      uploadMs: Math.round(uploadMs),
      commitMs: Math.round(commitMs),
      totalMs: Math.round(performance.now() - started),
    },
  };
}

/** SHA-256 of every local file: from the cache where `known` has it, else read (large files on a worker thread). */
async function hashFiles(
  local: { path: string; size: number; absolutePath: string }[],
  known: ({ sha256: string; size: number } | undefined)[],
  cache: HashCache | undefined,
  progress: ProgressReporter,
  signal: AbortSignal | undefined,
): Promise<{ entries: Entry[]; hashedBytes: number }> {
  const limit = pLimit(Math.max(1, Math.min(4, availableParallelism())));
  let hashedBytes = 0;
  progress.start(
    "hash",
    local.reduce((sum, f) => sum + f.size, 0),
  );
  const entries = await Promise.all(
    local.map((file, i) =>
      limit(async () => {
        const cached = known[i];
        if (cached !== undefined) {
          progress.advance("hash", cached.size);
          return { path: file.path, size: cached.size, sha256: cached.sha256, absolutePath: file.absolutePath };
        }
        const hashed = await hashWithCache(file.absolutePath, cache, { signal, onBytes: (bytes) => progress.advance("hash", bytes) });
        if (hashed.cached) progress.advance("hash", hashed.size);
        else hashedBytes += hashed.size;
        return { path: file.path, size: hashed.size, sha256: hashed.sha256, absolutePath: file.absolutePath };
      }),
    ),
  );
  return { entries, hashedBytes };
}

/** The store holds this blob already: the open upload of its bytes ends, and leaves the bar. */
function stopOpen(open: OpenTransfer, progress: ProgressReporter): void {
  open.stop();
  void open.settled.then((outcome) => {
    if (outcome !== "sent") progress.start("upload", -open.size);
  });
}

async function stopAll(opened: Map<string, OpenTransfer>): Promise<void> {
  for (const open of opened.values()) open.stop();
  await Promise.all([...opened.values()].map((open) => open.settled));
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
