import { useId, useState } from "react";
import { Markdown } from "./markdown";
import { MutationMessage } from "./states";

/**
 * A markdown description with an editor for those who may change it: a textarea and a live
 * preview through the same sanitising renderer the page uses (lib/markdown.ts). Saving sends
 * the text, or null for a blank one (which removes it).
 */
export function DescriptionEditor({
  label,
  source,
  canEdit,
  maxLength,
  save,
  pending,
  error,
  markdown = true,
}: {
  label: string;
  source: string | null;
  canEdit: boolean;
  maxLength: number;
  save: (text: string, done: () => void) => void;
  pending: boolean;
  error: unknown;
  markdown?: boolean;
}) {
  const id = useId();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(source ?? "");
  const shown = source ? markdown ? <Markdown source={source} /> : <p>{source}</p> : <p className="muted">No description.</p>;
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
            {markdown ? " (markdown)" : ""}
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
        {markdown ? (
          <section aria-label="Preview" className="preview">
            <p className="small-heading">Preview</p>
            {text.trim() ? <Markdown source={text} /> : <p className="muted">Nothing to preview.</p>}
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
