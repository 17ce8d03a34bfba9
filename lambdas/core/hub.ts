import { createHash } from "node:crypto";
import { commitVersion, loadVersion, type ArtifactDeps, type ArtifactRef } from "./artifact-versions.js";
import { atLeast, type RegistryAccess } from "./authorize.js";
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import { parseS3Uri } from "./manifest.js";
import {
  LATEST_ALIAS,
  isReference,
  parseVersionSelector,
  versionLabel,
  type ManifestEntry,
  type Principal,
  type SourceVersion,
  type VersionSelector,
} from "./model.js";
import type { LineageStore, RegistryStore } from "./ports.js";
import { resolveLinkTarget } from "./registries.js";
import { completeUpload, planUpload, type UploadDeps } from "./upload-blobs.js";
import { MAX_FILES_PER_REQUEST, type CommitRequest } from "../contract/artifacts.js";
import { HF_DEFAULT_REVISIONS, type HfErrorCode, type HfLfsBatchResponse, type HfRepoInfo, type HfTreeEntry } from "../contract/hf.js";

/**
 * The Hugging Face Hub's repositories, revisions and commits over the registry's own use
 * cases: a repository is a registry collection or a project artifact, a revision one of its
 * versions, a commit a new artifact version. Nothing here bypasses a rule of the registry.
 */

export type HubRepo =
  { kind: "collection"; registry: string; collection: string } | { kind: "artifact"; project: string; artifact: string };

/** A 404 the HF clients tell apart by `X-Error-Code`. */
export class HubNotFoundError extends NotFoundError {
  constructor(
    readonly hubCode: HfErrorCode,
    message: string,
    /** The revision's commit, when the repository and revision exist: clients cache "no such file" under it. */
    readonly commit?: string,
  ) {
    super(message);
  }
}

export interface HubDeps extends ArtifactDeps {
  registries: RegistryStore;
  lineage: LineageStore;
  limits: UploadDeps["limits"];
}

/** A revision resolved: the repository's own number and the artifact version holding the files. */
export interface HubRevision {
  repo: HubRepo;
  index: number;
  commit: string;
  source: SourceVersion;
}

/** Digits of the digest in a commit id; the other 8 hex digits are the version number. */
const COMMIT_DIGEST_DIGITS = 32;
const MAX_COMMIT_INDEX = 999_999_999;

/**
 * The commit id of a repository version: the first 128 bits of its manifest digest, then its
 * number as 8 hex digits. Both are immutable, so the id is stable forever, and it resolves
 * in one read (by number, then checked against the digest) without an index of its own.
 * Two versions of one repository never share an id, even with equal content.
 */
export function commitId(digest: string, index: number): string {
  return digest.slice(0, COMMIT_DIGEST_DIGITS) + index.toString(16).padStart(40 - COMMIT_DIGEST_DIGITS, "0");
}

export type RevisionSelector = VersionSelector & { digestPrefix?: string };

/** `main`/`HEAD` → latest, a 40-hex commit id → its number and digest prefix, else `vN`, `N` or an alias. */
export function parseRevision(revision: string): RevisionSelector {
  if ((HF_DEFAULT_REVISIONS as readonly string[]).includes(revision)) return { alias: LATEST_ALIAS };
  if (/^[0-9a-f]{40}$/.test(revision)) {
    const index = Number.parseInt(revision.slice(COMMIT_DIGEST_DIGITS), 16);
    // Beyond what a version number can be: it names nothing, and reads as such.
    return { index: index > MAX_COMMIT_INDEX ? -1 : index, digestPrefix: revision.slice(0, COMMIT_DIGEST_DIGITS) };
  }
  return parseVersionSelector(revision);
}

/** The revision as the registry's `{v}` reads it, so the access check can read the version with the registry. */
export function revisionSelectorParam(revision: string): string {
  const selector = parseRevision(revision);
  return "index" in selector ? versionLabel(Math.max(selector.index, 0)) : selector.alias;
}

function repoName(repo: HubRepo): string {
  return repo.kind === "collection" ? `${repo.registry}/${repo.collection}` : `${repo.project}/${repo.artifact}`;
}

function missingRevision(repo: HubRepo, revision: string): HubNotFoundError {
  return new HubNotFoundError("RevisionNotFound", `${repoName(repo)} has no revision ${revision}`);
}

/** What a collection revision needs beyond the link target, read only for repository info. */
interface RevisionDetails {
  createdAt: string;
  aliases: string[];
  tags: string[];
  description: string | null;
  type: string;
}

