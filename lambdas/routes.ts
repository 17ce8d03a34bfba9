/**
 * The route table: data shared by the local server, the Lambda handlers and the CDK API.
 * Every route names the function that serves it, the operation inside that function and
 * the permission it requires; a route without a permission cannot be served.
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export type Permission =
  | "public"
  | "project:read"
  | "project:write"
  | "project:admin"
  | "org:admin";

export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  function: string;
  operation: string;
  permission: Permission;
}

const P = "/v1/projects/{project}/artifacts/{name}";

export const routes = [
  { method: "GET", path: "/v1/health", function: "health", operation: "health", permission: "public" },
  { method: "POST", path: `${P}/uploads`, function: "artifacts", operation: "planUpload", permission: "project:write" },
  { method: "POST", path: `${P}/uploads/complete`, function: "artifacts", operation: "completeUpload", permission: "project:write" },
  { method: "POST", path: `${P}/versions`, function: "artifacts", operation: "commitVersion", permission: "project:write" },
  { method: "GET", path: "/v1/projects/{project}/artifacts", function: "artifacts", operation: "listArtifacts", permission: "project:read" },
  { method: "GET", path: P, function: "artifacts", operation: "getArtifact", permission: "project:read" },
  { method: "GET", path: `${P}/versions`, function: "artifacts", operation: "listVersions", permission: "project:read" },
  { method: "GET", path: `${P}/versions/{v}`, function: "artifacts", operation: "getVersion", permission: "project:read" },
  { method: "GET", path: `${P}/versions/{v}/files`, function: "artifacts", operation: "listFiles", permission: "project:read" },
  { method: "DELETE", path: `${P}/versions/{v}`, function: "artifacts", operation: "deleteVersion", permission: "project:admin" },
  { method: "PUT", path: `${P}/aliases/{alias}`, function: "artifacts", operation: "setAlias", permission: "project:write" },
  { method: "DELETE", path: `${P}/aliases/{alias}`, function: "artifacts", operation: "removeAlias", permission: "project:write" },
  { method: "GET", path: `${P}/history`, function: "artifacts", operation: "listHistory", permission: "project:read" },
] as const satisfies readonly RouteDefinition[];

export type Route = (typeof routes)[number];
export type FunctionName = Route["function"];
export type OperationOf<F extends FunctionName> = Extract<Route, { function: F }>["operation"];

export const functionNames = [...new Set(routes.map((r) => r.function))] as FunctionName[];

/** Splits a template such as `/v1/projects/{project}` into literal and parameter segments. */
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
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i]!;
    if (part.startsWith("{") && part.endsWith("}")) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
      params[part.slice(1, -1)] = decoded;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}
