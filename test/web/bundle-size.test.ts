import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { WEB_DIST } from "../../local/web-assets.js";

/** Vite's build manifest (web/vite.config.ts turns it on): each chunk with its static imports and CSS. */
type Manifest = Record<string, { file: string; isEntry?: boolean; imports?: string[]; css?: string[] }>;

const BUDGET = 250 * 1024;

describe("web bundle (web/dist, built by the suite's setup)", () => {
  const manifest = JSON.parse(readFileSync(join(WEB_DIST, ".vite", "manifest.json"), "utf8")) as Manifest;
  const gzipped = (file: string) => gzipSync(readFileSync(join(WEB_DIST, file))).length;

  /** The files a browser must load before the first page shows: index.html, the entry chunk, its static imports, their CSS. */
  function firstPageFiles(): string[] {
    const files = new Set<string>(["index.html"]);
    const visit = (key: string) => {
      const chunk = manifest[key]!;
      if (files.has(chunk.file)) return;
      files.add(chunk.file);
      for (const css of chunk.css ?? []) files.add(css);
      for (const imported of chunk.imports ?? []) visit(imported);
    };
    for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);
    return [...files];
  }

  it("loads the first page (sign-in and the registries home) in at most 250 kB gzipped", () => {
    const files = firstPageFiles();
    const total = files.reduce((sum, file) => sum + gzipped(file), 0);
    console.log(`first page: ${files.length} files, ${(total / 1024).toFixed(1)} kB gzipped (${files.join(", ")})`);
    expect(files.some((f) => f.endsWith(".js"))).toBe(true);
    expect(total).toBeLessThanOrEqual(BUDGET);
  });

  it("keeps the graph layout and the chart library out of the first page", () => {
    const first = firstPageFiles()
      .map((f) => readFileSync(join(WEB_DIST, f), "utf8"))
      .join("\n");
    // dagre's and uPlot's own identifiers: present only in the lazily loaded lineage and compare chunks.
    expect(first).not.toMatch(/rankdir|networkSimplex/);
    expect(first).not.toMatch(/uplot/i);
    const lazy = Object.values(manifest)
      .filter((c) => !c.isEntry)
      .map((c) => c.file);
    expect(lazy.some((f) => /lineage-view/.test(f))).toBe(true);
    expect(lazy.some((f) => /compare-view/.test(f))).toBe(true);
  });
});
