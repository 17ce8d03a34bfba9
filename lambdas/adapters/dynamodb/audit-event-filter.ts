import type { DynamoDBRecord } from "aws-lambda";

/** The entity type of audit event items (lambdas/adapters/dynamodb/dynamo-table.ts writes them). */
export const AUDIT_EVENT_ENTITY = "event";

/**
 * Which stream records are audit events: new items of that entity. One pattern, in Lambda's
 * event filter syntax, for the event source mapping in AWS (infra/stacks/stateless-stack.ts),
 * the local stream poller (local/stream-poller.ts) and the consumer itself
 * (lambdas/handlers/stream-consumer.ts), so none of them can select other records.
 */
export const AUDIT_EVENT_FILTER = {
  eventName: ["INSERT"],
  dynamodb: { NewImage: { entity: { S: [AUDIT_EVENT_ENTITY] } } },
} as const;

/** A filter pattern of the kind above: nested fields, each leaf a list of accepted values. */
export interface FilterPattern {
  readonly [field: string]: FilterPattern | readonly (string | number | boolean)[];
}

/** Whether `value` matches `pattern` the way Lambda's equality filters match. */
export function matchesFilter(pattern: FilterPattern, value: unknown): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = (value as Record<string, unknown> | null | undefined)?.[field];
    if (Array.isArray(expected)) return expected.includes(actual as never);
    return matchesFilter(expected as FilterPattern, actual);
  });
}

export function isAuditEventRecord(record: DynamoDBRecord): boolean {
  return matchesFilter(AUDIT_EVENT_FILTER, record);
}
