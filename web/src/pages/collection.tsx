import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from "react";
import { Link, useLocation, useParams, useSearch } from "wouter";
import { api, ApiError } from "../api/client";
import { to, v1 } from "../api/routes";
import type { CollectionResponse, CollectionVersionResponse, Page, RegistryResponse } from "../api/types";
import { AliasChip, TagChip } from "../components/chips";
import { DescriptionEditor } from "../components/description-editor";
import { HistoryList } from "../components/history-list";
import { Markdown } from "../components/markdown";
import { PromotionsPanel } from "../components/promotions-panel";
import { ErrorState, Loading, MutationMessage, QueryView } from "../components/states";
import { TabNav } from "../components/tabs";
import { flattenMetadata } from "../lib/diff";
import { aliasConflictMessage, aliasMoveBody, descriptionValue, nextTags } from "../lib/edits";
import { formatDate, formatValue } from "../lib/format";
import { aliasPermission, registryAbilities } from "../lib/roles";
import { useRegistry } from "./registry";

const CompareView = lazy(() => import("../components/compare-view"));

export const VERSIONS_PAGE = 100;
export const MAX_COMPARE = 5;

export function useCollection(registry: string, collection: string) {
  return useQuery({
    queryKey: ["collection", registry, collection],
    queryFn: () => api<CollectionResponse>(v1.collection(registry, collection)),
  });
}

export default function CollectionPage() {
  const params = useParams<{ registry: string; collection: string; tab?: string }>();
  const registry = useRegistry(params.registry);
  const collection = useCollection(params.registry, params.collection);
  if (registry.isPending || collection.isPending) return <Loading label="Loading collection…" />;
  if (registry.isError) return <ErrorState error={registry.error} retry={() => void registry.refetch()} />;
  if (collection.isError) return <ErrorState error={collection.error} retry={() => void collection.refetch()} />;
  const r = registry.data;
  const c = collection.data;
  const tab = params.tab ?? "versions";
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.home}>Registries</Link> / <Link href={to.registry(r.name)}>{r.name}</Link> /{" "}
        <span aria-current="page">{c.name}</span>
      </nav>
      <CollectionHeader registry={r} collection={c} />
      <TabNav
        label="Collection sections"
        tabs={[
          { href: to.collection(r.name, c.name), label: `Versions (${c.linkCount})`, exact: true },
          { href: to.compare(r.name, c.name), label: "Compare" },
          { href: to.collectionHistory(r.name, c.name), label: "History" },
        ]}
      />
      {tab === "versions" ? (
        <Versions registry={r} collection={c} />
      ) : tab === "compare" ? (
        <Suspense fallback={<Loading label="Loading comparison…" />}>
          <CompareFromUrl registry={r} collection={c} />
        </Suspense>
      ) : tab === "history" ? (
        <HistoryList
          label={`History of ${c.name}`}
          route={v1.collectionHistory(r.name, c.name)}
          queryKey={["collection", r.name, c.name]}
        />
      ) : (
        <ErrorState error={new Error(`A collection has no ${tab} section.`)} />
      )}
    </>
  );
}

