import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useLocation, useParams, useSearch } from "wouter";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { to, v1 } from "../api/routes";
import type { AuditEvent, CollectionResponse, MemberResponse, Page, RegistryResponse } from "../api/types";
import { DescriptionEditor } from "../components/description-editor";
import { AliasChip, RoleBadge, TagChip } from "../components/chips";
import { Markdown } from "../components/markdown";
import { Pager, useCursorPages } from "../components/pager";
import { Empty, ErrorState, Loading, MutationMessage } from "../components/states";
import { TabNav } from "../components/tabs";
import { formatDate } from "../lib/format";
import { excerpt } from "../lib/excerpt";
import { descriptionValue } from "../lib/edits";
import { orgAbilities, registryAbilities } from "../lib/roles";
import { formatSearch, parseSearch } from "../lib/search-query";
import { AutomationDetail, Automations } from "./automations";

export const PAGE_SIZE = 24;

export function useRegistry(name: string) {
  return useQuery({ queryKey: ["registry", name], queryFn: () => api<RegistryResponse>(v1.registry(name)) });
}

export default function RegistryPage() {
  const params = useParams<{ registry: string; tab?: string; automation?: string }>();
  const registry = useRegistry(params.registry);
  const me = useMe();
  if (registry.isPending) return <Loading label="Loading registry…" />;
  if (registry.isError) return <ErrorState error={registry.error} retry={() => void registry.refetch()} />;
  const data = registry.data;
  const abilities = registryAbilities(data.role);
  const canSettle = abilities.editRegistry || orgAbilities(me.role).deleteRegistry;
  const tab = params.automation ? "automations" : (params.tab ?? "collections");
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.home}>Registries</Link> / <span aria-current="page">{data.name}</span>
      </nav>
      <div className="page-head">
        <h1>{data.name}</h1>
        <div className="chip-row">
          <RoleBadge role={data.role} label="your role" />
          <span className="badge">{data.visibility}</span>
          <span className="badge">types: {data.artifactTypes?.join(", ") ?? "any"}</span>
          {data.protectedAliases.map((alias) => (
            <AliasChip key={alias} alias={alias} protectedAlias />
          ))}
          {data.approvalsRequired > 0 ? (
            <span className="badge">
              {data.approvalsRequired} approval{data.approvalsRequired === 1 ? "" : "s"} to promote
            </span>
          ) : null}
        </div>
        {data.description ? <Markdown source={data.description} /> : null}
      </div>
      <TabNav
        label="Registry sections"
        tabs={[
          { href: to.registry(data.name), label: "Collections", exact: true },
          { href: to.members(data.name), label: "Members" },
          ...(abilities.automations ? [{ href: to.automations(data.name), label: "Automations" }] : []),
          ...(canSettle ? [{ href: to.settings(data.name), label: "Settings" }] : []),
        ]}
      />
      {tab === "members" ? (
        <Members registry={data} />
      ) : tab === "settings" && canSettle ? (
        <Settings registry={data} />
      ) : tab === "automations" && params.automation ? (
        <AutomationDetail registry={data} id={params.automation} />
      ) : tab === "automations" ? (
        <Automations registry={data} />
      ) : tab === "collections" ? (
        <Collections registry={data} />
      ) : (
        <ErrorState error={new Error(`This registry has no ${tab} section you can open.`)} />
      )}
    </>
  );
}

