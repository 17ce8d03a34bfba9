export function AliasChip({ alias, protectedAlias }: { alias: string; protectedAlias?: boolean }) {
  return (
    <span className={`chip chip-alias${alias === "latest" ? " chip-latest" : ""}${protectedAlias ? " chip-protected" : ""}`}>
      {protectedAlias ? <span aria-hidden="true">🔒 </span> : null}
      {alias}
      {protectedAlias ? <span className="visually-hidden"> (protected)</span> : null}
    </span>
  );
}

export function TagChip({ tag, onSelect }: { tag: string; onSelect?: (tag: string) => void }) {
  if (onSelect) {
    return (
      <button type="button" className="chip chip-tag chip-button" onClick={() => onSelect(tag)} aria-label={`Filter by tag ${tag}`}>
        #{tag}
      </button>
    );
  }
  return <span className="chip chip-tag">#{tag}</span>;
}

export function RoleBadge({ role, label }: { role: string; label?: string }) {
  return (
    <span className={`badge badge-${role}`}>
      {label ? `${label}: ` : ""}
      {role}
    </span>
  );
}
