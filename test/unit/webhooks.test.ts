import { createHmac } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { createAutomation, replayDelivery } from "../../lambdas/core/automations.js";
import type { RegistryAccess } from "../../lambdas/core/authorize.js";
import { ConflictError, ValidationError } from "../../lambdas/core/errors.js";
import type { AuditEvent, Principal } from "../../lambdas/core/model.js";
import {
  createDeliveries,
  deliveryIdFor,
  sendLeasedDeliveries,
  sweepDueDeliveries,
  triggerOf,
  type CollectionAuditEvent,
} from "../../lambdas/core/webhooks.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

const admin: Principal = { userId: "ana", orgRole: "admin" };
const access: RegistryAccess = {
  registry: { name: "model", visibility: "organization", protectedAliases: [], createdAt: "2024-01-01T00:00:00.000Z", createdBy: "ana" },
  role: "admin",
};
const SECRET = "0123456789abcdef-secret";

let deps: FakeDeps;

beforeEach(async () => {
  deps = fakeDeps();
  await deps.registries.createRegistry(access.registry);
  await deps.artifacts.add({
    project: "vision",
    artifact: "mnist",
    type: "model",
    digest: "d".repeat(64),
    metadata: { accuracy: 0.9 },
    size: 1,
    fileCount: 1,
    blobs: [],
    aliases: [],
    actor: "ana",
    at: "2024-06-01T00:00:00.000Z",
  });
  await deps.registries.link({
    registry: "model",
    collection: "mnist-classifier",
    source: { project: "vision", artifact: "mnist", index: 0, digest: "d".repeat(64) },
    sourceRevision: 0,
    type: "model",
    metadata: { accuracy: 0.9 },
    size: 1,
    fileCount: 1,
    newCollection: { tags: [] },
    aliases: [],
    actor: "ana",
    at: "2024-06-01T00:00:00.000Z",
  });
});

let eventCount = 0;
function collectionEvent(event: Partial<AuditEvent> & { action: string }, collection = "mnist-classifier"): CollectionAuditEvent {
  eventCount++;
  return {
    id: `01JEVENT${String(eventCount).padStart(18, "0")}`,
    registry: "model",
    collection,
    event: { actor: "bob", at: deps.clock.now().toISOString(), registry: "model", collection, ...event } as AuditEvent,
  };
}

const linkEvent = () => collectionEvent({ action: "link.created", version: "v0", aliases: ["latest"] });
const aliasEvent = (alias: string, from?: string) =>
  collectionEvent({ action: from ? "alias.moved" : "alias.set", alias, to: "v0", ...(from ? { from } : {}) });

async function addAutomation(extra: Record<string, unknown> = {}) {
  return createAutomation(deps, admin, access, {
    name: "hook",
    event: "LINK_ARTIFACT",
    url: "https://hooks.example.com/mreg",
    secret: SECRET,
    ...extra,
  } as never);
}

async function dispatch(event: CollectionAuditEvent) {
  const leased = await createDeliveries(deps, event);
  await sendLeasedDeliveries(deps, leased);
  return leased;
}

describe("triggerOf", () => {
  it("maps link.created to LINK_ARTIFACT and alias.set/alias.moved to ADD_ARTIFACT_ALIAS; nothing else fires", () => {
    expect(triggerOf({ action: "link.created", actor: "a", at: "t", version: "v3", aliases: ["latest", "best"] })).toEqual({
      type: "LINK_ARTIFACT",
      version: "v3",
      index: 3,
      aliases: ["latest", "best"],
    });
    expect(triggerOf({ action: "alias.moved", actor: "a", at: "t", alias: "production", from: "v2", to: "v3" })).toEqual({
      type: "ADD_ARTIFACT_ALIAS",
      version: "v3",
      index: 3,
      alias: "production",
      previousVersion: "v2",
    });
    for (const action of ["alias.removed", "link.removed", "tag.added", "collection.created", "version.created"]) {
      expect(triggerOf({ action, actor: "a", at: "t", version: "v1", alias: "x", to: "v1" })).toBeUndefined();
    }
  });
});

describe("deliveryIdFor", () => {
  it("is the same for the same event and automation, different otherwise, and sorts by event time", () => {
    const id = deliveryIdFor("01JABCDEFGHJKMNPQRSTVWXYZ0", "auto-1");
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(id).toBe(deliveryIdFor("01JABCDEFGHJKMNPQRSTVWXYZ0", "auto-1"));
    expect(id).not.toBe(deliveryIdFor("01JABCDEFGHJKMNPQRSTVWXYZ0", "auto-2"));
    expect(id.slice(0, 10)).toBe("01JABCDEFG");
    expect(deliveryIdFor("01JB000000000000000000000", "auto-1") > id).toBe(true);
  });
});