function Collections({ registry }: { registry: RegistryResponse }) {
  const [, navigate] = useLocation();
  const search = new URLSearchParams(useSearch());
  const active = { q: search.get("q") ?? undefined, tag: search.get("tag") ?? undefined };
  const [text, setText] = useState(formatSearch(active));
  useEffect(() => setText(formatSearch(active)), [active.q, active.tag]);
  const pages = useCursorPages(`${active.q ?? ""}|${active.tag ?? ""}`);
  const collections = useQuery({
    queryKey: ["collections", registry.name, active.q, active.tag, pages.cursor],
    queryFn: () =>
      api<Page<CollectionResponse>>(v1.collections(registry.name), {
        query: { limit: PAGE_SIZE, q: active.q, tag: active.tag, cursor: pages.cursor },
      }),
    placeholderData: (previous) => previous,
  });
  const apply = (next: { q?: string; tag?: string }) => {
    const query = new URLSearchParams();
    if (next.q) query.set("q", next.q);
    if (next.tag) query.set("tag", next.tag);
    const qs = query.toString();
    navigate(`${to.registry(registry.name)}${qs ? `?${qs}` : ""}`);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply(parseSearch(text));
  };
  const abilities = registryAbilities(registry.role);
  return (
    <section aria-labelledby="collections-title">
      <h2 id="collections-title" className="visually-hidden">
        Collections
      </h2>
      <form role="search" className="search-bar" onSubmit={submit}>
        <label htmlFor="collection-search" className="visually-hidden">
          Search collections by name or tag
        </label>
        <input
          id="collection-search"
          type="search"
          placeholder="Search by name, or tag:vision"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="button">
          Search
        </button>
        {active.q || active.tag ? (
          <button type="button" className="button button-quiet" onClick={() => apply({})}>
            Clear
          </button>
        ) : null}
      </form>
      {abilities.createCollection ? <CreateCollection registry={registry} /> : null}
      {collections.isPending ? (
        <Loading label="Loading collections…" />
      ) : collections.isError ? (
        <ErrorState error={collections.error} retry={() => void collections.refetch()} />
      ) : collections.data.items.length === 0 ? (
        <Empty title={active.q || active.tag ? "No collection matches this search" : "No collections yet"}>
          {active.q || active.tag
            ? "Try another name or tag."
            : "Link a version into this registry (from a version's page, the CLI or the SDK) to create one."}
        </Empty>
      ) : (
        <>
          <p className="muted" role="status">
            {active.q || active.tag ? `Results for ${formatSearch(active)}` : `Collections in ${registry.name}`}
            {collections.isFetching ? " (updating…)" : ""}
          </p>
          <ul className="card-grid" aria-label="Collections">
            {collections.data.items.map((collection) => (
              <CollectionCard
                key={collection.name}
                registry={registry}
                collection={collection}
                onTag={(tag) => apply({ ...active, tag })}
              />
            ))}
          </ul>
        </>
      )}
      <Pager label="Collection pages" pages={pages} nextCursor={collections.data?.nextCursor} />
    </section>
  );
}

function CollectionCard({
  registry,
  collection,
  onTag,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  onTag: (tag: string) => void;
}) {
  // Listing answers carry no aliases and no change time: each card reads its collection and last event.
  const detail = useQuery({
    queryKey: ["collection", registry.name, collection.name],
    queryFn: () => api<CollectionResponse>(v1.collection(registry.name, collection.name)),
  });
  const last = useQuery({
    queryKey: ["collection-last-event", registry.name, collection.name],
    queryFn: () => api<Page<AuditEvent>>(v1.collectionHistory(registry.name, collection.name), { query: { limit: 1 } }),
  });
  const aliases = Object.entries(detail.data?.aliases ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <li className="card collection-card">
      <div className="chip-row">
        {collection.tags.map((tag) => (
          <TagChip key={tag} tag={tag} onSelect={onTag} />
        ))}
      </div>
      <h3 className="card-title">
        <Link href={to.collection(registry.name, collection.name)}>{collection.name}</Link>
      </h3>
      <p className="card-text">{excerpt(collection.description) || <span className="muted">No description</span>}</p>
      <dl className="facts">
        <div>
          <dt>Type</dt>
          <dd>{collection.type}</dd>
        </div>
        <div>
          <dt>Latest</dt>
          <dd>{collection.latest ?? "none"}</dd>
        </div>
        <div>
          <dt>Versions</dt>
          <dd>{collection.linkCount}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{last.data?.items[0] ? formatDate(last.data.items[0].at) : formatDate(collection.createdAt)}</dd>
        </div>
      </dl>
      <div className="chip-row" aria-label="Aliases">
        {detail.isPending ? (
          <span className="muted small">aliases…</span>
        ) : (
          aliases.map(([alias, version]) => (
            <span key={alias} className="alias-pair">
              <AliasChip alias={alias} protectedAlias={registry.protectedAliases.includes(alias)} />
              <span className="muted small">{version}</span>
            </span>
          ))
        )}
      </div>
    </li>
  );
}

