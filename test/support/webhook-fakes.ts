import { MAX_RUN_METRIC_KEYS } from "../../lambdas/contract/runs.js";
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import { appendBounded } from "../../lambdas/core/run-metrics.js";
import type {
  AutomationRecord,
  DeliveryRecord,
  Page,
  PageRequest,
  RunRecord,
  RunRef,
  VersionRecord,
  VersionRef,
} from "../../lambdas/core/model.js";
import type {
  ArtifactStore,
  AutomationStore,
  DeliveryKey,
  LineageStore,
  MetricBatch,
  MetricHistory,
  WebhookRequest,
  WebhookResponse,
  WebhookSender,
} from "../../lambdas/core/ports.js";
import type { DeliveryPolicy } from "../../lambdas/core/webhook-retry.js";

/**
 * In-memory stand-ins for the lineage, automation and webhook ports, keeping the adapters'
 * promises: conditional writes, leases, pages in key order with cursors bound to their list.
 */

const copy = <T>(value: T): T => structuredClone(value);

function page<T>(list: string, items: [string, T][], request: PageRequest, descending = false): Page<T> {
  const sorted = [...items].sort(([a], [b]) => (descending ? b.localeCompare(a) : a.localeCompare(b)));
  let after: string | undefined;
  if (request.cursor !== undefined) {
    const parsed = JSON.parse(Buffer.from(request.cursor, "base64url").toString("utf8")) as { list?: string; after?: string };
    if (parsed.list !== list || typeof parsed.after !== "string") throw new ValidationError("cursor is not valid for this list");
    after = parsed.after;
  }
  const remaining = after === undefined ? sorted : sorted.filter(([key]) => (descending ? key < after! : key > after!));
  const selected = remaining.slice(0, request.limit);
  const last = selected.at(-1);
  return {
    items: selected.map(([, item]) => copy(item)),
    nextCursor:
      remaining.length > selected.length && last ? Buffer.from(JSON.stringify({ list, after: last[0] })).toString("base64url") : undefined,
  };
}

const pad = (n: number) => String(n).padStart(10, "0");
const versionKey = (ref: VersionRef) => `${ref.project}#${ref.artifact}#${pad(ref.index)}`;
const runKey = (ref: RunRef) => `${ref.project}#${ref.id}`;

export class FakeLineageStore implements LineageStore {
  readonly runs = new Map<string, RunRecord>();
  readonly metricHistories = new Map<string, MetricHistory>();
  private readonly inputs = new Map<string, Map<string, VersionRef>>();
  private readonly outputs = new Map<string, Map<string, VersionRef>>();
  private readonly consumers = new Map<string, Map<string, RunRef>>();

  constructor(private readonly artifacts: ArtifactStore) {}

  async saveRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    const existing = this.runs.get(runKey(run));
    const saved: RunRecord = existing
      ? {
          ...existing,
          ...(run.name === undefined ? {} : { name: run.name }),
          ...(Object.keys(run.config).length > 0 ? { config: run.config } : {}),
        }
      : copy(run);
    this.runs.set(runKey(run), saved);
    return { created: !existing, run: copy(saved) };
  }

  async getRuns(refs: RunRef[]): Promise<RunRecord[]> {
    return refs.flatMap((ref) => {
      const run = this.runs.get(runKey(ref));
      return run ? [copy(run)] : [];
    });
  }

  async getVersions(refs: VersionRef[]): Promise<VersionRecord[]> {
    const found = await Promise.all(refs.map((ref) => this.artifacts.getVersion(ref.project, ref.artifact, ref.index)));
    return found.filter((v): v is VersionRecord => v !== undefined);
  }

  private ensureRun(run: RunRef, change: { actor: string; at: string }): void {
    if (!this.runs.has(runKey(run))) {
      this.runs.set(runKey(run), { ...run, config: {}, createdAt: change.at, createdBy: change.actor });
    }
  }

  async recordInput(run: RunRef, source: VersionRef, change: { actor: string; at: string }): Promise<void> {
    if (!(await this.artifacts.getVersion(source.project, source.artifact, source.index))) {
      throw new NotFoundError(`${source.project}/${source.artifact} has no version v${source.index}`);
    }
    this.ensureRun(run, change);
    edges(this.inputs, runKey(run)).set(versionKey(source), copy(source));
    edges(this.consumers, versionKey(source)).set(runKey(run), copy(run));
  }

  /** What a commit with `runId` writes: the fake artifact store calls it for each such commit. */
  recordOutput(run: RunRef, output: VersionRef, change = { actor: "test", at: "2025-01-01T00:00:00.000Z" }): void {
    this.ensureRun(run, change);
    edges(this.outputs, runKey(run)).set(versionKey(output), copy(output));
  }

  async recordMetrics(run: RunRef, batch: MetricBatch, change: { actor: string; at: string }): Promise<Record<string, number>> {
    this.ensureRun(run, change);
    const record = this.runs.get(runKey(run))!;
    const summary = { ...record.summary };
    const added = Object.keys(batch.last).filter((key) => !(key in summary)).length;
    if (Object.keys(summary).length + added > MAX_RUN_METRIC_KEYS) {
      throw new UnprocessableError(`run ${run.project}/${run.id} would hold more than ${MAX_RUN_METRIC_KEYS} metric keys`);
    }
    record.summary = { ...summary, ...batch.last };
    for (const [key, points] of batch.points) {
      const history = this.metricHistories.get(`${runKey(run)}#${key}`) ?? { count: 0, points: [] };
      this.metricHistories.set(`${runKey(run)}#${key}`, {
        count: history.count + points.length,
        points: appendBounded(history.points, points),
      });
    }
    return copy(record.summary);
  }

  async getMetricHistory(run: RunRef, key: string): Promise<MetricHistory | undefined> {
    const history = this.metricHistories.get(`${runKey(run)}#${key}`);
    return history && copy(history);
  }

  async listRunInputs(run: RunRef, request: PageRequest): Promise<Page<VersionRef>> {
    return page(`in:${runKey(run)}`, [...(this.inputs.get(runKey(run)) ?? [])], request);
  }

  async listRunOutputs(run: RunRef, request: PageRequest): Promise<Page<VersionRef>> {
    return page(`out:${runKey(run)}`, [...(this.outputs.get(runKey(run)) ?? [])], request);
  }

  async listVersionConsumers(version: VersionRef, request: PageRequest): Promise<Page<RunRef>> {
    return page(`used:${versionKey(version)}`, [...(this.consumers.get(versionKey(version)) ?? [])], request);
  }
}

