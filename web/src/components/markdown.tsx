import { useMemo } from "react";
import { renderMarkdown } from "../lib/markdown";

/** Markdown rendered and sanitised (lib/markdown.ts): safe to insert as HTML. */
export function Markdown({ source, className }: { source: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  return <div className={`markdown ${className ?? ""}`} dangerouslySetInnerHTML={{ __html: html }} />;
}
