import * as z from "zod";
import {
  commitVersion,
  deleteArtifactVersion,
  getArtifact,
  getVersion,
  listArtifactHistory,
  listArtifacts,
  listFiles,
  listVersions,
  removeArtifactAlias,
  setArtifactAlias,
} from "../core/artifact-versions.js";
import { collectGarbage } from "../core/gc.js";
import { createBulkDeleteJob, getJob, planBulkDelete, type BulkDeleteTarget } from "../core/jobs.js";
import { listProjects } from "../core/projects.js";
import { setProjectRetention } from "../core/retention.js";
import { projectUsage, usageOf } from "../core/usage.js";
import { completeUpload, planUpload } from "../core/upload-blobs.js";
import { updateVersion } from "../core/version-edits.js";
import { ok, type ApiRequest, type Operations } from "../http/api-handler.js";
import { parse } from "../http/validate.js";
import {
  commitRequest,
  completeUploadRequest,
  deleteQuery,
  filesQuery,
  gcQuery,
  setAliasRequest,
  updateVersionRequest,
  uploadPlanRequest,
} from "../contract/artifacts.js";
import { alias, name, pageQuery } from "../contract/common.js";
import { bulkDeleteQuery, jobParams, updateProjectRequest, versionDeletionRequest } from "../contract/jobs.js";

const artifactParams = z.object({ project: name, name });
const versionParams = artifactParams.extend({ v: z.string().min(1).max(140) });
const aliasParams = artifactParams.extend({ alias });

/** A dry run answers 200 with what would go; otherwise the job is created and answered 202. */
async function bulkDelete(request: ApiRequest, target: BulkDeleteTarget) {
  const { dryRun, force } = parse(bulkDeleteQuery, request.query, "query");
  if (dryRun === "true") return ok(await planBulkDelete(request.services, request.principal, target, force === "true"));
  return { status: 202, body: await createBulkDeleteJob(request.services, request.principal, target, force === "true") };
}

function artifactRef(request: ApiRequest) {
  const params = parse(artifactParams, request.params, "path");
  return { project: params.project, artifact: params.name };
}

/** The operations of the `artifacts` function, by the names lambdas/contract/routes.ts gives them. */
export const artifactOperations: Operations<"artifacts"> = {
  planUpload: async (request) => {
    if (request.params.project !== undefined) artifactRef(request);
    return ok(await planUpload(request.services, parse(uploadPlanRequest, request.body, "upload plan")));
  },
  completeUpload: async (request) => {
    if (request.params.project !== undefined) artifactRef(request);
    return ok(await completeUpload(request.services, parse(completeUploadRequest, request.body, "upload completion")));
  },
  commitVersion: async (request) => {
    const ref = artifactRef(request);
    const body = parse(commitRequest, request.body, "commit");
    const result = await commitVersion(request.services, request.principal, ref, body);
    if (result.created) request.metrics.versionCommitted();
    return { status: result.created ? 201 : 200, body: result };
  },
  listArtifacts: async (request) => {
    const { project } = parse(z.object({ project: name }), request.params, "path");
    return ok(await listArtifacts(request.services, project, parse(pageQuery, request.query, "query")));
  },
  getArtifact: async (request) => ok(await getArtifact(request.services, artifactRef(request))),
  listVersions: async (request) => ok(await listVersions(request.services, artifactRef(request), parse(pageQuery, request.query, "query"))),
  getVersion: async (request) => {
    const { v } = parse(versionParams, request.params, "path");
    return ok(await getVersion(request.services, artifactRef(request), v));
  },
  listFiles: async (request) => {
    const { v } = parse(versionParams, request.params, "path");
    return ok(await listFiles(request.services, artifactRef(request), v, parse(filesQuery, request.query, "query")));
  },
  deleteVersion: async (request) => {
    const { v } = parse(versionParams, request.params, "path");
    const { force, dryRun } = parse(deleteQuery, request.query, "query");
    return ok(
      await deleteArtifactVersion(request.services, request.principal, artifactRef(request), v, force === "true", {
        dryRun: dryRun === "true",
      }),
    );
  },
  projectUsage: async (request) => {
    const { project } = parse(z.object({ project: name }), request.params, "path");
    return ok(await projectUsage(request.services, project));
  },
  orgUsage: async (request) => ok(await usageOf(request.services)),
  collectGarbage: async (request) => {
    const { dryRun } = parse(gcQuery, request.query, "query");
    const graceHours = request.services.config.gcGraceHours;
    return ok({ ...(await collectGarbage(request.services, { graceHours, dryRun: dryRun === "true" })), graceHours });
  },
  setAlias: async (request) => {
    const params = parse(aliasParams, request.params, "path");
    const { version, expectedVersion } = parse(setAliasRequest, request.body, "alias");
    return ok(await setArtifactAlias(request.services, request.principal, artifactRef(request), params.alias, version, expectedVersion));
  },
  removeAlias: async (request) => {
    const params = parse(aliasParams, request.params, "path");
    return ok(await removeArtifactAlias(request.services, request.principal, artifactRef(request), params.alias));
  },
  listHistory: async (request) =>
    ok(await listArtifactHistory(request.services, artifactRef(request), parse(pageQuery, request.query, "query"))),
  updateVersion: async (request) => {
    const { v } = parse(versionParams, request.params, "path");
    const edit = parse(updateVersionRequest, request.body, "version edit");
    return ok(await updateVersion(request.services, request.principal, artifactRef(request), v, edit));
  },
  listProjects: async (request) => ok(await listProjects(request.services, parse(pageQuery, request.query, "query"))),
  deleteArtifact: async (request) => bulkDelete(request, { kind: "artifact.delete", ...artifactRef(request) }),
  deleteVersions: async (request) => {
    const ref = artifactRef(request);
    const filter = parse(versionDeletionRequest, request.body, "version deletion");
    return bulkDelete(request, { kind: "versions.delete", ...ref, filter });
  },
  deleteProject: async (request) => {
    const { project } = parse(z.object({ project: name }), request.params, "path");
    return bulkDelete(request, { kind: "project.delete", project });
  },
  updateProject: async (request) => {
    const { project } = parse(z.object({ project: name }), request.params, "path");
    const { ttlDays } = parse(updateProjectRequest, request.body, "project settings");
    return ok(await setProjectRetention(request.services, request.principal, project, ttlDays));
  },
  getJob: async (request) => ok(await getJob(request.services, parse(jobParams, request.params, "path").id)),
};
