import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { openApiDocument } from "../../lambdas/contract/openapi.js";
import { matchRoute, routes } from "../../lambdas/contract/routes.js";

/**
 * Checks real answers against the OpenAPI document (lambdas/contract/openapi.ts): the status
 * must be one the route documents, the body must validate against that status's schema
 * (JSON Schema 2020-12, as OpenAPI 3.1 has it), and documented required headers must be
 * there. Every integration suite's `api()` calls go through it (test/support/local-stack.ts),
 * so the document cannot claim what the registry does not answer.
 */

type Doc = { paths: Record<string, Record<string, { responses: Record<string, any> }>> };

let ajv: Ajv2020 | undefined;
const doc = () => openApiDocument() as Doc;

function validatorFor(pointer: string) {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    ajv.addSchema(doc() as object, "openapi");
  }
  const validate = ajv.getSchema(`openapi#${pointer}`);
  if (!validate) throw new Error(`no schema at ${pointer}`);
  return validate;
}

const escape = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** Routes (method and OpenAPI path) answered with a documented 2xx or 3xx, and every status seen, by route. */
export const exercised = new Map<string, Set<number>>();

export interface Answer {
  method: string;
  /** The request's path (query string allowed). */
  path: string;
  status: number;
  headers: Headers;
  /** The body's text ("" for none). */
  text: string;
}

/** Undefined when the answer is what the document says, else why not. */
export function openApiMismatch(answer: Answer): string | undefined {
  const pathname = new URL(answer.path, "http://localhost").pathname;
  const match = matchRoute(routes, answer.method, pathname);
  // Answers the server gives before any route (no route, wrong method) are not operations.
  if (!match || "allowed" in match) return undefined;
  const path = match.route.path.replace(/\{(\w+)\+\}/g, "{$1}");
  const method = answer.method.toLowerCase();
  const key = `${answer.method} ${path}`;
  const operation = doc().paths[path]?.[method];
  if (!operation) return `${key} is not in the document`;
  const response = operation.responses[String(answer.status)];
  if (!response)
    return `${key} answered ${answer.status}, which the document does not list (${Object.keys(operation.responses).join(", ")})`;
  (exercised.get(key) ?? exercised.set(key, new Set()).get(key)!).add(answer.status);
  for (const [name, header] of Object.entries<{ required?: boolean }>(response.headers ?? {})) {
    if (header.required && answer.headers.get(name) === null) return `${key} ${answer.status} lacks the documented header ${name}`;
  }
  const content = response.content as Record<string, unknown> | undefined;
  if (!content || answer.method === "HEAD") return undefined;
  const type = Object.keys(content)[0]!;
  const pointer = `/paths/${escape(path)}/${method}/responses/${answer.status}/content/${escape(type)}/schema`;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `${key} ${answer.status} answered no JSON: ${answer.text.slice(0, 200)}`;
  }
  const validate = validatorFor(pointer);
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
  return `${key} ${answer.status} does not match the document: ${errors.join("; ")}\n${answer.text.slice(0, 500)}`;
}

/** Throws when the answer is not what the document says. */
export function assertDocumented(answer: Answer): void {
  const mismatch = openApiMismatch(answer);
  if (mismatch) throw new Error(`OpenAPI contract: ${mismatch}`);
}

/** fetch that checks every answer of the registry at `origin` against the document, redirects included (followed unless `redirect: "manual"`). */
export function checkedFetch(origin: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const sameOrigin = url.origin === origin;
    const response = await fetch(input, sameOrigin ? { ...init, redirect: "manual" } : init);
    if (!sameOrigin) return response;
    const text = await response.clone().text();
    assertDocumented({
      method: init?.method ?? "GET",
      path: url.pathname + url.search,
      status: response.status,
      headers: response.headers,
      text,
    });
    if (init?.redirect !== "manual" && response.status >= 300 && response.status < 400 && response.headers.get("location")) {
      // Follow as fetch would: to the store, without the registry's Authorization.
      const headers = new Headers(init?.headers);
      headers.delete("authorization");
      return fetch(response.headers.get("location")!, { ...init, headers });
    }
    return response;
  };
}
