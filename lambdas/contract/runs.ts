import * as z from "zod";
import { metadata, name } from "./common.js";

export const MAX_LINEAGE_DEPTH = 10;
export const MAX_LINEAGE_NODES = 1000;

export const createRunRequest = z.strictObject({
  /** Chosen by the caller (a CI job id, say) or generated. */
  id: name.optional(),
  name: z.string().min(1).max(256).optional(),
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

export interface RunResponse {
  project: string;
  id: string;
  name: string | null;
  config: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
}

/** Cursors for the edges of a node that this answer did not follow. */
export interface MoreEdges {
  up?: string;
  down?: string;
}

export type LineageNode =
  | {
      id: string;
      kind: "run";
      project: string;
      run: string;
      name: string | null;
      createdAt: string | null;
      createdBy: string | null;
      more?: MoreEdges;
    }
  | {
      id: string;
      kind: "version";
      project: string;
      artifact: string;
      version: string;
      index: number;
      type?: string;
      digest?: string;
      aliases?: string[];
      createdAt?: string;
      createdBy?: string;
      /** The version was deleted after the edge was recorded. */
      deleted?: true;
      more?: MoreEdges;
    };

export interface LineageEdge {
  from: string;
  to: string;
  /** `input`: a version a run used (version → run); `output`: a version a run produced (run → version). */
  kind: "input" | "output";
}

export interface LineageResponse {
  root: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** True when a cap (limit, fanOut) cut the graph: follow the nodes' `more` cursors. */
  truncated: boolean;
  /** For a collection version: the link whose source is the root. */
  link?: { registry: string; collection: string; version: string };
}