/**
 * A revision of a repository: for a collection from the access check's read when the path
 * named it (a resolve costs no read of its own), for an artifact one read. A missing
 * repository is RepoNotFound, a missing version RevisionNotFound.
 */
export async function resolveRevision(
  deps: HubDeps,
  repo: HubRepo,
  revision: string,
  access?: RegistryAccess,
): Promise<HubRevision & { details?: RevisionDetails }> {
  const selector = parseRevision(revision);
  if ("index" in selector && selector.index < 0) throw missingRevision(repo, revision);
  const checkDigest = (digest: string) => {
    if (selector.digestPrefix !== undefined && !digest.startsWith(selector.digestPrefix)) throw missingRevision(repo, revision);
  };
  const label = "index" in selector ? versionLabel(selector.index) : selector.alias;
  if (repo.kind === "collection") {
    const ref = { registry: repo.registry, collection: repo.collection };
    let target;
    try {
      target = await resolveLinkTarget(deps, access, ref, label);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      const collection = await deps.registries.getCollection(repo.registry, repo.collection);
      throw collection ? missingRevision(repo, revision) : new HubNotFoundError("RepoNotFound", `${repoName(repo)} does not exist`);
    }
    checkDigest(target.source.digest);
    return { repo, index: target.index, commit: commitId(target.source.digest, target.index), source: target.source };
  }
  const ref = { project: repo.project, artifact: repo.artifact };
  let version;
  try {
    version = await loadVersion(deps.artifacts, ref, label);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const artifact = await deps.artifacts.getArtifact(repo.project, repo.artifact);
    throw artifact ? missingRevision(repo, revision) : new HubNotFoundError("RepoNotFound", `${repoName(repo)} does not exist`);
  }
  checkDigest(version.digest);
  return {
    repo,
    index: version.index,
    commit: commitId(version.digest, version.index),
    source: { project: version.project, artifact: version.artifact, index: version.index, digest: version.digest },
    details: {
      createdAt: version.createdAt,
      aliases: [...version.aliases].sort(),
      tags: [],
      description: version.description ?? null,
      type: version.type,
    },
  };
}

/** The LFS pointer git would store for a blob: its git blob id is the file's `oid` on the Hub. */
function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

function gitBlobId(content: string): string {
  const bytes = Buffer.from(content, "utf8");
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

function fileEntry(entry: ManifestEntry, lastCommit?: HfTreeEntry["lastCommit"]): HfTreeEntry {
  const extra = lastCommit ? { lastCommit, securityFileStatus: { status: "unscanned" } } : {};
  if (isReference(entry)) {
    // Not content-addressed by the registry: named by the S3 object it pins.
    return {
      type: "file",
      oid: gitBlobId(`${entry.ref}\n${entry.etag}\n${entry.versionId ?? ""}`),
      size: entry.size,
      path: entry.path,
      ...extra,
    };
  }
  const pointer = lfsPointer(entry.sha256, entry.size);
  return {
    type: "file",
    oid: gitBlobId(pointer),
    size: entry.size,
    path: entry.path,
    lfs: { oid: entry.sha256, size: entry.size, pointerSize: Buffer.byteLength(pointer) },
    ...extra,
  };
}

function folderEntry(revision: HubRevision, path: string, lastCommit?: HfTreeEntry["lastCommit"]): HfTreeEntry {
  return {
    type: "directory",
    oid: createHash("sha1").update(`tree ${revision.commit}:${path}`).digest("hex"),
    size: 0,
    path,
    ...(lastCommit ? { lastCommit } : {}),
  };
}

/** Every folder that holds a file, deepest last. */
function foldersOf(entries: ManifestEntry[]): string[] {
  const folders = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
  }
  return [...folders];
}

function lastCommitOf(revision: HubRevision, details: { title: string; date: string }): HfTreeEntry["lastCommit"] {
  return { id: revision.commit, title: details.title, date: details.date };
}

export interface RepoInfoOptions {
  /** Restricted registries are private repositories. */
  private: boolean;
}

