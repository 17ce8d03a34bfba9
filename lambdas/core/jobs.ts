import { DURATION_PATTERN, type VersionFilter } from "../contract/jobs.js";
import type { DeletionPlanResponse, JobResponse } from "../contract/responses.js";
import { JOBS } from "../contract/limits.js";
import { deleteArtifactVersion, protectedAliasesFor, type ArtifactRef } from "./artifact-versions.js";
import { limiter } from "./concurrency.js";
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from "./errors.js";
import { versionLabel, type JobFilter, type JobKind, type JobRecord, type Principal, type VersionRecord } from "./model.js";
import { estimateReclaim } from "./gc.js";
import type { ArtifactStore, BlobLedger, BlobStore, Clock, Ids, JobStore, RegistryStore } from "./ports.js";

export interface JobDeps {
  artifacts: ArtifactStore;
  registries: RegistryStore;
  /** The single version delete releases each version's blob references through these. */
  ledger: BlobLedger;
  blobs: BlobStore;
  jobs: JobStore;
  clock: Clock;
  ids: Ids;
}

/** What a bulk delete takes: an artifact whole, an artifact's versions matching a filter, or a project whole. */
export type BulkDeleteTarget =
  | { kind: "artifact.delete"; project: string; artifact: string }
  | { kind: "versions.delete"; project: string; artifact: string; filter: VersionFilter }
  | { kind: "project.delete"; project: string };

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

/** The filter as a job stores it: `olderThan` resolved against `now` once, so a resumed job decides the same way. */
export function resolveFilter(filter: VersionFilter, now: Date): JobFilter {
  const resolved: JobFilter = {};
  if (filter.olderThan !== undefined) {
    const duration = DURATION_PATTERN.exec(filter.olderThan);
    resolved.olderThan = duration
      ? new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]).toISOString()
      : new Date(filter.olderThan).toISOString();
  }
  if (filter.aliasAbsent) resolved.aliasAbsent = true;
  if (filter.notLinked) resolved.notLinked = true;
  return resolved;
}

/** Whether a version falls under a filter (none: every version). */
export function matchesFilter(version: VersionRecord & { linkCount: number }, filter: JobFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.olderThan !== undefined && !(version.createdAt < filter.olderThan)) return false;
  if (filter.aliasAbsent && version.aliases.length > 0) return false;
  if (filter.notLinked && version.linkCount > 0) return false;
  return true;
}

const labelOf = (v: { project: string; artifact: string; index: number }) => `${v.project}/${v.artifact}:${versionLabel(v.index)}`;

type Decision = { delete: true; links: string[] } | { delete: false; reason: string };

/**
 * What a bulk delete does with one version it selected: the rules of the single version
 * delete (core/artifact-versions.ts, deleteArtifactVersion). Linked versions are skipped
 * unless forced; forced, a link holding a protected alias the principal may not remove is
 * skipped too. The dry run and the job decide with this one function.
 */
async function decide(
  deps: Pick<JobDeps, "registries">,
  principal: Principal,
  version: VersionRecord & { linkCount: number },
  force: boolean,
): Promise<Decision> {
  if (version.linkCount === 0) return { delete: true, links: [] };
  const links = await deps.registries.linksOfVersion(version.project, version.artifact, version.index);
  const names = links.map((l) => `@${l.registry}/${l.collection}:${versionLabel(l.index)}`);
  if (links.length === 0) return { delete: true, links: [] };
  if (!force) return { delete: false, reason: `linked into ${names.join(", ")}; delete with force=true to unlink` };
  for (const link of links) {
    const guard = await protectedAliasesFor(deps.registries, principal, link.registry);
    if (guard === undefined) continue;
    const held =
      (await deps.registries.getLink(link.registry, link.collection, link.index))?.aliases.filter((a) => guard.includes(a)) ?? [];
    if (held.length > 0) {
      return {
        delete: false,
        reason: `@${link.registry}/${link.collection}:${versionLabel(link.index)} holds the protected alias ${held.join(", ")}: only admins of registry ${link.registry} may unlink it`,
      };
    }
  }
  return { delete: true, links: names };
}

async function requireTarget(deps: Pick<JobDeps, "artifacts">, target: BulkDeleteTarget): Promise<number | undefined> {
  if (target.kind === "project.delete") {
    let total = 0;
    let after: string | undefined;
    let found = false;
    for (;;) {
      const page = await deps.artifacts.artifactsAfter(target.project, after, 100);
      for (const artifact of page) total += artifact.versionCount;
      found ||= page.length > 0;
      if (page.length < 100) break;
      after = page.at(-1)!.name;
    }
    if (!found) throw new NotFoundError(`project ${target.project} holds no artifact`);
    return total;
  }
  const artifact = await deps.artifacts.getArtifact(target.project, target.artifact);
  if (!artifact) throw new NotFoundError(`artifact ${target.project}/${target.artifact} does not exist`);
  return target.kind === "artifact.delete" ? artifact.versionCount : undefined;
}

/**
 * What a bulk delete would do, written nowhere: every version it would delete (with the
 * links a forced delete removes), every version it would skip and why, the artifacts that
 * would go, and the files and bytes of the versions.
 */
