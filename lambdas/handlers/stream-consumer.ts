import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { collectionEventOf } from "../adapters/dynamodb/stream-records.js";
import { getServices, type Services } from "../composition.js";
import type { AutomationRecord } from "../core/model.js";
import { createDeliveries, sendLeasedDeliveries, triggerOf, type LeasedDelivery } from "../core/webhooks.js";

/** The entity type of audit event items; every other item of the table is ignored here. */
const AUDIT_ENTITY = "event";

/** The part of Lambda's context the dispatcher uses: attempts that could outlast the invocation wait for a sweep. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * Consumes the table's stream: one structured log line per new audit event (the registry's
 * change feed, searchable in CloudWatch Logs Insights), and webhook deliveries for the
 * collection events that automations listen to. Each delivery is written once (its id
 * derives from the event and the automation) and attempted at once; failed attempts are
 * retried by the delivery sweeper. A record whose deliveries cannot be written is reported
 * as the batch's failure, so Lambda retries from it.
 */
export function createStreamConsumer(
  resolveServices: () => Services = getServices,
  options: { logAuditEvents?: boolean } = {},
) {
  const logAuditEvents = options.logAuditEvents ?? true;
  return async (event: DynamoDBStreamEvent, context?: InvocationContext): Promise<DynamoDBBatchResponse> => {
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    const automations = new Map<string, Promise<AutomationRecord[]>>();
    const written: LeasedDelivery[] = [];
    let services: Services | undefined;
    for (const record of event.Records) {
      const audit = auditEventOf(record);
      if (!audit) continue;
      if (logAuditEvents) console.log(JSON.stringify({ level: "info", message: "audit event", ...audit }));
      const collectionEvent = collectionEventOf(record);
      // Services (and the configuration they need) only once there is something to dispatch.
      if (!collectionEvent || !triggerOf(collectionEvent.event)) continue;
      try {
        services ??= resolveServices();
        const deps = services;
        const automationsOf = (registry: string) => {
          let pending = automations.get(registry);
          if (!pending) {
            pending = deps.automations.automationsOf(registry);
            automations.set(registry, pending);
          }
          return pending;
        };
        written.push(...(await createDeliveries(deps, collectionEvent, automationsOf)));
      } catch (error) {
        logError("deliveries not written; the batch is retried from this record", error, audit.streamEventId);
        // Deliveries already written are attempted below; the retried records find them written.
        return finish(services, written, deadline, [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? "" }]);
      }
    }
    return finish(services, written, deadline, []);
  };
}

async function finish(
  services: Services | undefined,
  written: LeasedDelivery[],
  deadline: number | undefined,
  batchItemFailures: DynamoDBBatchResponse["batchItemFailures"],
): Promise<DynamoDBBatchResponse> {
  if (services && written.length > 0) {
    const report = await sendLeasedDeliveries(services, written, { deadline });
    for (const error of report.errors) logError("delivery attempt failed; the sweeper retries it", error);
  }
  return { batchItemFailures };
}

export const handler = createStreamConsumer();

function logError(message: string, error: unknown, streamEventId?: string): void {
  console.error(
    JSON.stringify({
      level: "error",
      message,
      ...(streamEventId ? { streamEventId } : {}),
      error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
    }),
  );
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
