import type { CollectionResponse, UpdateCollectionRequest } from "../contract/registries.js";
import { ConflictError, NotFoundError } from "./errors.js";
import { versionLabel, type CollectionEdit, type CollectionRecord, type LinkRecord, type Principal } from "./model.js";
import type { Clock, RegistryStore } from "./ports.js";
import type { DeleteDryRun } from "./artifact-versions.js";
import { requireCollection, toCollectionResponse, type CollectionRef } from "./registries.js";

export interface CollectionDeps {
  registries: RegistryStore;
  clock: Clock;
}

/** What an edit request makes of a collection: a description given (null removes it), the whole tag set given. */
export function applyCollectionEdit(current: CollectionRecord, request: UpdateCollectionRequest): CollectionEdit {
  const description = request.description === undefined ? current.description : (request.description ?? undefined);
  return { ...(description === undefined ? {} : { description }), tags: [...new Set(request.tags ?? current.tags)].sort() };
}

/**
 * Edits a collection's markdown description (its model card) and tags; the store writes the
 * collection, its tag index entries and a `collection.updated` event with both states at once.
 */
export async function updateCollection(
  deps: CollectionDeps,
  principal: Principal,
  ref: CollectionRef,
  request: UpdateCollectionRequest,
): Promise<CollectionResponse> {
  const at = deps.clock.now().toISOString();
  const { after } = await deps.registries.updateCollection({ ...ref, actor: principal.userId, at }, (current) =>
    applyCollectionEdit(current, request),
  );
  return toCollectionResponse(after, await deps.registries.listCollectionAliases(ref.registry, ref.collection));
}

/** What deleting a collection does, computed before anything is written (a dry run answers this). */
export interface CollectionDeletePlan {
  registry: string;
  collection: string;
  /** Every live link, oldest first: each is unlinked, with its own event, before the collection goes. */
  links: { version: string; index: number; source: { project: string; artifact: string; version: string }; aliases: string[] }[];
  tags: string[];
}

export async function planCollectionDelete(deps: Pick<CollectionDeps, "registries">, ref: CollectionRef): Promise<CollectionDeletePlan> {
  const collection = await requireCollection(deps, ref);
  const links: LinkRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.registries.listLinks(ref.registry, ref.collection, { limit: 1000, ...(cursor ? { cursor } : {}) });
    links.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return {
    registry: ref.registry,
    collection: ref.collection,
    links: links
      .sort((a, b) => a.index - b.index)
      .map((link) => ({
        version: versionLabel(link.index),
        index: link.index,
        source: { project: link.source.project, artifact: link.source.artifact, version: versionLabel(link.source.index) },
        aliases: [...link.aliases].sort(),
      })),
    tags: collection.tags,
  };
}

/**
 * Carries out a plan: without `force` a collection that links anything is a 409 naming the
 * links; with it each link is unlinked first (oldest first, so `latest` moves only at the
 * end), each with its `link.removed` event, then the collection goes with its index entries
 * and a `collection.deleted` event. A link made meanwhile stops the deletion with a 409;
 * what was unlinked stays unlinked, and running the delete again finishes it.
 */
export async function executeCollectionDelete(
  deps: CollectionDeps,
  principal: Principal,
  plan: CollectionDeletePlan,
  options: { force: boolean },
): Promise<{ deleted: string; unlinked: string[] }> {
  const name = `@${plan.registry}/${plan.collection}`;
  refuseLinked(plan, options);
  const at = deps.clock.now().toISOString();
  const change = { registry: plan.registry, collection: plan.collection, actor: principal.userId, at };
  const unlinked: string[] = [];
  for (const link of plan.links) {
    try {
      await deps.registries.unlink(change, link.index);
      unlinked.push(`${name}:${link.version}`);
    } catch (error) {
      // Unlinked meanwhile by someone else: nothing left to do for it.
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  await deps.registries.deleteCollection(change);
  return { deleted: name, unlinked };
}

export async function deleteCollection(
  deps: CollectionDeps,
  principal: Principal,
  ref: CollectionRef,
  options: { force: boolean; dryRun?: boolean },
): Promise<{ deleted: string; unlinked: string[] } | DeleteDryRun> {
  const plan = await planCollectionDelete(deps, ref);
  if (options.dryRun) {
    refuseLinked(plan, options);
    // Unlinking removes no version: nothing is reclaimable.
    const name = `@${plan.registry}/${plan.collection}`;
    const links = plan.links.map((l) => `${name}:${l.version}`);
    return { dryRun: true, versions: [], links, files: 0, logicalBytes: 0, reclaimableBytes: 0, reclaimableBlobs: 0 };
  }
  return executeCollectionDelete(deps, principal, plan, options);
}

function refuseLinked(plan: CollectionDeletePlan, options: { force: boolean }): void {
  const name = `@${plan.registry}/${plan.collection}`;
  if (plan.links.length > 0 && !options.force) {
    const shown = plan.links.slice(0, 10).map((l) => `${name}:${l.version}`);
    throw new ConflictError(
      `${name} links ${plan.links.length} version${plan.links.length === 1 ? "" : "s"} (${shown.join(", ")}${plan.links.length > 10 ? ", …" : ""}); ` +
        "unlink them first or delete with ?force=true",
    );
  }
}
