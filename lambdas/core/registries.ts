import { expectationOf, loadVersion, listVersionFiles, type FilesQuery } from "./artifact-versions.js";
import { atLeast, effectiveRegistryRole, protectedFrom, type RegistryAccess } from "./authorize.js";
import type { Cursors } from "./cursors.js";
import { ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from "./errors.js";
import {
  LATEST_ALIAS,
  parseVersionSelector,
  versionLabel,
  type AuditEvent,
  type CollectionRecord,
  type LinkRecord,
  type LinkTarget,
  type Page,
  type PageRequest,
  type Principal,
  type RegistryRecord,
  type RegistryRole,
} from "./model.js";
import type { ArtifactStore, BlobStore, Clock, CollectionQuery, RegistryStore } from "./ports.js";
import type {
  CollectionResponse,
  CollectionVersionResponse,
  CreateCollectionRequest,
  CreateRegistryRequest,
  LinkRequest,
  LinkResponse,
  RegistryResponse,
} from "../contract/registries.js";
import type { FilesPage } from "../contract/artifacts.js";

export interface RegistryDeps {
  artifacts: ArtifactStore;
  registries: RegistryStore;
  blobs: BlobStore;
  clock: Clock;
  cursors: Cursors;
}

export interface CollectionRef {
  registry: string;
  collection: string;
}

export function toRegistryResponse(registry: RegistryRecord, role: RegistryRole): RegistryResponse {
  return {
    name: registry.name,
    description: registry.description ?? null,
    visibility: registry.visibility,
    artifactTypes: registry.artifactTypes ?? null,
    protectedAliases: registry.protectedAliases,
    approvalsRequired: registry.approvalsRequired ?? 0,
    createdAt: registry.createdAt,
    createdBy: registry.createdBy,
    role,
  };
}

export async function createRegistry(deps: RegistryDeps, principal: Principal, request: CreateRegistryRequest): Promise<RegistryResponse> {
  const registry: RegistryRecord = {
    name: request.name,
    description: request.description,
    visibility: request.visibility,
    artifactTypes: request.artifactTypes && [...new Set(request.artifactTypes)],
    protectedAliases: [...new Set(request.protectedAliases)],
    ...(request.approvalsRequired ? { approvalsRequired: request.approvalsRequired } : {}),
    createdAt: deps.clock.now().toISOString(),
    createdBy: principal.userId,
  };
  await deps.registries.createRegistry(registry);
  return toRegistryResponse(registry, "admin");
}

/**
 * Lists only what the caller may see: restricted registries of which it is no member never
 * show, not even as a short page or in a cursor (the store fills each page with visible
 * registries and resumes after the last one it answered).
 */
export async function listRegistries(
  deps: Pick<RegistryDeps, "registries">,
  principal: Principal,
  page: PageRequest,
): Promise<Page<RegistryResponse>> {
  const memberships =
    principal.orgRole === "admin" ? new Map<string, RegistryRole>() : await deps.registries.membershipsOf(principal.userId);
  const roleOf = (registry: RegistryRecord) => effectiveRegistryRole(principal, registry, memberships.get(registry.name));
  const result = await deps.registries.listRegistries(page, (registry) => roleOf(registry) !== undefined);
  return { items: result.items.map((registry) => toRegistryResponse(registry, roleOf(registry)!)), nextCursor: result.nextCursor };
}

export function getRegistry(access: RegistryAccess): RegistryResponse {
  return toRegistryResponse(access.registry, access.role);
}

function checkTypeAccepted(registry: RegistryRecord, type: string): void {
  if (registry.artifactTypes && !registry.artifactTypes.includes(type)) {
    throw new UnprocessableError(`registry ${registry.name} accepts ${registry.artifactTypes.join(", ")}; not ${type}`);
  }
}

export async function createCollection(
  deps: RegistryDeps,
  principal: Principal,
  access: RegistryAccess,
  request: CreateCollectionRequest,
): Promise<CollectionResponse> {
  checkTypeAccepted(access.registry, request.type);
  const collection: CollectionRecord = {
    registry: access.registry.name,
    name: request.name,
    type: request.type,
    description: request.description,
    tags: [...new Set(request.tags)].sort(),
    nextIndex: 0,
    linkCount: 0,
    createdAt: deps.clock.now().toISOString(),
    createdBy: principal.userId,
  };
  await deps.registries.createCollection(collection);
  return toCollectionResponse(collection, {});
}

export function toCollectionResponse(collection: CollectionRecord, aliases: Record<string, number>): CollectionResponse {
  return {
    registry: collection.registry,
    name: collection.name,
    type: collection.type,
    description: collection.description ?? null,
    tags: collection.tags,
    aliases: Object.fromEntries(Object.entries(aliases).map(([alias, index]) => [alias, versionLabel(index)])),
    latest: collection.latestIndex === undefined ? null : versionLabel(collection.latestIndex),
    linkCount: collection.linkCount,
    createdAt: collection.createdAt,
    createdBy: collection.createdBy,
  };
}

export async function listCollections(
  deps: RegistryDeps,
  access: RegistryAccess,
  query: CollectionQuery,
): Promise<Page<CollectionResponse>> {
  const page = await deps.registries.listCollections(access.registry.name, query);
  return { items: page.items.map((c) => toCollectionResponse(c, {})), nextCursor: page.nextCursor };
}

export async function requireCollection(deps: Pick<RegistryDeps, "registries">, ref: CollectionRef): Promise<CollectionRecord> {
  const collection = await deps.registries.getCollection(ref.registry, ref.collection);
  if (!collection) throw new NotFoundError(`collection ${ref.registry}/${ref.collection} does not exist`);
  return collection;
}

export async function getCollection(deps: RegistryDeps, ref: CollectionRef): Promise<CollectionResponse> {
  const [collection, aliases] = await Promise.all([
    requireCollection(deps, ref),
    deps.registries.listCollectionAliases(ref.registry, ref.collection),
  ]);
  return toCollectionResponse(collection, aliases);
}

function assertMayChangeAliases(access: RegistryAccess, aliases: string[]): void {
  const protectedOnes = aliases.filter((a) => access.registry.protectedAliases.includes(a));
  if (protectedOnes.length > 0 && !atLeast(access.role, "admin")) {
    throw new ForbiddenError(
      `alias ${protectedOnes.join(", ")} is protected in registry ${access.registry.name}: only its admins may set or remove it`,
    );
  }
}

/**
 * In a registry that requires approvals, a protected alias moves only through a promotion
 * (lambdas/core/promotions.ts), whoever asks: admins included.
 */
function assertMayMoveDirectly(access: RegistryAccess, aliases: string[]): void {
  const required = access.registry.approvalsRequired ?? 0;
  const gated = aliases.filter((a) => access.registry.protectedAliases.includes(a));
  if (required > 0 && gated.length > 0) {
    throw new ForbiddenError(
      `alias ${gated.join(", ")} is protected in registry ${access.registry.name}, which requires ${required} ` +
        `approval${required === 1 ? "" : "s"} to move it: request a promotion (POST …/collections/{collection}/promotions)`,
    );
  }
}

function rejectLatest(aliases: string[]): void {
  if (aliases.includes(LATEST_ALIAS)) {
    throw new ValidationError("the latest alias is maintained by the registry and cannot be set or removed");
  }
}

/**
 * Links an artifact version into a collection (created on first link, typed after the
 * artifact). Linking the same version again returns the first link; aliases still apply.
 * Like a commit, it reads the collection's state once and hands it to the write as the
 * state expected, deciding again on what the store read after a lost race.
 */
export async function linkVersion(
  deps: RegistryDeps,
  principal: Principal,
  access: RegistryAccess,
  collection: string,
  request: LinkRequest,
): Promise<LinkResponse> {
  const aliases = [...new Set(request.aliases ?? [])];
  rejectLatest(aliases);
  assertMayChangeAliases(access, aliases);
  assertMayMoveDirectly(access, aliases);
  let version = await loadVersion(deps.artifacts, request, request.version);
  checkTypeAccepted(access.registry, version.type);
  const registry = access.registry.name;
  const at = deps.clock.now().toISOString();
  const change = { registry, collection, actor: principal.userId, at };
  let state = await deps.registries.readLinkState(registry, collection, version, aliases);
  for (;;) {
    // The one check of the collection's type; the write's condition only makes a concurrent change lose.
    if (state.head && state.head.type !== version.type) {
      throw new UnprocessableError(
        `collection ${registry}/${collection} holds ${state.head.type} versions; ${request.project}/${request.artifact} is ${version.type}`,
      );
    }
    if (state.existing !== undefined) {
      if (aliases.length > 0) await deps.registries.moveCollectionAliases(change, state.existing, aliases);
      const link = await deps.registries.getLink(registry, collection, state.existing);
      return {
        version: versionLabel(state.existing),
        index: state.existing,
        created: false,
        aliases: [...(link?.aliases ?? [])].sort(),
      };
    }
    const outcome = await deps.registries.linkVersion(
      {
        registry,
        collection,
        source: { project: version.project, artifact: version.artifact, index: version.index, digest: version.digest },
        sourceRevision: version.revision ?? 0,
        type: version.type,
        metadata: version.metadata,
        description: version.description,
        size: version.size,
        fileCount: version.fileCount,
        newCollection: { description: request.description, tags: [] },
        aliases,
        actor: principal.userId,
        at,
      },
      state,
    );
    if (!outcome.created) {
      // An edit of the version meanwhile: copy it as it is now.
      if (outcome.source) version = outcome.source;
      state = outcome.current;
      continue;
    }
    return {
      version: versionLabel(outcome.link.index),
      index: outcome.link.index,
      created: true,
      aliases: [...outcome.link.aliases].sort(),
    };
  }
}

/**
 * `v3`, `3`, an alias or `latest` → what the link resolves to: read with the registry's
 * access check when the route's path named it, else one read.
 */
export async function resolveLinkTarget(
  deps: Pick<RegistryDeps, "registries">,
  access: RegistryAccess | undefined,
  ref: CollectionRef,
  selector: string,
): Promise<LinkTarget> {
  const named = parseVersionSelector(selector);
  const read = access?.version;
  const prefetched =
    read !== undefined &&
    read.collection === ref.collection &&
    ("index" in named ? "index" in read && read.index === named.index : "alias" in read && read.alias === named.alias);
  const target = prefetched ? read.target : await deps.registries.getLinkTarget(ref.registry, ref.collection, named);
  if (!target) throw missingVersion(ref, named);
  return target;
}

/**
 * `v3`, `3`, an alias or `latest` → the link: one read for a number, two for an alias (one
 * when the access check read the alias the path names).
 */
export async function loadLink(
  deps: Pick<RegistryDeps, "registries">,
  ref: CollectionRef,
  selector: string | number,
  access?: RegistryAccess,
): Promise<LinkRecord> {
  const named = parseVersionSelector(selector);
  const index = "index" in named ? named.index : (await resolveLinkTarget(deps, access, ref, named.alias)).index;
  const link = await deps.registries.getLink(ref.registry, ref.collection, index);
  if (!link) throw new NotFoundError(`${ref.registry}/${ref.collection} has no version ${versionLabel(index)}`);
  return link;
}

function missingVersion(ref: CollectionRef, named: { index: number } | { alias: string }): NotFoundError {
  return new NotFoundError(
    "index" in named
      ? `${ref.registry}/${ref.collection} has no version ${versionLabel(named.index)}`
      : `${ref.registry}/${ref.collection} has no alias ${named.alias}`,
  );
}

export function toCollectionVersionResponse(link: LinkRecord): CollectionVersionResponse {
  return {
    registry: link.registry,
    collection: link.collection,
    version: versionLabel(link.index),
    index: link.index,
    digest: link.source.digest,
    type: link.type,
    aliases: [...link.aliases].sort(),
    tags: [...link.tags].sort(),
    metadata: link.metadata,
    description: link.description ?? null,
    createdAt: link.linkedAt,
    createdBy: link.linkedBy,
    size: link.size,
    fileCount: link.fileCount,
    source: {
      project: link.source.project,
      artifact: link.source.artifact,
      version: versionLabel(link.source.index),
      digest: link.source.digest,
    },
  };
}

export async function getCollectionVersion(
  deps: RegistryDeps,
  ref: CollectionRef,
  selector: string,
  access?: RegistryAccess,
): Promise<CollectionVersionResponse> {
  return toCollectionVersionResponse(await loadLink(deps, ref, selector, access));
}

export async function listCollectionVersions(
  deps: RegistryDeps,
  ref: CollectionRef,
  page: PageRequest,
): Promise<Page<CollectionVersionResponse>> {
  const result = await deps.registries.listLinks(ref.registry, ref.collection, page);
  if (result.items.length === 0 && !page.cursor) await requireCollection(deps, ref);
  return { items: result.items.map(toCollectionVersionResponse), nextCursor: result.nextCursor };
}

/** Resolving `@registry/collection:alias` to download URLs: no read of its own after the access check, then the manifest. */
export async function listCollectionFiles(
  deps: RegistryDeps,
  access: RegistryAccess,
  ref: CollectionRef,
  selector: string,
  query: FilesQuery,
): Promise<FilesPage> {
  const target = await resolveLinkTarget(deps, access, ref, selector);
  return listVersionFiles(deps, target.source, query);
}

/**
 * Points a collection alias at a version. With `expectedVersion` (a version, or null: "must
 * not exist yet") it is a compare-and-swap: held by the move's own condition, a 412 naming
 * the current holder when the alias names anything else, and nothing written.
 */
export async function setCollectionAlias(
  deps: RegistryDeps,
  principal: Principal,
  access: RegistryAccess,
  ref: CollectionRef,
  alias: string,
  selector: string | number,
  expectedVersion?: string | number | null,
): Promise<{ alias: string; version: string; previous: string | null }> {
  rejectLatest([alias]);
  assertMayChangeAliases(access, [alias]);
  assertMayMoveDirectly(access, [alias]);
  const expected = expectationOf(alias, expectedVersion);
  const link = await loadLink(deps, ref, selector);
  const at = deps.clock.now().toISOString();
  const [move] = await deps.registries.moveCollectionAliases({ ...ref, actor: principal.userId, at }, link.index, [alias], expected);
  const previous = move ? move.from : link.index;
  return {
    alias,
    version: versionLabel(link.index),
    previous: previous === undefined ? null : versionLabel(previous),
  };
}

export async function removeCollectionAlias(
  deps: RegistryDeps,
  principal: Principal,
  access: RegistryAccess,
  ref: CollectionRef,
  alias: string,
): Promise<{ alias: string; previous: string }> {
  rejectLatest([alias]);
  assertMayChangeAliases(access, [alias]);
  const at = deps.clock.now().toISOString();
  const from = await deps.registries.removeCollectionAlias({ ...ref, actor: principal.userId, at }, alias);
  if (from === undefined) throw new NotFoundError(`${ref.registry}/${ref.collection} has no alias ${alias}`);
  return { alias, previous: versionLabel(from) };
}

export async function tagCollection(
  deps: RegistryDeps,
  principal: Principal,
  ref: CollectionRef,
  tag: string,
  add: boolean,
): Promise<{ tag: string; changed: boolean }> {
  const at = deps.clock.now().toISOString();
  const changed = await deps.registries.tagCollection({ ...ref, actor: principal.userId, at }, tag, add);
  return { tag, changed };
}

export async function tagCollectionVersion(
  deps: RegistryDeps,
  principal: Principal,
  ref: CollectionRef,
  selector: string,
  tag: string,
  add: boolean,
): Promise<{ tag: string; version: string; changed: boolean }> {
  const link = await loadLink(deps, ref, selector);
  const at = deps.clock.now().toISOString();
  const changed = await deps.registries.tagLink({ ...ref, actor: principal.userId, at }, link.index, tag, add);
  return { tag, version: versionLabel(link.index), changed };
}

export async function unlinkVersion(
  deps: RegistryDeps,
  principal: Principal,
  access: RegistryAccess,
  ref: CollectionRef,
  selector: string,
): Promise<{ unlinked: string }> {
  const link = await loadLink(deps, ref, selector);
  const at = deps.clock.now().toISOString();
  await deps.registries.unlink({ ...ref, actor: principal.userId, at }, link.index, protectedFrom(access.registry, access.role));
  return { unlinked: versionLabel(link.index) };
}

export async function listCollectionHistory(deps: RegistryDeps, ref: CollectionRef, page: PageRequest): Promise<Page<AuditEvent>> {
  await requireCollection(deps, ref);
  return deps.registries.listCollectionHistory(ref.registry, ref.collection, page);
}