function CreateCollection({ registry }: { registry: RegistryResponse }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [type, setType] = useState(registry.artifactTypes?.[0] ?? "model");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState("");
  const create = useMutation({
    mutationFn: () =>
      api<CollectionResponse>(v1.collections(registry.name), {
        method: "POST",
        body: {
          name,
          type,
          ...(description ? { description } : {}),
          tags: tags.split(/[\s,]+/).filter((t) => t !== ""),
        },
      }),
    onSuccess: () => {
      setName("");
      setDescription("");
      setTags("");
      void queryClient.invalidateQueries({ queryKey: ["collections", registry.name] });
    },
  });
  return (
    <details className="panel">
      <summary>Create a collection</summary>
      <form
        className="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <label htmlFor="collection-name">Name</label>
        <input id="collection-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="collection-type">Type</label>
        <input id="collection-type" required value={type} onChange={(e) => setType(e.target.value)} />
        <label htmlFor="collection-description">Description (markdown)</label>
        <textarea id="collection-description" rows={4} value={description} onChange={(e) => setDescription(e.target.value)} />
        <label htmlFor="collection-tags">Tags</label>
        <input id="collection-tags" placeholder="vision, classification" value={tags} onChange={(e) => setTags(e.target.value)} />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            Create collection
          </button>
          <MutationMessage error={create.error} success={create.isSuccess ? `Collection ${create.data.name} created.` : null} />
        </div>
      </form>
    </details>
  );
}

function Members({ registry }: { registry: RegistryResponse }) {
  const abilities = registryAbilities(registry.role);
  const pages = useCursorPages(registry.name);
  const members = useQuery({
    queryKey: ["members", registry.name, pages.cursor],
    queryFn: () => api<Page<MemberResponse>>(v1.members(registry.name), { query: { limit: 50, cursor: pages.cursor } }),
    placeholderData: (previous) => previous,
  });
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <p className="muted">
        A membership raises a user's role in this registry (
        {registry.visibility === "organization" ? "every org user already reads it" : "only members see it"}); org admins are admins
        everywhere. The registry's audit trail records each change.
      </p>
      {abilities.manageMembers ? <MemberForm registry={registry} /> : null}
      {members.isPending ? (
        <Loading label="Loading members…" />
      ) : members.isError ? (
        <ErrorState error={members.error} retry={() => void members.refetch()} />
      ) : members.data.items.length === 0 && !pages.hasPrevious ? (
        <Empty title="No memberships">Nobody holds a role in {registry.name} beyond what their org role gives.</Empty>
      ) : (
        <table className="table" data-testid="members-table">
          <caption className="visually-hidden">Members of {registry.name}</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Granted</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.user}>
                <th scope="row">{m.user}</th>
                <td>
                  <RoleBadge role={m.role} />
                </td>
                <td>{formatDate(m.grantedAt)}</td>
                <td>{m.grantedBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Member pages" pages={pages} nextCursor={members.data?.nextCursor} />
    </section>
  );
}

function MemberForm({ registry }: { registry: RegistryResponse }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState("");
  const [role, setRole] = useState<"viewer" | "member" | "admin">("member");
  const [done, setDone] = useState<string | null>(null);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["members", registry.name] });
  const grant = useMutation({
    mutationFn: () => api(v1.member(registry.name, user), { method: "PUT", body: { role } }),
    onSuccess: () => {
      setDone(`${user} is now ${role} of ${registry.name}.`);
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: () => api(v1.member(registry.name, user), { method: "DELETE" }),
    onSuccess: () => {
      setDone(`${user}'s membership of ${registry.name} was revoked.`);
      refresh();
    },
  });
  return (
    <>
      <form
        className="form-row panel"
        onSubmit={(e) => {
          e.preventDefault();
          grant.mutate();
        }}
      >
        <label htmlFor="member-user">User</label>
        <input id="member-user" required value={user} onChange={(e) => setUser(e.target.value)} />
        <label htmlFor="member-role">Role</label>
        <select id="member-role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
          <option value="viewer">viewer</option>
          <option value="member">member</option>
          <option value="admin">admin</option>
        </select>
        <button type="submit" className="button button-primary" disabled={grant.isPending || user === ""}>
          Grant role
        </button>
        <button type="button" className="button button-danger" disabled={revoke.isPending || user === ""} onClick={() => revoke.mutate()}>
          Revoke membership
        </button>
      </form>
      <MutationMessage error={grant.error ?? revoke.error} success={done} />
    </>
  );
}

