/** The registry search bar: `tag:vision mnist` asks for tag `vision` and names containing `mnist`. */
export interface CollectionSearch {
  q?: string;
  tag?: string;
}

export function parseSearch(text: string): CollectionSearch {
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  const tag = words.find((w) => w.toLowerCase().startsWith("tag:") && w.length > 4);
  const rest = words.filter((w) => w !== tag).join(" ");
  return {
    ...(tag ? { tag: tag.slice(4) } : {}),
    ...(rest ? { q: rest.slice(0, 128) } : {}),
  };
}

export function formatSearch(search: CollectionSearch): string {
  return [search.tag ? `tag:${search.tag}` : "", search.q ?? ""].filter((s) => s !== "").join(" ");
}
