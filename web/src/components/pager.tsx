import { useState } from "react";

/** Cursor pages: a stack of the cursors seen, so Previous goes back without re-reading from the start. */
export function useCursorPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({ key: resetKey, stack: [undefined] });
  const stack = state.key === resetKey ? state.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (cursor: string) => setState({ key: resetKey, stack: [...stack, cursor] }),
    previous: () => setState({ key: resetKey, stack: stack.slice(0, -1) }),
    hasPrevious: stack.length > 1,
  };
}

export type CursorPages = ReturnType<typeof useCursorPages>;

/** Previous and Next over `pages` (useCursorPages), Next while the list answered a `nextCursor`. */
export function Pager({ label, pages, nextCursor }: { label: string; pages: CursorPages; nextCursor: string | undefined }) {
  const { page, hasPrevious, previous: onPrevious, next: onNext } = pages;
  if (!hasPrevious && !nextCursor) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="button" disabled={!hasPrevious} onClick={onPrevious}>
        ← Previous
      </button>
      <span>Page {page}</span>
      <button type="button" className="button" disabled={!nextCursor} onClick={() => nextCursor && onNext(nextCursor)}>
        Next →
      </button>
    </nav>
  );
}
