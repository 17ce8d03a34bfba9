import dagre from "@dagrejs/dagre";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type KeyboardEvent } from "react";
import { useLocation } from "wouter";
import { api } from "../api/client";
import type { LineageNode, LineageResponse } from "../api/types";
import {
  layoutLineage,
  mergeLineage,
  nodeHref,
  nodeLineageRoute,
  nodeSubtitle,
  nodeTitle,
  type DagreLike,
  type LineageGraph,
} from "../lib/lineage-graph";
import { MutationMessage, QueryView } from "./states";

/**
 * Runs and versions around a version as a left-to-right graph (inputs → run → outputs).
 * Every node is a focusable control: Enter opens its page; nodes whose edges were cut by
 * the API's caps offer "more", which follows the node's cursor through its own lineage route.
 */
export default function LineageView({ route, queryKey }: { route: string; queryKey: unknown[] }) {
  const [direction, setDirection] = useState<"both" | "up" | "down">("both");
  const [depth, setDepth] = useState(3);
  const initial = useQuery({
    queryKey: ["lineage", ...queryKey, direction, depth],
    queryFn: () => api<LineageResponse>(route, { query: { direction, depth } }),
  });
  return (
    <section aria-labelledby="lineage-title" className="lineage">
      <h2 id="lineage-title">Lineage</h2>
      <div className="toolbar">
        <label htmlFor="lineage-direction">Direction</label>
        <select id="lineage-direction" value={direction} onChange={(e) => setDirection(e.target.value as typeof direction)}>
          <option value="both">Up and down</option>
          <option value="up">Up: what produced it</option>
          <option value="down">Down: what used it</option>
        </select>
        <label htmlFor="lineage-depth">Depth</label>
        <select id="lineage-depth" value={depth} onChange={(e) => setDepth(Number(e.target.value))}>
          {[1, 2, 3, 5, 10].map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
      </div>
      <QueryView query={initial} loadingLabel="Loading lineage…">
        {(data) => <Graph key={JSON.stringify([direction, depth, data.root])} initial={data} />}
      </QueryView>
    </section>
  );
}

function Graph({ initial }: { initial: LineageResponse }) {
  const [, navigate] = useLocation();
  const [graph, setGraph] = useState<LineageGraph>(() => mergeLineage(undefined, initial));
  const [expanding, setExpanding] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setGraph(mergeLineage(undefined, initial)), [initial]);
  const layout = useMemo(() => layoutLineage(graph, dagre as unknown as DagreLike), [graph]);

  const expand = async (node: LineageNode, dir: "up" | "down") => {
    const cursor = node.more?.[dir];
    if (!cursor) return;
    setExpanding(`${node.id}:${dir}`);
    setError(null);
    try {
      const response = await api<LineageResponse>(nodeLineageRoute(node), { query: { cursor, depth: 1 } });
      setGraph((current) => mergeLineage(current, response, { id: node.id, direction: dir }));
    } catch (failure) {
      setError(failure);
    } finally {
      setExpanding(null);
    }
  };
  const onKey = (event: KeyboardEvent, node: LineageNode) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      navigate(nodeHref(node));
    }
  };
  const runs = [...graph.nodes.values()].filter((n) => n.kind === "run").length;
  return (
    <>
      <p className="muted" role="status">
        {plural(graph.nodes.size, "node")} ({plural(runs, "run")}, {plural(graph.nodes.size - runs, "version")}),{" "}
        {plural(graph.edges.size, "edge")}
        {[...graph.nodes.values()].some((n) => n.more) ? ". Some nodes have more edges: use their + buttons." : "."}
      </p>
      <p className="legend" aria-hidden="true">
        <span>
          <svg width="36" height="8">
            <line x1="0" y1="4" x2="36" y2="4" stroke="#5b6470" strokeWidth="1.5" strokeDasharray="5 3" />
          </svg>
          used by (input)
        </span>
        <span>
          <svg width="36" height="8">
            <line x1="0" y1="4" x2="36" y2="4" stroke="#5b6470" strokeWidth="1.5" />
          </svg>
          produced (output)
        </span>
        <span>highlighted: this version</span>
      </p>
      <MutationMessage error={error} />
      <div className="graph-scroll">
        <svg
          className="lineage-graph"
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="group"
          aria-label="Lineage graph"
          data-testid="lineage-graph"
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#5b6470" />
            </marker>
          </defs>
          {layout.edges.map(({ edge, points }) => (
            <polyline
              key={`${edge.from}>${edge.to}`}
              className={`edge edge-${edge.kind}`}
              points={points.map((p) => `${p.x},${p.y}`).join(" ")}
              markerEnd="url(#arrow)"
              aria-hidden="true"
            />
          ))}
          {layout.nodes.map(({ node, x, y, width, height }) => (
            <g
              key={node.id}
              transform={`translate(${x},${y})`}
              className={`node node-${node.kind}${node.id === graph.root ? " node-root" : ""}`}
            >
              <a
                href={nodeHref(node)}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(nodeHref(node));
                }}
                onKeyDown={(e) => onKey(e, node)}
                data-node-id={node.id}
              >
                <rect width={width} height={height} rx={node.kind === "run" ? 28 : 6} />
                {/* The visible text is the link's name: a title, then what the node is. */}
                <text x={12} y={22} className="node-title">
                  {clip(nodeTitle(node), 21)}{" "}
                </text>
                <text x={12} y={41} className="node-subtitle">
                  {clip(nodeSubtitle(node), 27)}
                </text>
              </a>
              {(["up", "down"] as const).map((dir) =>
                node.more?.[dir] ? (
                  <g
                    key={dir}
                    role="button"
                    tabIndex={0}
                    className="more"
                    transform={`translate(${dir === "up" ? -14 : width - 14},${height - 14})`}
                    aria-label={`Load more ${dir === "up" ? "inputs" : "outputs"} of ${nodeTitle(node)}`}
                    aria-disabled={expanding !== null}
                    onClick={() => void expand(node, dir)}
                    onKeyDown={(e) => {
                      if (e.key === "Enter" || e.key === " ") {
                        e.preventDefault();
                        void expand(node, dir);
                      }
                    }}
                  >
                    <rect width={28} height={20} rx={10} />
                    <text x={14} y={14} textAnchor="middle">
                      {expanding === `${node.id}:${dir}` ? "…" : "+"}
                    </text>
                  </g>
                ) : null,
              )}
            </g>
          ))}
        </svg>
      </div>
      <details className="panel">
        <summary>Lineage as a list</summary>
        <ul className="plain-list" data-testid="lineage-list">
          {[...graph.edges.values()].map((edge) => {
            const from = graph.nodes.get(edge.from);
            const toNode = graph.nodes.get(edge.to);
            if (!from || !toNode) return null;
            return (
              <li key={`${edge.from}>${edge.to}`}>
                {nodeTitle(from)} {edge.kind === "input" ? "was used by" : "produced"} {nodeTitle(toNode)}
              </li>
            );
          })}
        </ul>
      </details>
    </>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

const clip = (text: string, length: number) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