/** Registry admins edit the description and the approvals promotions need; org admins delete an empty registry. */
function Settings({ registry }: { registry: RegistryResponse }) {
  const me = useMe();
  const abilities = registryAbilities(registry.role);
  const queryClient = useQueryClient();
  const [approvals, setApprovals] = useState(String(registry.approvalsRequired));
  const update = useMutation({
    mutationFn: (body: { description?: string | null; approvalsRequired?: number }) =>
      api<RegistryResponse>(v1.registry(registry.name), { method: "PATCH", body }),
    onSuccess: (updated) => {
      queryClient.setQueryData(["registry", registry.name], updated);
      void queryClient.invalidateQueries({ queryKey: ["registries"] });
    },
  });
  const approvalsUpdate = useMutation({
    mutationFn: (approvalsRequired: number) =>
      api<RegistryResponse>(v1.registry(registry.name), { method: "PATCH", body: { approvalsRequired } }),
    onSuccess: (updated) => {
      queryClient.setQueryData(["registry", registry.name], updated);
      void queryClient.invalidateQueries({ queryKey: ["registries"] });
    },
  });
  const n = Number(approvals);
  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      {abilities.editRegistry ? (
        <>
          <div className="panel">
            <h3 className="small-heading">Description</h3>
            <DescriptionEditor
              key={registry.description ?? ""}
              label="Registry description"
              source={registry.description}
              canEdit
              maxLength={4096}
              render={(source) => <Markdown source={source} />}
              pending={update.isPending}
              error={update.error}
              save={(text, done) => update.mutate({ description: descriptionValue(text) }, { onSuccess: done })}
            />
          </div>
          <form
            className="panel form-row"
            onSubmit={(e) => {
              e.preventDefault();
              approvalsUpdate.mutate(n);
            }}
          >
            <label htmlFor="approvals-required">Approvals a promotion needs</label>
            <input
              id="approvals-required"
              className="input-small"
              type="number"
              min={0}
              max={10}
              required
              value={approvals}
              aria-describedby="approvals-help"
              onChange={(e) => setApprovals(e.target.value)}
            />
            <button
              type="submit"
              className="button button-primary"
              disabled={approvalsUpdate.isPending || !Number.isInteger(n) || n < 0 || n > 10 || n === registry.approvalsRequired}
            >
              Save approvals
            </button>
            <p id="approvals-help" className="muted small form-wide">
              0: admins move protected aliases ({registry.protectedAliases.join(", ") || "none here"}) directly. 1–10: nobody does; they
              move through a promotion approved by that many admins other than the asker.
            </p>
            <MutationMessage
              error={approvalsUpdate.error}
              success={approvalsUpdate.isSuccess ? `Promotions now need ${approvalsUpdate.data.approvalsRequired} approvals.` : null}
            />
          </form>
        </>
      ) : null}
      {orgAbilities(me.role).deleteRegistry ? <DeleteRegistry registry={registry} /> : null}
    </section>
  );
}

function DeleteRegistry({ registry }: { registry: RegistryResponse }) {
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const [confirming, setConfirming] = useState(false);
  const collections = useQuery({
    queryKey: ["collections", registry.name, undefined, undefined, undefined, "any"],
    queryFn: () => api<Page<CollectionResponse>>(v1.collections(registry.name), { query: { limit: 1 } }),
  });
  const remove = useMutation({
    mutationFn: () => api<{ deleted: string }>(v1.registry(registry.name), { method: "DELETE" }),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ["registry", registry.name] });
      void queryClient.invalidateQueries({ queryKey: ["registries"] });
      navigate(to.home);
    },
  });
  const empty = collections.data ? collections.data.items.length === 0 : false;
  return (
    <div className="panel panel-danger">
      <h3 className="small-heading">Delete this registry</h3>
      {collections.isPending ? (
        <Loading label="Checking whether it is empty…" />
      ) : collections.isError ? (
        <ErrorState error={collections.error} retry={() => void collections.refetch()} />
      ) : !empty ? (
        <p className="muted">
          Only an empty registry can be deleted: delete its collections first (each collection's page has Delete collection for admins).
        </p>
      ) : confirming ? (
        <div className="form-actions">
          <p>
            Delete {registry.name} with its memberships and automations?{" "}
            {registry.name === "model" || registry.name === "dataset"
              ? "It comes back, empty, at the next bootstrap."
              : "This cannot be undone."}
          </p>
          <button type="button" className="button button-danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
            Delete {registry.name}
          </button>
          <button type="button" className="button button-quiet" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
          Delete registry…
        </button>
      )}
      <MutationMessage error={remove.error} />
    </div>
  );
}