describe("createAutomation", () => {
  it("keeps the secret, returns only that there is one, and checks the target", async () => {
    const created = await addAutomation();
    expect(created).toMatchObject({ hasSecret: true, url: "https://hooks.example.com/mreg" });
    expect(JSON.stringify(created)).not.toContain(SECRET);
    deps.webhooks.refuse = (url) => (url.includes("internal") ? "10.0.0.1 is a private address" : undefined);
    await expect(addAutomation({ url: "https://internal.example.com/" })).rejects.toThrow(/private address/);
  });

  it("refuses an alias pattern on link automations, invalid patterns or ones that need backtracking, and bad templates", async () => {
    await expect(addAutomation({ aliasPattern: "prod" })).rejects.toThrow(/ADD_ARTIFACT_ALIAS/);
    await expect(addAutomation({ event: "ADD_ARTIFACT_ALIAS", aliasPattern: "prod(" })).rejects.toThrow(
      /not a valid RE2 regular expression/,
    );
    for (const needsBacktracking of ["(a)\\1", "(?=prod)\\w+", "(?!dev)\\w+", "(?<=x)y", "(?<!x)y"]) {
      await expect(addAutomation({ event: "ADD_ARTIFACT_ALIAS", aliasPattern: needsBacktracking }), needsBacktracking).rejects.toThrow(
        ValidationError,
      );
    }
    // Wrapped in ^(?:…)$ a pattern could once close the group and match more than whole aliases.
    await expect(addAutomation({ event: "ADD_ARTIFACT_ALIAS", aliasPattern: "x)|(.*" })).rejects.toThrow(ValidationError);
    await expect(addAutomation({ payloadTemplate: '{"x": "${nope}"}' })).rejects.toThrow(ValidationError);
    expect((await addAutomation({ payloadTemplate: { text: "${event_author}" } })).payloadTemplate).toBe('{"text":"${event_author}"}');
  });
});

