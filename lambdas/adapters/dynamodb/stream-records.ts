import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import type { AuditEvent } from "../../core/model.js";
import type { CollectionAuditEvent } from "../../core/webhooks.js";
import { isAuditEventRecord } from "./audit-event-filter.js";
import { keys } from "./keys.js";

/**
 * The audit event a stream record inserts into a collection's history, or undefined for
 * any other record (other entities, updates, artifact and registry history).
 */
export function collectionEventOf(record: DynamoDBRecord): CollectionAuditEvent | undefined {
  if (!isAuditEventRecord(record)) return undefined;
  const item = unmarshall(record.dynamodb!.NewImage as Record<string, AttributeValue>);
  const event = item.event as AuditEvent | undefined;
  const { registry, collection } = (event ?? {}) as { registry?: unknown; collection?: unknown };
  if (typeof registry !== "string" || typeof collection !== "string") return undefined;
  if (item.PK !== keys.collectionHistory(registry, collection) || typeof item.SK !== "string") return undefined;
  // The sort key is `<time>#<ulid>`: the ULID names the event.
  const id = item.SK.slice(item.SK.lastIndexOf("#") + 1);
  if (id === "") return undefined;
  return { id, registry, collection, event: event! };
}
