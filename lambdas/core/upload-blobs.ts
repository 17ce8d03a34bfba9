import { limiter, type Limiter } from "./concurrency.js";
import { holdBlobClaim } from "./blob-claims.js";
import { BlobBusyError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import type { UploadPlanRequest, UploadPlan, CompleteUploadRequest, OpenUpload } from "../contract/artifacts.js";
import { MAX_PLANNED_PARTS, MIB, S3_LIMITS } from "../contract/limits.js";
import type { BlobLedger, BlobStore, Clock } from "./ports.js";

export interface UploadLimits {
  /** Files of this size or more get a multipart plan. */
  multipartThreshold: number;
  partSize: number;
}

export interface UploadDeps {
  ledger: BlobLedger;
  blobs: BlobStore;
  clock: Clock;
  limits: UploadLimits;
}

const PRESIGN_CONCURRENCY = 16;

/** One size per SHA-256: two files with equal bytes cannot differ in size. */
export function uniqueBlobs(files: { path: string; size: number; sha256: string }[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const file of files) {
    const known = sizes.get(file.sha256);
    if (known !== undefined && known !== file.size) {
      throw new ValidationError(`sha256 ${file.sha256} is declared with two sizes (${known} and ${file.size})`);
    }
    sizes.set(file.sha256, file.size);
  }
  return sizes;
}

/**
 * The part size for a file: the configured one, raised in whole MiB so the plan stays within
 * MAX_PLANNED_PARTS, and never above S3's largest part; a file that would need more parts
 * than that cannot be stored (S3's largest object is exactly MAX_PLANNED_PARTS such parts).
 */
export function partSizeFor(size: number, configured: number): number {
  const partSize = Math.min(Math.max(configured, Math.ceil(size / MAX_PLANNED_PARTS / MIB) * MIB), S3_LIMITS.maxPartSize);
  if (partCount(size, partSize) > MAX_PLANNED_PARTS) {
    throw new ValidationError(`a file of ${size} bytes is larger than S3 stores in one object (${S3_LIMITS.maxObjectSize} bytes)`);
  }
  return partSize;
}

export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export function checkVerifiedSize(sha256: string, declared: number, verified: number): void {
  if (declared !== verified) {
    throw new UnprocessableError(`sha256 ${sha256} is stored with size ${verified}, not the declared ${declared}`);
  }
}

export interface PlanOptions {
  /**
   * Whether single PUTs bind the declared SHA-256 (the default). Clients that send no header
   * a plan names (the Hugging Face protocol, lambdas/core/hub.ts) get unbound PUTs; the commit
   * hashes what they sent before any version may use it.
   */
  bindChecksums?: boolean;
}

export async function planUpload(deps: UploadDeps, request: UploadPlanRequest, options: PlanOptions = {}): Promise<UploadPlan> {
  const blobs = uniqueBlobs(request.files);
  const verified = blobs.size === 0 ? new Map<string, number>() : await deps.ledger.verifiedBlobs([...blobs.keys()]);
  const present: string[] = [];
  const missing: [string, number][] = [];
  for (const [sha256, size] of blobs) {
    const stored = verified.get(sha256);
    if (stored === undefined) {
      missing.push([sha256, size]);
    } else {
      checkVerifiedSize(sha256, size, stored);
      present.push(sha256);
    }
  }
  const limit = limiter(PRESIGN_CONCURRENCY);
  const uploads = await Promise.all(
    missing.map(([sha256, size]) =>
      limit(async () => {
        if (size < deps.limits.multipartThreshold) {
          const put = await deps.blobs.presignBlobPut(sha256, { bindChecksum: options.bindChecksums ?? true });
          return { sha256, size, method: "PUT" as const, url: put.url, headers: put.headers };
        }
        return { sha256, size, multipart: await planMultipart(deps, sha256, size) };
      }),
    ),
  );
  if (request.open === undefined) return { uploads, present };
  return { uploads, present, open: await openUploads(deps, request.open, limit) };
}

/**
 * Uploads for bytes whose SHA-256 the client is still computing: it sends them while it
 * hashes, and names the hash at commit, which verifies the bytes before any manifest may
 * use them. Only files the registry takes in one PUT are opened: a multipart upload is
 * written at its blob's own key, which needs the hash first.
 */
async function openUploads(deps: UploadDeps, files: { path: string; size: number }[], limit: Limiter): Promise<OpenUpload[]> {
  return Promise.all(
    files
      .filter((file) => file.size < deps.limits.multipartThreshold)
      .map((file) =>
        limit(async () => {
          const put = await deps.blobs.presignOpenPut();
          return { path: file.path, size: file.size, uploadId: put.uploadId, method: "PUT" as const, url: put.url, headers: put.headers };
        }),
      ),
  );
}

async function planMultipart(deps: UploadDeps, sha256: string, size: number) {
  const partSize = partSizeFor(size, deps.limits.partSize);
  // An unfinished upload of the same blob is handed out again, so a client can resume it.
  let upload = await deps.ledger.findMultipartUpload(sha256, size, partSize);
  if (!upload) {
    const created = await deps.blobs.createMultipartUpload(sha256);
    upload = { sha256, size, partSize, ...created, createdAt: deps.clock.now().toISOString() };
    await deps.ledger.putMultipartUpload(upload);
  }
  const { key, uploadId } = upload;
  const parts = await Promise.all(
    Array.from({ length: partCount(size, partSize) }, async (_, i) => {
      const signed = await deps.blobs.presignPartPut(key, uploadId, i + 1);
      return { partNumber: i + 1, url: signed.url, headers: signed.headers };
    }),
  );
  return { uploadId, partSize, parts };
}

export interface CompletedUpload {
  sha256: string;
  size: number;
  verified: true;
  /** True when another upload had already stored these bytes and this one was discarded. */
  alreadyPresent: boolean;
}

export async function completeUpload(deps: UploadDeps, request: CompleteUploadRequest): Promise<CompletedUpload> {
  const upload = await deps.ledger.getMultipartUpload(request.sha256, request.uploadId);
  if (!upload) {
    // A retried completion (the first timed out at the gateway while hashing) finds the upload gone.
    const verified = (await deps.ledger.verifiedBlobs([request.sha256])).get(request.sha256);
    if (verified !== undefined) return { sha256: request.sha256, size: verified, verified: true, alreadyPresent: true };
    throw new NotFoundError(`no multipart upload ${request.uploadId} for sha256 ${request.sha256}`);
  }
  const parts = [...request.parts].sort((a, b) => a.partNumber - b.partNumber);
  const expected = partCount(upload.size, upload.partSize);
  if (parts.length !== expected || parts.some((part, i) => part.partNumber !== i + 1)) {
    throw new ValidationError(`parts must be numbered 1 to ${expected}, each once`);
  }
  const { sha256, size } = upload;
  const at = deps.clock.now().toISOString();
  const claimed = await deps.ledger.claimBlob(sha256, size, at);
  if (claimed.status === "busy") {
    throw new BlobBusyError(`sha256 ${sha256} is being verified by another upload; retry shortly`);
  }
  if (claimed.status === "verified") {
    await deps.blobs.abortMultipartUpload(upload.key, upload.uploadId);
    await deps.ledger.deleteMultipartUpload(sha256, upload.uploadId);
    return { sha256, size, verified: true, alreadyPresent: true };
  }
  const hold = holdBlobClaim(deps, claimed.claim);
  let completed = false;
  try {
    try {
      // Completing writes the blob's own key: only while the claim is surely ours.
      hold.check();
      await deps.blobs.completeMultipartUpload(upload.key, upload.uploadId, parts);
      completed = true;
      const check = await deps.blobs.verifyBlob(sha256, size, hold.signal);
      if (check.status !== "verified") {
        throw new UnprocessableError(
          check.status === "missing"
            ? `multipart upload ${upload.uploadId} left no object`
            : `uploaded bytes have ${describeBytes(check)}, not the declared ${sha256} and ${size}`,
        );
      }
      hold.check();
    } catch (error) {
      await deps.ledger.releaseBlobClaim(hold.claim);
      // A completed upload is gone from the store: resuming it would hand out dead part URLs.
      if (completed) await deps.ledger.deleteMultipartUpload(sha256, upload.uploadId);
      throw error;
    }
    if (!(await deps.ledger.markBlobVerified(hold.claim, size, at))) {
      // Taken over meanwhile: whatever the new holder decides is the blob's state.
      await deps.ledger.deleteMultipartUpload(sha256, upload.uploadId);
      const stored = (await deps.ledger.verifiedBlobs([sha256])).get(sha256);
      if (stored === undefined) throw new BlobBusyError(`sha256 ${sha256} is being verified by another upload; retry shortly`);
      return { sha256, size: stored, verified: true, alreadyPresent: true };
    }
  } finally {
    hold.stop();
  }
  await deps.ledger.deleteMultipartUpload(sha256, upload.uploadId);
  return { sha256, size, verified: true, alreadyPresent: false };
}

type VerifiableFile = { path: string; size: number; sha256: string; uploadId?: string };

/**
 * Makes sure every blob is verified before a manifest may name it: blobs sent by single PUT
 * (staged under their hash, or in the open upload a file names) are hashed and promoted here.
 * Open uploads that were not needed (the blob was stored already) are deleted. Returns
 * nothing; throws naming the files that do not check out.
 */
export async function ensureBlobsVerified(deps: Pick<UploadDeps, "ledger" | "blobs" | "clock">, files: VerifiableFile[]): Promise<void> {
  const blobs = uniqueBlobs(files);
  const verified = await deps.ledger.verifiedBlobs([...blobs.keys()]);
  // Where each blob's bytes may be: the open uploads its files name, in order, then its staged PUT.
  const carriers = new Map<string, string[]>();
  for (const file of files) {
    if (file.uploadId === undefined) continue;
    const named = carriers.get(file.sha256) ?? [];
    if (!named.includes(file.uploadId)) carriers.set(file.sha256, [...named, file.uploadId]);
  }
  const pending: { sha256: string; size: number; sources: (string | undefined)[] }[] = [];
  for (const [sha256, size] of blobs) {
    const stored = verified.get(sha256);
    if (stored !== undefined) checkVerifiedSize(sha256, size, stored);
    else pending.push({ sha256, size, sources: [...(carriers.get(sha256) ?? []), undefined] });
  }
  const limit = limiter(4);
  const used = new Set<string>();
  const problems = await Promise.all(pending.map((blob) => limit(() => promote(deps, blob, used))));
  await discardOpenUploads(deps.blobs, files, used);
  const pathOf = (sha256: string) => files.find((f) => f.sha256 === sha256)?.path ?? sha256;
  const failures = problems.filter((p): p is Exclude<typeof p, undefined> => p !== undefined);
  const busy = failures.filter((f) => f.reason === "busy");
  if (busy.length > 0) {
    throw new BlobBusyError(`blobs are being verified by another upload; retry shortly: ${busy.map((f) => pathOf(f.sha256)).join(", ")}`);
  }
  if (failures.length > 0) {
    const described = failures.map((f) => {
      if (f.reason === "missing") return `${pathOf(f.sha256)} (sha256 ${f.sha256}) has not been uploaded`;
      return `${pathOf(f.sha256)}: uploaded bytes have ${describeBytes(f.actual!)}, not the declared sha256 ${f.sha256} and size ${blobs.get(f.sha256)}`;
    });
    throw new UnprocessableError(described.join("; "));
  }
}

/**
 * Deletes the open uploads `files` name that verification did not take (`used`): their
 * bytes were stored already. Best effort: the bucket's lifecycle removes what is left.
 */
export async function discardOpenUploads(
  blobs: Pick<UploadDeps["blobs"], "discardOpenUpload">,
  files: { uploadId?: string }[],
  used: ReadonlySet<string> = new Set(),
): Promise<void> {
  const unused = new Set(files.flatMap((f) => (f.uploadId !== undefined && !used.has(f.uploadId) ? [f.uploadId] : [])));
  await Promise.allSettled([...unused].map((uploadId) => blobs.discardOpenUpload(uploadId)));
}

function describeBytes(actual: { sha256?: string; size: number }): string {
  return actual.sha256 === undefined ? `size ${actual.size}` : `sha256 ${actual.sha256} and size ${actual.size}`;
}

type PromoteFailure = {
  sha256: string;
  reason: "missing" | "mismatch" | "busy";
  actual?: { sha256?: string; size: number };
};

/**
 * Verifies one blob under its claim from the first of `sources` that holds its bytes (an open
 * upload's id, or undefined for the staged PUT); each source tried is used up (promoted, or
 * deleted when its bytes differ). A client may name an open upload it stopped or that failed.
 */
async function promote(
  deps: Pick<UploadDeps, "ledger" | "blobs" | "clock">,
  blob: { sha256: string; size: number; sources: (string | undefined)[] },
  used: Set<string>,
): Promise<PromoteFailure | undefined> {
  const { sha256, size, sources } = blob;
  const at = deps.clock.now().toISOString();
  const claimed = await deps.ledger.claimBlob(sha256, size, at);
  if (claimed.status !== "claimed") {
    // Verified by another request since our read: its size, not ours, is the blob's.
    const stored =
      claimed.status === "verified"
        ? (await deps.ledger.verifiedBlobs([sha256])).get(sha256)
        : await waitForVerification(deps.ledger, sha256);
    if (stored === undefined) return { sha256, reason: "busy" };
    checkVerifiedSize(sha256, size, stored);
    return undefined;
  }
  const hold = holdBlobClaim(deps, claimed.claim);
  let mismatch: PromoteFailure | undefined;
  try {
    for (const uploadId of sources) {
      if (uploadId !== undefined) used.add(uploadId);
      hold.check();
      const check = await deps.blobs.promoteStagedBlob(sha256, size, uploadId, hold.signal);
      if (check.status === "verified") {
        if (await deps.ledger.markBlobVerified(hold.claim, size, at)) return undefined;
        return afterTakeover(deps.ledger, sha256, size);
      }
      if (check.status === "mismatch") {
        mismatch ??= { sha256, reason: "mismatch", actual: { sha256: check.sha256, size: check.size } };
      }
    }
  } catch (error) {
    await deps.ledger.releaseBlobClaim(hold.claim);
    // The claim was lost (taken over, or not renewable in time): nothing more was written.
    if (error instanceof BlobBusyError) return afterTakeover(deps.ledger, sha256, size);
    throw error;
  } finally {
    hold.stop();
  }
  await deps.ledger.releaseBlobClaim(hold.claim);
  return mismatch ?? { sha256, reason: "missing" };
}

/** A claim lost to another verifier: the blob is what that verifier made of it, so far. */
async function afterTakeover(ledger: BlobLedger, sha256: string, size: number): Promise<PromoteFailure | undefined> {
  const stored = (await ledger.verifiedBlobs([sha256])).get(sha256);
  if (stored === undefined) return { sha256, reason: "busy" };
  checkVerifiedSize(sha256, size, stored);
  return undefined;
}

/** Small blobs verify in milliseconds: a concurrent commit of the same bytes waits rather than fail. */
const VERIFICATION_WAIT_MS = 5000;

/** The verified size once another request has verified the blob, or undefined on timeout. */
async function waitForVerification(ledger: BlobLedger, sha256: string): Promise<number | undefined> {
  for (let waited = 0; waited < VERIFICATION_WAIT_MS; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const size = (await ledger.verifiedBlobs([sha256])).get(sha256);
    if (size !== undefined) return size;
  }
  return undefined;
}