/** `GET /api/models/{repo}/revision/{revision}`: the commit and the files of a revision. */
export async function repoInfo(
  deps: HubDeps,
  revision: HubRevision & { details?: RevisionDetails },
  options: RepoInfoOptions,
): Promise<HfRepoInfo> {
  const details = revision.details ?? (await collectionDetails(deps, revision));
  const entries = await deps.blobs.getManifest(revision.source.digest);
  const name = repoName(revision.repo);
  const siblings = entries.map((entry) => {
    const file = fileEntry(entry);
    return {
      rfilename: entry.path,
      size: entry.size,
      blobId: file.oid,
      ...(file.type === "file" && file.lfs
        ? { lfs: { sha256: file.lfs.oid, size: file.lfs.size, pointerSize: file.lfs.pointerSize } }
        : {}),
    };
  });
  const label = versionLabel(revision.index);
  return {
    _id: revision.commit,
    id: name,
    modelId: name,
    author: revision.repo.kind === "collection" ? revision.repo.registry : revision.repo.project,
    sha: revision.commit,
    lastModified: details.createdAt,
    createdAt: details.createdAt,
    private: options.private,
    disabled: false,
    gated: false,
    downloads: 0,
    likes: 0,
    tags: [...details.tags],
    siblings,
    mreg: {
      ref: revision.repo.kind === "collection" ? `@${name}:${label}` : `${name}:${label}`,
      version: label,
      digest: revision.source.digest,
      type: details.type,
      aliases: details.aliases,
      description: details.description,
      source: { project: revision.source.project, artifact: revision.source.artifact, version: versionLabel(revision.source.index) },
    },
  };
}

async function collectionDetails(deps: HubDeps, revision: HubRevision): Promise<RevisionDetails> {
  if (revision.repo.kind !== "collection") throw new Error("an artifact revision carries its details");
  const link = await deps.registries.getLink(revision.repo.registry, revision.repo.collection, revision.index);
  if (!link) throw missingRevision(revision.repo, versionLabel(revision.index));
  return {
    createdAt: link.linkedAt,
    aliases: [...link.aliases].sort(),
    tags: [...link.tags].sort(),
    description: link.description ?? null,
    type: link.type,
  };
}

export interface TreeQuery {
  /** A folder of the revision; the root when empty. */
  path: string;
  recursive: boolean;
  expand: boolean;
  limit: number;
  cursor?: string;
}

/**
 * `GET /api/models/{repo}/tree/{revision}[/{path}]`: the folder's files and folders (all of
 * them below it when recursive), in path order, a page at a time.
 */
