import * as z from "zod";
import { label, metadata, name } from "./common.js";
import { RESERVED_KEY, recordKeepingKeys, userNumber } from "./user-json.js";

export const MAX_LINEAGE_DEPTH = 10;
export const MAX_LINEAGE_NODES = 1000;

export const createRunRequest = z.strictObject({
  /** Chosen by the caller (a CI job id, say) or generated. */
  id: name.optional(),
  name: label(256).optional(),
  config: metadata.optional(),
});
export type CreateRunRequest = z.infer<typeof createRunRequest>;

export const runInputRequest = z.strictObject({
  /** The artifact's project; the run's own when absent. */
  project: name.optional(),
  artifact: name,
  version: z.union([z.string().min(1).max(140), z.int().min(0)]),
});
export type RunInputRequest = z.infer<typeof runInputRequest>;

export const lineageQuery = z.object({
  depth: z.coerce.number().int().min(1).max(MAX_LINEAGE_DEPTH).default(3),
  direction: z.enum(["up", "down", "both"]).default("both"),
  /** Nodes in one answer, the start included. */
  limit: z.coerce.number().int().min(1).max(MAX_LINEAGE_NODES).default(200),
  /** Edges followed per node and direction; the rest is behind the node's `more` cursor. */
  fanOut: z.coerce.number().int().min(1).max(MAX_LINEAGE_NODES).default(100),
  cursor: z.string().max(4096).optional(),
});
export type LineageQuery = z.infer<typeof lineageQuery>;

/** Points of history kept per metric key; past it, every second point is dropped (see core/run-metrics.ts). */
export const MAX_METRIC_POINTS = 1000;
/** Distinct keys one request may carry: each is one write to its history. */
export const MAX_METRIC_KEYS_PER_REQUEST = 100;
/** Distinct keys one run may hold: the summary lives on the run's item, which DynamoDB caps at 400 KB. */
export const MAX_RUN_METRIC_KEYS = 1000;

export const METRIC_KEY_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/;
export const metricKey = z
  .string()
  .regex(METRIC_KEY_PATTERN, "must match [A-Za-z0-9_][A-Za-z0-9_./-]{0,127}")
  .refine((key) => key !== RESERVED_KEY, { message: `${RESERVED_KEY} is not accepted as a key (JavaScript clients cannot hold it)` });

export const logMetricsRequest = z
  .strictObject({
    items: z
      .array(
        z.strictObject({
          /** The training step (W&B's `_step`); points without one keep their order only. */
          step: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          values: recordKeepingKeys(z.record(metricKey, userNumber)),
        }),
      )
      .min(1)
      .max(1000),
  })
  .refine((request) => new Set(request.items.flatMap((item) => Object.keys(item.values))).size <= MAX_METRIC_KEYS_PER_REQUEST, {
    message: `at most ${MAX_METRIC_KEYS_PER_REQUEST} distinct keys per request`,
  });
export type LogMetricsRequest = z.infer<typeof logMetricsRequest>;

export const metricHistoryQuery = z.object({ key: metricKey });

// What the run and lineage routes answer: schemas in lambdas/contract/responses.ts, types inferred from them.
export type {
  LineageEdge,
  LineageNode,
  LineageResponse,
  LogMetricsResponse,
  MetricHistoryResponse,
  MetricPoint,
  MoreEdges,
  RunResponse,
} from "./responses.js";
