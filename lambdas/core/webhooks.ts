import { limiter } from "./concurrency.js";
import { createHash } from "node:crypto";
import type { AuditEvent, AutomationEvent, AutomationRecord, DeliveryAttempt, DeliveryRecord } from "./model.js";
import type { AliasPatterns, AutomationStore, Clock, DeliveryKey, RegistryStore, WebhookResponse, WebhookSender } from "./ports.js";
import { defaultPayload, renderTemplate, signatureOf, type PayloadContext } from "./webhook-payload.js";
import { outcomeOf, retryDelayMs, type DeliveryPolicy } from "./webhook-retry.js";

export interface WebhookDeps {
  registries: RegistryStore;
  automations: AutomationStore;
  webhooks: WebhookSender;
  clock: Clock;
  deliveryPolicy: DeliveryPolicy;
  aliasPatterns: AliasPatterns;
}

/** An audit event written to a collection's history, as the table's stream hands it over. */
export interface CollectionAuditEvent {
  /** Unique per event and time-ordered (the ULID of the event's sort key). */
  id: string;
  registry: string;
  collection: string;
  event: AuditEvent;
}

export interface Trigger {
  type: AutomationEvent;
  version: string;
  index: number;
  alias?: string;
  previousVersion?: string;
  aliases?: string[];
  /** For promotion events: the request and who asked and approved. */
  promotion?: { id: string; requestedBy?: string; approvals?: string[]; note?: string };
}

/** The audit actions of a promotion request that automations can fire on. */
const PROMOTION_TRIGGERS: Record<string, AutomationEvent> = {
  "promotion.requested": "PROMOTION_REQUESTED",
  "promotion.approved": "PROMOTION_APPROVED",
};

/** The most recent attempts a delivery keeps in its log. */
export const MAX_LOGGED_ATTEMPTS = 20;
/** How long past its timeout an attempt holds its lease before another worker may take over. */
const LEASE_MARGIN_MS = 30_000;
export const USER_AGENT = "mreg-webhooks/1";

/** The automation event a collection's audit event raises, if any. */
export function triggerOf(event: AuditEvent): Trigger | undefined {
  const indexOf = (label: unknown) => {
    const match = typeof label === "string" ? /^v(\d+)$/.exec(label) : null;
    return match ? Number(match[1]) : undefined;
  };
  if (event.action === "link.created") {
    const index = indexOf(event.version);
    if (index === undefined) return undefined;
    const aliases = Array.isArray(event.aliases) ? event.aliases.filter((a): a is string => typeof a === "string") : undefined;
    return { type: "LINK_ARTIFACT", version: event.version as string, index, aliases };
  }
  const promotion = PROMOTION_TRIGGERS[event.action];
  if (promotion !== undefined) {
    const index = indexOf(event.version);
    if (index === undefined || typeof event.alias !== "string" || typeof event.promotion !== "string") return undefined;
    const approvals = Array.isArray(event.approvals) ? event.approvals.filter((a): a is string => typeof a === "string") : undefined;
    return {
      type: promotion,
      version: event.version as string,
      index,
      alias: event.alias,
      previousVersion: typeof event.from === "string" ? event.from : undefined,
      promotion: {
        id: event.promotion,
        ...(event.action === "promotion.requested" ? { requestedBy: String(event.actor) } : {}),
        ...(approvals ? { approvals } : {}),
        ...(typeof event.note === "string" ? { note: event.note } : {}),
      },
    };
  }
  if (event.action === "alias.set" || event.action === "alias.moved") {
    const index = indexOf(event.to);
    if (index === undefined || typeof event.alias !== "string") return undefined;
    return {
      type: "ADD_ARTIFACT_ALIAS",
      version: event.to as string,
      index,
      alias: event.alias,
      previousVersion: typeof event.from === "string" ? event.from : undefined,
    };
  }
  return undefined;
}

/** The pattern must match the whole alias: `prod` does not fire for `preprod`. */
export function automationMatches(
  patterns: AliasPatterns,
  automation: AutomationRecord,
  event: CollectionAuditEvent,
  trigger: Trigger,
): boolean {
  if (automation.event !== trigger.type) return false;
  if (automation.collection !== undefined && automation.collection !== event.collection) return false;
  if (automation.aliasPattern !== undefined && (trigger.alias === undefined || !patterns.matches(automation.aliasPattern, trigger.alias))) {
    return false;
  }
  // Fires for changes made after the automation existed: a late or re-read stream record is no news to it.
  return String(event.event.at) >= automation.createdAt;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The same id for the same event and automation however often the stream hands the event
 * over: the event's ULID time (so ids sort by event time) and 80 bits of a hash of both ids.
 */
export function deliveryIdFor(eventId: string, automationId: string): string {
  const digest = createHash("sha256").update(`${eventId}/${automationId}`).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 10)) bits = (bits << 8n) | BigInt(byte);
  let random = "";
  for (let i = 0; i < 16; i++) {
    random = CROCKFORD[Number(bits & 31n)] + random;
    bits >>= 5n;
  }
  return `${eventId.slice(0, 10).toUpperCase()}${random}`;
}