function CollectionHeader({ registry, collection }: { registry: RegistryResponse; collection: CollectionResponse }) {
  const abilities = registryAbilities(registry.role);
  const queryClient = useQueryClient();
  const [tag, setTag] = useState("");
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["collection", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["history", "collection", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["collections", registry.name] });
  };
  // The collection PATCH replaces the whole tag set and the description (lambdas/contract/registries.ts).
  const update = useMutation({
    mutationFn: (body: { tags?: string[]; description?: string | null }) =>
      api<CollectionResponse>(v1.collection(registry.name, collection.name), { method: "PATCH", body }),
    onSuccess: (updated) => {
      queryClient.setQueryData(["collection", registry.name, collection.name], updated);
      refresh();
    },
  });
  const changeTags = useMutation({
    mutationFn: ({ name, add }: { name: string; add: boolean }) =>
      api<CollectionResponse>(v1.collection(registry.name, collection.name), {
        method: "PATCH",
        body: { tags: nextTags(collection.tags, name, add) },
      }),
    onSuccess: (updated) => {
      setTag("");
      queryClient.setQueryData(["collection", registry.name, collection.name], updated);
      refresh();
    },
  });
  return (
    <div className="page-head">
      <h1>{collection.name}</h1>
      <div className="chip-row" aria-label="Tags">
        {collection.tags.map((t) => (
          <span key={t} className="tag-edit">
            <TagChip tag={t} />
            {abilities.tag ? (
              <button
                type="button"
                className="chip-remove"
                aria-label={`Remove tag ${t}`}
                disabled={changeTags.isPending}
                onClick={() => changeTags.mutate({ name: t, add: false })}
              >
                ×
              </button>
            ) : null}
          </span>
        ))}
        {abilities.tag ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (tag.trim()) changeTags.mutate({ name: tag.trim(), add: true });
            }}
          >
            <label htmlFor="add-tag" className="visually-hidden">
              Add a tag
            </label>
            <input id="add-tag" className="input-small" placeholder="add tag" value={tag} onChange={(e) => setTag(e.target.value)} />
            <button type="submit" className="button button-small" disabled={changeTags.isPending || !tag.trim()}>
              Add tag
            </button>
          </form>
        ) : null}
      </div>
      <MutationMessage error={changeTags.error} />
      <dl className="facts facts-inline">
        <div>
          <dt>Type</dt>
          <dd>{collection.type}</dd>
        </div>
        <div>
          <dt>Latest</dt>
          <dd>{collection.latest ?? "none"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            {formatDate(collection.createdAt)} by {collection.createdBy}
          </dd>
        </div>
      </dl>
      <section aria-label="Description" className="description">
        <DescriptionEditor
          key={collection.description ?? ""}
          label="Description"
          source={collection.description}
          canEdit={abilities.editDescription}
          maxLength={4096}
          render={(source) => <Markdown source={source} />}
          pending={update.isPending}
          error={update.error}
          save={(text, done) => update.mutate({ description: descriptionValue(text) }, { onSuccess: done })}
        />
      </section>
      {abilities.deleteCollection ? <DeleteCollection registry={registry} collection={collection} /> : null}
    </div>
  );
}

/**
 * Admins delete a collection. One that links versions needs a second, explicit confirmation
 * naming how many links go (the delete then unlinks each, `?force=true`); the versions stay
 * in their projects.
 */
export function DeleteCollection({ registry, collection }: { registry: RegistryResponse; collection: CollectionResponse }) {
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const [step, setStep] = useState<"idle" | "confirm" | "force">("idle");
  const [understood, setUnderstood] = useState(false);
  const remove = useMutation({
    mutationFn: (force: boolean) =>
      api<{ deleted: string; unlinked: string[] }>(v1.collection(registry.name, collection.name), {
        method: "DELETE",
        query: { force: force ? "true" : undefined },
      }),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ["collection", registry.name, collection.name] });
      void queryClient.invalidateQueries({ queryKey: ["collections", registry.name] });
      navigate(to.registry(registry.name));
    },
    onError: (error) => {
      // Linked meanwhile: the count shown is stale; read it again and ask for the forced delete.
      if (error instanceof ApiError && error.status === 409) {
        void queryClient.invalidateQueries({ queryKey: ["collection", registry.name, collection.name] });
        setStep("force");
      }
    },
  });
  const links = collection.linkCount;
  if (step === "idle") {
    return (
      <button type="button" className="button button-danger button-small" onClick={() => setStep("confirm")}>
        Delete collection…
      </button>
    );
  }
  const cancel = () => {
    setStep("idle");
    setUnderstood(false);
    remove.reset();
  };
  return (
    <div className="panel panel-danger" role="group" aria-labelledby="delete-collection-title">
      <p id="delete-collection-title">
        <strong>Delete collection {collection.name}?</strong> Its aliases, tags and promotion requests go with it; its history is kept.
      </p>
      {step === "confirm" ? (
        <div className="form-actions">
          <button
            type="button"
            className="button button-danger"
            disabled={remove.isPending}
            onClick={() => (links > 0 ? setStep("force") : remove.mutate(false))}
          >
            {links > 0 ? "Continue" : `Delete ${collection.name}`}
          </button>
          <button type="button" className="button button-quiet" onClick={cancel}>
            Cancel
          </button>
        </div>
      ) : (
        <>
          <p className="inline-warning">
            {collection.name} links {links} version{links === 1 ? "" : "s"}: deleting it first unlinks all {links} (each recorded in the
            history). The versions stay in their projects.
          </p>
          <label className="check">
            <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} />
            Unlink {links} version{links === 1 ? "" : "s"} and delete {collection.name}
          </label>
          <div className="form-actions">
            <button
              type="button"
              className="button button-danger"
              disabled={!understood || remove.isPending}
              onClick={() => remove.mutate(true)}
            >
              {remove.isPending ? "Deleting…" : `Unlink ${links} and delete`}
            </button>
            <button type="button" className="button button-quiet" onClick={cancel}>
              Cancel
            </button>
          </div>
        </>
      )}
      <MutationMessage error={remove.error} />
    </div>
  );
}