export async function planBulkDelete(
  deps: Pick<JobDeps, "artifacts" | "registries" | "ledger" | "blobs" | "clock">,
  principal: Principal,
  target: BulkDeleteTarget,
  force: boolean,
): Promise<DeletionPlanResponse> {
  await requireTarget(deps, target);
  const filter = target.kind === "versions.delete" ? resolveFilter(target.filter, deps.clock.now()) : undefined;
  const selected: VersionRecord[] = [];
  const plan: DeletionPlanResponse = {
    dryRun: true,
    kind: target.kind,
    versions: [],
    skipped: [],
    links: [],
    artifacts: [],
    files: 0,
    logicalBytes: 0,
    reclaimableBytes: 0,
  };
  const artifacts = target.kind === "project.delete" ? await allArtifacts(deps.artifacts, target.project) : [target.artifact];
  for (const artifact of artifacts) {
    let kept = false;
    let after: number | undefined;
    for (;;) {
      const page = await deps.artifacts.versionsAfter(target.project, artifact, after, 100);
      for (const version of page) {
        if (!matchesFilter(version, filter)) continue;
        const decision = await decide(deps, principal, version, force);
        if (!decision.delete) {
          kept = true;
          plan.skipped.push({ version: labelOf(version), reason: decision.reason });
          continue;
        }
        if (plan.versions.length >= JOBS.maxDryRunVersions) {
          throw new UnprocessableError(`a dry run lists at most ${JOBS.maxDryRunVersions} versions; narrow it with a filter`);
        }
        selected.push(version);
        plan.versions.push({
          project: version.project,
          artifact: version.artifact,
          version: versionLabel(version.index),
          size: version.size,
          fileCount: version.fileCount,
          aliases: [...version.aliases].sort(),
        });
        plan.links.push(...decision.links);
        plan.files += version.fileCount;
        plan.logicalBytes += version.size;
      }
      if (page.length < 100) break;
      after = page.at(-1)!.index;
    }
    if (target.kind !== "versions.delete" && !kept) plan.artifacts.push(`${target.project}/${artifact}`);
  }
  // Bytes of these versions' blobs that no other version references: what the collector frees after the grace.
  plan.reclaimableBytes = (await estimateReclaim(deps, selected)).reclaimableBytes;
  return plan;
}

async function allArtifacts(artifacts: ArtifactStore, project: string): Promise<string[]> {
  const names: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await artifacts.artifactsAfter(project, after, 100);
    names.push(...page.map((a) => a.name));
    if (page.length < 100) return names;
    after = page.at(-1)!.name;
  }
}

/** Creates a queued bulk delete job; a runner (jobs worker locally, the job-runner function in AWS) advances it. */
export async function createBulkDeleteJob(
  deps: JobDeps,
  principal: Principal,
  target: BulkDeleteTarget,
  force: boolean,
): Promise<JobResponse> {
  const total = await requireTarget(deps, target);
  const now = deps.clock.now();
  const at = now.toISOString();
  const job: JobRecord = {
    id: deps.ids.next(),
    kind: target.kind,
    status: "queued",
    project: target.project,
    ...(target.kind === "project.delete" ? {} : { artifact: target.artifact }),
    ...(target.kind === "versions.delete" ? { filter: resolveFilter(target.filter, now) } : {}),
    force,
    createdBy: principal.userId,
    orgRole: principal.orgRole,
    createdAt: at,
    updatedAt: at,
    progress: { ...(total === undefined ? {} : { total }), done: 0, failed: 0, skipped: 0 },
    cursor: {},
    skipped: [],
    errors: [],
    step: 0,
  };
  await deps.jobs.createJob(job);
  return toJobResponse(job);
}

export async function getJob(deps: Pick<JobDeps, "jobs">, id: string): Promise<JobResponse> {
  const job = await deps.jobs.getJob(id);
  if (!job) throw new NotFoundError(`job ${id} does not exist`);
  return toJobResponse(job);
}

export function toJobResponse(job: JobRecord): JobResponse {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    project: job.project,
    ...(job.artifact === undefined ? {} : { artifact: job.artifact }),
    ...(job.filter === undefined ? {} : { filter: job.filter }),
    force: job.force,
    progress: job.progress,
    skipped: job.skipped,
    ...(job.errors.length === 0 ? {} : { errors: job.errors }),
    createdBy: job.createdBy,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}

function report<T>(list: T[], item: T): void {
  if (list.length < JOBS.maxReported) list.push(item);
}

/**
 * One bounded step of a job: up to JOBS.stepVersions versions after the cursor, each deleted
 * through the single version delete (so each keeps its own audit event); at the end of an
 * artifact the artifact itself, at the end of a project the project. Answers the job's next
 * state, which the caller writes before the next step. A step is idempotent: run again after
 * a crash, a version it deleted already is gone (counted done once, in the state written).
 */
