import type { AuditEvent } from "../api/types";

const str = (value: unknown) => (typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value));

function source(value: unknown): string {
  if (value && typeof value === "object") {
    const s = value as { project?: string; artifact?: string; version?: string };
    if (s.project && s.artifact && s.version) return `${s.project}/${s.artifact}:${s.version}`;
  }
  return str(value);
}

/** One audit event as a sentence a person reads in a history list. */
export function describeEvent(event: AuditEvent): string {
  const aliases = Array.isArray(event.aliases) ? (event.aliases as string[]).filter((a) => a !== "latest") : [];
  switch (event.action) {
    case "collection.created":
      return `created the collection (${str(event.type)})`;
    case "link.created":
      return `linked ${str(event.version)} from ${source(event.source)}${aliases.length ? ` with ${aliases.join(", ")}` : ""}`;
    case "link.removed":
      return `unlinked ${str(event.version)} (${source(event.source)})`;
    case "alias.set":
      return `set ${str(event.alias)} on ${str(event.to)}`;
    case "alias.moved":
      return `moved ${str(event.alias)} from ${str(event.from)} to ${str(event.to)}`;
    case "alias.removed":
      return `removed ${str(event.alias)} from ${str(event.from)}`;
    case "tag.added":
      return `tagged ${event.version ? `${str(event.version)} ` : ""}#${str(event.tag)}`;
    case "tag.removed":
      return `untagged ${event.version ? `${str(event.version)} ` : ""}#${str(event.tag)}`;
    case "version.created":
      return `logged ${str(event.version)}${aliases.length ? ` with ${aliases.join(", ")}` : ""}`;
    case "version.deleted":
      return `deleted ${str(event.version)}`;
    default:
      return event.action;
  }
}

/** Whether an event concerns one version (v3): linked, unlinked, aliased or tagged. */
export function concernsVersion(event: AuditEvent, version: string): boolean {
  return event.version === version || event.to === version || event.from === version;
}
