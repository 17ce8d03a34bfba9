import * as z from "zod";
import type { RegistryAccess } from "../core/authorize.js";
import { ForbiddenError } from "../core/errors.js";
import { addRunInput, createRun, getRun, lineageOfCollectionVersion, lineageOfRun, lineageOfVersion } from "../core/lineage.js";
import { ok, type ApiRequest, type Operations } from "../http/api-handler.js";
import { parse } from "../http/validate.js";
import { name } from "../contract/common.js";
import { createRunRequest, lineageQuery, logMetricsRequest, metricHistoryQuery, runInputRequest } from "../contract/runs.js";
import { getRunMetricHistory, logRunMetrics } from "../core/run-metrics.js";

const projectParams = z.object({ project: name });
const runParams = projectParams.extend({ run: name });
const selector = z.string().min(1).max(140);

function runRef(request: ApiRequest) {
  const params = parse(runParams, request.params, "path");
  return { project: params.project, id: params.run };
}

function access(request: ApiRequest): RegistryAccess {
  if (!request.registry) throw new ForbiddenError("no registry access was established for this route");
  return request.registry;
}

/** The operations of the `lineage` function, by the names lambdas/contract/routes.ts gives them. */
export const lineageOperations: Operations<"lineage"> = {
  createRun: async (request) => {
    const { project } = parse(projectParams, request.params, "path");
    const result = await createRun(request.services, request.principal, project, parse(createRunRequest, request.body ?? {}, "run"));
    return { status: result.created ? 201 : 200, body: result.run };
  },
  getRun: async (request) => ok(await getRun(request.services, runRef(request))),
  addRunInput: async (request) =>
    ok(await addRunInput(request.services, request.principal, runRef(request), parse(runInputRequest, request.body, "run input"))),
  logRunMetrics: async (request) =>
    ok(await logRunMetrics(request.services, request.principal, runRef(request), parse(logMetricsRequest, request.body, "metrics"))),
  getRunMetricHistory: async (request) =>
    ok(await getRunMetricHistory(request.services, runRef(request), parse(metricHistoryQuery, request.query, "query").key)),
  runLineage: async (request) => ok(await lineageOfRun(request.services, runRef(request), parse(lineageQuery, request.query, "query"))),
  versionLineage: async (request) => {
    const params = parse(z.object({ project: name, name, v: selector }), request.params, "path");
    return ok(
      await lineageOfVersion(
        request.services,
        { project: params.project, artifact: params.name },
        params.v,
        parse(lineageQuery, request.query, "query"),
      ),
    );
  },
  collectionVersionLineage: async (request) => {
    const params = parse(z.object({ registry: name, collection: name, v: selector }), request.params, "path");
    return ok(
      await lineageOfCollectionVersion(
        request.services,
        access(request),
        { registry: access(request).registry.name, collection: params.collection },
        params.v,
        parse(lineageQuery, request.query, "query"),
      ),
    );
  },
};