function useStoredColumns(registry: string, collection: string) {
  const storageKey = `mreg.columns.${registry}/${collection}`;
  const [columns, setColumns] = useState<string[]>(() => {
    try {
      return JSON.parse(localStorage.getItem(storageKey) ?? "[]") as string[];
    } catch {
      return [];
    }
  });
  const update = (next: string[]) => {
    setColumns(next);
    try {
      localStorage.setItem(storageKey, JSON.stringify(next));
    } catch {
      // Choices simply do not persist.
    }
  };
  return [columns, update] as const;
}

function Versions({ registry, collection }: { registry: RegistryResponse; collection: CollectionResponse }) {
  const [, navigate] = useLocation();
  const abilities = registryAbilities(registry.role);
  const versions = useInfiniteQuery({
    queryKey: ["collection-versions", registry.name, collection.name],
    queryFn: ({ pageParam }) =>
      api<Page<CollectionVersionResponse>>(v1.collectionVersions(registry.name, collection.name), {
        query: { limit: VERSIONS_PAGE, cursor: pageParam },
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor,
  });
  const [selected, setSelected] = useState<string[]>([]);
  const [columns, setColumns] = useStoredColumns(registry.name, collection.name);
  const items = useMemo(() => versions.data?.pages.flatMap((p) => p.items) ?? [], [versions.data]);
  const metadataKeys = useMemo(() => [...new Set(items.flatMap((v) => Object.keys(flattenMetadata(v.metadata))))].sort(), [items]);
  const rendered = useRef(false);
  useEffect(() => {
    // The browser suite reads this mark: time from navigation to the first rows on screen.
    if (!rendered.current && items.length > 0) {
      rendered.current = true;
      performance.mark("mreg:versions-rendered");
    }
  }, [items.length]);

  const toggle = (version: string) =>
    setSelected((current) =>
      current.includes(version) ? current.filter((v) => v !== version) : current.length >= MAX_COMPARE ? current : [...current, version],
    );

  if (versions.isPending) return <Loading label="Loading versions…" />;
  if (versions.isError) return <ErrorState error={versions.error} retry={() => void versions.refetch()} />;
  if (items.length === 0) {
    return (
      <div className="state state-empty">
        <p className="state-title">No versions linked yet</p>
        <p className="state-detail">
          Open an artifact version (Projects) and link it here, or use <code>mreg link</code>.
        </p>
      </div>
    );
  }
  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title" className="visually-hidden">
        Versions
      </h2>
      <div className="toolbar">
        <button
          type="button"
          className="button button-primary"
          disabled={selected.length < 2}
          onClick={() => navigate(`${to.compare(registry.name, collection.name)}?versions=${selected.join(",")}`)}
        >
          Compare selected ({selected.length})
        </button>
        <span className="muted small" id="compare-hint">
          Pick 2–{MAX_COMPARE} versions to compare their metadata, a metric and their files.
        </span>
        <details className="column-picker">
          <summary>Metadata columns ({columns.length})</summary>
          <fieldset>
            <legend className="visually-hidden">Metadata columns to show</legend>
            {metadataKeys.length === 0 ? <p className="muted small">These versions carry no metadata.</p> : null}
            {metadataKeys.map((key) => (
              <label key={key} className="check">
                <input
                  type="checkbox"
                  checked={columns.includes(key)}
                  onChange={(e) => setColumns(e.target.checked ? [...columns, key] : columns.filter((c) => c !== key))}
                />
                {key}
              </label>
            ))}
          </fieldset>
        </details>
      </div>
      {abilities.moveAliases ? <AliasPanel registry={registry} collection={collection} versions={items} /> : null}
      {registry.approvalsRequired > 0 ? <PromotionsPanel registry={registry} collection={collection} versions={items} /> : null}
      <div className="table-wrap">
        <table className="table" data-testid="versions-table">
          <caption className="visually-hidden">Versions of {collection.name}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">
                <span className="visually-hidden">Select to compare</span>
              </th>
              <th scope="col">Version</th>
              <th scope="col">Aliases</th>
              <th scope="col">Source</th>
              <th scope="col">Created</th>
              <th scope="col">Creator</th>
              {columns.map((key) => (
                <th scope="col" key={key}>
                  {key}
                </th>
              ))}
              {abilities.unlink ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <VersionRow
                key={v.version}
                registry={registry}
                collection={collection}
                version={v}
                columns={columns}
                selected={selected.includes(v.version)}
                selectable={selected.includes(v.version) || selected.length < MAX_COMPARE}
                onToggle={() => toggle(v.version)}
              />
            ))}
          </tbody>
        </table>
      </div>
      {versions.hasNextPage ? (
        <button type="button" className="button" disabled={versions.isFetchingNextPage} onClick={() => void versions.fetchNextPage()}>
          {versions.isFetchingNextPage ? "Loading…" : `Load ${VERSIONS_PAGE} more`}
        </button>
      ) : null}
    </section>
  );
}

