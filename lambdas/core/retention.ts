import type { ProjectResponse } from "../contract/responses.js";
import { deleteArtifactVersion, protectedAliasesFor } from "./artifact-versions.js";
import { ConflictError, NotFoundError } from "./errors.js";
import { versionLabel, type Principal, type VersionRecord } from "./model.js";
import type { ArtifactStore, BlobLedger, BlobStore, Clock, RegistryStore } from "./ports.js";
import { toProjectResponse } from "./projects.js";

/** Who deletes expired versions, in their audit events. */
export const RETENTION_ACTOR: Principal = { userId: "retention", orgRole: "member" };

export interface RetentionDeps {
  artifacts: ArtifactStore;
  registries: RegistryStore;
  /** The single version delete releases each version's blob references through these. */
  ledger: BlobLedger;
  blobs: BlobStore;
  clock: Clock;
}

/**
 * Why an expired version is kept: a version linked into any registry collection is never
 * expired (a link holding a protected alias says so too). Undefined: it may go.
 */
async function keptBecause(deps: RetentionDeps, version: VersionRecord & { linkCount: number }): Promise<string | undefined> {
  if (version.linkCount === 0) return undefined;
  const links = await deps.registries.linksOfVersion(version.project, version.artifact, version.index);
  if (links.length === 0) return undefined;
  const names: string[] = [];
  for (const link of links) {
    const name = `@${link.registry}/${link.collection}:${versionLabel(link.index)}`;
    // Everything a registry protects, as seen by nobody in particular: a member-level principal.
    const guard = (await protectedAliasesFor(deps.registries, RETENTION_ACTOR, link.registry)) ?? [];
    const held =
      (await deps.registries.getLink(link.registry, link.collection, link.index))?.aliases.filter((a) => guard.includes(a)) ?? [];
    names.push(held.length > 0 ? `${name} (protected alias ${held.join(", ")})` : name);
  }
  return `linked into ${names.join(", ")}`;
}

export interface SweepReport {
  deleted: number;
  kept: number;
  errors: Error[];
}

/**
 * Deletes the versions whose `expiresAt` has passed, through the single version delete (each
 * with its `version.deleted` event, never forced), except versions linked into a registry
 * collection, which are kept with the reason on the version (`retention.kept` in its answers)
 * and taken out of the expiry index: setting a new expiry puts them back. Runs with the jobs
 * (lambdas/handlers/job-runner.ts), `limit` versions a round, until none is left or `stopping`.
 */
export async function sweepExpired(
  deps: RetentionDeps,
  options: { limit?: number; rounds?: number; stopping?: () => boolean } = {},
): Promise<SweepReport> {
  const report: SweepReport = { deleted: 0, kept: 0, errors: [] };
  const limit = options.limit ?? 100;
  for (let round = 0; round < (options.rounds ?? 10); round++) {
    if (options.stopping?.()) break;
    const expired = await deps.artifacts.expiredVersions(deps.clock.now().toISOString(), limit);
    let progressed = false;
    for (const version of expired) {
      const ref = { project: version.project, artifact: version.artifact };
      try {
        const kept = await keptBecause(deps, version);
        if (kept === undefined) {
          try {
            await deleteArtifactVersion(deps, RETENTION_ACTOR, ref, versionLabel(version.index), false);
            report.deleted++;
            progressed = true;
            continue;
          } catch (error) {
            if (error instanceof NotFoundError) continue;
            if (!(error instanceof ConflictError)) throw error;
          }
        }
        // Linked (also meanwhile, refused by the delete's own condition): kept, with the reason.
        const reason = kept ?? (await keptBecause(deps, { ...version, linkCount: 1 })) ?? "linked into a collection";
        if (await deps.artifacts.keepVersion(version.project, version.artifact, version.index, reason)) report.kept++;
        progressed = true;
      } catch (error) {
        report.errors.push(error as Error);
      }
    }
    if (expired.length < limit || !progressed) break;
  }
  return report;
}

/** Sets or removes a project's default retention: versions committed afterwards expire `ttlDays` after their commit. */
export async function setProjectRetention(
  deps: { artifacts: ArtifactStore; clock: Clock },
  principal: Principal,
  project: string,
  ttlDays: number | null,
): Promise<ProjectResponse> {
  const at = deps.clock.now().toISOString();
  return toProjectResponse(await deps.artifacts.setProjectRetention(project, ttlDays ?? undefined, { actor: principal.userId, at }));
}
