import { metadata as metadataSchema } from "../contract/common.js";
import type { UpdateVersionRequest, VersionResponse } from "../contract/artifacts.js";
import { loadVersion, toVersionResponse, type ArtifactRef } from "./artifact-versions.js";
import { ValidationError } from "./errors.js";
import type { Principal, VersionEdit, VersionRecord } from "./model.js";
import type { ArtifactStore, Clock } from "./ports.js";

/**
 * Merges a metadata patch into a version's metadata, key by key: a key set to null is
 * removed, any other value replaces the key's (objects are replaced whole, not merged).
 * Keys are defined as own properties, so a key such as `__proto__` is data like any other.
 */
export function mergeMetadata(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

/** What an edit request makes of a version; the merged metadata must pass the same rules as metadata at commit. */
export function applyVersionEdit(current: VersionRecord, request: UpdateVersionRequest): VersionEdit {
  const metadata = request.metadata === undefined ? current.metadata : mergeMetadata(current.metadata, request.metadata);
  const checked = metadataSchema.safeParse(metadata);
  if (!checked.success) {
    throw new ValidationError(`metadata after the edit: ${checked.error.issues.map((issue) => issue.message).join("; ")}`);
  }
  const description = request.description === undefined ? current.description : (request.description ?? undefined);
  const expiresAt =
    request.expiresAt === undefined
      ? current.expiresAt
      : request.expiresAt === null
        ? undefined
        : new Date(request.expiresAt).toISOString();
  return { metadata, ...(description === undefined ? {} : { description }), ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/**
 * Edits a version's description and metadata (its files, and so its digest, never change).
 * The store writes the version, every copy of the two fields (alias items, links) and a
 * `version.updated` event with both states in one transaction, applying the edit again to
 * what it reads after a lost race.
 */
export async function updateVersion(
  deps: { artifacts: ArtifactStore; clock: Clock },
  principal: Principal,
  ref: ArtifactRef,
  selector: string,
  request: UpdateVersionRequest,
): Promise<VersionResponse> {
  const version = await loadVersion(deps.artifacts, ref, selector);
  const at = deps.clock.now().toISOString();
  const { after } = await deps.artifacts.updateVersion({ ...ref, actor: principal.userId, at }, version.index, (current) =>
    applyVersionEdit(current, request),
  );
  return toVersionResponse(after);
}
