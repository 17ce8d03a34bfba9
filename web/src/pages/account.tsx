import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { v1 } from "../api/routes";
import type { ApiKeyResponse, CreatedApiKeyResponse, Page } from "../api/types";
import { CopyButton } from "../components/copy-button";
import { Empty, MutationMessage, QueryView } from "../components/states";
import { formatDate } from "../lib/format";

/** Everyone's own API keys: create (the secret is shown once), list, revoke. */
export default function AccountPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [expiresAt, setExpiresAt] = useState("");
  const [created, setCreated] = useState<CreatedApiKeyResponse | null>(null);
  const keys = useQuery({
    queryKey: ["api-keys", me.id],
    queryFn: () => api<Page<ApiKeyResponse>>(v1.apiKeys, { query: { user: me.id, limit: 100 } }),
  });
  const create = useMutation({
    mutationFn: () =>
      api<CreatedApiKeyResponse>(v1.apiKeys, {
        method: "POST",
        body: { user: me.id, ...(expiresAt ? { expiresAt: new Date(`${expiresAt}T23:59:59`).toISOString() } : {}) },
      }),
    onSuccess: (key) => {
      setCreated(key);
      void queryClient.invalidateQueries({ queryKey: ["api-keys", me.id] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api<ApiKeyResponse>(v1.apiKey(id), { method: "DELETE" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["api-keys", me.id] }),
  });
  return (
    <>
      <div className="page-head">
        <h1>API keys</h1>
        <p className="muted">
          Keys of <strong>{me.name}</strong> for the CLI, the SDK and training jobs. A key is shown once, when it is created; the registry
          keeps only its hash.
        </p>
      </div>
      <form
        className="form-row panel"
        onSubmit={(e) => {
          e.preventDefault();
          setCreated(null);
          create.mutate();
        }}
      >
        <label htmlFor="key-expiry">Expires (optional)</label>
        <input id="key-expiry" type="date" value={expiresAt} onChange={(e) => setExpiresAt(e.target.value)} />
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Create API key
        </button>
      </form>
      <MutationMessage error={create.error} />
      {created ? (
        <div className="panel new-key" role="status" aria-live="polite">
          <p>
            <strong>New key {created.id}.</strong> Copy it now: it will not be shown again.
          </p>
          <div className="form-row">
            <label htmlFor="new-key" className="visually-hidden">
              New API key
            </label>
            <input
              id="new-key"
              className="mono key-field"
              readOnly
              value={created.key}
              onFocus={(e) => e.target.select()}
              data-testid="new-key"
            />
            <CopyButton text={created.key} />
            <button type="button" className="button button-quiet" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      <MutationMessage error={revoke.error} success={revoke.isSuccess ? `Key ${revoke.data.id} revoked.` : null} />
      <QueryView query={keys} loadingLabel="Loading keys…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title="No keys listed" />
          ) : (
            <table className="table" data-testid="keys-table">
              <caption className="visually-hidden">API keys of {me.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((key) => (
                  <tr key={key.id} data-key-id={key.id}>
                    <th scope="row" className="mono">
                      {key.id}
                    </th>
                    <td>{formatDate(key.createdAt)}</td>
                    <td>{key.expiresAt ? formatDate(key.expiresAt) : "never"}</td>
                    <td>{formatDate(key.lastUsedAt)}</td>
                    <td>{key.revokedAt ? `revoked ${formatDate(key.revokedAt)}` : "active"}</td>
                    <td>
                      {key.revokedAt ? null : (
                        <button
                          type="button"
                          className="button button-small button-danger"
                          aria-label={`Revoke key ${key.id}`}
                          disabled={revoke.isPending}
                          onClick={() => {
                            if (window.confirm(`Revoke key ${key.id}? Anything using it stops working at once.`)) revoke.mutate(key.id);
                          }}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
    </>
  );
}
