import { MAX_METRIC_POINTS, type LogMetricsRequest, type LogMetricsResponse, type MetricHistoryResponse } from "../contract/runs.js";
import { NotFoundError } from "./errors.js";
import type { MetricPoint, Principal, RunRef } from "./model.js";
import type { Clock, LineageStore } from "./ports.js";

export interface RunMetricsDeps {
  lineage: LineageStore;
  clock: Clock;
}

/**
 * Records a batch of `run.log` calls: each key's last value becomes the run's summary, and
 * every point joins the key's bounded history. The run is created when unknown, as a commit
 * naming it would.
 */
export async function logRunMetrics(
  deps: RunMetricsDeps,
  principal: Principal,
  run: RunRef,
  request: LogMetricsRequest,
): Promise<LogMetricsResponse> {
  const last: Record<string, number> = {};
  const points = new Map<string, MetricPoint[]>();
  let count = 0;
  for (const item of request.items) {
    for (const [key, value] of Object.entries(item.values)) {
      last[key] = value;
      let series = points.get(key);
      if (!series) points.set(key, (series = []));
      series.push({ step: item.step ?? null, value });
      count++;
    }
  }
  const summary =
    count === 0
      ? ((await deps.lineage.getRuns([run]))[0]?.summary ?? {})
      : await deps.lineage.recordMetrics(run, { last, points }, { actor: principal.userId, at: deps.clock.now().toISOString() });
  return { project: run.project, run: run.id, points: count, summary };
}

export async function getRunMetricHistory(deps: RunMetricsDeps, run: RunRef, key: string): Promise<MetricHistoryResponse> {
  const [[found], history] = await Promise.all([deps.lineage.getRuns([run]), deps.lineage.getMetricHistory(run, key)]);
  if (!found) throw new NotFoundError(`project ${run.project} has no run ${run.id}`);
  return { project: run.project, run: run.id, key, count: history?.count ?? 0, points: history?.points ?? [] };
}

/**
 * Appends `added` to a key's history and keeps it within `bound` points: while it is too
 * long, every second point is dropped (the first and the last always stay), so the history
 * keeps spanning the whole run at a lower resolution, recent points denser than old ones.
 */
export function appendBounded(kept: MetricPoint[], added: MetricPoint[], bound = MAX_METRIC_POINTS): MetricPoint[] {
  let points = [...kept, ...added];
  while (points.length > Math.max(2, bound)) {
    const last = points.length - 1;
    points = points.filter((_, i) => i % 2 === 0 || i === last);
  }
  return points;
}
