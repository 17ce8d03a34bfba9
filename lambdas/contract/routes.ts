/**
 * The route table: data shared by the local server, the Lambda handlers and the CDK API.
 * Every route names the function that serves it, the operation inside that function and
 * the permission it requires; a route without a permission cannot be served.
 */
import { HF_MOUNT, HF_PROJECTS_MOUNT } from "./hf-mounts.js";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a route requires; every route in the route table declares one. */
export type Permission =
  | "public"
  | "org:read"
  | "org:admin"
  /** The `{user}` the path names is the caller, or the caller is an org admin. */
  | "user:self"
  | "project:read"
  | "project:write"
  | "project:admin"
  | "registry:read"
  | "registry:write"
  | "registry:admin";

export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  function: string;
  operation: string;
  permission: Permission;
}

const P = "/v1/projects/{project}/artifacts/{name}";
const R = "/v1/registries/{registry}";
const C = `${R}/collections/{collection}`;
const RUNS = "/v1/projects/{project}/runs";
const A = `${R}/automations`;
// The Hugging Face Hub protocol (lambdas/contract/hf.ts): registry collections are repositories
// `{registry}/{collection}` at /hf; project artifacts `{project}/{name}` at /hf/_projects. A
// trailing `{name+}` takes the rest of the path, slashes included.
const HF_REPO = `${HF_MOUNT}/api/models/{registry}/{collection}`;
const HF_PROJECT_REPO = `${HF_PROJECTS_MOUNT}/api/models/{project}/{name}`;
const HF_LFS = `${HF_PROJECTS_MOUNT}/{project}/{name}/info/lfs/objects`;