export async function advanceJob(deps: Omit<JobDeps, "jobs" | "ids">, job: JobRecord): Promise<JobRecord> {
  const next: JobRecord = structuredClone(job);
  next.step = job.step + 1;
  next.status = "running";
  const at = deps.clock.now().toISOString();
  next.updatedAt = at;
  const principal: Principal = { userId: job.createdBy, orgRole: job.orgRole };
  const change = { actor: job.createdBy, at };
  const artifact = job.artifact ?? job.cursor.artifact ?? (await deps.artifacts.artifactsAfter(job.project, undefined, 1))[0]?.name;
  if (artifact === undefined) {
    await deps.artifacts.deleteProject(job.project, change);
    return finish(next);
  }
  if (job.kind === "project.delete") next.cursor.artifact = artifact;
  const ref: ArtifactRef = { project: job.project, artifact };
  const versions = await deps.artifacts.versionsAfter(job.project, artifact, job.cursor.after, JOBS.stepVersions);
  const limit = limiter(JOBS.stepConcurrency);
  const outcomes = await Promise.all(
    versions.map((version) =>
      limit(async () => {
        if (!matchesFilter(version, job.filter)) return undefined;
        const decision = await decide(deps, principal, version, job.force);
        if (!decision.delete) return { skipped: decision.reason, version };
        try {
          await deleteArtifactVersion(deps, principal, ref, versionLabel(version.index), job.force);
          return { done: true as const, version };
        } catch (error) {
          // Deleted by this step's first run, before a crash: it went once.
          if (error instanceof NotFoundError) return { done: true as const, version };
          // Linked or protected meanwhile: the same rules as above, decided by the write.
          if (error instanceof ConflictError || error instanceof ForbiddenError) return { skipped: error.message, version };
          return { failed: (error as Error).message, version };
        }
      }),
    ),
  );
  for (const outcome of outcomes) {
    if (!outcome) continue;
    if ("done" in outcome) next.progress.done++;
    else if ("skipped" in outcome) {
      next.progress.skipped++;
      report(next.skipped, { version: labelOf(outcome.version), reason: outcome.skipped });
    } else {
      next.progress.failed++;
      report(next.errors, `${labelOf(outcome.version)}: ${outcome.failed}`);
    }
  }
  if (versions.length === JOBS.stepVersions) {
    next.cursor.after = versions.at(-1)!.index;
    return next;
  }
  if (job.kind !== "versions.delete") await deps.artifacts.deleteArtifact({ ...ref, ...change });
  if (job.kind !== "project.delete") return finish(next);
  const following = (await deps.artifacts.artifactsAfter(job.project, artifact, 1))[0];
  if (following) {
    next.cursor = { artifact: following.name };
    return next;
  }
  await deps.artifacts.deleteProject(job.project, change);
  return finish(next);
}

function finish(job: JobRecord): JobRecord {
  job.status = job.progress.failed > 0 ? "failed" : "succeeded";
  delete job.leaseHolder;
  delete job.leaseUntil;
  return job;
}

export interface RunOptions {
  /** Who runs the job: one id per process. */
  holder: string;
  /** Epoch ms after which no new step starts (a Lambda's remaining time); none: run to the end. */
  deadline?: number;
  /**
   * The caller is the table's only runner (local mode holds the data dir's lock): a job still
   * leased by a crashed earlier run of it is taken over at once.
   */
  soleRunner?: boolean;
  leaseMs?: number;
  /** Asked before every step: true stops the run there (a local worker being stopped). */
  stopping?: () => boolean;
}

function outOfTime(options: RunOptions): boolean {
  return (options.deadline !== undefined && Date.now() >= options.deadline) || options.stopping?.() === true;
}

/** Runs a job step after step until it finishes, the deadline nears or its lease is lost; answers its last state written. */
export async function runJob(deps: JobDeps, id: string, options: RunOptions): Promise<JobRecord | undefined> {
  const leaseMs = options.leaseMs ?? JOBS.leaseMs;
  const leaseFrom = () => {
    const now = deps.clock.now();
    return { now: options.soleRunner ? "\uffff" : now.toISOString(), until: new Date(now.getTime() + leaseMs).toISOString() };
  };
  const lease = leaseFrom();
  let job = await deps.jobs.claimJob(id, options.holder, lease.now, lease.until);
  if (!job) return undefined;
  while (job.status === "queued" || job.status === "running") {
    if (outOfTime(options)) break;
    const next = await advanceJob(deps, job);
    if (next.status === "running") Object.assign(next, { leaseHolder: options.holder, leaseUntil: leaseFrom().until });
    if (!(await deps.jobs.saveJob(next, options.holder))) return undefined;
    job = next;
  }
  return job;
}

/** Runs every active job in turn (oldest first) until the deadline; answers how many finished. */
export async function runActiveJobs(deps: JobDeps, options: RunOptions): Promise<{ finished: number; errors: Error[] }> {
  let finished = 0;
  const errors: Error[] = [];
  for (const id of await deps.jobs.activeJobs(25)) {
    if (outOfTime(options)) break;
    try {
      const job = await runJob(deps, id, options);
      if (job && (job.status === "succeeded" || job.status === "failed")) finished++;
    } catch (error) {
      errors.push(error as Error);
    }
  }
  return { finished, errors };
}

export type { JobKind };
