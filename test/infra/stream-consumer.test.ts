import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditEventOf, handler } from "../../lambdas/handlers/stream-consumer.js";

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
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const event: DynamoDBStreamEvent = { Records: [record("INSERT", auditItem, "stream-1")] };
    await expect(handler(event)).resolves.toEqual({ batchItemFailures: [] });
    expect(log).toHaveBeenCalledTimes(1);
    expect(JSON.parse(log.mock.calls[0]![0] as string)).toEqual({
      level: "info",
      message: "audit event",
      streamEventId: "stream-1",
      subject: "HIST#COL#model#mnist",
      action: "ALIAS_MOVED",
      actor: "alice",
      at: "2026-11-23T12:00:00.000Z",
      details: { alias: "production", from: "v2", to: "v3" },
    });
  });

  it("ignores other items and changes that are not inserts", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    await handler({
      Records: [
        record("INSERT", { PK: "ART#p#a", SK: "VER#0000000001", entity: "version", index: 1 }),
        record("MODIFY", auditItem),
        record("REMOVE", auditItem),
        { eventID: "4", eventName: "INSERT" },
      ],
    });
    expect(log).not.toHaveBeenCalled();
  });

  it("reads an audit event from a record the way the filter in infra selects it", () => {
    expect(auditEventOf(record("INSERT", auditItem))?.action).toBe("ALIAS_MOVED");
    expect(auditEventOf(record("INSERT", { ...auditItem, entity: "alias" }))).toBeUndefined();
  });
});
