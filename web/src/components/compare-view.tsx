import { useQueries } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { CollectionVersionResponse, FileResponse, Page } from "../api/types";
import { numericKeys, seriesFor } from "../lib/chart-data";
import { compareMetadata, diffFiles, summarizeChanges, type FileChange } from "../lib/diff";
import { formatBytes, formatValue } from "../lib/format";
import { AliasChip } from "./chips";
import { MetricChart } from "./metric-chart";
import { ErrorState, Loading } from "./states";

const MAX_FILES = 10_000;

/** Versions side by side: metadata with differences marked, a metric across them, and their files against the oldest. */
export default function CompareView({ registry, collection, versions }: { registry: string; collection: string; versions: string[] }) {
  const details = useQueries({
    queries: versions.map((v) => ({
      queryKey: ["collection-version", registry, collection, v],
      queryFn: () => api<CollectionVersionResponse>(v1.collectionVersion(registry, collection, v)),
    })),
  });
  const files = useQueries({
    queries: versions.map((v) => ({
      queryKey: ["collection-files", registry, collection, v],
      queryFn: () => api<Page<FileResponse>>(v1.collectionFiles(registry, collection, v), { query: { limit: MAX_FILES } }),
    })),
  });
  const failed = [...details, ...files].find((q) => q.isError);
  const loaded = details.every((q) => q.data) ? details.map((q) => q.data!).sort((a, b) => a.index - b.index) : undefined;
  const rows = useMemo(() => (loaded ? compareMetadata(loaded.map((v) => v.metadata)) : []), [loaded]);
  const keys = useMemo(() => (loaded ? numericKeys(loaded) : []), [loaded]);
  const [metric, setMetric] = useState<string | undefined>(undefined);
  const chosen = metric && keys.includes(metric) ? metric : keys[0];
  const series = useMemo(() => (loaded && chosen ? seriesFor(loaded, chosen) : undefined), [loaded, chosen]);

  if (failed) return <ErrorState error={failed.error} retry={() => void failed.refetch()} />;
  if (!loaded) return <Loading label="Loading versions to compare…" />;
  const differing = rows.filter((r) => r.differs).length;
  return (
    <div className="compare">
      <section aria-labelledby="compare-metadata">
        <h2 id="compare-metadata">Metadata</h2>
        <p className="muted" role="status">
          {rows.length === 0 ? "None of these versions carries metadata." : `${differing} of ${rows.length} keys differ.`}
        </p>
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table className="table" data-testid="compare-metadata">
              <caption className="visually-hidden">Metadata of {loaded.map((v) => v.version).join(", ")}</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  {loaded.map((v) => (
                    <th key={v.version} scope="col">
                      <Link href={to.collectionVersion(registry, collection, v.version)}>{v.version}</Link>{" "}
                      {v.aliases.map((a) => (
                        <AliasChip key={a} alias={a} />
                      ))}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.key} className={row.differs ? "row-differs" : undefined}>
                    <th scope="row">
                      {row.key}
                      {row.differs ? <span className="differs-mark"> (differs)</span> : null}
                    </th>
                    {row.values.map((value, i) => (
                      <td key={loaded[i]!.version} className="num">
                        {formatValue(value)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <section aria-labelledby="compare-chart">
        <h2 id="compare-chart">Compare performance</h2>
        {keys.length === 0 ? (
          <p className="muted">No numeric metadata key is shared by these versions.</p>
        ) : (
          <>
            <label htmlFor="metric-key">Metric</label>{" "}
            <select id="metric-key" value={chosen} onChange={(e) => setMetric(e.target.value)}>
              {keys.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
            {series ? <MetricChart series={series} /> : null}
          </>
        )}
      </section>
      <section aria-labelledby="compare-files">
        <h2 id="compare-files">Files</h2>
        {files.some((q) => !q.data) ? (
          <Loading label="Loading files…" />
        ) : (
          (() => {
            // Each selector's files, keyed by the version number its detail resolved to.
            const filesOf = new Map(details.map((q, i) => [q.data!.version, files[i]!.data!.items]));
            const base = loaded[0]!;
            return loaded
              .slice(1)
              .map((other) => (
                <FileDiff
                  key={other.version}
                  base={base.version}
                  other={other.version}
                  changes={diffFiles(filesOf.get(base.version) ?? [], filesOf.get(other.version) ?? [])}
                />
              ));
          })()
        )}
      </section>
    </div>
  );
}

function FileDiff({ base, other, changes }: { base: string; other: string; changes: FileChange[] }) {
  const counts = summarizeChanges(changes);
  const shown = changes.filter((c) => c.kind !== "unchanged");
  return (
    <section className="file-diff" aria-label={`Files of ${other} against ${base}`}>
      <h3>
        {other} against {base}
      </h3>
      <p className="muted" data-testid={`diff-summary-${other}`}>
        {counts.added} added, {counts.removed} removed, {counts.changed} changed, {counts.unchanged} unchanged
      </p>
      {shown.length > 0 ? (
        <table className="table table-compact">
          <caption className="visually-hidden">
            Changed files of {other} against {base}
          </caption>
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Path</th>
              <th scope="col">Size</th>
              <th scope="col">SHA-256</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((change) => (
              <tr key={change.path} className={`change-${change.kind}`}>
                <td>{change.kind}</td>
                <td className="break">{change.path}</td>
                <td>
                  {change.kind === "changed"
                    ? `${formatBytes(change.before.size)} → ${formatBytes(change.after.size)}`
                    : formatBytes(change.kind === "removed" ? change.before.size : change.after.size)}
                </td>
                <td className="mono">
                  {change.kind === "changed"
                    ? `${short(change.before)} → ${short(change.after)}`
                    : short(change.kind === "removed" ? change.before : change.after)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

const short = (file: FileResponse) => (file.sha256 ? file.sha256.slice(0, 12) : (file.etag ?? file.ref ?? "ref"));
