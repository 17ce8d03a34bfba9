import { useInfiniteQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { AuditEvent, Page } from "../api/types";
import { formatDate } from "../lib/format";
import { concernsVersion, describeEvent } from "../lib/history";
import { Empty, ErrorState, Loading } from "./states";

/** An audit trail, newest first, read page by page; optionally only the events of one version. */
export function HistoryList({ route, queryKey, version, label }: { route: string; queryKey: unknown[]; version?: string; label: string }) {
  const history = useInfiniteQuery({
    queryKey: ["history", ...queryKey],
    queryFn: ({ pageParam }) => api<Page<AuditEvent>>(route, { query: { limit: 50, cursor: pageParam } }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
  });
  if (history.isPending) return <Loading label="Loading history…" />;
  if (history.isError) return <ErrorState error={history.error} retry={() => void history.refetch()} />;
  const events = history.data.pages.flatMap((p) => p.items).filter((e) => !version || concernsVersion(e, version));
  return (
    <section aria-label={label}>
      {events.length === 0 ? (
        <Empty title="No history yet" />
      ) : (
        <ol className="history" data-testid="history">
          {events.map((event, i) => (
            <li key={`${event.at}-${i}`} className={`history-item action-${event.action.replace(".", "-")}`}>
              <time dateTime={event.at}>{formatDate(event.at)}</time>
              <span>
                <strong>{event.actor}</strong> {describeEvent(event)}
              </span>
            </li>
          ))}
        </ol>
      )}
      {history.hasNextPage ? (
        <button type="button" className="button" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
          {history.isFetchingNextPage ? "Loading…" : "Older events"}
        </button>
      ) : null}
    </section>
  );
}