/** A delivery this worker holds the lease on, with the automation it goes to. */
export interface LeasedDelivery {
  delivery: DeliveryRecord;
  automation: AutomationRecord;
  leaseUntil: string;
}

function leaseEnd(deps: WebhookDeps, from: Date): string {
  return new Date(from.getTime() + deps.deliveryPolicy.timeoutMs + LEASE_MARGIN_MS).toISOString();
}

/**
 * Writes one pending delivery per matching automation, at most once per event and
 * automation (conditional writes), and returns the ones this call wrote. They are written
 * leased to the caller, who attempts them at once; if it cannot, they fall due when the
 * lease ends and a sweep attempts them.
 */
export async function createDeliveries(
  deps: WebhookDeps,
  event: CollectionAuditEvent,
  automationsOf: (registry: string) => Promise<AutomationRecord[]> = (registry) => deps.automations.automationsOf(registry),
): Promise<LeasedDelivery[]> {
  const trigger = triggerOf(event.event);
  if (!trigger) return [];
  const matching = (await automationsOf(event.registry)).filter((a) => automationMatches(deps.aliasPatterns, a, event, trigger));
  if (matching.length === 0) return [];
  const link = await deps.registries.getLink(event.registry, event.collection, trigger.index);
  const created = deps.clock.now();
  const now = created.toISOString();
  const leaseUntil = leaseEnd(deps, created);
  const written: LeasedDelivery[] = [];
  for (const automation of matching) {
    const context: PayloadContext = {
      eventType: trigger.type,
      actor: String(event.event.actor),
      at: String(event.event.at),
      registry: event.registry,
      collection: event.collection,
      version: trigger.version,
      alias: trigger.alias,
      previousVersion: trigger.previousVersion,
      aliases: trigger.aliases,
      type: link?.type,
      source: link && {
        project: link.source.project,
        artifact: link.source.artifact,
        version: `v${link.source.index}`,
        digest: link.source.digest,
      },
      metadata: link?.metadata ?? {},
      automation: { id: automation.id, name: automation.name },
      ...(trigger.promotion ? { promotion: trigger.promotion } : {}),
    };
    const body = automation.payloadTemplate ? renderTemplate(automation.payloadTemplate, context) : defaultPayload(context);
    const error = isJson(body) ? undefined : "the payload template rendered invalid JSON (a metadata value used outside quotes?)";
    const delivery: DeliveryRecord = {
      id: deliveryIdFor(event.id, automation.id),
      registry: event.registry,
      automationId: automation.id,
      event: {
        type: trigger.type,
        collection: event.collection,
        version: trigger.version,
        ...(trigger.alias === undefined ? {} : { alias: trigger.alias }),
        actor: context.actor,
        at: context.at,
      },
      body,
      status: error ? "failed" : "pending",
      attemptCount: 0,
      maxAttempts: deps.deliveryPolicy.maxAttempts,
      attempts: [],
      ...(error ? { error } : { nextAttemptAt: leaseUntil }),
      createdAt: now,
      updatedAt: now,
    };
    if ((await deps.automations.createDelivery(delivery)) && delivery.status === "pending") {
      written.push({ delivery, automation, leaseUntil });
    }
  }
  return written;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Attempts a delivery once under a lease (so that the dispatcher, sweepers and replays
 * never send one delivery twice at the same time) and records the outcome: delivered,
 * pending with the time of the next attempt, or failed. Undefined when it was not ours
 * to attempt (not due, leased, or not in the state the caller expected).
 */
export async function attemptDelivery(
  deps: WebhookDeps,
  key: DeliveryKey,
  options: { replay?: boolean } = {},
): Promise<DeliveryRecord | undefined> {
  const started = deps.clock.now();
  const leaseUntil = leaseEnd(deps, started);
  const claimed = options.replay
    ? await deps.automations.claimForReplay(key, started.toISOString(), leaseUntil)
    : await deps.automations.claimDelivery(key, started.toISOString(), leaseUntil);
  if (!claimed) return undefined;
  const automation = await deps.automations.getAutomation(key.registry, key.automationId);
  if (!automation) {
    const abandoned: DeliveryRecord = {
      ...claimed,
      status: "failed",
      nextAttemptAt: undefined,
      error: "the automation was deleted",
      updatedAt: started.toISOString(),
    };
    await deps.automations.finishAttempt(abandoned, leaseUntil);
    return abandoned;
  }
  return sendLeased(deps, { delivery: claimed, automation, leaseUntil });
}

/** Sends a delivery this worker holds the lease on and records the attempt. */
export async function sendLeased(deps: WebhookDeps, leased: LeasedDelivery): Promise<DeliveryRecord> {
  const { deliveryPolicy: policy } = deps;
  const { delivery: claimed, automation, leaseUntil } = leased;
  const started = deps.clock.now();
  const timestamp = Math.floor(started.getTime() / 1000);
  const response = await deps.webhooks.send({
    url: automation.url,
    headers: deliveryHeaders(claimed, automation.secret, timestamp),
    body: claimed.body,
    timeoutMs: policy.timeoutMs,
  });
  const number = claimed.attemptCount + 1;
  const outcome = outcomeOf(response, number, claimed.maxAttempts);
  const finished = deps.clock.now();
  const attempt: DeliveryAttempt = {
    attempt: number,
    at: started.toISOString(),
    latencyMs: Math.round(response.latencyMs),
    ...(response.statusCode === undefined ? {} : { statusCode: response.statusCode }),
    ...(response.error ? { error: `${response.error.kind}: ${response.error.message}` } : {}),
    outcome,
  };
  const updated: DeliveryRecord = {
    ...claimed,
    status: outcome === "delivered" ? "delivered" : outcome === "retry" ? "pending" : "failed",
    attemptCount: number,
    attempts: [...claimed.attempts, attempt].slice(-MAX_LOGGED_ATTEMPTS),
    nextAttemptAt:
      outcome === "retry" ? new Date(finished.getTime() + retryDelayMs(policy, number, response.retryAfterMs)).toISOString() : undefined,
    error: outcome === "delivered" ? undefined : describeFailure(response),
    updatedAt: finished.toISOString(),
  };
  await deps.automations.finishAttempt(updated, leaseUntil);
  return updated;
}

/** The delivery headers the README documents; the signature only when the automation has a secret. */
export function deliveryHeaders(delivery: DeliveryRecord, secret: string | undefined, timestamp: number): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "x-mreg-delivery": delivery.id,
    "x-mreg-event": delivery.event.type,
    "x-mreg-timestamp": String(timestamp),
    ...(secret === undefined ? {} : { "x-mreg-signature": signatureOf(secret, timestamp, delivery.body) }),
  };
}

