import type { ReactNode } from "react";
import { describeError } from "../api/client";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <div className="state-detail">{children}</div> : null}
    </div>
  );
}

/** A failed request as a message: a 403 says which role is missing, never a blank page. */
export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const { title, detail } = describeError(error);
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title}</p>
      <p className="state-detail">{detail}</p>
      {retry ? (
        <button type="button" className="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Renders the loading, error or data state of a query result. */
export function QueryView<T>({
  query,
  loadingLabel,
  children,
}: {
  query: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined; refetch: () => unknown };
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  return <>{children(query.data as T)}</>;
}

/** An inline result of a mutation: its error, or a short confirmation. */
export function MutationMessage({ error, success }: { error: unknown; success?: string | null }) {
  if (error) {
    const { title, detail } = describeError(error);
    return (
      <p className="inline-error" role="alert">
        <strong>{title}.</strong> {detail}
      </p>
    );
  }
  if (success) {
    return (
      <p className="inline-success" role="status">
        {success}
      </p>
    );
  }
  return null;
}