describe("dispatch", () => {
  it("sends one signed delivery for a link and records it delivered", async () => {
    const automation = await addAutomation();
    deps.clock.advance(1000);
    const [leased] = await dispatch(linkEvent());
    expect(deps.webhooks.sent).toHaveLength(1);
    const [request] = deps.webhooks.sent;
    const timestamp = Number(request!.headers["x-mreg-timestamp"]);
    expect(timestamp).toBe(Math.floor(deps.clock.now().getTime() / 1000));
    expect(request!.headers["x-mreg-signature"]).toBe(
      `sha256=${createHmac("sha256", SECRET).update(`${timestamp}.${request!.body}`).digest("hex")}`,
    );
    expect(request!.headers["x-mreg-delivery"]).toBe(leased!.delivery.id);
    expect(JSON.parse(request!.body)).toMatchObject({
      event_type: "LINK_ARTIFACT",
      metadata: { accuracy: 0.9 },
      automation: { id: automation.id },
    });
    const stored = await deps.automations.getDelivery({ registry: "model", automationId: automation.id, id: leased!.delivery.id });
    expect(stored).toMatchObject({
      status: "delivered",
      attemptCount: 1,
      attempts: [{ attempt: 1, statusCode: 200, outcome: "delivered" }],
    });
    expect(stored!.nextAttemptAt).toBeUndefined();
  });

  it("writes nothing and sends nothing when the stream hands the same event over again", async () => {
    await addAutomation();
    deps.clock.advance(1000);
    const event = linkEvent();
    expect(await dispatch(event)).toHaveLength(1);
    expect(await dispatch(event)).toHaveLength(0);
    expect(deps.webhooks.sent).toHaveLength(1);
    expect(deps.automations.deliveries.size).toBe(1);
  });

  it("fires only automations of the event's type, collection and alias pattern (whole alias), created before the event", async () => {
    await addAutomation({ name: "other-collection", collection: "elsewhere" });
    await addAutomation({ name: "prod-only", event: "ADD_ARTIFACT_ALIAS", aliasPattern: "prod|production" });
    await addAutomation({ name: "links", collection: "mnist-classifier" });
    deps.clock.advance(1000);
    await dispatch(aliasEvent("preprod"));
    await dispatch(aliasEvent("production", "v1"));
    await dispatch(linkEvent());
    // An event from before the automation existed (a late or re-read record).
    await dispatch({ ...linkEvent(), event: { action: "link.created", actor: "bob", at: "2000-01-01T00:00:00.000Z", version: "v0" } });
    const bodies = deps.webhooks.sent.map(
      (r) =>
        JSON.parse(r.body) as { event_type: string; alias: string | null; previous_version: string | null; automation: { name: string } },
    );
    expect(bodies.map((b) => [b.automation.name, b.event_type, b.alias, b.previous_version])).toEqual([
      ["prod-only", "ADD_ARTIFACT_ALIAS", "production", "v1"],
      ["links", "LINK_ARTIFACT", null, null],
    ]);
  });

  it("matches patterns that backtracking engines take exponential time on, over long alias sets, by whole alias", async () => {
    await addAutomation({ name: "a-or-a", event: "ADD_ARTIFACT_ALIAS", aliasPattern: "(a|a)+" });
    await addAutomation({ name: "nested", event: "ADD_ARTIFACT_ALIAS", aliasPattern: "(a+)+b" });
    await addAutomation({ name: "stars", event: "ADD_ARTIFACT_ALIAS", aliasPattern: "(x*)*y" });
    deps.clock.advance(1000);
    const aliases = [
      ...Array.from({ length: 40 }, (_, i) => `${"a".repeat(60 + i)}c`),
      "a".repeat(127),
      `${"a".repeat(126)}b`,
      `${"x".repeat(100)}z`,
    ];
    for (const alias of aliases) await dispatch(aliasEvent(alias));
    const fired = deps.webhooks.sent.map((r) => JSON.parse(r.body) as { alias: string; automation: { name: string } });
    expect(fired.map((b) => [b.automation.name, b.alias.length])).toEqual([
      ["a-or-a", 127],
      ["nested", 127],
    ]);
  });

  it("keeps the patterns people write working: alternatives, optional groups, classes, anchors, inline flags", async () => {
    const cases: [string, string[], string[]][] = [
      ["prod(uction)?", ["prod", "production"], ["preprod", "prod-1"]],
      ["release-\\d+\\.\\d+", ["release-1.2"], ["release-1", "release-1.2.3"]],
      ["^(staging|canary)$", ["staging", "canary"], ["stagingx"]],
      ["[a-z]+-v[0-9]{1,3}", ["best-v12"], ["best-v1234"]],
      ["(?i)PROD", ["prod", "PROD"], ["prods"]],
      ["(?<name>champion)", ["champion"], ["champions"]],
    ];
    for (const [pattern, yes, no] of cases) {
      for (const alias of yes) expect(deps.aliasPatterns.matches(pattern, alias), `${pattern} ${alias}`).toBe(true);
      for (const alias of no) expect(deps.aliasPatterns.matches(pattern, alias), `${pattern} ${alias}`).toBe(false);
      expect(deps.aliasPatterns.problem(pattern)).toBeUndefined();
    }
  });

  it("fires nothing for a stored pattern that RE2 refuses (one saved before patterns were checked)", async () => {
    const automation = await addAutomation({ name: "old", event: "ADD_ARTIFACT_ALIAS", aliasPattern: "prod" });
    deps.automations.automations.set(`${automation.registry}#${automation.id}`, {
      ...(await deps.automations.automationsOf("model"))[0]!,
      aliasPattern: "(?=prod)prod",
    });
    deps.clock.advance(1000);
    await dispatch(aliasEvent("prod"));
    expect(deps.webhooks.sent).toHaveLength(0);
  });

  it("retries a 5xx after the backoff, through the sweep, and gives up after the last attempt", async () => {
    const automation = await addAutomation();
    deps.clock.advance(1000);
    deps.webhooks.responses = [{ statusCode: 500, latencyMs: 3 }];
    const [leased] = await dispatch(linkEvent());
    const key = { registry: "model", automationId: automation.id, id: leased!.delivery.id };
    let delivery = (await deps.automations.getDelivery(key))!;
    expect(delivery).toMatchObject({ status: "pending", attemptCount: 1 });
    const firstRetry = Date.parse(delivery.nextAttemptAt!) - deps.clock.now().getTime();
    expect(firstRetry).toBeGreaterThanOrEqual(1000);
    expect(firstRetry).toBeLessThanOrEqual(1200);

    // Not due yet: the sweep leaves it alone.
    expect((await sweepDueDeliveries(deps)).attempted).toBe(0);
    deps.clock.advance(firstRetry);
    const retried = await sweepDueDeliveries(deps);
    expect(retried).toMatchObject({ attempted: 1, byStatus: { pending: 1, delivered: 0, failed: 0 } });
    delivery = (await deps.automations.getDelivery(key))!;
    expect(delivery).toMatchObject({ status: "pending", attemptCount: 2 });
    expect(Date.parse(delivery.nextAttemptAt!) - deps.clock.now().getTime()).toBeGreaterThanOrEqual(2000);

    deps.clock.advance(3000);
    expect((await sweepDueDeliveries(deps)).byStatus).toEqual({ pending: 0, delivered: 0, failed: 1 });
    delivery = (await deps.automations.getDelivery(key))!;
    expect(delivery.status).toBe("failed");
    expect(delivery.attempts.map((a) => a.outcome)).toEqual(["retry", "retry", "failed"]);
    expect(delivery.error).toBe("the receiver answered HTTP 500");
    deps.clock.advance(3_600_000);
    expect((await sweepDueDeliveries(deps)).attempted).toBe(0);
    expect(deps.webhooks.sent).toHaveLength(3);
  });

  it("does not retry an answer that retrying cannot change", async () => {
    await addAutomation();
    deps.clock.advance(1000);
    deps.webhooks.responses = [{ statusCode: 410, latencyMs: 3 }];
    const [leased] = await dispatch(linkEvent());
    expect(deps.automations.deliveries.get(`model#${leased!.automation.id}#${leased!.delivery.id}`)).toMatchObject({
      status: "failed",
      attemptCount: 1,
    });
  });

  it("lets one worker at a time attempt a delivery: a second claim waits for the lease", async () => {
    await addAutomation();
    deps.clock.advance(1000);
    const [leased] = await createDeliveries(deps, linkEvent());
    // Written leased to the dispatcher: a sweep now does not take it.
    expect((await sweepDueDeliveries(deps)).attempted).toBe(0);
    // If the dispatcher dies, the lease runs out and a sweep attempts it.
    deps.clock.advance(deps.deliveryPolicy.timeoutMs + 30_001);
    expect((await sweepDueDeliveries(deps)).attempted).toBe(1);
    expect(deps.webhooks.sent).toHaveLength(1);
    expect(deps.webhooks.sent[0]!.headers["x-mreg-delivery"]).toBe(leased!.delivery.id);
  });

  it("replays a finished delivery once, with the same id and body and a fresh signature; a pending one is a 409", async () => {
    const automation = await addAutomation();
    deps.clock.advance(1000);
    deps.webhooks.responses = [{ error: { kind: "network", message: "ECONNREFUSED" }, latencyMs: 1 }];
    const [leased] = await dispatch(linkEvent());
    await expect(replayDelivery(deps, access, automation.id, leased!.delivery.id)).rejects.toThrow(ConflictError);
    for (let i = 0; i < 5; i++) {
      deps.clock.advance(10_000);
      await sweepDueDeliveries(deps);
    }
    expect((await deps.automations.getDelivery({ registry: "model", automationId: automation.id, id: leased!.delivery.id }))!.status).toBe(
      "failed",
    );

    deps.webhooks.responses = [{ statusCode: 200, latencyMs: 1 }];
    deps.clock.advance(60_000);
    const replayed = await replayDelivery(deps, access, automation.id, leased!.delivery.id);
    expect(replayed).toMatchObject({ status: "delivered", attemptCount: 4, nextAttemptAt: null, error: null });
    const [first, , , last] = deps.webhooks.sent;
    expect(last!.body).toBe(first!.body);
    expect(last!.headers["x-mreg-delivery"]).toBe(first!.headers["x-mreg-delivery"]);
    expect(last!.headers["x-mreg-timestamp"]).not.toBe(first!.headers["x-mreg-timestamp"]);

    // A replay that fails is one attempt, not a new series of retries.
    deps.webhooks.responses = [{ statusCode: 503, latencyMs: 1 }];
    expect(await replayDelivery(deps, access, automation.id, leased!.delivery.id)).toMatchObject({ status: "failed", attemptCount: 5 });
  });

  it("gives up the pending deliveries of a deleted automation at their next attempt", async () => {
    const automation = await addAutomation();
    deps.clock.advance(1000);
    deps.webhooks.responses = [{ statusCode: 500, latencyMs: 1 }];
    const [leased] = await dispatch(linkEvent());
    await deps.automations.deleteAutomation("model", automation.id);
    deps.clock.advance(5000);
    await sweepDueDeliveries(deps);
    expect(deps.webhooks.sent).toHaveLength(1);
    expect(deps.automations.deliveries.get(`model#${automation.id}#${leased!.delivery.id}`)).toMatchObject({
      status: "failed",
      error: "the automation was deleted",
    });
  });

  it("records a template that renders invalid JSON as a failed delivery instead of sending it", async () => {
    await addAutomation({ payloadTemplate: '{"acc": ${artifact_metadata.label}}' });
    deps.clock.advance(1000);
    // The link's metadata has no `label`: it renders empty, outside quotes.
    expect(await dispatch(linkEvent())).toHaveLength(0);
    expect(deps.webhooks.sent).toHaveLength(0);
    const [failed] = deps.automations.deliveries.values();
    expect(failed).toMatchObject({ status: "failed", attemptCount: 0, error: expect.stringContaining("invalid JSON") });
  });
});
