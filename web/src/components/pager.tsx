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

export function Pager({
  page,
  hasPrevious,
  nextCursor,
  onPrevious,
  onNext,
  label,
}: {
  page: number;
  hasPrevious: boolean;
  nextCursor: string | undefined;
  onPrevious: () => void;
  onNext: (cursor: string) => void;
  label: string;
}) {
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
