import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUDIT_EVENT_FILTER, isAuditEventRecord, matchesFilter } from "../../lambdas/adapters/dynamodb/audit-event-filter.js";
import { loadConfig } from "../../lambdas/config.js";
import { createAutomation } from "../../lambdas/core/automations.js";
import { auditEventOf, createStreamConsumer } from "../../lambdas/handlers/stream-consumer.js";
import { fakeDeps } from "../support/fakes.js";
import { captureStdout, testObservability } from "../support/observability.js";

/** The consumer over fake stores, logging at info as it does in Lambda. */
function consumer(observability = testObservability("info")) {
  const services = { ...fakeDeps(), config: loadConfig({ MREG_TABLE_NAME: "mreg", MREG_BUCKET: "mreg-blobs" }) };
  return { services, observability, handler: createStreamConsumer(services, observability) };
}

function record(eventName: "INSERT" | "MODIFY" | "REMOVE", item: Record<string, unknown>, id = "1"): DynamoDBRecord {
  return {
    eventID: id,
    eventName,
    dynamodb: { NewImage: marshall(item) as never, StreamViewType: "NEW_AND_OLD_IMAGES" },
  };
}

const auditItem = {
  PK: "HIST#COL#model#mnist",
  SK: "2026-11-23T12:00:00.000Z#e1",
  entity: "event",
  event: { action: "ALIAS_MOVED", actor: "alice", at: "2026-11-23T12:00:00.000Z", alias: "production", from: "v2", to: "v3" },
};

afterEach(() => vi.restoreAllMocks());

