// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { excerpt } from "../../web/src/lib/excerpt";
import { renderMarkdown } from "../../web/src/lib/markdown";

describe("markdown rendering", () => {
  it("renders GitHub-flavoured markdown", () => {
    const html = renderMarkdown("# MNIST\n\n**Best** model, see [docs](https://example.com).\n\n| a | b |\n|---|---|\n| 1 | 2 |");
    expect(html).toContain("<h1>MNIST</h1>");
    expect(html).toContain("<strong>Best</strong>");
    expect(html).toContain('<a href="https://example.com" target="_blank" rel="noopener noreferrer nofollow">docs</a>');
    expect(html).toContain("<table>");
  });

  it.each([
    ["a script tag", "<script>alert(1)</script>hello"],
    ["an event handler", '<img src="https://x/y.png" onerror="alert(1)">'],
    ["a javascript: link", "[click](javascript:alert(1))"],
    ["a javascript: link in HTML", '<a href="javascript:alert(1)">x</a>'],
    ["an iframe", '<iframe src="https://evil.example"></iframe>'],
    ["an svg with script", "<svg><script>alert(1)</script></svg>"],
    ["a data: URL link", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"],
    ["a style attribute", '<p style="background:url(javascript:alert(1))">x</p>'],
    ["a form", '<form action="https://evil"><input name="k"></form>'],
  ])("drops %s", (_, source) => {
    const html = renderMarkdown(source);
    expect(html).not.toMatch(/<script|onerror|javascript:|<iframe|<svg|data:text|style=|<form/i);
  });

  it("keeps the text of dropped markup", () => {
    expect(renderMarkdown("<script>alert(1)</script>hello")).toContain("hello");
  });

  it("gives an image without text an empty alt (decorative), and keeps the author's", () => {
    expect(renderMarkdown('<img src="https://x/y.png">')).toContain('<img src="https://x/y.png" alt="">');
    expect(renderMarkdown("![a confusion matrix](https://x/m.png)")).toContain('alt="a confusion matrix"');
  });

  it("disables task-list checkboxes", () => {
    expect(renderMarkdown("- [x] done")).toMatch(/<input[^>]*disabled/);
  });
});

describe("excerpt", () => {
  it("turns markdown into a short line of text", () => {
    expect(excerpt("# Title\n\nA **bold** [link](https://x) and `code`.\n\n```\nblock\n```")).toBe("Title A bold link and code .");
  });

  it("leaves out what scripts and styles hold", () => {
    expect(excerpt("Intro <script>window.x = 1</script><style>p{}</style> end")).toBe("Intro end");
  });

  it("cuts long text at the length with an ellipsis", () => {
    const text = excerpt("word ".repeat(100), 20);
    expect(text.length).toBeLessThanOrEqual(20);
    expect(text.endsWith("…")).toBe(true);
  });

  it("is empty for no description", () => {
    expect(excerpt(null)).toBe("");
  });
});
