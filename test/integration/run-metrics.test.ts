import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createDynamoClient } from "../../lambdas/composition.js";
import { LOCAL_TABLE } from "../../local/stack.js";
import { MAX_METRIC_POINTS, MAX_RUN_METRIC_KEYS } from "../../lambdas/contract/runs.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
});
afterAll(async () => {
  await s?.stop();
});

const RUN = "/v1/projects/vision/runs";

describe("run metrics on DynamoDB", () => {
  test("a batch sets the summary (on the run) and the history (per key); an unknown run is created", async () => {
    const logged = await s.api("POST", `${RUN}/fit-1/metrics`, {
      items: [
        { step: 0, values: { loss: 0.9, acc: 0.41 } },
        { step: 1, values: { loss: 0.5, acc: 0.72 } },
        { step: 2, values: { "val/loss": 0.6 } },
      ],
    });
    expect(logged.status, JSON.stringify(logged.body)).toBe(200);
    expect(logged.body).toEqual({ project: "vision", run: "fit-1", points: 5, summary: { loss: 0.5, acc: 0.72, "val/loss": 0.6 } });

    const again = await s.api("POST", `${RUN}/fit-1/metrics`, { items: [{ step: 3, values: { loss: 0.25 } }] });
    expect(again.body.summary).toEqual({ loss: 0.25, acc: 0.72, "val/loss": 0.6 });

    const run = await s.api("GET", `${RUN}/fit-1`);
    expect(run.body).toMatchObject({ id: "fit-1", createdBy: "admin", summary: { loss: 0.25, acc: 0.72, "val/loss": 0.6 } });
    const history = await s.api("GET", `${RUN}/fit-1/metrics?key=loss`);
    expect(history.body).toEqual({
      project: "vision",
      run: "fit-1",
      key: "loss",
      count: 3,
      points: [
        { step: 0, value: 0.9 },
        { step: 1, value: 0.5 },
        { step: 3, value: 0.25 },
      ],
    });
    const slashed = await s.api("GET", `${RUN}/fit-1/metrics?key=${encodeURIComponent("val/loss")}`);
    expect(slashed.body.points).toEqual([{ step: 2, value: 0.6 }]);
  });

  test("a run created with a name keeps it; metrics do not touch its config", async () => {
    await s.api("POST", RUN, { id: "named", name: "fit mnist", config: { lr: 0.01 } });
    await s.api("POST", `${RUN}/named/metrics`, { items: [{ values: { acc: 1 } }] });
    expect((await s.api("GET", `${RUN}/named`)).body).toMatchObject({ name: "fit mnist", config: { lr: 0.01 }, summary: { acc: 1 } });
    expect((await s.api("GET", `${RUN}/fresh`)).status).toBe(404);
    const created = await s.api("POST", RUN, { id: "fresh" });
    expect(created.body.summary).toEqual({});
  });

  test("history stays within its bound, thinned evenly, first and last kept; the count says how many were logged", async () => {
    const total = MAX_METRIC_POINTS + 500;
    for (let from = 0; from < total; from += 500) {
      const items = Array.from({ length: 500 }, (_, i) => ({ step: from + i, values: { loss: from + i } }));
      expect((await s.api("POST", `${RUN}/long/metrics`, { items })).status).toBe(200);
    }
    const history = await s.api("GET", `${RUN}/long/metrics?key=loss`);
    expect(history.body.count).toBe(total);
    expect(history.body.points.length).toBeLessThanOrEqual(MAX_METRIC_POINTS);
    expect(history.body.points.length).toBeGreaterThan(MAX_METRIC_POINTS / 2);
    expect(history.body.points[0]).toEqual({ step: 0, value: 0 });
    expect(history.body.points.at(-1)).toEqual({ step: total - 1, value: total - 1 });
    const steps = history.body.points.map((p: { step: number }) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect((await s.api("GET", `${RUN}/long`)).body.summary).toEqual({ loss: total - 1 });
  });

  test("concurrent batches lose no point", async () => {
    await Promise.all(
      Array.from({ length: 8 }, (_, writer) =>
        s.api("POST", `${RUN}/busy/metrics`, {
          items: Array.from({ length: 10 }, (_, i) => ({ step: writer * 10 + i, values: { x: writer } })),
        }),
      ),
    );
    const history = await s.api("GET", `${RUN}/busy/metrics?key=x`);
    expect(history.body.count).toBe(80);
    expect(history.body.points).toHaveLength(80);
  });

  test("the run's distinct keys are bounded by a condition on the write", async () => {
    await s.api("POST", RUN, { id: "wide" });
    // A summary at the bound, written straight to the table: logging 1000 keys through the API takes 1000 history writes.
    const full = Object.fromEntries(Array.from({ length: MAX_RUN_METRIC_KEYS }, (_, i) => [`m${i}`, i]));
    const table = DynamoDBDocumentClient.from(createDynamoClient(s.stack.config));
    await table.send(
      new UpdateCommand({
        TableName: LOCAL_TABLE,
        Key: { PK: "RUN#vision#wide", SK: "RUN" },
        UpdateExpression: "SET #summary = :full",
        ExpressionAttributeNames: { "#summary": "summary" },
        ExpressionAttributeValues: { ":full": full },
      }),
    );
    const refused = await s.api("POST", `${RUN}/wide/metrics`, { items: [{ values: { another: 1, m1: 2 } }] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain(String(MAX_RUN_METRIC_KEYS));
    const held = await s.api("POST", `${RUN}/wide/metrics`, { items: [{ values: { m0: 7, m999: 8 } }] });
    expect(held.status).toBe(200);
    expect(held.body.summary).toMatchObject({ m0: 7, m1: 1, m999: 8 });
    expect(Object.keys(held.body.summary)).toHaveLength(MAX_RUN_METRIC_KEYS);
  });

  test("bad requests are 400 with the field named", async () => {
    const cases: [unknown, string][] = [
      [{ items: [{ values: { loss: "x" } }] }, "items.0.values.loss"],
      [{ items: [] }, "items"],
      [{ items: [{ step: 1.5, values: { a: 1 } }] }, "items.0.step"],
      [{ values: { a: 1 } }, "items"],
    ];
    for (const [body, field] of cases) {
      const answer = await s.api("POST", `${RUN}/bad/metrics`, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error.message).toContain(field);
    }
    expect((await s.api("GET", `${RUN}/fit-1/metrics`)).status).toBe(400);
  });
});
