import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "wouter";
import { api } from "../api/client";
import { useMe } from "../api/me";
import { to, v1 } from "../api/routes";
import type { CollectionResponse, Page, RegistryResponse } from "../api/types";
import { AliasChip, RoleBadge } from "../components/chips";
import { Empty, ErrorState, Loading, MutationMessage } from "../components/states";
import { excerpt } from "../lib/excerpt";
import { orgAbilities } from "../lib/roles";

/** Counting costs one page read; beyond it the card says "200+". */
const COUNT_PAGE = 200;

export function RegistriesHome() {
  const me = useMe();
  const registries = useQuery({
    queryKey: ["registries"],
    queryFn: () => api<Page<RegistryResponse>>(v1.registries, { query: { limit: 100 } }),
  });
  return (
    <>
      <div className="page-head">
        <h1>Registries</h1>
        <p className="muted">Curated spaces of models and datasets: each collection links the versions a team hands on.</p>
      </div>
      {orgAbilities(me.role).createRegistry ? <CreateRegistry /> : null}
      {registries.isPending ? (
        <Loading label="Loading registries…" />
      ) : registries.isError ? (
        <ErrorState error={registries.error} retry={() => void registries.refetch()} />
      ) : registries.data.items.length === 0 ? (
        <Empty title="No registries yet">
          {orgAbilities(me.role).createRegistry ? "Create the first one above." : "An org admin creates registries."}
        </Empty>
      ) : (
        <ul className="card-grid" aria-label="Registries">
          {registries.data.items.map((registry) => (
            <RegistryCard key={registry.name} registry={registry} />
          ))}
        </ul>
      )}
    </>
  );
}

function RegistryCard({ registry }: { registry: RegistryResponse }) {
  const count = useQuery({
    queryKey: ["registry-count", registry.name],
    queryFn: () => api<Page<CollectionResponse>>(v1.collections(registry.name), { query: { limit: COUNT_PAGE } }),
  });
  return (
    <li className="card registry-card">
      <h2 className="card-title">
        <Link href={to.registry(registry.name)}>{registry.name}</Link>
      </h2>
      <p className="card-text">{excerpt(registry.description) || <span className="muted">No description</span>}</p>
      <dl className="facts">
        <div>
          <dt>Visibility</dt>
          <dd>{registry.visibility === "restricted" ? "Restricted (members only)" : "Organization"}</dd>
        </div>
        <div>
          <dt>Artifact types</dt>
          <dd>{registry.artifactTypes?.join(", ") ?? "any"}</dd>
        </div>
        <div>
          <dt>Collections</dt>
          <dd>{count.isPending ? "…" : count.isError ? "?" : `${count.data.items.length}${count.data.nextCursor ? "+" : ""}`}</dd>
        </div>
      </dl>
      <div className="chip-row">
        <RoleBadge role={registry.role} label="your role" />
        {registry.protectedAliases.map((alias) => (
          <AliasChip key={alias} alias={alias} protectedAlias />
        ))}
      </div>
    </li>
  );
}

const splitList = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

function CreateRegistry() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [visibility, setVisibility] = useState<"organization" | "restricted">("organization");
  const [types, setTypes] = useState("");
  const [protectedAliases, setProtectedAliases] = useState("production");
  const create = useMutation({
    mutationFn: () =>
      api<RegistryResponse>(v1.registries, {
        method: "POST",
        body: {
          name,
          ...(description ? { description } : {}),
          visibility,
          ...(splitList(types).length > 0 ? { artifactTypes: splitList(types) } : {}),
          protectedAliases: splitList(protectedAliases),
        },
      }),
    onSuccess: () => {
      setName("");
      setDescription("");
      void queryClient.invalidateQueries({ queryKey: ["registries"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <details className="panel">
      <summary>Create a registry</summary>
      <form className="form-grid" onSubmit={submit}>
        <label htmlFor="registry-name">Name</label>
        <input
          id="registry-name"
          required
          pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <label htmlFor="registry-description">Description (markdown)</label>
        <textarea id="registry-description" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
        <label htmlFor="registry-visibility">Visibility</label>
        <select id="registry-visibility" value={visibility} onChange={(e) => setVisibility(e.target.value as typeof visibility)}>
          <option value="organization">Organization: every user can read it</option>
          <option value="restricted">Restricted: members only</option>
        </select>
        <label htmlFor="registry-types">Artifact types (blank: any)</label>
        <input id="registry-types" placeholder="model, dataset" value={types} onChange={(e) => setTypes(e.target.value)} />
        <label htmlFor="registry-protected">Protected aliases</label>
        <input id="registry-protected" value={protectedAliases} onChange={(e) => setProtectedAliases(e.target.value)} />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            Create registry
          </button>
          <MutationMessage error={create.error} success={create.isSuccess ? `Registry ${create.data.name} created.` : null} />
        </div>
      </form>
    </details>
  );
}
