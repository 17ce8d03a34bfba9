import { useId, useMemo, useState } from "react";
import { metadataPatch } from "../lib/edits";
import { MutationMessage } from "./states";

/**
 * A version's metadata edited as one JSON object. The save sends only what changed, with
 * `null` for every key taken out (lib/edits.ts), since the server merges key by key.
 */
export function MetadataEditor({
  metadata,
  save,
  pending,
  error,
}: {
  metadata: Record<string, unknown>;
  save: (patch: Record<string, unknown>, done: () => void) => void;
  pending: boolean;
  error: unknown;
}) {
  const id = useId();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const edit = useMemo(() => (editing ? metadataPatch(metadata, text) : null), [editing, metadata, text]);
  if (!editing) {
    return (
      <button
        type="button"
        className="button button-small"
        onClick={() => {
          setText(JSON.stringify(metadata, null, 2));
          setEditing(true);
        }}
      >
        Edit metadata
      </button>
    );
  }
  const unchanged = edit?.ok === true && edit.set.length === 0 && edit.removed.length === 0;
  return (
    <form
      className="metadata-editor"
      onSubmit={(e) => {
        e.preventDefault();
        if (edit?.ok && !unchanged) save(edit.patch, () => setEditing(false));
      }}
    >
      <label htmlFor={`${id}-json`}>Metadata (a JSON object)</label>
      <textarea
        id={`${id}-json`}
        className="mono"
        rows={12}
        spellCheck={false}
        value={text}
        aria-describedby={`${id}-summary`}
        aria-invalid={edit?.ok === false}
        onChange={(e) => setText(e.target.value)}
      />
      <p
        id={`${id}-summary`}
        className={edit?.ok === false ? "inline-warning" : "muted small"}
        role="status"
        data-testid="metadata-summary"
      >
        {edit?.ok === false
          ? edit.error
          : unchanged
            ? "No change yet."
            : [
                edit && edit.set.length ? `Sets ${edit.set.join(", ")}` : "",
                edit && edit.removed.length ? `removes ${edit.removed.join(", ")}` : "",
              ]
                .filter(Boolean)
                .join("; ") + "."}
      </p>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={pending || !edit?.ok || unchanged}>
          {pending ? "Saving…" : "Save metadata"}
        </button>
        <button type="button" className="button button-quiet" onClick={() => setEditing(false)}>
          Cancel
        </button>
        <MutationMessage error={error} />
      </div>
    </form>
  );
}
