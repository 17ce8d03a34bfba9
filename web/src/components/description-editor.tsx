import { useId, useState, type ReactNode } from "react";
import { MutationMessage } from "./states";

/**
 * A description with an editor for those who may change it: a textarea and, for markdown, a
 * live preview through `render`, the same sanitising renderer the page uses (components/markdown.tsx,
 * passed in so that plain-text pages do not load marked and DOMPurify). Saving sends the text,
 * or null for a blank one (which removes it).
 */
export function DescriptionEditor({
  label,
  source,
  canEdit,
  maxLength,
  save,
  pending,
  error,
  render,
}: {
  label: string;
  source: string | null;
  canEdit: boolean;
  maxLength: number;
  save: (text: string, done: () => void) => void;
  pending: boolean;
  error: unknown;
  /** Renders markdown (safely); without it the text is plain. */
  render?: (source: string) => ReactNode;
}) {
  const id = useId();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(source ?? "");
  const shown = source ? render ? render(source) : <p>{source}</p> : <p className="muted">No description.</p>;
  if (!editing) {
    return (
      <>
        {shown}
        {canEdit ? (
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              setText(source ?? "");
              setEditing(true);
            }}
          >
            Edit description
          </button>
        ) : null}
      </>
    );
  }
  return (
    <form
      className="description-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save(text, () => setEditing(false));
      }}
    >
      <div className="editor-columns">
        <div>
          <label htmlFor={`${id}-text`}>
            {label}
            {render ? " (markdown)" : ""}
          </label>
          <textarea
            id={`${id}-text`}
            rows={10}
            value={text}
            maxLength={maxLength}
            aria-describedby={`${id}-count`}
            onChange={(e) => setText(e.target.value)}
          />
          <p id={`${id}-count`} className="muted small">
            {text.length} / {maxLength} characters{text.trim() === "" ? "; saving a blank description removes it" : ""}
          </p>
        </div>
        {render ? (
          <section aria-label="Preview" className="preview">
            <p className="small-heading">Preview</p>
            {text.trim() ? render(text) : <p className="muted">Nothing to preview.</p>}
          </section>
        ) : null}
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={pending || text === (source ?? "")}>
          {pending ? "Saving…" : "Save description"}
        </button>
        <button type="button" className="button button-quiet" onClick={() => setEditing(false)}>
          Cancel
        </button>
        <MutationMessage error={error} />
      </div>
    </form>
  );
}
