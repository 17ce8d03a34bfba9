import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "wouter";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { to, v1 } from "../api/routes";
import type { AutomationResponse, DeliveryResponse, Page, RegistryResponse } from "../api/types";
import { Empty, ErrorState, Loading, MutationMessage, QueryView } from "../components/states";
import { formatDate } from "../lib/format";
import { previewPayload, sampleEvent, TEMPLATE_VARIABLES } from "../lib/template-preview";

export function Automations({ registry }: { registry: RegistryResponse }) {
  const queryClient = useQueryClient();
  const automations = useQuery({
    queryKey: ["automations", registry.name],
    queryFn: () => api<Page<AutomationResponse>>(v1.automations(registry.name), { query: { limit: 100 } }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => api(v1.automation(registry.name, id), { method: "DELETE" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["automations", registry.name] }),
  });
  return (
    <section aria-labelledby="automations-title">
      <h2 id="automations-title">Automations</h2>
      <p className="muted">
        Webhooks fired when a version is linked or an alias moves in this registry, signed with HMAC when a secret is set.
      </p>
      <CreateAutomation registry={registry} />
      <MutationMessage error={remove.error} />
      <QueryView query={automations} loadingLabel="Loading automations…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title="No automations yet">Create one above to call a URL on LINK_ARTIFACT or ADD_ARTIFACT_ALIAS.</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">Automations of {registry.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Event</th>
                  <th scope="col">Collection</th>
                  <th scope="col">Alias pattern</th>
                  <th scope="col">URL</th>
                  <th scope="col">Signed</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <Link href={to.automation(registry.name, a.id)}>{a.name}</Link>
                    </td>
                    <td>{a.event}</td>
                    <td>{a.collection ?? "any"}</td>
                    <td>{a.aliasPattern ? <code>{a.aliasPattern}</code> : "any"}</td>
                    <td className="truncate">{a.url}</td>
                    <td>{a.hasSecret ? "yes" : "no"}</td>
                    <td>
                      <button
                        type="button"
                        className="button button-danger"
                        aria-label={`Delete ${a.name}`}
                        onClick={() => {
                          if (window.confirm(`Delete automation ${a.name}? Pending deliveries are given up.`)) remove.mutate(a.id);
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
    </section>
  );
}

function CreateAutomation({ registry }: { registry: RegistryResponse }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [event, setEvent] = useState<"LINK_ARTIFACT" | "ADD_ARTIFACT_ALIAS">("LINK_ARTIFACT");
  const [collection, setCollection] = useState("");
  const [aliasPattern, setAliasPattern] = useState("");
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [template, setTemplate] = useState("");
  const preview = useMemo(
    () => previewPayload(template, sampleEvent({ event, registry: registry.name, collection, actor: me.id, automationName: name })),
    [template, event, registry.name, collection, me.id, name],
  );
  const create = useMutation({
    mutationFn: () =>
      api<AutomationResponse>(v1.automations(registry.name), {
        method: "POST",
        body: {
          name,
          event,
          ...(collection ? { collection } : {}),
          ...(aliasPattern && event === "ADD_ARTIFACT_ALIAS" ? { aliasPattern } : {}),
          url,
          ...(secret ? { secret } : {}),
          ...(template.trim() ? { payloadTemplate: template } : {}),
        },
      }),
    onSuccess: () => {
      setName("");
      setSecret("");
      void queryClient.invalidateQueries({ queryKey: ["automations", registry.name] });
    },
  });
  return (
    <details className="panel">
      <summary>Create an automation</summary>
      <form
        className="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <label htmlFor="automation-name">Name</label>
        <input id="automation-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="automation-event">Event</label>
        <select id="automation-event" value={event} onChange={(e) => setEvent(e.target.value as typeof event)}>
          <option value="LINK_ARTIFACT">LINK_ARTIFACT: a version is linked</option>
          <option value="ADD_ARTIFACT_ALIAS">ADD_ARTIFACT_ALIAS: an alias is set or moved</option>
        </select>
        <label htmlFor="automation-collection">Collection (blank: any)</label>
        <input id="automation-collection" value={collection} onChange={(e) => setCollection(e.target.value)} />
        {event === "ADD_ARTIFACT_ALIAS" ? (
          <>
            <label htmlFor="automation-pattern">Alias pattern (regular expression, whole alias)</label>
            <input
              id="automation-pattern"
              placeholder="prod(uction)?"
              value={aliasPattern}
              onChange={(e) => setAliasPattern(e.target.value)}
            />
          </>
        ) : null}
        <label htmlFor="automation-url">URL</label>
        <input
          id="automation-url"
          type="url"
          required
          placeholder="https://ci.example.com/hooks/mreg"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
        />
        <label htmlFor="automation-secret">Secret (16+ characters; deliveries are then signed)</label>
        <input
          id="automation-secret"
          type="password"
          autoComplete="new-password"
          minLength={16}
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
        />
        <label htmlFor="automation-template">Payload template (JSON; blank: the default payload)</label>
        <textarea
          id="automation-template"
          rows={4}
          spellCheck={false}
          placeholder={'{"text": "${event_author} linked ${artifact_version_string}"}'}
          value={template}
          onChange={(e) => setTemplate(e.target.value)}
          aria-describedby="template-variables"
        />
        <p id="template-variables" className="muted small form-wide">
          Variables: {TEMPLATE_VARIABLES.map((v) => `\${${v}}`).join(" ")}
        </p>
        <div className="form-wide">
          <h3 className="small-heading">Preview from a sample event</h3>
          {preview.ok ? null : (
            <p className="inline-error" role="alert">
              {preview.error}
            </p>
          )}
          <pre className="code-block" aria-label="Payload preview" data-testid="payload-preview">
            {preview.ok ? preview.body : (preview.body ?? "")}
          </pre>
        </div>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending || !preview.ok}>
            Create automation
          </button>
          <MutationMessage error={create.error} success={create.isSuccess ? `Automation ${create.data.name} created.` : null} />
        </div>
      </form>
    </details>
  );
}

export function AutomationDetail({ registry, id }: { registry: RegistryResponse; id: string }) {
  const queryClient = useQueryClient();
  const automation = useQuery({
    queryKey: ["automation", registry.name, id],
    queryFn: () => api<AutomationResponse>(v1.automation(registry.name, id)),
  });
  const deliveries = useQuery({
    queryKey: ["deliveries", registry.name, id],
    queryFn: () => api<Page<DeliveryResponse>>(v1.deliveries(registry.name, id), { query: { limit: 50 } }),
    // Pending deliveries change by themselves: keep the log fresh while it is open.
    refetchInterval: (query) => (query.state.data?.items.some((d) => d.status === "pending") ? 1000 : 5000),
  });
  const replay = useMutation({
    mutationFn: (delivery: string) => api<DeliveryResponse>(v1.replay(registry.name, id, delivery), { method: "POST" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["deliveries", registry.name, id] }),
  });
  if (automation.isPending) return <Loading label="Loading automation…" />;
  if (automation.isError) return <ErrorState error={automation.error} retry={() => void automation.refetch()} />;
  const a = automation.data;
  return (
    <section aria-labelledby="automation-title">
      <p>
        <Link href={to.automations(registry.name)}>← All automations</Link>
      </p>
      <h2 id="automation-title">{a.name}</h2>
      <dl className="facts facts-wide">
        <div>
          <dt>Event</dt>
          <dd>{a.event}</dd>
        </div>
        <div>
          <dt>Collection</dt>
          <dd>{a.collection ?? "any"}</dd>
        </div>
        <div>
          <dt>Alias pattern</dt>
          <dd>{a.aliasPattern ?? "any"}</dd>
        </div>
        <div>
          <dt>URL</dt>
          <dd className="break">{a.url}</dd>
        </div>
        <div>
          <dt>Signed</dt>
          <dd>{a.hasSecret ? "yes (X-Mreg-Signature)" : "no"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            {formatDate(a.createdAt)} by {a.createdBy}
          </dd>
        </div>
      </dl>
      {a.payloadTemplate ? <pre className="code-block">{a.payloadTemplate}</pre> : null}
      <h3>Delivery log</h3>
      <MutationMessage error={replay.error} success={replay.isSuccess ? `Replayed: ${replay.data.status}.` : null} />
      <QueryView query={deliveries} loadingLabel="Loading deliveries…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title="No deliveries yet">Deliveries appear here when a matching change happens in {registry.name}.</Empty>
          ) : (
            <table className="table" data-testid="deliveries">
              <caption className="visually-hidden">Deliveries of {a.name}, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Responses</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((d) => (
                  <tr key={d.id}>
                    <td>{formatDate(d.createdAt)}</td>
                    <td>
                      {d.event.type} {d.event.collection}:{d.event.version}
                      {d.event.alias ? ` (${d.event.alias})` : ""} by {d.event.actor}
                    </td>
                    <td>
                      <span className={`badge status-${d.status}`}>{d.status}</span>
                      {d.error ? <span className="muted small"> {d.error}</span> : null}
                    </td>
                    <td>{d.attemptCount}</td>
                    <td>
                      <ol className="attempts">
                        {d.attempts.map((attempt) => (
                          <li key={attempt.attempt}>
                            #{attempt.attempt}: {attempt.statusCode ?? attempt.error ?? "no answer"} · {attempt.outcome} ·{" "}
                            {attempt.latencyMs} ms
                          </li>
                        ))}
                      </ol>
                    </td>
                    <td>
                      {d.status === "pending" ? null : (
                        <button
                          type="button"
                          className="button"
                          aria-label={`Replay delivery ${d.id}`}
                          disabled={replay.isPending}
                          onClick={() => replay.mutate(d.id)}
                        >
                          Replay
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
    </section>
  );
}
