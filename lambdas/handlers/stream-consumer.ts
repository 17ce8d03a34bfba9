import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";

/** The entity type of audit event items; every other item of the table is ignored here. */
const AUDIT_ENTITY = "event";

/**
 * Consumes the table's stream. For now it writes one structured log line per new audit
 * event (the registry's change feed, searchable in CloudWatch Logs Insights); issue #7
 * turns these events into webhook deliveries.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  for (const record of event.Records) {
    const audit = auditEventOf(record);
    if (audit) console.log(JSON.stringify({ level: "info", message: "audit event", ...audit }));
  }
  // Logging cannot fail per record; the partial-batch contract is in place for delivery (#7).
  return { batchItemFailures: [] };
}

export interface AuditLogLine {
  streamEventId: string;
  subject: string;
  action: string;
  actor: string;
  at: string;
  details: Record<string, unknown>;
}

/** The audit event a stream record inserts, or undefined for any other record. */
export function auditEventOf(record: DynamoDBRecord): AuditLogLine | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== "INSERT" || image?.entity?.S !== AUDIT_ENTITY) return undefined;
  const item = unmarshall(image as Record<string, AttributeValue>);
  const { action, actor, at, ...details } = (item.event ?? {}) as Record<string, unknown>;
  return {
    streamEventId: record.eventID ?? "",
    // The partition names what changed (an artifact's or a collection's history).
    subject: String(item.PK),
    action: String(action),
    actor: String(actor),
    at: String(at),
    details,
  };
}