export async function listTree(
  deps: HubDeps,
  revision: HubRevision & { details?: RevisionDetails },
  query: TreeQuery,
): Promise<{ items: HfTreeEntry[]; nextCursor?: string }> {
  const entries = await deps.blobs.getManifest(revision.source.digest);
  const prefix = query.path === "" ? "" : `${query.path}/`;
  const below = entries.filter((e) => e.path.startsWith(prefix));
  if (below.length === 0 && query.path !== "") {
    throw new HubNotFoundError("EntryNotFound", `${repoName(revision.repo)} has no folder ${query.path} at ${revision.commit}`);
  }
  const lastCommit = query.expand ? lastCommitOf(revision, await commitTitle(deps, revision)) : undefined;
  const depth = (path: string) => path.split("/").length;
  // A direct child of the folder has as many segments as the prefix split on "/".
  const level = depth(prefix);
  const listed: HfTreeEntry[] = [
    ...below.filter((e) => query.recursive || depth(e.path) === level).map((e) => fileEntry(e, lastCommit)),
    ...foldersOf(below)
      .filter((folder) => folder.startsWith(prefix) && (query.recursive || depth(folder) === level))
      .map((folder) => folderEntry(revision, folder, lastCommit)),
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Sealed like the API's cursors, and bound to this tree listing: another one's is refused.
  const list = `hf-tree\u0000${revision.source.digest}\u0000${prefix}\u0000${query.recursive ? "r" : ""}`;
  const after = query.cursor === undefined ? undefined : await deps.cursors.open(list, query.cursor);
  const remaining = after === undefined ? listed : listed.filter((e) => e.path > after);
  const items = remaining.slice(0, query.limit);
  const last = items.at(-1);
  return { items, ...(remaining.length > items.length && last ? { nextCursor: await deps.cursors.seal(list, last.path) } : {}) };
}

/** `POST /api/models/{repo}/paths-info/{revision}`: the entries among `paths` that exist, files or folders. */
export async function pathsInfo(
  deps: HubDeps,
  revision: HubRevision & { details?: RevisionDetails },
  paths: string[],
  expand: boolean,
): Promise<HfTreeEntry[]> {
  const entries = await deps.blobs.getManifest(revision.source.digest);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const folders = new Set(foldersOf(entries));
  const lastCommit = expand ? lastCommitOf(revision, await commitTitle(deps, revision)) : undefined;
  const found: HfTreeEntry[] = [];
  for (const path of new Set(paths.map((p) => p.replace(/\/+$/, "")))) {
    const entry = byPath.get(path);
    if (entry) found.push(fileEntry(entry, lastCommit));
    else if (folders.has(path)) found.push(folderEntry(revision, path, lastCommit));
  }
  return found;
}

async function commitTitle(deps: HubDeps, revision: HubRevision & { details?: RevisionDetails }): Promise<{ title: string; date: string }> {
  const details = revision.details ?? (await collectionDetails(deps, revision));
  return { title: details.description?.split("\n")[0] || versionLabel(revision.index), date: details.createdAt };
}

export interface ResolvedFile {
  /** Where the bytes are: a presigned GET. */
  location: string;
  size: number;
  /** The SHA-256 of a blob; the pinned S3 ETag of a reference. */
  etag: string;
}

/** `HEAD`/`GET /{repo}/resolve/{revision}/{path}`: where the file's bytes are, presigned. */
export async function resolveFile(deps: HubDeps, revision: HubRevision, path: string): Promise<ResolvedFile> {
  const entries = await deps.blobs.getManifest(revision.source.digest);
  const entry = entries.find((e) => e.path === path);
  if (!entry) {
    throw new HubNotFoundError("EntryNotFound", `${repoName(revision.repo)} has no file ${path} at ${revision.commit}`, revision.commit);
  }
  if (isReference(entry)) {
    const { bucket, key } = parseS3Uri(entry.ref);
    return { location: await deps.blobs.presignReferenceGet(bucket, key, entry.versionId), size: entry.size, etag: entry.etag };
  }
  const filename = entry.path.split("/").pop() ?? entry.path;
  return { location: await deps.blobs.presignBlobGet(entry.sha256, filename), size: entry.size, etag: entry.sha256 };
}

/**
 * Records the revision's artifact version as an input of `runId` in that artifact's project,
 * as `mreg use --run` does; recording is a write, so it needs what the runs route needs.
 */
export async function recordHubInput(deps: HubDeps, principal: Principal, revision: HubRevision, runId: string): Promise<void> {
  if (!atLeast(principal.orgRole, "member")) {
    throw new ForbiddenError(`${principal.userId} (${principal.orgRole}) may not record run inputs: it needs project:write`);
  }
  const { project, artifact, index } = revision.source;
  await deps.lineage.recordInput(
    { project, id: runId },
    { project, artifact, index },
    { actor: principal.userId, at: deps.clock.now().toISOString() },
  );
}

/**
 * The LFS batch of an upload: for each object the registry lacks, a presigned single PUT
 * (`basic`) or a multipart plan whose completion goes to `completionUrl`; objects it holds
 * get no action. PUTs carry no signed checksum, since the clients send no header a plan
 * names: the commit hashes those blobs before any version uses them.
 */
export async function planLfsBatch(
  deps: HubDeps,
  objects: { oid: string; size: number }[],
  completionUrl: (oid: string, uploadId: string) => string,
  expiresIn: number,
): Promise<HfLfsBatchResponse> {
  const plan = await planUpload(
    deps,
    { files: objects.map((o) => ({ path: o.oid, size: o.size, sha256: o.oid })) },
    { bindChecksums: false },
  );
  const planned = new Map(plan.uploads.map((u) => [u.sha256, u]));
  let multipart = false;
  const answered = objects.map((object) => {
    const upload = planned.get(object.oid);
    if (!upload) return { oid: object.oid, size: object.size, authenticated: true };
    if ("method" in upload) {
      return {
        oid: object.oid,
        size: object.size,
        authenticated: true,
        actions: {
          upload: {
            href: upload.url,
            ...(Object.keys(upload.headers).length > 0 ? { header: upload.headers } : {}),
            expires_in: expiresIn,
          },
        },
      };
    }
    multipart = true;
    const header: Record<string, string> = { chunk_size: String(upload.multipart.partSize) };
    for (const part of upload.multipart.parts) header[String(part.partNumber).padStart(5, "0")] = part.url;
    return {
      oid: object.oid,
      size: object.size,
      authenticated: true,
      actions: { upload: { href: completionUrl(object.oid, upload.multipart.uploadId), header, expires_in: expiresIn } },
    };
  });
  return { transfer: multipart ? "multipart" : "basic", hash_algo: "sha256", objects: answered };
}

/** Completes a multipart LFS upload: the registry's own completion, which hashes the blob before trusting it. */
export async function completeLfsUpload(
  deps: HubDeps,
  oid: string,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
): Promise<{ oid: string; size: number; verified: true; alreadyPresent: boolean }> {
  const completed = await completeUpload(deps, { sha256: oid, uploadId, parts });
  return { oid, size: completed.size, verified: true, alreadyPresent: completed.alreadyPresent };
}

export type HubOperation =
  | { kind: "add"; path: string; sha256: string; size?: number }
  | { kind: "deleteFile"; path: string }
  | { kind: "deleteFolder"; path: string };

export interface HubCommit {
  /** The version's description: the commit's summary and description. */
  description: string;
  parentCommit?: string;
  operations: HubOperation[];
  runId?: string;
}

/**
 * A commit to a project artifact, as git applies one to a branch: the branch's files (`main`
 * is `latest`, any other branch is an alias, which moves to the new version), changed by
 * the operations, become a new artifact version through the registry's own commit (blobs
 * verified, identical content answered with the version that holds it, audit event). A
 * commit to a number or a commit id is refused: those never move.
 */
export async function commitToArtifact(
  deps: HubDeps,
  principal: Principal,
  ref: ArtifactRef,
  branch: string,
  commit: HubCommit,
): Promise<{ commit: string; version: string; created: boolean }> {
  const selector = parseRevision(branch);
  if ("index" in selector) throw new ValidationError(`commit to a branch (main or an alias), not to ${branch}: versions never change`);
  const repo: HubRepo = { kind: "artifact", ...ref };
  const artifact = await deps.artifacts.getArtifact(ref.project, ref.artifact);
  const onLatest = selector.alias === LATEST_ALIAS;
  let base;
  if (artifact && (!onLatest || artifact.latestIndex !== undefined)) {
    try {
      base = await loadVersion(deps.artifacts, ref, selector.alias);
    } catch (error) {
      if (error instanceof NotFoundError) throw missingRevision(repo, branch);
      throw error;
    }
  } else if (!onLatest) {
    throw artifact ? missingRevision(repo, branch) : new HubNotFoundError("RepoNotFound", `${repoName(repo)} does not exist`);
  }
  const parent = base && commitId(base.digest, base.index);
  if (commit.parentCommit !== undefined && commit.parentCommit !== parent) {
    throw new ConflictError(
      `${branch} of ${repoName(repo)} is at ${parent ?? "no commit"}, not at the parent commit ${commit.parentCommit}`,
    );
  }
  const files = new Map<string, ManifestEntry | { path: string; sha256: string; size?: number }>();
  for (const entry of base ? await deps.blobs.getManifest(base.digest) : []) files.set(entry.path, entry);
  for (const op of commit.operations) {
    if (op.kind === "add") {
      files.set(op.path, { path: op.path, sha256: op.sha256, ...(op.size === undefined ? {} : { size: op.size }) });
    } else if (op.kind === "deleteFile") {
      if (!files.delete(op.path)) throw new HubNotFoundError("EntryNotFound", `${repoName(repo)} has no file ${op.path} on ${branch}`);
    } else {
      const inside = [...files.keys()].filter((path) => path.startsWith(`${op.path}/`));
      if (inside.length === 0) throw new HubNotFoundError("EntryNotFound", `${repoName(repo)} has no folder ${op.path} on ${branch}`);
      for (const path of inside) files.delete(path);
    }
  }
  if (files.size === 0) throw new ValidationError("a version needs at least one file; this commit would leave none");
  if (files.size > MAX_FILES_PER_REQUEST) throw new ValidationError(`a version holds at most ${MAX_FILES_PER_REQUEST} files`);
  const request: CommitRequest = {
    type: base?.type ?? artifact?.type ?? "model",
    files: await withSizes(deps, [...files.values()]),
    description: commit.description,
    ...(onLatest ? {} : { aliases: [selector.alias] }),
    ...(commit.runId === undefined ? {} : { runId: commit.runId }),
  };
  const result = await commitVersion(deps, principal, ref, request);
  return { commit: commitId(result.digest, result.index), version: result.version, created: result.created };
}

/** A copied LFS file names only its SHA-256: its size is the verified blob's. */
async function withSizes(
  deps: HubDeps,
  files: (ManifestEntry | { path: string; sha256: string; size?: number })[],
): Promise<CommitRequest["files"]> {
  const unsized = files.filter((f): f is { path: string; sha256: string } => !("ref" in f) && f.size === undefined);
  const verified = unsized.length === 0 ? new Map<string, number>() : await deps.ledger.verifiedBlobs(unsized.map((f) => f.sha256));
  return files.map((file) => {
    if ("ref" in file) return { path: file.path, ref: file.ref };
    const size = file.size ?? verified.get(file.sha256);
    if (size === undefined) throw new UnprocessableError(`${file.path} (sha256 ${file.sha256}) has not been uploaded`);
    return { path: file.path, size, sha256: file.sha256 };
  });
}
