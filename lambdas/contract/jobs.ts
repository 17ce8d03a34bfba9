import * as z from "zod";

/**
 * Bulk deletes run as background jobs (lambdas/core/jobs.ts). `olderThan` is an ISO time or a
 * duration back from now (`30d`, `12h`, `90m`), fixed to an absolute time when the job is
 * created so that a resumed job decides exactly as it started.
 */
export const DURATION_PATTERN = /^(\d{1,6})([dhm])$/;

export const olderThan = z
  .string()
  .max(64)
  .refine((value) => DURATION_PATTERN.test(value) || (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))), {
    message: "must be an ISO time (2026-01-31T00:00:00Z) or a duration such as 30d, 12h, 90m",
  });

/** Which versions of an artifact a bulk delete takes; the conditions combine (all must hold). */
export const versionFilter = z
  .strictObject({
    olderThan: olderThan.optional(),
    /** Only versions that hold no alias (`latest` included: the newest version is kept). */
    aliasAbsent: z.boolean().optional(),
    /** Only versions no registry collection links. */
    notLinked: z.boolean().optional(),
  })
  .refine((f) => f.olderThan !== undefined || f.aliasAbsent === true || f.notLinked === true, {
    message: "name at least one condition: olderThan, aliasAbsent: true or notLinked: true",
  });
export type VersionFilter = z.infer<typeof versionFilter>;

export const versionDeletionRequest = versionFilter;

/**
 * `dryRun=true` answers what would go and writes nothing; `force=true` unlinks linked versions
 * (each unlink with its event) instead of skipping them, and a link holding a protected alias
 * still only by an admin of its registry.
 */
export const bulkDeleteQuery = z.object({
  dryRun: z.enum(["true", "false"]).optional(),
  force: z.enum(["true", "false"]).optional(),
});

export const jobParams = z.object({ id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "must be a job id") });

/** A project's default retention: versions committed afterwards expire `ttlDays` after their commit; null removes it. */
export const updateProjectRequest = z.strictObject({
  ttlDays: z.int().min(1).max(36_500).nullable(),
});
export type UpdateProjectRequest = z.infer<typeof updateProjectRequest>;

export type { DeletionPlanResponse, JobResponse } from "./responses.js";
