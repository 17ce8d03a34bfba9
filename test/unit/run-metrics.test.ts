import { beforeEach, describe, expect, it } from "vitest";
import { logMetricsRequest, MAX_METRIC_POINTS, MAX_RUN_METRIC_KEYS } from "../../lambdas/contract/runs.js";
import { NotFoundError, UnprocessableError } from "../../lambdas/core/errors.js";
import { getRun } from "../../lambdas/core/lineage.js";
import type { MetricPoint, Principal } from "../../lambdas/core/model.js";
import { appendBounded, getRunMetricHistory, logRunMetrics } from "../../lambdas/core/run-metrics.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

const ana: Principal = { userId: "ana", orgRole: "member" };
const run = { project: "p", id: "r1" };
let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

const points = (n: number, from = 0): MetricPoint[] => Array.from({ length: n }, (_, i) => ({ step: from + i, value: from + i }));

describe("logRunMetrics", () => {
  it("keeps each key's last value as the summary and every point as history; creates the run", async () => {
    const answer = await logRunMetrics(deps, ana, run, {
      items: [{ step: 0, values: { loss: 0.9, acc: 0.5 } }, { step: 1, values: { loss: 0.4 } }, { values: { "val/acc": 0.7 } }],
    });
    expect(answer).toEqual({ project: "p", run: "r1", points: 4, summary: { loss: 0.4, acc: 0.5, "val/acc": 0.7 } });
    expect((await getRun(deps, run)).summary).toEqual({ loss: 0.4, acc: 0.5, "val/acc": 0.7 });
    expect(await getRunMetricHistory(deps, run, "loss")).toEqual({
      project: "p",
      run: "r1",
      key: "loss",
      count: 2,
      points: [
        { step: 0, value: 0.9 },
        { step: 1, value: 0.4 },
      ],
    });
    expect((await getRunMetricHistory(deps, run, "val/acc")).points).toEqual([{ step: null, value: 0.7 }]);
  });

  it("a later batch overwrites the summary's keys it names and appends to their history", async () => {
    await logRunMetrics(deps, ana, run, { items: [{ step: 0, values: { loss: 1, acc: 0.1 } }] });
    const second = await logRunMetrics(deps, ana, run, { items: [{ step: 1, values: { loss: 0.5 } }] });
    expect(second.summary).toEqual({ loss: 0.5, acc: 0.1 });
    expect((await getRunMetricHistory(deps, run, "loss")).count).toBe(2);
  });

  it("answers an empty history for a key never logged, and 404 for an unknown run", async () => {
    await logRunMetrics(deps, ana, run, { items: [{ values: { loss: 1 } }] });
    expect(await getRunMetricHistory(deps, run, "acc")).toMatchObject({ count: 0, points: [] });
    await expect(getRunMetricHistory(deps, { project: "p", id: "nope" }, "acc")).rejects.toThrow(NotFoundError);
  });

  it("refuses keys past the run's bound, but still takes keys it holds", async () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    for (let batch = 0; batch < MAX_RUN_METRIC_KEYS / 100; batch++) {
      const values = Object.fromEntries(Object.entries(many).map(([k, v]) => [`${k}-${batch}`, v]));
      await logRunMetrics(deps, ana, run, { items: [{ values }] });
    }
    await expect(logRunMetrics(deps, ana, run, { items: [{ values: { extra: 1 } }] })).rejects.toThrow(UnprocessableError);
    const kept = await logRunMetrics(deps, ana, run, { items: [{ values: { "k0-0": 42 } }] });
    expect(kept.summary["k0-0"]).toBe(42);
  });
});

describe("appendBounded", () => {
  it("appends while within the bound", () => {
    expect(appendBounded(points(3), points(2, 3), 10)).toEqual(points(5));
  });

  it("past the bound drops every second point, keeping the first and the last", () => {
    const thinned = appendBounded(points(MAX_METRIC_POINTS), points(1, MAX_METRIC_POINTS));
    expect(thinned.length).toBeLessThanOrEqual(MAX_METRIC_POINTS);
    expect(thinned[0]).toEqual({ step: 0, value: 0 });
    expect(thinned.at(-1)).toEqual({ step: MAX_METRIC_POINTS, value: MAX_METRIC_POINTS });
    expect(thinned[1]).toEqual({ step: 2, value: 2 });
  });

  it("keeps a huge batch within the bound, spanning all of it", () => {
    const thinned = appendBounded([], points(10_000));
    expect(thinned.length).toBeLessThanOrEqual(MAX_METRIC_POINTS);
    expect(thinned.length).toBeGreaterThan(MAX_METRIC_POINTS / 2);
    expect(thinned.at(-1)?.step).toBe(9_999);
  });
});

describe("logMetricsRequest", () => {
  it("takes numbers under well-formed keys, at most 100 distinct keys a request", () => {
    expect(logMetricsRequest.safeParse({ items: [{ step: 3, values: { "train/loss": 0.1, epoch: 2 } }] }).success).toBe(true);
    expect(logMetricsRequest.safeParse({ items: [{ values: { loss: "high" } }] }).success).toBe(false);
    expect(logMetricsRequest.safeParse({ items: [{ values: { "/abs": 1 } }] }).success).toBe(false);
    expect(logMetricsRequest.safeParse({ items: [{ step: -1, values: { a: 1 } }] }).success).toBe(false);
    expect(logMetricsRequest.safeParse({ items: [] }).success).toBe(false);
    const wide = { items: [{ values: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])) }] };
    expect(logMetricsRequest.safeParse(wide).success).toBe(false);
  });
});
