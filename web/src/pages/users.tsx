import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { v1 } from "../api/routes";
import type { CreatedApiKeyResponse, Page, UserResponse } from "../api/types";
import { CopyButton } from "../components/copy-button";
import { Empty, ErrorState, MutationMessage, QueryView } from "../components/states";
import { ApiError } from "../api/client";
import { formatDate } from "../lib/format";
import { orgAbilities } from "../lib/roles";

/** Org admins: users and their first keys. Registry roles are changed on each registry's Members tab. */
export default function UsersPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [role, setRole] = useState<"viewer" | "member" | "admin">("member");
  const [issued, setIssued] = useState<CreatedApiKeyResponse | null>(null);
  const users = useQuery({
    queryKey: ["users"],
    queryFn: () => api<Page<UserResponse>>(v1.users, { query: { limit: 200 } }),
    enabled: orgAbilities(me.role).manageUsers,
  });
  const create = useMutation({
    mutationFn: () => api<UserResponse>(v1.users, { method: "POST", body: { name, role } }),
    onSuccess: () => {
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const issue = useMutation({
    mutationFn: (user: string) => api<CreatedApiKeyResponse>(v1.apiKeys, { method: "POST", body: { user } }),
    onSuccess: setIssued,
  });
  if (!orgAbilities(me.role).manageUsers) {
    return <ErrorState error={new ApiError(403, "forbidden", "Only org admins manage users.")} />;
  }
  return (
    <>
      <div className="page-head">
        <h1>Users</h1>
        <p className="muted">
          An org role applies everywhere; registry roles are granted per registry, on its Members tab. A deactivated user's keys stop
          working at once; reactivating makes them work again. Nobody changes their own role or status here.
        </p>
      </div>
      <form
        className="form-row panel"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <label htmlFor="user-name">Name</label>
        <input id="user-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="user-role">Org role</label>
        <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
          <option value="viewer">viewer</option>
          <option value="member">member</option>
          <option value="admin">admin</option>
        </select>
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Create user
        </button>
      </form>
      <MutationMessage error={create.error ?? issue.error} success={create.isSuccess ? `User ${create.data.id} created.` : null} />
      {issued ? (
        <div className="panel new-key" role="status">
          <p>
            <strong>Key for {issued.user}.</strong> Hand it over now: it will not be shown again.
          </p>
          <div className="form-row">
            <label htmlFor="issued-key" className="visually-hidden">
              New API key for {issued.user}
            </label>
            <input id="issued-key" className="mono key-field" readOnly value={issued.key} />
            <CopyButton text={issued.key} />
            <button type="button" className="button button-quiet" onClick={() => setIssued(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      <QueryView query={users} loadingLabel="Loading users…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title="No users" />
          ) : (
            <table className="table">
              <caption className="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Org role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((user) => (
                  <UserRow
                    key={user.id}
                    user={user}
                    self={user.id === me.id}
                    issuing={issue.isPending}
                    onIssue={() => issue.mutate(user.id)}
                  />
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
    </>
  );
}

function UserRow({ user, self, issuing, onIssue }: { user: UserResponse; self: boolean; issuing: boolean; onIssue: () => void }) {
  const queryClient = useQueryClient();
  const change = useMutation({
    mutationFn: (body: { role?: UserResponse["role"]; status?: UserResponse["status"] }) =>
      api<UserResponse>(v1.user(user.id), { method: "PATCH", body }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["users"] }),
  });
  const active = user.status === "active";
  const why = self ? `self-${user.id}` : undefined;
  return (
    <tr className={active ? undefined : "row-muted"}>
      <th scope="row">{user.name === user.id ? user.id : `${user.name} (${user.id})`}</th>
      <td>
        <label htmlFor={`role-${user.id}`} className="visually-hidden">
          Org role of {user.id}
        </label>
        <select
          id={`role-${user.id}`}
          value={user.role}
          disabled={self || change.isPending}
          aria-describedby={why}
          onChange={(e) => change.mutate({ role: e.target.value as UserResponse["role"] })}
        >
          <option value="viewer">viewer</option>
          <option value="member">member</option>
          <option value="admin">admin</option>
        </select>
      </td>
      <td>
        <span className={`badge status-${user.status}`} data-testid={`status-${user.id}`}>
          {user.status}
        </span>
      </td>
      <td>{formatDate(user.createdAt)}</td>
      <td>
        <div className="form-row">
          <button
            type="button"
            className="button button-small"
            aria-label={`Issue API key for ${user.id}`}
            disabled={issuing || !active}
            onClick={onIssue}
          >
            Issue API key
          </button>
          <button
            type="button"
            className={`button button-small${active ? " button-danger" : ""}`}
            aria-label={`${active ? "Deactivate" : "Reactivate"} ${user.id}`}
            aria-describedby={why}
            disabled={self || change.isPending}
            onClick={() => {
              if (!active || window.confirm(`Deactivate ${user.id}? Their API keys stop working at once.`))
                change.mutate({ status: active ? "deactivated" : "active" });
            }}
          >
            {active ? "Deactivate" : "Reactivate"}
          </button>
          {self ? (
            <span id={why} className="muted small">
              This is you: another org admin changes your role or status.
            </span>
          ) : null}
        </div>
        <MutationMessage error={change.error} />
      </td>
    </tr>
  );
}
