import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useState } from "react";
import { Link, useParams } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { CollectionResponse, LinkResponse, Page, RegistryResponse, VersionResponse } from "../api/types";
import { useMe } from "../api/me";
import { AliasChip } from "../components/chips";
import { DescriptionEditor } from "../components/description-editor";
import { FilesTable } from "../components/files-table";
import { HistoryList } from "../components/history-list";
import { MetadataEditor } from "../components/metadata-editor";
import { MetadataTable } from "../components/metadata-table";
import { ErrorState, Loading, MutationMessage } from "../components/states";
import { TabNav } from "../components/tabs";
import { formatBytes, formatDate } from "../lib/format";
import { descriptionValue } from "../lib/edits";
import { aliasPermission, orgAbilities, registryAbilities } from "../lib/roles";

const LineageView = lazy(() => import("../components/lineage-view"));

export default function ArtifactVersionPage() {
  const params = useParams<{ project: string; artifact: string; version: string; tab?: string }>();
  const me = useMe();
  const queryClient = useQueryClient();
  const versionKey = ["artifact-version", params.project, params.artifact, params.version];
  const version = useQuery({
    queryKey: versionKey,
    queryFn: () => api<VersionResponse>(v1.artifactVersion(params.project, params.artifact, params.version)),
  });
  // Members edit a version's description and metadata; its files (and digest) never change.
  const edit = useMutation({
    mutationFn: (body: { description?: string | null; metadata?: Record<string, unknown> }) =>
      api<VersionResponse>(v1.artifactVersion(params.project, params.artifact, params.version), { method: "PATCH", body }),
    onSuccess: (updated) => {
      queryClient.setQueryData(versionKey, updated);
      void queryClient.invalidateQueries({ queryKey: ["history", "artifact", params.project, params.artifact] });
      // Linked copies carry the description and metadata too.
      void queryClient.invalidateQueries({ queryKey: ["collection-versions"] });
      void queryClient.invalidateQueries({ queryKey: ["collection-version"] });
    },
  });
  const canEdit = orgAbilities(me.role).editVersions;
  if (version.isPending) return <Loading label="Loading version…" />;
  if (version.isError) return <ErrorState error={version.error} retry={() => void version.refetch()} />;
  const v = version.data;
  const base = to.artifactVersion(v.project, v.artifact, v.version);
  const tab = params.tab ?? "overview";
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.projects}>Projects</Link> / <Link href={to.project(v.project)}>{v.project}</Link> /{" "}
        <Link href={to.artifact(v.project, v.artifact)}>{v.artifact}</Link> / <span aria-current="page">{v.version}</span>
      </nav>
      <div className="page-head">
        <h1>
          {v.artifact}:{v.version}
        </h1>
        <div className="chip-row">
          {v.aliases.map((a) => (
            <AliasChip key={a} alias={a} />
          ))}
        </div>
        <dl className="facts facts-inline">
          <div>
            <dt>Type</dt>
            <dd>{v.type}</dd>
          </div>
          <div>
            <dt>Size</dt>
            <dd>
              {formatBytes(v.size)} in {v.fileCount} files
            </dd>
          </div>
          <div>
            <dt>Logged</dt>
            <dd>
              {formatDate(v.createdAt)} by {v.createdBy}
            </dd>
          </div>
          <div>
            <dt>Produced by</dt>
            <dd>{v.runId ? <Link href={to.run(v.project, v.runId)}>run {v.runId}</Link> : "no run recorded"}</dd>
          </div>
          <div>
            <dt>Digest</dt>
            <dd className="mono">{v.digest.slice(0, 16)}…</dd>
          </div>
        </dl>
        {canEdit ? (
          <section aria-label="Description" className="description">
            <DescriptionEditor
              key={v.description ?? ""}
              label="Description"
              source={v.description}
              canEdit
              maxLength={4096}
              pending={edit.isPending && edit.variables?.description !== undefined}
              error={edit.variables?.description !== undefined ? edit.error : null}
              save={(text, done) => edit.mutate({ description: descriptionValue(text) }, { onSuccess: done })}
            />
          </section>
        ) : v.description ? (
          <p>{v.description}</p>
        ) : null}
      </div>
      <TabNav
        label="Version sections"
        tabs={[
          { href: base, label: "Files and metadata", exact: true },
          { href: `${base}/lineage`, label: "Lineage" },
          { href: `${base}/link`, label: "Link to a registry" },
          { href: `${base}/history`, label: "History" },
        ]}
      />
      {tab === "lineage" ? (
        <Suspense fallback={<Loading label="Loading lineage…" />}>
          <LineageView
            route={v1.artifactLineage(v.project, v.artifact, v.version)}
            queryKey={["artifact", v.project, v.artifact, v.version]}
          />
        </Suspense>
      ) : tab === "link" ? (
        <LinkForm version={v} />
      ) : tab === "history" ? (
        <HistoryList
          label={`History of ${v.version}`}
          route={v1.artifactHistory(v.project, v.artifact)}
          queryKey={["artifact", v.project, v.artifact]}
          version={v.version}
        />
      ) : (
        <div className="two-columns">
          <section aria-labelledby="files-title">
            <h2 id="files-title">Files</h2>
            <FilesTable
              route={v1.artifactFiles(v.project, v.artifact, v.version)}
              queryKey={["artifact", v.project, v.artifact, v.version]}
            />
          </section>
          <section aria-labelledby="metadata-title">
            <h2 id="metadata-title">Metadata</h2>
            <MetadataTable metadata={v.metadata} />
            {canEdit ? (
              <MetadataEditor
                key={JSON.stringify(v.metadata)}
                metadata={v.metadata}
                pending={edit.isPending && edit.variables?.metadata !== undefined}
                error={edit.variables?.metadata !== undefined ? edit.error : null}
                save={(metadata, done) => edit.mutate({ metadata }, { onSuccess: done })}
              />
            ) : null}
          </section>
        </div>
      )}
    </>
  );
}

