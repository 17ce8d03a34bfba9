import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Series } from "../lib/chart-data";
import { formatValue } from "../lib/format";

/** A numeric metadata key across versions as a line chart, with the same numbers as a table for readers without sight of it. */
export function MetricChart({ series }: { series: Series }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(320, Math.min(element.clientWidth || 640, 900));
    const plot = new uPlot(
      {
        width,
        height: 260,
        scales: { x: { time: false } },
        axes: [{ label: "version", values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? `v${t}` : "")) }, { label: series.key }],
        series: [
          { label: "version", value: (_u, v) => (v == null ? "—" : `v${v}`) },
          { label: series.key, stroke: "#1f5fbf", width: 2, points: { size: 7 } },
        ],
        legend: { show: true },
      },
      [series.x, series.y],
      element,
    );
    return () => plot.destroy();
  }, [series]);
  return (
    <figure className="chart">
      <div ref={host} role="img" aria-label={`Chart of ${series.key} across ${series.labels.join(", ")}`} />
      <figcaption>
        <table className="table table-compact" data-testid="chart-table">
          <caption>
            {series.key} by version{series.best ? ` (highest: ${series.best})` : ""}
          </caption>
          <thead>
            <tr>
              {series.labels.map((label) => (
                <th key={label} scope="col">
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {series.y.map((value, i) => (
                <td key={series.labels[i]} className="num">
                  {value === null ? "—" : formatValue(value)}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </figcaption>
    </figure>
  );
}
