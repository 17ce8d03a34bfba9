import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { Logger } from "@aws-lambda-powertools/logger";
import { isAuditEventRecord } from "../adapters/dynamodb/audit-event-filter.js";
import { collectionEventOf } from "../adapters/dynamodb/stream-records.js";
import type { Services } from "../composition.js";
import type { AutomationRecord } from "../core/model.js";
import { createDeliveries, sendLeasedDeliveries, triggerOf, type AttemptReport, type LeasedDelivery } from "../core/webhooks.js";
import { deliveryOutcome, type BusinessMetrics, type Observability } from "../observability.js";

/** The part of Lambda's context the dispatcher uses: attempts that could outlast the invocation wait for a sweep. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export type StreamConsumer = (event: DynamoDBStreamEvent, context?: InvocationContext) => Promise<DynamoDBBatchResponse>;

/**
 * Consumes the table's stream: one structured log line per new audit event (the registry's
 * change feed, searchable in CloudWatch Logs Insights), and webhook deliveries for the
 * collection events that automations listen to. Each delivery is written once (its id
 * derives from the event and the automation) and attempted at once; failed attempts are
 * retried by the delivery sweeper. A record whose deliveries cannot be written is reported
 * as the batch's failure, so Lambda retries from it.
 */
export function createStreamConsumer(
  services: Services,
  observability: Observability,
  options: { logAuditEvents?: boolean } = {},
): StreamConsumer {
  const { logger, metrics } = observability;
  const logAuditEvents = options.logAuditEvents ?? true;
  return async (event, context) => {
    const deadline = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    const automations = new Map<string, Promise<AutomationRecord[]>>();
    const automationsOf = (registry: string) => {
      let pending = automations.get(registry);
      if (!pending) {
        pending = services.automations.automationsOf(registry);
        automations.set(registry, pending);
      }
      return pending;
    };
    const written: LeasedDelivery[] = [];
    const finish = async (batchItemFailures: DynamoDBBatchResponse["batchItemFailures"]) => {
      if (written.length > 0) {
        const report = await sendLeasedDeliveries(services, written, { deadline });
        recordDeliveries(metrics, report);
        for (const error of report.errors) logError(logger, "delivery attempt failed; the sweeper retries it", error);
      }
      metrics.flush();
      return { batchItemFailures };
    };
    for (const record of event.Records) {
      try {
        const audit = auditEventOf(record);
        if (!audit) continue;
        if (logAuditEvents) logger.info("audit event", { ...audit });
        const collectionEvent = collectionEventOf(record);
        if (!collectionEvent || !triggerOf(collectionEvent.event)) continue;
        written.push(...(await createDeliveries(services, collectionEvent, automationsOf)));
      } catch (error) {
        // A record that cannot be read or acted on fails alone: the records before it are done,
        // and the mapping retries from it, then hands it to the failure queue after its retries
        // (infra/stacks/stateless-stack.ts). Deliveries already written are attempted below;
        // the retried records find them written.
        logError(logger, "record not processed; the batch is retried from this record", error, record.eventID);
        return finish([{ itemIdentifier: record.dynamodb?.SequenceNumber ?? "" }]);
      }
    }
    return finish([]);
  };
}

/** The webhook deliveries attempted, by outcome. */
export function recordDeliveries(metrics: BusinessMetrics, report: AttemptReport): void {
  for (const [status, count] of Object.entries(report.byStatus) as [keyof AttemptReport["byStatus"], number][]) {
    if (count > 0) metrics.webhookDeliveries(deliveryOutcome(status), count);
  }
}

export function logError(logger: Logger, message: string, error: unknown, streamEventId?: string): void {
  logger.error(message, {
    ...(streamEventId ? { streamEventId } : {}),
    error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
  });
}

export interface AuditLogLine {
  streamEventId: string;
  subject: string;
  action: string;
  actor: string;
  at: string;
  details: Record<string, unknown>;
}

/** The audit event a stream record inserts, or undefined for any record the stream filter would not pass. */
export function auditEventOf(record: DynamoDBRecord): AuditLogLine | undefined {
  if (!isAuditEventRecord(record)) return undefined;
  const item = unmarshall(record.dynamodb!.NewImage as Record<string, AttributeValue>);
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
