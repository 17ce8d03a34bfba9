import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link, useParams } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { RunResponse } from "../api/types";
import { MetadataTable } from "../components/metadata-table";
import { ErrorState, Loading } from "../components/states";
import { formatDate } from "../lib/format";

const LineageView = lazy(() => import("../components/lineage-view"));

export default function RunPage() {
  const params = useParams<{ project: string; run: string }>();
  const run = useQuery({
    queryKey: ["run", params.project, params.run],
    queryFn: () => api<RunResponse>(v1.run(params.project, params.run)),
  });
  if (run.isPending) return <Loading label="Loading run…" />;
  if (run.isError) return <ErrorState error={run.error} retry={() => void run.refetch()} />;
  const r = run.data;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.projects}>Projects</Link> / <Link href={to.project(r.project)}>{r.project}</Link> / runs /{" "}
        <span aria-current="page">{r.id}</span>
      </nav>
      <div className="page-head">
        <h1>Run {r.name ?? r.id}</h1>
        <dl className="facts facts-inline">
          <div>
            <dt>Id</dt>
            <dd className="mono">{r.id}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              {formatDate(r.createdAt)} by {r.createdBy}
            </dd>
          </div>
        </dl>
      </div>
      <section aria-labelledby="config-title">
        <h2 id="config-title">Config</h2>
        <MetadataTable metadata={r.config} label="Run config" />
      </section>
      <Suspense fallback={<Loading label="Loading lineage…" />}>
        <LineageView route={v1.runLineage(r.project, r.id)} queryKey={["run", r.project, r.id]} />
      </Suspense>
    </>
  );
}
