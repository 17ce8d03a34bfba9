import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { v1 } from "../api/routes";
import type { CollectionResponse, CollectionVersionResponse, Page, PromotionResponse, RegistryResponse } from "../api/types";
import { formatDate } from "../lib/format";
import { promotionDecision, registryAbilities } from "../lib/roles";
import { AliasChip } from "./chips";
import { Empty, MutationMessage, QueryView } from "./states";

type Status = "pending" | "approved" | "rejected" | "stale" | "";

/**
 * Promotions of protected aliases in a registry that requires approvals: members ask, admins
 * other than the asker approve or reject; the approval that completes the count moves the alias.
 */
export function PromotionsPanel({
  registry,
  collection,
  versions,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  versions: CollectionVersionResponse[];
}) {
  const abilities = registryAbilities(registry.role);
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>("pending");
  // Held here: a decided request leaves the pending list, and its outcome must stay readable.
  const [outcome, setOutcome] = useState<{ error: unknown; success: string | null }>({ error: null, success: null });
  const promotions = useQuery({
    queryKey: ["promotions", registry.name, collection.name, status],
    queryFn: () =>
      api<Page<PromotionResponse>>(v1.promotions(registry.name, collection.name), { query: { limit: 50, status: status || undefined } }),
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["promotions", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["collection-versions", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["collection", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["history", "collection", registry.name, collection.name] });
  };
  const n = registry.approvalsRequired;
  return (
    <section className="panel" aria-labelledby="promotions-title">
      <h2 id="promotions-title" className="small-heading">
        Promotions
      </h2>
      <p className="muted small">
        In {registry.name}, protected aliases ({registry.protectedAliases.join(", ") || "none"}) move only when {n} admin
        {n === 1 ? "" : "s"} other than the asker approve{n === 1 ? "s" : ""}.
      </p>
      {abilities.requestPromotion ? <RequestForm registry={registry} collection={collection} versions={versions} onDone={refresh} /> : null}
      <div className="form-row">
        <label htmlFor="promotion-status">Show</label>
        <select id="promotion-status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
          <option value="pending">pending</option>
          <option value="approved">approved</option>
          <option value="rejected">rejected</option>
          <option value="stale">stale</option>
          <option value="">all</option>
        </select>
      </div>
      <QueryView query={promotions} loadingLabel="Loading promotions…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title={status ? `No ${status} promotions` : "No promotions yet"} />
          ) : (
            <ul className="plain-list promotion-list" aria-label="Promotion requests">
              {data.items.map((p) => (
                <PromotionItem
                  key={p.id}
                  registry={registry}
                  collection={collection}
                  promotion={p}
                  onDone={(result) => {
                    setOutcome(result);
                    refresh();
                  }}
                />
              ))}
            </ul>
          )
        }
      </QueryView>
      <MutationMessage error={outcome.error} success={outcome.success} />
    </section>
  );
}

function RequestForm({
  registry,
  collection,
  versions,
  onDone,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  versions: CollectionVersionResponse[];
  onDone: () => void;
}) {
  const [alias, setAlias] = useState(registry.protectedAliases[0] ?? "");
  const [version, setVersion] = useState(versions[0]?.version ?? "");
  const [note, setNote] = useState("");
  const request = useMutation({
    mutationFn: () =>
      api<PromotionResponse>(v1.promotions(registry.name, collection.name), {
        method: "POST",
        body: { alias, version, ...(note.trim() ? { note: note.trim() } : {}) },
      }),
    onSuccess: () => {
      setNote("");
      onDone();
    },
  });
  if (registry.protectedAliases.length === 0) return <p className="muted small">This registry protects no alias: nothing to promote.</p>;
  return (
    <form
      className="form-row"
      onSubmit={(e) => {
        e.preventDefault();
        request.mutate();
      }}
    >
      <label htmlFor="promote-alias">Protected alias</label>
      <select id="promote-alias" value={alias} onChange={(e) => setAlias(e.target.value)}>
        {registry.protectedAliases.map((a) => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </select>
      <label htmlFor="promote-version">to version</label>
      <select id="promote-version" value={version} onChange={(e) => setVersion(e.target.value)}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            {v.version}
          </option>
        ))}
      </select>
      <label htmlFor="promote-note">Note</label>
      <input id="promote-note" maxLength={1000} value={note} onChange={(e) => setNote(e.target.value)} />
      <button type="submit" className="button button-primary" disabled={request.isPending || !alias || !version}>
        Request promotion
      </button>
      <MutationMessage
        error={request.error}
        success={request.isSuccess ? `Requested: ${request.data.alias} → ${request.data.version}, waiting for approvals.` : null}
      />
    </form>
  );
}

