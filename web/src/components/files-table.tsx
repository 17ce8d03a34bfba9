import { useInfiniteQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { FileResponse, Page } from "../api/types";
import { formatBytes } from "../lib/format";
import { Empty, ErrorState, Loading } from "./states";

/** A version's files; each link is a presigned GET that the browser opens straight from S3. */
export function FilesTable({ route, queryKey }: { route: string; queryKey: unknown[] }) {
  const files = useInfiniteQuery({
    queryKey: ["files", ...queryKey],
    queryFn: ({ pageParam }) => api<Page<FileResponse>>(route, { query: { limit: 1000, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
    // Presigned URLs expire; a listing older than a few minutes is read again.
    staleTime: 5 * 60_000,
  });
  if (files.isPending) return <Loading label="Loading files…" />;
  if (files.isError) return <ErrorState error={files.error} retry={() => void files.refetch()} />;
  const items = files.data.pages.flatMap((p) => p.items);
  if (items.length === 0) return <Empty title="No files" />;
  const total = items.reduce((sum, f) => sum + f.size, 0);
  return (
    <>
      <div className="table-wrap">
        <table className="table" data-testid="files-table">
          <caption className="visually-hidden">Files</caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Size</th>
              <th scope="col">SHA-256 or reference</th>
              <th scope="col">
                <span className="visually-hidden">Download</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((file) => (
              <tr key={file.path}>
                <th scope="row" className="break">
                  {file.path}
                </th>
                <td className="num">{formatBytes(file.size)}</td>
                <td className="mono">{file.sha256 ? file.sha256.slice(0, 16) : file.ref}</td>
                <td>
                  <a
                    className="button button-small"
                    aria-label={`Download ${file.path}`}
                    href={file.url}
                    download={file.path.split("/").pop()}
                    rel="noreferrer"
                  >
                    Download
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        {items.length} files, {formatBytes(total)}
        {files.hasNextPage ? " so far" : ""}. Download links are valid for a limited time.
      </p>
      {files.hasNextPage ? (
        <button type="button" className="button" onClick={() => void files.fetchNextPage()} disabled={files.isFetchingNextPage}>
          More files
        </button>
      ) : null}
    </>
  );
}
