import type { LineageEdge, LineageNode, LineageResponse } from "../api/types";

export interface LineageGraph {
  root: string;
  nodes: Map<string, LineageNode>;
  edges: Map<string, LineageEdge>;
}

const edgeKey = (e: LineageEdge) => `${e.from}>${e.to}>${e.kind}`;

/**
 * Adds an answer of a lineage route to the graph. When the answer continues a node's cut
 * edge list (its `more` cursor), that node's cursor for the direction is replaced by what
 * the answer says is left (nothing, or a further cursor); other known nodes keep theirs.
 */
export function mergeLineage(
  graph: LineageGraph | undefined,
  response: LineageResponse,
  expanded?: { id: string; direction: "up" | "down" },
): LineageGraph {
  const nodes = new Map(graph?.nodes ?? []);
  const edges = new Map(graph?.edges ?? []);
  for (const node of response.nodes) {
    const known = nodes.get(node.id);
    if (!known) {
      nodes.set(node.id, node);
      continue;
    }
    if (expanded && node.id === expanded.id) {
      const more = { ...known.more };
      delete more[expanded.direction];
      const next = node.more?.[expanded.direction];
      if (next) more[expanded.direction] = next;
      nodes.set(node.id, { ...known, more: Object.keys(more).length > 0 ? more : undefined } as LineageNode);
    }
  }
  for (const edge of response.edges) edges.set(edgeKey(edge), edge);
  return { root: graph?.root ?? response.root, nodes, edges };
}

export function nodeTitle(node: LineageNode): string {
  return node.kind === "version" ? `${node.artifact}:${node.version}` : (node.name ?? node.run);
}

export function nodeSubtitle(node: LineageNode): string {
  if (node.kind === "run") return `run · ${node.project}/${node.run}`;
  return `${node.type ?? "version"} · ${node.project}${node.deleted ? " · deleted" : ""}`;
}

/** Where a node's own page is. */
export function nodeHref(node: LineageNode): string {
  const e = encodeURIComponent;
  return node.kind === "version"
    ? `/projects/${e(node.project)}/artifacts/${e(node.artifact)}/versions/${e(node.version)}`
    : `/projects/${e(node.project)}/runs/${e(node.run)}`;
}

/** The lineage route of a node: where its `more` cursors are followed. */
export function nodeLineageRoute(node: LineageNode): string {
  const e = encodeURIComponent;
  return node.kind === "version"
    ? `/v1/projects/${e(node.project)}/artifacts/${e(node.artifact)}/versions/${e(node.version)}/lineage`
    : `/v1/projects/${e(node.project)}/runs/${e(node.run)}/lineage`;
}

export interface PlacedNode {
  node: LineageNode;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  edge: LineageEdge;
  points: { x: number; y: number }[];
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 176;
export const NODE_HEIGHT = 56;

/** The minimal part of dagre's API the layout uses, so tests can pass the real module. */
export interface DagreLike {
  graphlib: { Graph: new (options?: { multigraph?: boolean }) => any };
  layout: (graph: any) => void;
}

/** Left to right, producers before what they produced: inputs → run → outputs. */
export function layoutLineage(graph: LineageGraph, dagre: DagreLike): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 48, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = [...graph.nodes.keys()].sort();
  for (const id of ids) g.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const edges = [...graph.edges.values()].filter((e) => graph.nodes.has(e.from) && graph.nodes.has(e.to));
  for (const edge of edges) g.setEdge(edge.from, edge.to, {}, edgeKey(edge));
  dagre.layout(g);
  const nodes = ids.map((id) => {
    const placed = g.node(id) as { x: number; y: number; width: number; height: number };
    return {
      node: graph.nodes.get(id)!,
      x: placed.x - placed.width / 2,
      y: placed.y - placed.height / 2,
      width: placed.width,
      height: placed.height,
    };
  });
  const placedEdges = edges.map((edge) => ({
    edge,
    points: ((g.edge({ v: edge.from, w: edge.to, name: edgeKey(edge) }) as { points?: { x: number; y: number }[] })?.points ?? []).map(
      (p) => ({ x: p.x, y: p.y }),
    ),
  }));
  const label = g.graph() as { width?: number; height?: number };
  return { nodes, edges: placedEdges, width: label.width ?? 0, height: label.height ?? 0 };
}