function VersionRow({
  registry,
  collection,
  version,
  columns,
  selected,
  selectable,
  onToggle,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  version: CollectionVersionResponse;
  columns: string[];
  selected: boolean;
  selectable: boolean;
  onToggle: () => void;
}) {
  const queryClient = useQueryClient();
  const abilities = registryAbilities(registry.role);
  const flat = flattenMetadata(version.metadata);
  const unlink = useMutation({
    mutationFn: () => api(v1.collectionVersion(registry.name, collection.name, version.version), { method: "DELETE" }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["collection-versions", registry.name, collection.name] });
      void queryClient.invalidateQueries({ queryKey: ["collection", registry.name, collection.name] });
      void queryClient.invalidateQueries({ queryKey: ["history", "collection", registry.name, collection.name] });
    },
  });
  const s = version.source;
  return (
    <tr className={selected ? "row-selected" : undefined}>
      <td>
        <input
          type="checkbox"
          aria-label={`Select ${version.version} to compare`}
          checked={selected}
          disabled={!selectable}
          onChange={onToggle}
        />
      </td>
      <th scope="row">
        <Link href={to.collectionVersion(registry.name, collection.name, version.version)}>{version.version}</Link>
      </th>
      <td>
        <div className="chip-row">
          {version.aliases.map((alias) => (
            <AliasChip key={alias} alias={alias} protectedAlias={registry.protectedAliases.includes(alias)} />
          ))}
        </div>
      </td>
      <td>
        <Link href={to.artifactVersion(s.project, s.artifact, s.version)}>
          {s.project}/{s.artifact}:{s.version}
        </Link>
      </td>
      <td>{formatDate(version.createdAt)}</td>
      <td>{version.createdBy}</td>
      {columns.map((key) => (
        <td key={key} className="num">
          {formatValue(flat[key])}
        </td>
      ))}
      {abilities.unlink ? (
        <td>
          <button
            type="button"
            className="button button-small button-danger"
            aria-label={`Unlink ${version.version}`}
            disabled={unlink.isPending}
            onClick={() => {
              if (window.confirm(`Unlink ${version.version} from ${collection.name}? Its number is never reused.`)) unlink.mutate();
            }}
          >
            Unlink
          </button>
          <MutationMessage error={unlink.error} />
        </td>
      ) : null}
    </tr>
  );
}

