export function AliasChip({ alias, protectedAlias }: { alias: string; protectedAlias?: boolean }) {
  return (
    <span className={`chip chip-alias${alias === "latest" ? " chip-latest" : ""}${protectedAlias ? " chip-protected" : ""}`}>
      {protectedAlias ? <LockIcon /> : null}
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

function LockIcon() {
  return (
    <svg className="lock-icon" width="10" height="11" viewBox="0 0 10 11" aria-hidden="true" focusable="false">
      <rect x="1" y="5" width="8" height="6" rx="1" fill="currentColor" />
      <path d="M3 5V3.5a2 2 0 0 1 4 0V5" fill="none" stroke="currentColor" strokeWidth="1.4" />
    </svg>
  );
}