function PromotionItem({
  registry,
  collection,
  promotion: p,
  onDone,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  promotion: PromotionResponse;
  onDone: (outcome: { error: unknown; success: string | null }) => void;
}) {
  const me = useMe();
  const [note, setNote] = useState("");
  const decision = promotionDecision(p, me.id, registry.role);
  const decide = useMutation({
    mutationFn: (kind: "approve" | "reject") =>
      api<PromotionResponse>(v1.promotionDecision(registry.name, collection.name, p.id, kind), {
        method: "POST",
        body: note.trim() ? { note: note.trim() } : {},
      }),
    onSuccess: (d) =>
      onDone({
        error: null,
        success:
          d.status === "approved"
            ? `Approved: ${d.alias} now names ${d.version}.`
            : d.status === "rejected"
              ? `Rejected: ${d.alias} stays where it was.`
              : `Approval recorded (${d.approvals.length} of ${d.approvalsRequired}).`,
      }),
    // A 409 (stale: the alias moved meanwhile) changed the request too: read it again.
    onError: (error) => onDone({ error, success: null }),
  });
  const reasonId = `promotion-why-${p.id}`;
  const noteId = `promotion-note-${p.id}`;
  return (
    <li className="promotion" data-testid="promotion">
      <p>
        <AliasChip alias={p.alias} protectedAlias /> {p.from ?? "(unset)"} → <strong>{p.version}</strong>{" "}
        <span className={`badge status-${p.status}`}>{p.status}</span>{" "}
        <span data-testid="approvals">
          {p.approvals.length} of {p.approvalsRequired} approval{p.approvalsRequired === 1 ? "" : "s"}
        </span>
      </p>
      <p className="muted small">
        Asked by {p.requestedBy} on {formatDate(p.requestedAt)}
        {p.note ? `: “${p.note}”` : ""}
        {p.approvals.length > 0 ? `. Approved by ${p.approvals.map((a) => a.by).join(", ")}` : ""}
        {p.rejection ? `. Rejected by ${p.rejection.by}${p.rejection.note ? `: “${p.rejection.note}”` : ""}` : ""}
        {p.staleReason ? `. ${p.staleReason}` : ""}
      </p>
      {p.status === "pending" && registryAbilities(registry.role).decidePromotions ? (
        <div className="form-row">
          <label htmlFor={noteId}>Decision note</label>
          <input id={noteId} className="input-small" value={note} onChange={(e) => setNote(e.target.value)} disabled={!decision.allowed} />
          <button
            type="button"
            className="button button-primary button-small"
            aria-label={`Approve ${p.alias} → ${p.version}`}
            aria-describedby={decision.allowed ? undefined : reasonId}
            disabled={!decision.allowed || decide.isPending}
            onClick={() => decide.mutate("approve")}
          >
            Approve
          </button>
          <button
            type="button"
            className="button button-danger button-small"
            aria-label={`Reject ${p.alias} → ${p.version}`}
            aria-describedby={decision.allowed ? undefined : reasonId}
            disabled={!decision.allowed || decide.isPending}
            onClick={() => decide.mutate("reject")}
          >
            Reject
          </button>
          {decision.allowed ? null : (
            <span id={reasonId} className="muted small">
              {decision.reason}
            </span>
          )}
        </div>
      ) : null}
    </li>
  );
}