function describeFailure(response: WebhookResponse): string {
  if (response.error) return `${response.error.kind}: ${response.error.message}`;
  return `the receiver answered HTTP ${response.statusCode}`;
}

export interface AttemptReport {
  attempted: number;
  /** The attempted deliveries by the state each attempt left them in (pending: a retry is due later). */
  byStatus: Record<DeliveryRecord["status"], number>;
  /** Left for a later sweep because the caller's time was running out. */
  deferred: number;
  errors: unknown[];
}

const emptyReport = (): AttemptReport => ({ attempted: 0, byStatus: { pending: 0, delivered: 0, failed: 0 }, deferred: 0, errors: [] });

/**
 * Runs attempts side by side; stops starting new ones when an attempt could outlast
 * `deadline`. A failed or skipped one stays pending: its lease runs out and a sweep takes it.
 */
async function runAttempts(
  deps: WebhookDeps,
  attempts: (() => Promise<DeliveryRecord | undefined>)[],
  options: { concurrency?: number; deadline?: number },
): Promise<AttemptReport> {
  const limit = limiter(options.concurrency ?? 16);
  const report = emptyReport();
  await Promise.all(
    attempts.map((attempt) =>
      limit(async () => {
        if (options.deadline !== undefined && Date.now() + deps.deliveryPolicy.timeoutMs + 2000 > options.deadline) {
          report.deferred++;
          return;
        }
        try {
          const finished = await attempt();
          if (finished) {
            report.attempted++;
            report.byStatus[finished.status]++;
          }
        } catch (error) {
          report.errors.push(error);
        }
      }),
    ),
  );
  return report;
}

/** The dispatcher's first attempts, on the deliveries it has just written. */
export function sendLeasedDeliveries(
  deps: WebhookDeps,
  leased: LeasedDelivery[],
  options: { concurrency?: number; deadline?: number } = {},
): Promise<AttemptReport> {
  return runAttempts(
    deps,
    leased.map((one) => () => sendLeased(deps, one)),
    options,
  );
}

/** Attempts deliveries by key, each once it is claimed. */
export function attemptDeliveries(
  deps: WebhookDeps,
  keys: DeliveryKey[],
  options: { concurrency?: number; deadline?: number } = {},
): Promise<AttemptReport> {
  return runAttempts(
    deps,
    keys.map((key) => () => attemptDelivery(deps, key)),
    options,
  );
}

/** Attempts the pending deliveries that are due, page by page, until none is left or time runs out. */
export async function sweepDueDeliveries(
  deps: WebhookDeps,
  options: { pageSize?: number; concurrency?: number; deadline?: number } = {},
): Promise<AttemptReport> {
  const pageSize = options.pageSize ?? 50;
  const total = emptyReport();
  // Bounded: the due index is eventually consistent, so a finished delivery may show once more.
  for (let round = 0; round < 20; round++) {
    if (options.deadline !== undefined && Date.now() + deps.deliveryPolicy.timeoutMs + 2000 > options.deadline) break;
    const due = await deps.automations.dueDeliveries(deps.clock.now().toISOString(), pageSize);
    const report = await attemptDeliveries(deps, due, options);
    total.attempted += report.attempted;
    for (const status of ["pending", "delivered", "failed"] as const) total.byStatus[status] += report.byStatus[status];
    total.deferred += report.deferred;
    total.errors.push(...report.errors);
    if (due.length < pageSize || report.attempted === 0) break;
  }
  return total;
}