/** Link this version into a collection: registries where the caller may link, then a collection (new or existing) and aliases. */
function LinkForm({ version }: { version: VersionResponse }) {
  const registries = useQuery({
    queryKey: ["registries"],
    queryFn: () => api<Page<RegistryResponse>>(v1.registries, { query: { limit: 100 } }),
  });
  const linkable = (registries.data?.items ?? []).filter(
    (r) => registryAbilities(r.role).link && (!r.artifactTypes || r.artifactTypes.includes(version.type)),
  );
  const [registryName, setRegistryName] = useState("");
  const registry = linkable.find((r) => r.name === registryName) ?? linkable[0];
  const [collectionName, setCollectionName] = useState("");
  const collections = useQuery({
    queryKey: ["collections", registry?.name, collectionName || undefined, undefined, undefined],
    queryFn: () => api<Page<CollectionResponse>>(v1.collections(registry!.name), { query: { limit: 20, q: collectionName || undefined } }),
    enabled: registry !== undefined,
    placeholderData: (previous) => previous,
  });
  const [aliases, setAliases] = useState("");
  const aliasList = aliases.split(/[\s,]+/).filter((a) => a !== "");
  const refused = registry ? aliasList.map((a) => aliasPermission(a, registry, registry.role)).find((d) => !d.allowed) : undefined;
  const link = useMutation({
    mutationFn: () =>
      api<LinkResponse>(v1.links(registry!.name, collectionName), {
        method: "POST",
        body: {
          project: version.project,
          artifact: version.artifact,
          version: version.version,
          ...(aliasList.length ? { aliases: aliasList } : {}),
        },
      }),
  });
  if (registries.isPending) return <Loading label="Loading registries…" />;
  if (registries.isError) return <ErrorState error={registries.error} retry={() => void registries.refetch()} />;
  if (linkable.length === 0) {
    return (
      <p className="muted">
        No registry accepts {version.type} versions from you: linking needs member access to a registry that takes this type.
      </p>
    );
  }
  const existing = collections.data?.items.find((c) => c.name === collectionName);
  return (
    <section aria-labelledby="link-title">
      <h2 id="link-title">Link to a registry</h2>
      <p className="muted">A link is a pointer: the files stay where they are. Linking the same version again returns the first link.</p>
      <form
        className="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          if (!refused) link.mutate();
        }}
      >
        <label htmlFor="link-registry">Registry</label>
        <select id="link-registry" value={registry?.name} onChange={(e) => setRegistryName(e.target.value)}>
          {linkable.map((r) => (
            <option key={r.name} value={r.name}>
              {r.name} ({r.role})
            </option>
          ))}
        </select>
        <label htmlFor="link-collection">Collection (existing, or a new name)</label>
        <input
          id="link-collection"
          list="link-collections"
          required
          value={collectionName}
          onChange={(e) => setCollectionName(e.target.value)}
        />
        <datalist id="link-collections">
          {(collections.data?.items ?? []).map((c) => (
            <option key={c.name} value={c.name}>
              {c.type}, {c.linkCount} versions
            </option>
          ))}
        </datalist>
        <p className="muted small form-wide" role="status">
          {collectionName === ""
            ? ""
            : existing
              ? `Adds ${version.version} to ${existing.name} (${existing.linkCount} versions).`
              : `Creates collection ${collectionName} on this first link.`}
        </p>
        <label htmlFor="link-aliases">Aliases (optional)</label>
        <input
          id="link-aliases"
          placeholder="staging"
          value={aliases}
          onChange={(e) => setAliases(e.target.value)}
          aria-describedby="link-alias-reason"
        />
        <p id="link-alias-reason" className={refused && !refused.allowed ? "inline-warning form-wide" : "visually-hidden"} role="status">
          {refused && !refused.allowed ? refused.reason : ""}
        </p>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={link.isPending || !collectionName || Boolean(refused)}>
            Link {version.version}
          </button>
          <MutationMessage
            error={link.error}
            success={
              link.isSuccess
                ? `${link.data.created ? "Linked" : "Already linked"} as ${registry!.name}/${collectionName}:${link.data.version}.`
                : null
            }
          />
          {link.isSuccess ? (
            <Link href={to.collectionVersion(registry!.name, collectionName, link.data.version)}>Open the linked version</Link>
          ) : null}
        </div>
      </form>
    </section>
  );
}