function edges<T>(map: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map()));
  return inner;
}

const deliveryKey = (key: DeliveryKey) => `${key.registry}#${key.automationId}#${key.id}`;

export class FakeAutomationStore implements AutomationStore {
  readonly automations = new Map<string, AutomationRecord>();
  readonly deliveries = new Map<string, DeliveryRecord>();
  /** As the adapter's conditioned write: an automation belongs to a registry that exists. */
  registryExists?: (registry: string) => boolean;

  async createAutomation(automation: AutomationRecord): Promise<void> {
    const key = `${automation.registry}#${automation.id}`;
    if (this.automations.has(key)) throw new ConflictError(`automation ${automation.id} already exists`);
    if (this.registryExists && !this.registryExists(automation.registry)) {
      throw new NotFoundError(`registry ${automation.registry} does not exist`);
    }
    this.automations.set(key, copy(automation));
  }

  async getAutomation(registry: string, id: string): Promise<AutomationRecord | undefined> {
    const found = this.automations.get(`${registry}#${id}`);
    return found && copy(found);
  }

  async listAutomations(registry: string, request: PageRequest): Promise<Page<AutomationRecord>> {
    return page(
      `auto:${registry}`,
      [...this.automations].filter(([, a]) => a.registry === registry),
      request,
    );
  }

  async automationsOf(registry: string): Promise<AutomationRecord[]> {
    return [...this.automations.values()].filter((a) => a.registry === registry).map(copy);
  }

  async deleteAutomation(registry: string, id: string): Promise<boolean> {
    return this.automations.delete(`${registry}#${id}`);
  }

  async createDelivery(delivery: DeliveryRecord): Promise<boolean> {
    const key = deliveryKey({ registry: delivery.registry, automationId: delivery.automationId, id: delivery.id });
    if (this.deliveries.has(key)) return false;
    this.deliveries.set(key, copy(delivery));
    return true;
  }

  async getDelivery(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const found = this.deliveries.get(deliveryKey(key));
    return found && copy(found);
  }

  async listDeliveries(registry: string, automationId: string, request: PageRequest): Promise<Page<DeliveryRecord>> {
    const items = [...this.deliveries.values()]
      .filter((d) => d.registry === registry && d.automationId === automationId)
      .map((d) => [d.id, d] as [string, DeliveryRecord]);
    return page(`dlv:${registry}#${automationId}`, items, request, true);
  }

  async claimDelivery(key: DeliveryKey, now: string, leaseUntil: string): Promise<DeliveryRecord | undefined> {
    const found = this.deliveries.get(deliveryKey(key));
    if (!found || found.status !== "pending" || (found.nextAttemptAt ?? "") > now) return undefined;
    found.nextAttemptAt = leaseUntil;
    return copy(found);
  }

  async claimForReplay(key: DeliveryKey, _now: string, leaseUntil: string): Promise<DeliveryRecord | undefined> {
    const found = this.deliveries.get(deliveryKey(key));
    if (!found || found.status === "pending") return undefined;
    Object.assign(found, { status: "pending", nextAttemptAt: leaseUntil, maxAttempts: found.attemptCount + 1 });
    return copy(found);
  }

  async finishAttempt(delivery: DeliveryRecord, leaseUntil: string): Promise<boolean> {
    const key = deliveryKey({ registry: delivery.registry, automationId: delivery.automationId, id: delivery.id });
    const found = this.deliveries.get(key);
    if (!found || found.nextAttemptAt !== leaseUntil) return false;
    this.deliveries.set(key, copy({ ...delivery, ...(delivery.status === "pending" ? {} : { nextAttemptAt: undefined }) }));
    return true;
  }

  async dueDeliveries(now: string, limit: number): Promise<DeliveryKey[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.status === "pending" && d.nextAttemptAt !== undefined && d.nextAttemptAt <= now)
      .sort((a, b) => a.nextAttemptAt!.localeCompare(b.nextAttemptAt!))
      .slice(0, limit)
      .map((d) => ({ registry: d.registry, automationId: d.automationId, id: d.id }));
  }
}

/** Answers each request with the next scripted response (the last one repeats) and records the requests. */
export class FakeWebhookSender implements WebhookSender {
  readonly sent: WebhookRequest[] = [];
  responses: WebhookResponse[] = [{ statusCode: 200, latencyMs: 5 }];
  refuse: (url: string) => string | undefined = () => undefined;

  async checkTarget(url: string): Promise<void> {
    const refusal = this.refuse(url);
    if (refusal) throw new ValidationError(`url is not an allowed webhook target: ${refusal}`);
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    this.sent.push(copy(request));
    return copy(this.responses.length > 1 ? this.responses.shift()! : this.responses[0]!);
  }
}

export const TEST_DELIVERY_POLICY: DeliveryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 5000 };
