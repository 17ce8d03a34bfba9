import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link, useParams } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { ArtifactResponse, Page, VersionResponse } from "../api/types";
import { AliasChip } from "../components/chips";
import { HistoryList } from "../components/history-list";
import { Empty, ErrorState, Loading } from "../components/states";
import { formatBytes, formatDate } from "../lib/format";

export default function ArtifactPage() {
  const params = useParams<{ project: string; artifact: string }>();
  const artifact = useQuery({
    queryKey: ["artifact", params.project, params.artifact],
    queryFn: () => api<ArtifactResponse>(v1.artifact(params.project, params.artifact)),
  });
  const versions = useInfiniteQuery({
    queryKey: ["artifact-versions", params.project, params.artifact],
    queryFn: ({ pageParam }) =>
      api<Page<VersionResponse>>(v1.artifactVersions(params.project, params.artifact), { query: { limit: 100, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
  });
  if (artifact.isPending) return <Loading label="Loading artifact…" />;
  if (artifact.isError) return <ErrorState error={artifact.error} retry={() => void artifact.refetch()} />;
  const a = artifact.data;
  const items = versions.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.projects}>Projects</Link> / <Link href={to.project(a.project)}>{a.project}</Link> /{" "}
        <span aria-current="page">{a.name}</span>
      </nav>
      <div className="page-head">
        <h1>{a.name}</h1>
        <dl className="facts facts-inline">
          <div>
            <dt>Type</dt>
            <dd>{a.type}</dd>
          </div>
          <div>
            <dt>Versions</dt>
            <dd>{a.versionCount}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              {formatDate(a.createdAt)} by {a.createdBy}
            </dd>
          </div>
        </dl>
      </div>
      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        {versions.isPending ? (
          <Loading label="Loading versions…" />
        ) : versions.isError ? (
          <ErrorState error={versions.error} retry={() => void versions.refetch()} />
        ) : items.length === 0 ? (
          <Empty title="No versions" />
        ) : (
          <table className="table">
            <caption className="visually-hidden">Versions of {a.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Aliases</th>
                <th scope="col">Size</th>
                <th scope="col">Files</th>
                <th scope="col">Run</th>
                <th scope="col">Logged</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.version}>
                  <th scope="row">
                    <Link href={to.artifactVersion(a.project, a.name, v.version)}>{v.version}</Link>
                  </th>
                  <td>
                    <div className="chip-row">
                      {v.aliases.map((alias) => (
                        <AliasChip key={alias} alias={alias} />
                      ))}
                    </div>
                  </td>
                  <td className="num">{formatBytes(v.size)}</td>
                  <td className="num">{v.fileCount}</td>
                  <td>{v.runId ? <Link href={to.run(a.project, v.runId)}>{v.runId}</Link> : "—"}</td>
                  <td>{formatDate(v.createdAt)}</td>
                  <td>{v.createdBy}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {versions.hasNextPage ? (
          <button type="button" className="button" onClick={() => void versions.fetchNextPage()} disabled={versions.isFetchingNextPage}>
            More versions
          </button>
        ) : null}
      </section>
      <section aria-labelledby="artifact-history-title">
        <h2 id="artifact-history-title">History</h2>
        <HistoryList
          label={`History of ${a.name}`}
          route={v1.artifactHistory(a.project, a.name)}
          queryKey={["artifact", a.project, a.name]}
        />
      </section>
    </>
  );
}
