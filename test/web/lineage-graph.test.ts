import dagre from "@dagrejs/dagre";
import { describe, expect, it } from "vitest";
import type { LineageResponse } from "../../web/src/api/types";
import { layoutLineage, mergeLineage, nodeHref, nodeLineageRoute, type DagreLike } from "../../web/src/lib/lineage-graph";

const version = (artifact: string, v: number, more?: { up?: string; down?: string }) => ({
  id: `version:demo/${artifact}:v${v}`,
  kind: "version" as const,
  project: "demo",
  artifact,
  version: `v${v}`,
  index: v,
  ...(more ? { more } : {}),
});
const run = (id: string, more?: { up?: string; down?: string }) => ({
  id: `run:demo/${id}`,
  kind: "run" as const,
  project: "demo",
  run: id,
  name: null,
  createdAt: null,
  createdBy: null,
  ...(more ? { more } : {}),
});

const first: LineageResponse = {
  root: "version:demo/model:v0",
  nodes: [version("model", 0), run("train", { up: "cursor-1" }), version("data", 0)],
  edges: [
    { from: "run:demo/train", to: "version:demo/model:v0", kind: "output" },
    { from: "version:demo/data:v0", to: "run:demo/train", kind: "input" },
  ],
  truncated: true,
};

describe("lineage graph", () => {
  it("merges a node's next edges and replaces its cursor with what is left", () => {
    const graph = mergeLineage(undefined, first);
    const next: LineageResponse = {
      root: "run:demo/train",
      nodes: [run("train", { up: "cursor-2" }), version("data", 1)],
      edges: [{ from: "version:demo/data:v1", to: "run:demo/train", kind: "input" }],
      truncated: true,
    };
    const merged = mergeLineage(graph, next, { id: "run:demo/train", direction: "up" });
    expect(merged.root).toBe("version:demo/model:v0");
    expect([...merged.nodes.keys()].sort()).toEqual([
      "run:demo/train",
      "version:demo/data:v0",
      "version:demo/data:v1",
      "version:demo/model:v0",
    ]);
    expect(merged.edges.size).toBe(3);
    expect(merged.nodes.get("run:demo/train")!.more).toEqual({ up: "cursor-2" });
    const last = mergeLineage(
      merged,
      { ...next, nodes: [run("train")], edges: [], truncated: false },
      { id: "run:demo/train", direction: "up" },
    );
    expect(last.nodes.get("run:demo/train")!.more).toBeUndefined();
  });

  it("does not duplicate edges seen twice", () => {
    const graph = mergeLineage(mergeLineage(undefined, first), first);
    expect(graph.edges.size).toBe(2);
  });

  it("lays out inputs left of the run and outputs right of it", () => {
    const layout = layoutLineage(mergeLineage(undefined, first), dagre as unknown as DagreLike);
    const x = (id: string) => layout.nodes.find((n) => n.node.id === id)!.x;
    expect(x("version:demo/data:v0")).toBeLessThan(x("run:demo/train"));
    expect(x("run:demo/train")).toBeLessThan(x("version:demo/model:v0"));
    expect(layout.edges).toHaveLength(2);
    expect(layout.edges.every((e) => e.points.length >= 2)).toBe(true);
    expect(layout.width).toBeGreaterThan(0);
  });

  it("links nodes to their pages and their lineage routes", () => {
    expect(nodeHref(version("model", 3))).toBe("/projects/demo/artifacts/model/versions/v3");
    expect(nodeHref(run("train"))).toBe("/projects/demo/runs/train");
    expect(nodeLineageRoute(run("train"))).toBe("/v1/projects/demo/runs/train/lineage");
    expect(nodeLineageRoute(version("model", 3))).toBe("/v1/projects/demo/artifacts/model/versions/v3/lineage");
  });
});
