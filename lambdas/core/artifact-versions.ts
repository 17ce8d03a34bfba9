import { effectiveRegistryRole, protectedFrom } from "./authorize.js";
import { limiter } from "./concurrency.js";
import type { Cursors } from "./cursors.js";
import { ConflictError, ForbiddenError, IntegrityError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import { canonicalManifest, manifestDigest, manifestSize, parseS3Uri } from "./manifest.js";
import {
  LATEST_ALIAS,
  isReference,
  parseVersionSelector,
  versionLabel,
  type ArtifactRecord,
  type AuditEvent,
  type ManifestEntry,
  type Page,
  type PageRequest,
  type Principal,
  type VersionRecord,
} from "./model.js";
import type { AliasExpectations, ArtifactStore, BlobLedger, BlobStore, Clock, RegistryStore } from "./ports.js";
import { discardOpenUploads, ensureBlobsVerified } from "./upload-blobs.js";
import { estimateReclaim, finishRelease, manifestBlobs } from "./gc.js";
import type { ArtifactResponse, CommitRequest, CommitResponse, FileResponse, FilesPage, VersionResponse } from "../contract/artifacts.js";

export interface ArtifactDeps {
  artifacts: ArtifactStore;
  ledger: BlobLedger;
  blobs: BlobStore;
  clock: Clock;
  cursors: Cursors;
}

export interface ArtifactRef {
  project: string;
  artifact: string;
}

/** `v3`, `3`, an alias or `latest` → the version, in one read, or 404. */
export async function loadVersion(artifacts: ArtifactStore, ref: ArtifactRef, selector: string | number): Promise<VersionRecord> {
  const named = parseVersionSelector(selector);
  const version =
    "index" in named
      ? await artifacts.getVersion(ref.project, ref.artifact, named.index)
      : await artifacts.getVersionByAlias(ref.project, ref.artifact, named.alias);
  if (!version) {
    throw new NotFoundError(
      "index" in named
        ? `${ref.project}/${ref.artifact} has no version ${versionLabel(named.index)}`
        : `${ref.project}/${ref.artifact} has no alias ${named.alias}`,
    );
  }
  return version;
}

export function toVersionResponse(version: VersionRecord): VersionResponse {
  return {
    project: version.project,
    artifact: version.artifact,
    version: versionLabel(version.index),
    index: version.index,
    digest: version.digest,
    type: version.type,
    aliases: [...version.aliases].sort(),
    metadata: version.metadata,
    description: version.description ?? null,
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    size: version.size,
    fileCount: version.fileCount,
    ...(version.runId === undefined ? {} : { runId: version.runId }),
    ...(version.expiresAt === undefined
      ? {}
      : { retention: { expiresAt: version.expiresAt, ...(version.retentionKept === undefined ? {} : { kept: version.retentionKept }) } }),
  };
}

async function resolveReferences(blobs: BlobStore, files: { path: string; ref: string }[]): Promise<ManifestEntry[]> {
  const limit = limiter(8);
  const resolved = await Promise.all(
    files.map((file) =>
      limit(async () => {
        const { bucket, key } = parseS3Uri(file.ref);
        const head = await blobs.headReference(bucket, key);
        return { file, head };
      }),
    ),
  );
  const missing = resolved.filter((r) => r.head === undefined).map((r) => `${r.file.ref} (${r.file.path})`);
  if (missing.length > 0) {
    throw new UnprocessableError(`referenced objects not found or not readable: ${missing.join(", ")}`);
  }
  return resolved.map(({ file, head }) => ({
    path: file.path,
    ref: file.ref,
    size: head!.size,
    etag: head!.etag,
    ...(head!.versionId === undefined ? {} : { versionId: head!.versionId }),
  }));
}

/**
 * Commits a manifest as the artifact's next version, or answers the version that already
 * holds the same content (`created: false`, the requested aliases applied to it). The state
 * read once decides the early answers and is the state the write expects; a write that loses
 * to a concurrent commit decides again on what the store read after it.
 */
export async function commitVersion(
  deps: ArtifactDeps,
  principal: Principal,
  ref: ArtifactRef,
  request: CommitRequest,
): Promise<CommitResponse> {
  const aliases = [...new Set(request.aliases ?? [])];
  for (const alias of aliases) rejectLatest(alias);
  const blobFiles = request.files.filter((f): f is Extract<typeof f, { sha256: string }> => "sha256" in f);
  const refFiles = request.files.filter((f): f is Extract<typeof f, { ref: string }> => "ref" in f);
  const entries = canonicalManifest([...blobFiles, ...(await resolveReferences(deps.blobs, refFiles))]);
  const digest = manifestDigest(entries);
  const at = deps.clock.now().toISOString();
  const change = { ...ref, actor: principal.userId, at };

  let state = await deps.artifacts.readCommitState(ref.project, ref.artifact, digest, aliases);
  const expiresAt = expiryOf(request, deps.clock.now(), state.projectTtlDays);
  let stored = false;
  for (;;) {
    // The one check of the type rule; the write's condition only makes a concurrent change lose.
    if (state.head && state.head.type !== request.type) {
      throw new ConflictError(`${ref.project}/${ref.artifact} holds ${state.head.type} versions; it cannot take type ${request.type}`);
    }
    if (state.existing !== undefined) {
      // The same content is a version already, or a concurrent commit of it won the race.
      if (!stored) await discardOpenUploads(deps.blobs, blobFiles);
      return reuseVersion(deps, change, state.existing, aliases);
    }
    if (!stored) {
      await ensureBlobsVerified(deps, blobFiles);
      await deps.blobs.putManifest(digest, entries);
      stored = true;
    }
    const outcome = await deps.artifacts.commitVersion(
      {
        ...ref,
        type: request.type,
        digest,
        metadata: request.metadata ?? {},
        description: request.description,
        size: manifestSize(entries),
        fileCount: entries.length,
        runId: request.runId,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        blobs: [...manifestBlobs(entries).keys()],
        aliases,
        actor: principal.userId,
        at,
      },
      state,
    );
    if (!outcome.created) {
      state = outcome.current;
      continue;
    }
    const { version } = outcome;
    return {
      version: versionLabel(version.index),
      index: version.index,
      digest,
      created: true,
      aliases: [...version.aliases].sort(),
    };
  }
}

const DAY_MS = 86_400_000;

/** A new version's expiry: the commit's own (`expiresAt`, `ttlDays`), else its project's default, else none. */
export function expiryOf(request: Pick<CommitRequest, "expiresAt" | "ttlDays">, now: Date, projectTtlDays?: number): string | undefined {
  if (request.expiresAt !== undefined) return new Date(request.expiresAt).toISOString();
  const days = request.ttlDays ?? projectTtlDays;
  return days === undefined ? undefined : new Date(now.getTime() + days * DAY_MS).toISOString();
}

async function reuseVersion(
  deps: ArtifactDeps,
  change: ArtifactRef & { actor: string; at: string },
  index: number,
  aliases: string[],
): Promise<CommitResponse> {
  if (aliases.length > 0) await deps.artifacts.moveAliases(change, index, aliases);
  const version = await deps.artifacts.getVersion(change.project, change.artifact, index);
  if (!version) throw new ConflictError(`version ${versionLabel(index)} was deleted while being reused; retry`);
  return {
    version: versionLabel(index),
    index,
    digest: version.digest,
    created: false,
    aliases: [...version.aliases].sort(),
  };
}

export async function getArtifact(deps: ArtifactDeps, ref: ArtifactRef): Promise<ArtifactResponse> {
  const artifact = await deps.artifacts.getArtifact(ref.project, ref.artifact);
  if (!artifact) throw new NotFoundError(`artifact ${ref.project}/${ref.artifact} does not exist`);
  const targets = await deps.artifacts.listAliases(ref.project, ref.artifact);
  const aliases = Object.fromEntries(Object.entries(targets).map(([alias, index]) => [alias, versionLabel(index)]));
  return toArtifactResponse(artifact, aliases);
}

export function toArtifactResponse(artifact: ArtifactRecord, aliases: Record<string, string> = {}): ArtifactResponse {
  return {
    project: artifact.project,
    name: artifact.name,
    type: artifact.type,
    createdAt: artifact.createdAt,
    createdBy: artifact.createdBy,
    versionCount: artifact.versionCount,
    latest: artifact.latestIndex === undefined ? null : versionLabel(artifact.latestIndex),
    aliases,
  };
}

export async function listArtifacts(deps: ArtifactDeps, project: string, page: PageRequest): Promise<Page<ArtifactResponse>> {
  const result = await deps.artifacts.listArtifacts(project, page);
  return { items: result.items.map((a) => toArtifactResponse(a)), nextCursor: result.nextCursor };
}

export async function listVersions(deps: ArtifactDeps, ref: ArtifactRef, page: PageRequest): Promise<Page<VersionResponse>> {
  const result = await deps.artifacts.listVersions(ref.project, ref.artifact, page);
  if (result.items.length === 0 && !page.cursor) {
    await requireArtifact(deps.artifacts, ref);
  }
  return { items: result.items.map(toVersionResponse), nextCursor: result.nextCursor };
}

async function requireArtifact(artifacts: ArtifactStore, ref: ArtifactRef): Promise<ArtifactRecord> {
  const artifact = await artifacts.getArtifact(ref.project, ref.artifact);
  if (!artifact) throw new NotFoundError(`artifact ${ref.project}/${ref.artifact} does not exist`);
  return artifact;
}

export async function getVersion(deps: ArtifactDeps, ref: ArtifactRef, selector: string): Promise<VersionResponse> {
  return toVersionResponse(await loadVersion(deps.artifacts, ref, selector));
}

export interface FilesQuery {
  prefix?: string;
  limit: number;
  cursor?: string;
}

/**
 * Manifest entries of a version, in path order, each with a presigned GET URL, and the
 * version's digest, which a client checks the whole listing against. The store verifies the
 * manifest against the digest; a manifest that fails is a 500 naming the version.
 */
export async function listVersionFiles(
  deps: { blobs: BlobStore; cursors: Cursors },
  version: Pick<VersionRecord, "project" | "artifact" | "index" | "digest">,
  query: FilesQuery,
): Promise<FilesPage> {
  const { blobs } = deps;
  // A page of one manifest under one prefix: a cursor of another version or prefix is refused.
  const list = `files\u0000${version.digest}\u0000${query.prefix ?? ""}`;
  const after = query.cursor === undefined ? undefined : await deps.cursors.open(list, query.cursor);
  const entries = await blobs.getManifest(version.digest).catch((error: unknown) => {
    if (!(error instanceof IntegrityError)) throw error;
    throw new IntegrityError(`${version.project}/${version.artifact}:${versionLabel(version.index)}: ${error.message}`, { cause: error });
  });
  const selected = entries.filter(
    (e) => (query.prefix === undefined || e.path.startsWith(query.prefix)) && (after === undefined || e.path > after),
  );
  const page = selected.slice(0, query.limit);
  const items = await Promise.all(
    page.map(async (entry): Promise<FileResponse> => {
      if (isReference(entry)) {
        const { bucket, key } = parseS3Uri(entry.ref);
        return { ...entry, url: await blobs.presignReferenceGet(bucket, key, entry.versionId) };
      }
      const filename = entry.path.split("/").pop() ?? entry.path;
      return { ...entry, url: await blobs.presignBlobGet(entry.sha256, filename) };
    }),
  );
  const last = page.at(-1);
  const nextCursor = selected.length > page.length && last ? await deps.cursors.seal(list, last.path) : undefined;
  return { items, nextCursor, digest: version.digest };
}

export async function listFiles(deps: ArtifactDeps, ref: ArtifactRef, selector: string, query: FilesQuery): Promise<FilesPage> {
  return listVersionFiles(deps, await loadVersion(deps.artifacts, ref, selector), query);
}

/**
 * `expectedVersion` of an alias move as the store checks it: a version number, or null for
 * "the alias must not exist yet"; undefined when the move expects nothing.
 */
export function expectationOf(alias: string, expectedVersion: string | number | null | undefined): AliasExpectations | undefined {
  if (expectedVersion === undefined) return undefined;
  if (expectedVersion === null) return new Map([[alias, null]]);
  const named = parseVersionSelector(expectedVersion);
  if (!("index" in named)) {
    throw new ValidationError(
      `expectedVersion must name a version (v3 or 3), or be null for "not set yet"; not ${String(expectedVersion)}`,
    );
  }
  return new Map([[alias, named.index]]);
}

/** Points an artifact alias at a version; with `expectedVersion` a compare-and-swap (see setCollectionAlias). */
export async function setArtifactAlias(
  deps: ArtifactDeps,
  principal: Principal,
  ref: ArtifactRef,
  alias: string,
  selector: string | number,
  expectedVersion?: string | number | null,
): Promise<{ alias: string; version: string; previous: string | null }> {
  rejectLatest(alias);
  const expected = expectationOf(alias, expectedVersion);
  const version = await loadVersion(deps.artifacts, ref, selector);
  const at = deps.clock.now().toISOString();
  const [move] = await deps.artifacts.moveAliases({ ...ref, actor: principal.userId, at }, version.index, [alias], expected);
  return {
    alias,
    version: versionLabel(version.index),
    previous: move?.from === undefined ? null : versionLabel(move.from),
  };
}

export async function removeArtifactAlias(
  deps: ArtifactDeps,
  principal: Principal,
  ref: ArtifactRef,
  alias: string,
): Promise<{ alias: string; previous: string }> {
  rejectLatest(alias);
  const at = deps.clock.now().toISOString();
  const from = await deps.artifacts.removeAlias({ ...ref, actor: principal.userId, at }, alias);
  if (from === undefined) throw new NotFoundError(`${ref.project}/${ref.artifact} has no alias ${alias}`);
  return { alias, previous: versionLabel(from) };
}

function rejectLatest(alias: string): void {
  if (alias === LATEST_ALIAS) {
    throw new ValidationError("the latest alias is maintained by the registry and cannot be set or removed");
  }
}

/** An artifact's history; it stays readable after the artifact is deleted (it ends with `artifact.deleted`). */
export async function listArtifactHistory(deps: ArtifactDeps, ref: ArtifactRef, page: PageRequest): Promise<Page<AuditEvent>> {
  const history = await deps.artifacts.listArtifactHistory(ref.project, ref.artifact, page);
  if (history.items.length === 0 && !page.cursor) await requireArtifact(deps.artifacts, ref);
  return history;
}

/**
 * Deletes an artifact version. While collections link it the answer is a 409 naming them;
 * with `force`, every link is removed first (each with its audit event), and a link holding
 * a protected alias only by someone who may remove that alias (that registry's admin).
 */
export async function deleteArtifactVersion(
  deps: { artifacts: ArtifactStore; registries: RegistryStore; ledger: BlobLedger; blobs: BlobStore; clock: Clock },
  principal: Principal,
  ref: ArtifactRef,
  selector: string,
  force: boolean,
  options: { dryRun?: boolean } = {},
): Promise<DeletedVersion | DeleteDryRun> {
  const version = await loadVersion(deps.artifacts, ref, selector);
  const at = deps.clock.now().toISOString();
  const links = await deps.registries.linksOfVersion(ref.project, ref.artifact, version.index);
  const names = links.map((l) => `@${l.registry}/${l.collection}:${versionLabel(l.index)}`);
  if (links.length > 0 && !force) {
    throw new ConflictError(
      `${ref.project}/${ref.artifact}:${versionLabel(version.index)} is linked by ${names.join(", ")}; unlink it first or delete with ?force=true`,
    );
  }
  const guards = new Map<string, Promise<string[] | undefined>>();
  const guardOf = (registry: string) => {
    let guard = guards.get(registry);
    if (!guard) guards.set(registry, (guard = protectedAliasesFor(deps.registries, principal, registry)));
    return guard;
  };
  // Refused before any unlink when one link holds what the caller may not remove; each
  // unlink holds it again on its write, against a protected alias moved meanwhile.
  for (const link of links) {
    const guard = await guardOf(link.registry);
    if (guard === undefined) continue;
    const held = (await deps.registries.getLink(link.registry, link.collection, link.index))?.aliases.filter((a) => guard.includes(a));
    if (held && held.length > 0) {
      throw new ForbiddenError(
        `@${link.registry}/${link.collection}:${versionLabel(link.index)} holds the protected alias ${held.join(", ")}: ` +
          `only admins of registry ${link.registry} may unlink it`,
      );
    }
  }
  if (options.dryRun) {
    const estimate = await estimateReclaim(deps, [version]);
    return { dryRun: true, versions: [`${ref.project}/${ref.artifact}:${versionLabel(version.index)}`], links: names, ...estimate };
  }
  for (const link of links) {
    const change = { registry: link.registry, collection: link.collection, actor: principal.userId, at };
    await deps.registries.unlink(change, link.index, await guardOf(link.registry));
  }
  const release = await deps.artifacts.deleteVersion({ ...ref, actor: principal.userId, at }, version.index);
  // The version is gone: its references go now, or, should this fail or the process die, by the collector's next round.
  await finishRelease(deps, release).catch(() => false);
  return { deleted: versionLabel(version.index), unlinked: names };
}

export interface DeletedVersion {
  deleted: string;
  unlinked: string[];
}

/** What a delete would remove and free, written nowhere (`?dryRun=true`). */
export interface DeleteDryRun {
  dryRun: true;
  versions: string[];
  links: string[];
  files: number;
  logicalBytes: number;
  reclaimableBytes: number;
  reclaimableBlobs: number;
}

/** What `principal` may not unlink in `registry` (core/registries.ts, protectedFrom); org admins are admins of every registry. */
export async function protectedAliasesFor(registries: RegistryStore, principal: Principal, name: string): Promise<string[] | undefined> {
  if (principal.orgRole === "admin") return undefined;
  const { registry, role } = await registries.getRegistryAccess(name, principal.userId);
  if (!registry) return undefined;
  const effective = effectiveRegistryRole(principal, registry, role);
  // A registry the caller cannot see at all: none of its aliases are the caller's to remove.
  if (effective === undefined) return registry.protectedAliases;
  return protectedFrom(registry, effective);
}