export const routes = [
  { method: "GET", path: "/v1/health", function: "health", operation: "health", permission: "public" },
  { method: "GET", path: "/v1/openapi.json", function: "health", operation: "openapi", permission: "public" },
  // Blobs are content-addressed and shared by every artifact: an upload belongs to no project.
  { method: "POST", path: "/v1/uploads", function: "artifacts", operation: "planUpload", permission: "project:write" },
  { method: "POST", path: "/v1/uploads/complete", function: "artifacts", operation: "completeUpload", permission: "project:write" },
  // The same, under the artifact path older clients use; its project and name are checked for form only.
  { method: "POST", path: `${P}/uploads`, function: "artifacts", operation: "planUpload", permission: "project:write" },
  { method: "POST", path: `${P}/uploads/complete`, function: "artifacts", operation: "completeUpload", permission: "project:write" },
  { method: "POST", path: `${P}/versions`, function: "artifacts", operation: "commitVersion", permission: "project:write" },
  {
    method: "GET",
    path: "/v1/projects/{project}/artifacts",
    function: "artifacts",
    operation: "listArtifacts",
    permission: "project:read",
  },
  { method: "GET", path: P, function: "artifacts", operation: "getArtifact", permission: "project:read" },
  { method: "GET", path: `${P}/versions`, function: "artifacts", operation: "listVersions", permission: "project:read" },
  { method: "GET", path: `${P}/versions/{v}`, function: "artifacts", operation: "getVersion", permission: "project:read" },
  { method: "GET", path: `${P}/versions/{v}/files`, function: "artifacts", operation: "listFiles", permission: "project:read" },
  { method: "DELETE", path: `${P}/versions/{v}`, function: "artifacts", operation: "deleteVersion", permission: "project:admin" },
  { method: "PUT", path: `${P}/aliases/{alias}`, function: "artifacts", operation: "setAlias", permission: "project:write" },
  { method: "DELETE", path: `${P}/aliases/{alias}`, function: "artifacts", operation: "removeAlias", permission: "project:write" },
  { method: "GET", path: `${P}/history`, function: "artifacts", operation: "listHistory", permission: "project:read" },
  // Description and metadata are editable; the files (and so the digest) never are.
  { method: "PATCH", path: `${P}/versions/{v}`, function: "artifacts", operation: "updateVersion", permission: "project:write" },
  // Bulk deletes answer 202 with a job that runs in the background (lambdas/core/jobs.ts); `?dryRun=true` answers 200
  // with what would go. As the single version delete: project admins; a whole project: org admins.
  { method: "DELETE", path: P, function: "artifacts", operation: "deleteArtifact", permission: "project:admin" },
  { method: "POST", path: `${P}/version-deletions`, function: "artifacts", operation: "deleteVersions", permission: "project:admin" },
  { method: "DELETE", path: "/v1/projects/{project}", function: "artifacts", operation: "deleteProject", permission: "org:admin" },
  // A project's settings (its default retention) are its admins'.
  { method: "PATCH", path: "/v1/projects/{project}", function: "artifacts", operation: "updateProject", permission: "project:admin" },
  // Jobs are read by whoever reads projects: every org user.
  { method: "GET", path: "/v1/jobs/{id}", function: "artifacts", operation: "getJob", permission: "org:read" },
  // Every org user reads every project, so the listing is everybody's.
  { method: "GET", path: "/v1/projects", function: "artifacts", operation: "listProjects", permission: "org:read" },
  // Usage reads manifests, which the artifacts function may; the whole org's is for its admins.
  { method: "GET", path: "/v1/projects/{project}/usage", function: "artifacts", operation: "projectUsage", permission: "project:read" },
  { method: "GET", path: "/v1/usage", function: "artifacts", operation: "orgUsage", permission: "org:admin" },
  // One round of the garbage collector by hand (it also runs on a schedule); the artifacts function may delete blobs.
  { method: "POST", path: "/v1/admin/gc", function: "artifacts", operation: "collectGarbage", permission: "org:admin" },

  { method: "GET", path: "/v1/me", function: "admin", operation: "whoami", permission: "org:read" },
  { method: "POST", path: "/v1/users", function: "admin", operation: "createUser", permission: "org:admin" },
  { method: "GET", path: "/v1/users", function: "admin", operation: "listUsers", permission: "org:admin" },
  { method: "PATCH", path: "/v1/users/{user}", function: "admin", operation: "updateUser", permission: "org:admin" },
  { method: "GET", path: "/v1/users/{user}/memberships", function: "admin", operation: "listMemberships", permission: "user:self" },
  // Keys: admins manage everybody's, anyone else their own (checked in the use case).
  { method: "POST", path: "/v1/api-keys", function: "admin", operation: "createApiKey", permission: "org:read" },
  { method: "GET", path: "/v1/api-keys", function: "admin", operation: "listApiKeys", permission: "org:read" },
  { method: "DELETE", path: "/v1/api-keys/{id}", function: "admin", operation: "revokeApiKey", permission: "org:read" },

  { method: "POST", path: "/v1/registries", function: "registries", operation: "createRegistry", permission: "org:admin" },
  { method: "GET", path: "/v1/registries", function: "registries", operation: "listRegistries", permission: "org:read" },
  { method: "GET", path: R, function: "registries", operation: "getRegistry", permission: "registry:read" },
  { method: "PATCH", path: R, function: "registries", operation: "updateRegistry", permission: "registry:admin" },
  // Registries are created by org admins, so they are deleted by them too (only when empty).
  { method: "DELETE", path: R, function: "registries", operation: "deleteRegistry", permission: "org:admin" },
  { method: "GET", path: `${R}/members`, function: "registries", operation: "listMembers", permission: "registry:read" },
  { method: "PUT", path: `${R}/members/{user}`, function: "registries", operation: "putMember", permission: "registry:admin" },
  { method: "DELETE", path: `${R}/members/{user}`, function: "registries", operation: "removeMember", permission: "registry:admin" },
  { method: "POST", path: `${R}/collections`, function: "registries", operation: "createCollection", permission: "registry:write" },
  { method: "GET", path: `${R}/collections`, function: "registries", operation: "listCollections", permission: "registry:read" },
  { method: "GET", path: C, function: "registries", operation: "getCollection", permission: "registry:read" },
  { method: "PATCH", path: C, function: "registries", operation: "updateCollection", permission: "registry:write" },
  { method: "DELETE", path: C, function: "registries", operation: "deleteCollection", permission: "registry:admin" },
  { method: "POST", path: `${C}/links`, function: "registries", operation: "link", permission: "registry:write" },
  { method: "GET", path: `${C}/versions`, function: "registries", operation: "listCollectionVersions", permission: "registry:read" },
  { method: "GET", path: `${C}/versions/{v}`, function: "registries", operation: "getCollectionVersion", permission: "registry:read" },
  { method: "GET", path: `${C}/versions/{v}/files`, function: "registries", operation: "listCollectionFiles", permission: "registry:read" },
  { method: "DELETE", path: `${C}/versions/{v}`, function: "registries", operation: "unlink", permission: "registry:write" },
  { method: "PUT", path: `${C}/aliases/{alias}`, function: "registries", operation: "setCollectionAlias", permission: "registry:write" },
  {
    method: "DELETE",
    path: `${C}/aliases/{alias}`,
    function: "registries",
    operation: "removeCollectionAlias",
    permission: "registry:write",
  },
  { method: "PUT", path: `${C}/tags/{tag}`, function: "registries", operation: "tagCollection", permission: "registry:write" },
  { method: "DELETE", path: `${C}/tags/{tag}`, function: "registries", operation: "untagCollection", permission: "registry:write" },
  {
    method: "PUT",
    path: `${C}/versions/{v}/tags/{tag}`,
    function: "registries",
    operation: "tagCollectionVersion",
    permission: "registry:write",
  },
  {
    method: "DELETE",
    path: `${C}/versions/{v}/tags/{tag}`,
    function: "registries",
    operation: "untagCollectionVersion",
    permission: "registry:write",
  },
  { method: "GET", path: `${C}/history`, function: "registries", operation: "listCollectionHistory", permission: "registry:read" },
  // Members ask for a protected alias to move; registry admins other than the asker decide.
  { method: "POST", path: `${C}/promotions`, function: "registries", operation: "requestPromotion", permission: "registry:write" },
  { method: "GET", path: `${C}/promotions`, function: "registries", operation: "listPromotions", permission: "registry:read" },
  { method: "GET", path: `${C}/promotions/{id}`, function: "registries", operation: "getPromotion", permission: "registry:read" },
  {
    method: "POST",
    path: `${C}/promotions/{id}/approve`,
    function: "registries",
    operation: "approvePromotion",
    permission: "registry:admin",
  },
  {
    method: "POST",
    path: `${C}/promotions/{id}/reject`,
    function: "registries",
    operation: "rejectPromotion",
    permission: "registry:admin",
  },

  { method: "POST", path: RUNS, function: "lineage", operation: "createRun", permission: "project:write" },
  { method: "GET", path: `${RUNS}/{run}`, function: "lineage", operation: "getRun", permission: "project:read" },
  { method: "POST", path: `${RUNS}/{run}/inputs`, function: "lineage", operation: "addRunInput", permission: "project:write" },
  { method: "POST", path: `${RUNS}/{run}/metrics`, function: "lineage", operation: "logRunMetrics", permission: "project:write" },
  { method: "GET", path: `${RUNS}/{run}/metrics`, function: "lineage", operation: "getRunMetricHistory", permission: "project:read" },
  { method: "GET", path: `${RUNS}/{run}/lineage`, function: "lineage", operation: "runLineage", permission: "project:read" },
  { method: "GET", path: `${P}/versions/{v}/lineage`, function: "lineage", operation: "versionLineage", permission: "project:read" },
  {
    method: "GET",
    path: `${C}/versions/{v}/lineage`,
    function: "lineage",
    operation: "collectionVersionLineage",
    permission: "registry:read",
  },

  // Automation URLs often carry a token (Slack, Teams hooks): reading them is for registry admins too.
  { method: "POST", path: A, function: "automations", operation: "createAutomation", permission: "registry:admin" },
  { method: "GET", path: A, function: "automations", operation: "listAutomations", permission: "registry:admin" },
  { method: "GET", path: `${A}/{id}`, function: "automations", operation: "getAutomation", permission: "registry:admin" },
  { method: "DELETE", path: `${A}/{id}`, function: "automations", operation: "deleteAutomation", permission: "registry:admin" },
  { method: "GET", path: `${A}/{id}/deliveries`, function: "automations", operation: "listDeliveries", permission: "registry:admin" },
  {
    method: "GET",
    path: `${A}/{id}/deliveries/{delivery}`,
    function: "automations",
    operation: "getDelivery",
    permission: "registry:admin",
  },
  {
    method: "POST",
    path: `${A}/{id}/deliveries/{delivery}/replay`,
    function: "automations",
    operation: "replayDelivery",
    permission: "registry:admin",
  },

  // Project mounts first: `_projects` is no registry name, but a template match does not know that.
  { method: "GET", path: HF_PROJECT_REPO, function: "hf", operation: "repoInfo", permission: "project:read" },
  { method: "GET", path: `${HF_PROJECT_REPO}/revision/{revision}`, function: "hf", operation: "repoInfo", permission: "project:read" },
  { method: "GET", path: `${HF_PROJECT_REPO}/tree/{revision}`, function: "hf", operation: "tree", permission: "project:read" },
  { method: "GET", path: `${HF_PROJECT_REPO}/tree/{revision}/{path+}`, function: "hf", operation: "tree", permission: "project:read" },
  { method: "POST", path: `${HF_PROJECT_REPO}/paths-info/{revision}`, function: "hf", operation: "pathsInfo", permission: "project:read" },
  { method: "POST", path: `${HF_PROJECT_REPO}/preupload/{revision}`, function: "hf", operation: "preupload", permission: "project:write" },
  { method: "POST", path: `${HF_PROJECT_REPO}/commit/{revision}`, function: "hf", operation: "commit", permission: "project:write" },
  { method: "POST", path: `${HF_LFS}/batch`, function: "hf", operation: "lfsBatch", permission: "project:write" },
  // The client posts the completion of a multipart upload without its token: the URL, like the
  // part URLs it comes with, is the capability (it names the upload's unguessable id).
  { method: "POST", path: `${HF_LFS}/complete/{oid}`, function: "hf", operation: "lfsComplete", permission: "public" },
  {
    method: "GET",
    path: `${HF_PROJECTS_MOUNT}/{project}/{name}/resolve/{revision}/{path+}`,
    function: "hf",
    operation: "resolve",
    permission: "project:read",
  },
  {
    method: "HEAD",
    path: `${HF_PROJECTS_MOUNT}/{project}/{name}/resolve/{revision}/{path+}`,
    function: "hf",
    operation: "resolve",
    permission: "project:read",
  },
  { method: "GET", path: HF_REPO, function: "hf", operation: "repoInfo", permission: "registry:read" },
  { method: "GET", path: `${HF_REPO}/revision/{revision}`, function: "hf", operation: "repoInfo", permission: "registry:read" },
  { method: "GET", path: `${HF_REPO}/tree/{revision}`, function: "hf", operation: "tree", permission: "registry:read" },
  { method: "GET", path: `${HF_REPO}/tree/{revision}/{path+}`, function: "hf", operation: "tree", permission: "registry:read" },
  { method: "POST", path: `${HF_REPO}/paths-info/{revision}`, function: "hf", operation: "pathsInfo", permission: "registry:read" },
  {
    method: "GET",
    path: `${HF_MOUNT}/{registry}/{collection}/resolve/{revision}/{path+}`,
    function: "hf",
    operation: "resolve",
    permission: "registry:read",
  },
  {
    method: "HEAD",
    path: `${HF_MOUNT}/{registry}/{collection}/resolve/{revision}/{path+}`,
    function: "hf",
    operation: "resolve",
    permission: "registry:read",
  },
] as const satisfies readonly RouteDefinition[];