/** Move or remove an alias: members for unprotected aliases, admins for all; a refused choice says why. */
function AliasPanel({
  registry,
  collection,
  versions,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  versions: CollectionVersionResponse[];
}) {
  const queryClient = useQueryClient();
  const [alias, setAlias] = useState("");
  const [target, setTarget] = useState(versions[0]?.version ?? "");
  const decision = alias.trim() ? aliasPermission(alias.trim(), registry, registry.role) : null;
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["collection-versions", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["collection", registry.name, collection.name] });
    void queryClient.invalidateQueries({ queryKey: ["history", "collection", registry.name, collection.name] });
  };
  const move = useMutation({
    mutationFn: () =>
      api<{ alias: string; version: string; previous: string | null }>(v1.collectionAlias(registry.name, collection.name, alias.trim()), {
        method: "PUT",
        // What the page shows the alias naming now: another mover in between makes this a 412, not an overwrite.
        body: aliasMoveBody(target, collection.aliases[alias.trim()]),
      }),
    onSuccess: refresh,
    onError: (error) => {
      if (aliasConflictMessage(alias.trim(), error)) refresh();
    },
  });
  const conflict = aliasConflictMessage(alias.trim(), move.error);
  const remove = useMutation({
    mutationFn: (name: string) => api(v1.collectionAlias(registry.name, collection.name, name), { method: "DELETE" }),
    onSuccess: refresh,
  });
  const existing = Object.entries(collection.aliases).filter(([a]) => a !== "latest");
  const known = [...new Set([...registry.protectedAliases, ...existing.map(([a]) => a), "staging", "production", "best"])];
  return (
    <details className="panel" open>
      <summary>Aliases</summary>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (decision?.allowed) move.mutate();
        }}
      >
        <label htmlFor="alias-name">Alias</label>
        <input
          id="alias-name"
          list="alias-names"
          value={alias}
          onChange={(e) => setAlias(e.target.value)}
          aria-describedby="alias-reason"
        />
        <datalist id="alias-names">
          {known.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <label htmlFor="alias-target">Version</label>
        <select id="alias-target" value={target} onChange={(e) => setTarget(e.target.value)}>
          {versions.map((v) => (
            <option key={v.version} value={v.version}>
              {v.version}
            </option>
          ))}
        </select>
        <button type="submit" className="button button-primary" disabled={!decision?.allowed || move.isPending}>
          Move alias
        </button>
      </form>
      <p id="alias-reason" className={decision && !decision.allowed ? "inline-warning" : "visually-hidden"} role="status">
        {decision && !decision.allowed ? decision.reason : ""}
      </p>
      {conflict ? (
        <p className="inline-warning" role="alert">
          {conflict}
        </p>
      ) : null}
      <MutationMessage
        error={(conflict ? null : move.error) ?? remove.error}
        success={
          move.isSuccess
            ? `${move.data.alias} now names ${move.data.version}${move.data.previous && move.data.previous !== move.data.version ? ` (was ${move.data.previous})` : ""}.`
            : null
        }
      />
      {existing.length > 0 ? (
        <ul className="plain-list alias-list" aria-label="Current aliases">
          {existing.map(([name, version]) => {
            const allowed = aliasPermission(name, registry, registry.role, "remove");
            return (
              <li key={name}>
                <AliasChip alias={name} protectedAlias={registry.protectedAliases.includes(name)} /> → {version}{" "}
                <button
                  type="button"
                  className="button button-small"
                  aria-label={`Remove alias ${name}`}
                  disabled={!allowed.allowed || remove.isPending}
                  aria-describedby={allowed.allowed ? undefined : `why-${name}`}
                  onClick={() => remove.mutate(name)}
                >
                  Remove
                </button>
                {allowed.allowed ? null : (
                  <span id={`why-${name}`} className="muted small">
                    {" "}
                    {allowed.reason}
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      ) : null}
    </details>
  );
}

function CompareFromUrl({ registry, collection }: { registry: RegistryResponse; collection: CollectionResponse }) {
  const search = new URLSearchParams(useSearch());
  const chosen = (search.get("versions") ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "")
    .slice(0, MAX_COMPARE);
  const versions = useQuery({
    queryKey: ["collection-versions-first", registry.name, collection.name],
    queryFn: () =>
      api<Page<CollectionVersionResponse>>(v1.collectionVersions(registry.name, collection.name), { query: { limit: VERSIONS_PAGE } }),
    enabled: chosen.length < 2,
  });
  if (chosen.length < 2) {
    return (
      <QueryView query={versions}>
        {(data) => <ComparePicker registry={registry} collection={collection} versions={data.items} />}
      </QueryView>
    );
  }
  return <CompareView registry={registry.name} collection={collection.name} versions={chosen} />;
}

function ComparePicker({
  registry,
  collection,
  versions,
}: {
  registry: RegistryResponse;
  collection: CollectionResponse;
  versions: CollectionVersionResponse[];
}) {
  const [, navigate] = useLocation();
  const [picked, setPicked] = useState<string[]>(versions.slice(0, 2).map((v) => v.version));
  if (versions.length < 2) return <p className="muted">Comparing needs at least two linked versions.</p>;
  return (
    <form
      className="panel"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(`${to.compare(registry.name, collection.name)}?versions=${picked.join(",")}`);
      }}
    >
      <fieldset>
        <legend>Pick 2–{MAX_COMPARE} versions</legend>
        <div className="check-grid">
          {versions.map((v) => (
            <label key={v.version} className="check">
              <input
                type="checkbox"
                checked={picked.includes(v.version)}
                disabled={!picked.includes(v.version) && picked.length >= MAX_COMPARE}
                onChange={(e) => setPicked(e.target.checked ? [...picked, v.version] : picked.filter((p) => p !== v.version))}
              />
              {v.version} {v.aliases.length ? `(${v.aliases.join(", ")})` : ""}
            </label>
          ))}
        </div>
      </fieldset>
      <button type="submit" className="button button-primary" disabled={picked.length < 2}>
        Compare
      </button>
    </form>
  );
}
