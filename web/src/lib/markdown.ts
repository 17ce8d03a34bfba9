import DOMPurify from "dompurify";
import { marked } from "marked";

const ALLOWED_TAGS = [
  "a",
  "p",
  "br",
  "hr",
  "strong",
  "em",
  "del",
  "code",
  "pre",
  "blockquote",
  "ul",
  "ol",
  "li",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
  "img",
  "input",
];

let hooked = false;

function ensureHooks(): void {
  if (hooked) return;
  hooked = true;
  // Links leave the app in a new tab without handing it our window or our URL.
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    if (node.tagName === "INPUT") node.setAttribute("disabled", "");
    // An image the author gave no text is decorative to a screen reader, not a nameless file.
    if (node.tagName === "IMG" && !node.hasAttribute("alt")) node.setAttribute("alt", "");
  });
}

/**
 * A collection's description as HTML that is safe to insert: marked renders the markdown
 * (GitHub flavour), DOMPurify keeps only formatting tags and http(s)/mailto links, so no
 * script, handler, style or frame from a description ever runs.
 */
export function renderMarkdown(source: string): string {
  ensureHooks();
  const html = marked.parse(source, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ["href", "title", "alt", "src", "type", "checked", "align"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/(?!\/))/i,
    FORBID_ATTR: ["style"],
  });
}