describe("stream consumer", () => {
  it("logs one structured line per new audit event, with its details", async () => {
    const { handler } = consumer();
    const stdout = captureStdout();
    const event: DynamoDBStreamEvent = { Records: [record("INSERT", auditItem, "stream-1")] };
    const answer = await handler(event);
    stdout.restore();
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(stdout.lines()).toHaveLength(1);
    expect(stdout.lines()[0]).toMatchObject({
      level: "INFO",
      message: "audit event",
      service: "mreg",
      streamEventId: "stream-1",
      subject: "HIST#COL#model#mnist",
      action: "ALIAS_MOVED",
      actor: "alice",
      at: "2026-11-23T12:00:00.000Z",
      details: { alias: "production", from: "v2", to: "v3" },
    });
  });

  it("ignores other items and changes that are not inserts", async () => {
    const { handler } = consumer();
    const stdout = captureStdout();
    await handler({
      Records: [
        record("INSERT", { PK: "ART#p#a", SK: "VER#0000000001", entity: "version", index: 1 }),
        record("MODIFY", auditItem),
        record("REMOVE", auditItem),
        { eventID: "4", eventName: "INSERT" },
      ],
    });
    stdout.restore();
    expect(stdout.text()).toBe("");
  });

  it("counts the webhook deliveries it attempts, by outcome", async () => {
    const { services, observability, handler } = consumer(testObservability("silent"));
    const access = {
      registry: {
        name: "model",
        visibility: "organization" as const,
        protectedAliases: [],
        createdAt: "2024-01-01T00:00:00.000Z",
        createdBy: "ana",
      },
      role: "admin" as const,
    };
    await services.registries.createRegistry(access.registry);
    for (const [name, url] of [
      ["ok", "https://ok.example/hook"],
      ["down", "https://down.example/hook"],
    ]) {
      await createAutomation(services, { userId: "ana", orgRole: "admin" }, access, {
        name: name!,
        event: "LINK_ARTIFACT",
        url: url!,
      } as never);
    }
    services.clock.advance(1000);
    services.webhooks.responses = [
      { statusCode: 200, latencyMs: 1 },
      { statusCode: 503, latencyMs: 1 },
    ];
    const linked = {
      PK: "HIST#COL#model#mnist",
      SK: `${services.clock.now().toISOString()}#01JEVENT000000000000000001`,
      entity: "event",
      event: {
        action: "link.created",
        actor: "bob",
        at: services.clock.now().toISOString(),
        registry: "model",
        collection: "mnist",
        version: "v0",
      },
    };
    expect(await handler({ Records: [record("INSERT", linked, "stream-2")] })).toEqual({ batchItemFailures: [] });
    expect(services.webhooks.sent).toHaveLength(2);
    expect(observability.metrics.calls).toEqual(
      expect.arrayContaining([
        ["webhookDeliveries", "delivered", 1],
        ["webhookDeliveries", "retry", 1],
      ]),
    );
    expect(observability.metrics.calls).toHaveLength(2);
    expect(observability.metrics.flushes).toBe(1);
  });

  describe("poison records", () => {
    const sequenced = (r: DynamoDBRecord, sequenceNumber: string): DynamoDBRecord => ({
      ...r,
      dynamodb: { ...r.dynamodb, SequenceNumber: sequenceNumber },
    });
    const linkEvent = (n: number) => ({
      PK: "HIST#COL#model#mnist",
      SK: `2026-11-23T12:00:0${n}.000Z#e${n}`,
      entity: "event",
      event: {
        action: "link.created",
        actor: "bob",
        at: `2026-11-23T12:00:0${n}.000Z`,
        registry: "model",
        collection: "mnist",
        version: `v${n}`,
      },
    });

    it("reports a record it cannot read as the batch's failure at that record, after finishing the ones before it", async () => {
      const { handler } = consumer();
      const unreadable: DynamoDBRecord = {
        eventID: "bad",
        eventName: "INSERT",
        dynamodb: {
          // An image the table could not have written: an attribute value of no known type.
          NewImage: { ...marshall(auditItem), event: { BOGUS: "x" } } as never,
          StreamViewType: "NEW_AND_OLD_IMAGES",
        },
      };
      const stdout = captureStdout();
      const answer = await handler({
        Records: [
          sequenced(record("INSERT", auditItem, "first"), "100"),
          sequenced(unreadable, "200"),
          sequenced(record("INSERT", auditItem, "third"), "300"),
        ],
      });
      stdout.restore();

      // Lambda retries from 200 (not from 100), and after its retries the mapping sends it to the failure queue.
      expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "200" }] });
      const lines = stdout.lines();
      expect(lines.filter((line) => line.message === "audit event").map((line) => line.streamEventId)).toEqual(["first"]);
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: "ERROR",
          message: "record not processed; the batch is retried from this record",
          streamEventId: "bad",
        }),
      );
    });

    it("reports the record whose deliveries cannot be written, and still sends those written before it", async () => {
      const { services, handler } = consumer(testObservability("silent"));
      const access = {
        registry: {
          name: "model",
          visibility: "organization" as const,
          protectedAliases: [],
          createdAt: "2024-01-01T00:00:00.000Z",
          createdBy: "ana",
        },
        role: "admin" as const,
      };
      await services.registries.createRegistry(access.registry);
      await createAutomation(services, { userId: "ana", orgRole: "admin" }, access, {
        name: "ok",
        event: "LINK_ARTIFACT",
        url: "https://ok.example/hook",
      } as never);
      services.webhooks.responses = [{ statusCode: 200, latencyMs: 1 }];
      const createDelivery = services.automations.createDelivery.bind(services.automations);
      let writes = 0;
      vi.spyOn(services.automations, "createDelivery").mockImplementation(async (...args) => {
        if (++writes === 2) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        return createDelivery(...args);
      });

      const answer = await handler({
        Records: [
          sequenced(record("INSERT", linkEvent(1), "e1"), "100"),
          sequenced(record("INSERT", linkEvent(2), "e2"), "200"),
          sequenced(record("INSERT", linkEvent(3), "e3"), "300"),
        ],
      });

      expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "200" }] });
      expect(services.webhooks.sent).toHaveLength(1);
    });
  });

  it("reads an audit event from a record the way the filter in infra selects it", () => {
    expect(auditEventOf(record("INSERT", auditItem))?.action).toBe("ALIAS_MOVED");
    expect(auditEventOf(record("INSERT", { ...auditItem, entity: "alias" }))).toBeUndefined();
  });

  it("selects with the filter pattern the event source mapping is given, as Lambda matches it", () => {
    const records = [
      record("INSERT", auditItem),
      record("INSERT", { ...auditItem, entity: "alias" }),
      record("MODIFY", auditItem),
      record("REMOVE", auditItem),
      { eventID: "4", eventName: "INSERT" } as DynamoDBRecord,
    ];
    expect(records.map(isAuditEventRecord)).toEqual([true, false, false, false, false]);
    expect(records.map((r) => matchesFilter(AUDIT_EVENT_FILTER, r))).toEqual(records.map((r) => auditEventOf(r) !== undefined));
    // A value of another type is not equal: "1" is not 1.
    expect(matchesFilter({ a: { b: [1] } }, { a: { b: "1" } })).toBe(false);
    expect(matchesFilter({ a: { b: [1, 2] } }, { a: { b: 2 } })).toBe(true);
  });
});
