import { RE2JS } from "re2js";
import type { AliasPatterns } from "../../core/ports.js";

/** Compiled patterns kept per warm function (an automation's pattern is matched on every alias event). */
const MAX_COMPILED = 256;

/**
 * Alias patterns through RE2JS, a pure-JavaScript port of RE2: matching takes time linear in
 * the alias whatever the pattern (no backtracking, so `(a|a)+` or `(a+)+` cannot stall the
 * event loop). RE2 refuses what needs backtracking: backreferences, lookahead and lookbehind.
 */
export class Re2AliasPatterns implements AliasPatterns {
  private readonly compiled = new Map<string, RE2JS | string>();

  problem(pattern: string): string | undefined {
    const compiled = this.compile(pattern);
    return typeof compiled === "string" ? compiled : undefined;
  }

  matches(pattern: string, alias: string): boolean {
    const compiled = this.compile(pattern);
    // A pattern stored before patterns were checked by RE2 and that it refuses matches nothing.
    return typeof compiled !== "string" && compiled.matches(alias);
  }

  private compile(pattern: string): RE2JS | string {
    let compiled = this.compiled.get(pattern);
    if (compiled === undefined) {
      try {
        compiled = RE2JS.compile(pattern);
      } catch (error) {
        compiled = (error as Error).message.replace(/^error parsing regexp: /, "");
      }
      if (this.compiled.size >= MAX_COMPILED) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(pattern, compiled);
    }
    return compiled;
  }
}
