import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link, useParams } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { CollectionVersionResponse, VersionResponse } from "../api/types";
import { AliasChip, TagChip } from "../components/chips";
import { FilesTable } from "../components/files-table";
import { HistoryList } from "../components/history-list";
import { MetadataTable } from "../components/metadata-table";
import { ErrorState, Loading } from "../components/states";
import { TabNav } from "../components/tabs";
import { formatBytes, formatDate } from "../lib/format";
import { useRegistry } from "./registry";

const LineageView = lazy(() => import("../components/lineage-view"));

export default function CollectionVersionPage() {
  const params = useParams<{ registry: string; collection: string; version: string; tab?: string }>();
  const registry = useRegistry(params.registry);
  const version = useQuery({
    queryKey: ["collection-version", params.registry, params.collection, params.version],
    queryFn: () => api<CollectionVersionResponse>(v1.collectionVersion(params.registry, params.collection, params.version)),
  });
  // The link copies no run: the source version says which run produced it.
  const source = useQuery({
    queryKey: ["artifact-version", version.data?.source.project, version.data?.source.artifact, version.data?.source.version],
    queryFn: () => {
      const s = version.data!.source;
      return api<VersionResponse>(v1.artifactVersion(s.project, s.artifact, s.version));
    },
    enabled: version.data !== undefined,
  });
  if (version.isPending || registry.isPending) return <Loading label="Loading version…" />;
  if (registry.isError) return <ErrorState error={registry.error} retry={() => void registry.refetch()} />;
  if (version.isError) return <ErrorState error={version.error} retry={() => void version.refetch()} />;
  const v = version.data;
  const r = registry.data;
  const base = to.collectionVersion(v.registry, v.collection, v.version);
  const tab = params.tab ?? "overview";
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.home}>Registries</Link> / <Link href={to.registry(v.registry)}>{v.registry}</Link> /{" "}
        <Link href={to.collection(v.registry, v.collection)}>{v.collection}</Link> / <span aria-current="page">{v.version}</span>
      </nav>
      <div className="page-head">
        <h1>
          {v.collection}:{v.version}
        </h1>
        <div className="chip-row">
          {v.aliases.map((a) => (
            <AliasChip key={a} alias={a} protectedAlias={r.protectedAliases.includes(a)} />
          ))}
          {v.tags.map((t) => (
            <TagChip key={t} tag={t} />
          ))}
        </div>
        <dl className="facts facts-inline">
          <div>
            <dt>Source</dt>
            <dd>
              <Link href={to.artifactVersion(v.source.project, v.source.artifact, v.source.version)}>
                {v.source.project}/{v.source.artifact}:{v.source.version}
              </Link>
            </dd>
          </div>
          <div>
            <dt>Produced by</dt>
            <dd>
              {source.isPending ? (
                "…"
              ) : source.data?.runId ? (
                <Link href={to.run(v.source.project, source.data.runId)}>run {source.data.runId}</Link>
              ) : source.isError ? (
                "unknown (the source version cannot be read)"
              ) : (
                "no run recorded"
              )}
            </dd>
          </div>
          <div>
            <dt>Type</dt>
            <dd>{v.type}</dd>
          </div>
          <div>
            <dt>Size</dt>
            <dd>
              {formatBytes(v.size)} in {v.fileCount} files
            </dd>
          </div>
          <div>
            <dt>Linked</dt>
            <dd>
              {formatDate(v.createdAt)} by {v.createdBy}
            </dd>
          </div>
          <div>
            <dt>Digest</dt>
            <dd className="mono">{v.digest.slice(0, 16)}…</dd>
          </div>
        </dl>
        {v.description ? <p>{v.description}</p> : null}
      </div>
      <TabNav
        label="Version sections"
        tabs={[
          { href: base, label: "Files and metadata", exact: true },
          { href: `${base}/lineage`, label: "Lineage" },
          { href: `${base}/history`, label: "History" },
        ]}
      />
      {tab === "lineage" ? (
        <Suspense fallback={<Loading label="Loading lineage…" />}>
          <LineageView
            route={v1.collectionLineage(v.registry, v.collection, v.version)}
            queryKey={["collection", v.registry, v.collection, v.version]}
          />
        </Suspense>
      ) : tab === "history" ? (
        <HistoryList
          label={`History of ${v.version}`}
          route={v1.collectionHistory(v.registry, v.collection)}
          queryKey={["collection", v.registry, v.collection]}
          version={v.version}
        />
      ) : (
        <div className="two-columns">
          <section aria-labelledby="files-title">
            <h2 id="files-title">Files</h2>
            <FilesTable
              route={v1.collectionFiles(v.registry, v.collection, v.version)}
              queryKey={["collection", v.registry, v.collection, v.version]}
            />
          </section>
          <section aria-labelledby="metadata-title">
            <h2 id="metadata-title">Metadata</h2>
            <MetadataTable metadata={v.metadata} />
          </section>
        </div>
      )}
    </>
  );
}