/**
 * Operations that take `?cursor=` and hand out cursors (`nextCursor`; lineage: each node's
 * `more`). Cursors are opaque, sealed by the server and valid for their own list only.
 */
export const PAGINATED_OPERATIONS: ReadonlySet<Route["operation"]> = new Set<Route["operation"]>([
  "listArtifacts",
  "listVersions",
  "listFiles",
  "listHistory",
  "listUsers",
  "listApiKeys",
  "listRegistries",
  "listCollections",
  "listCollectionVersions",
  "listCollectionFiles",
  "listCollectionHistory",
  "runLineage",
  "versionLineage",
  "collectionVersionLineage",
  "listAutomations",
  "listDeliveries",
  "listProjects",
  "listMembers",
  "listPromotions",
]);

export type Route = (typeof routes)[number];
export type FunctionName = Route["function"];
export type OperationOf<F extends FunctionName> = Extract<Route, { function: F }>["operation"];

export const functionNames = [...new Set(routes.map((r) => r.function))] as FunctionName[];

/** Finds the route for a method and path, with its raw path parameters, or the methods the path allows. */
export function matchRoute(
  table: readonly RouteDefinition[],
  method: string,
  path: string,
): { route: RouteDefinition; params: Record<string, string> } | { allowed: HttpMethod[] } | undefined {
  const segments = path.split("/").filter((s) => s !== "");
  const allowed: HttpMethod[] = [];
  for (const route of table) {
    const params = matchTemplate(route.path, segments);
    if (!params) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

function matchTemplate(template: string, segments: string[]): Record<string, string> | undefined {
  const parts = template.split("/").filter((s) => s !== "");
  const greedy = parts.at(-1)?.endsWith("+}") ?? false;
  if (greedy ? segments.length < parts.length : parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i]!;
    if (greedy && i === parts.length - 1) {
      params[part.slice(1, -2)] = segments.slice(i).join("/");
    } else if (part.startsWith("{") && part.endsWith("}")) {
      // Raw, as API Gateway (REST) passes them: the handler decodes each parameter once.
      params[part.slice(1, -1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}
