import { NAME_PATTERN } from "../../../lambdas/contract/common.js";
import { MregError } from "./errors.js";

/**
 * What a command line names: `project`, `project/artifact[:version]`, `@registry`,
 * `@registry/collection[:version]`. A version is `v3`, `3`, an alias or `latest`.
 */
export type Ref =
  | { kind: "project"; project: string }
  | { kind: "artifact"; project: string; artifact: string; version?: string }
  | { kind: "registry"; registry: string }
  | { kind: "collection"; registry: string; collection: string; version?: string };

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseRef(text: string): Ref {
  const scoped = text.startsWith("@");
  const body = scoped ? text.slice(1) : text;
  const colon = body.indexOf(":");
  const path = colon === -1 ? body : body.slice(0, colon);
  const version = colon === -1 ? undefined : body.slice(colon + 1);
  const segments = path.split("/");
  const usage = scoped
    ? "expected @registry/collection[:version]"
    : "expected project/artifact[:version] or @registry/collection[:version]";
  if (segments.length > 2 || segments.some((s) => !NAME_PATTERN.test(s))) {
    throw new MregError(`invalid reference "${text}": ${usage}`);
  }
  if (version !== undefined && !VERSION_PATTERN.test(version)) {
    throw new MregError(`invalid version "${version}" in "${text}": use v3, 3, an alias or latest`);
  }
  const [first, second] = segments as [string, string | undefined];
  if (second === undefined) {
    if (version !== undefined) throw new MregError(`invalid reference "${text}": ${usage}`);
    return scoped ? { kind: "registry", registry: first } : { kind: "project", project: first };
  }
  return scoped
    ? { kind: "collection", registry: first, collection: second, ...(version === undefined ? {} : { version }) }
    : { kind: "artifact", project: first, artifact: second, ...(version === undefined ? {} : { version }) };
}

/** A registry and collection for `link`'s target: `@registry/collection` or `registry/collection`. */
export function parseCollectionTarget(text: string): { registry: string; collection: string } {
  const ref = parseRef(text.startsWith("@") ? text : `@${text}`);
  if (ref.kind !== "collection" || ref.version !== undefined) {
    throw new MregError(`invalid link target "${text}": expected @registry/collection`);
  }
  return { registry: ref.registry, collection: ref.collection };
}

export function formatRef(ref: Ref): string {
  switch (ref.kind) {
    case "project":
      return ref.project;
    case "registry":
      return `@${ref.registry}`;
    case "artifact":
      return `${ref.project}/${ref.artifact}${ref.version === undefined ? "" : `:${ref.version}`}`;
    case "collection":
      return `@${ref.registry}/${ref.collection}${ref.version === undefined ? "" : `:${ref.version}`}`;
  }
}
