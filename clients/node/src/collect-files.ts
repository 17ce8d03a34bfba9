import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { MregError } from "./errors.js";

export interface LocalFile {
  /** Path inside the artifact, `/`-separated. */
  path: string;
  /** Absolute path on disk. */
  absolutePath: string;
  size: number;
}

/**
 * A file is logged under its name; a directory's files under their paths relative to it.
 * Symbolic links to files are followed, links to directories are not (no cycles).
 */
export async function collectFiles(inputs: string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const input of inputs) {
    const absolute = resolve(input);
    let stats;
    try {
      stats = await stat(absolute);
    } catch {
      throw new MregError(`${input}: no such file or directory`);
    }
    if (stats.isFile()) {
      files.push({ path: basename(absolute), absolutePath: absolute, size: stats.size });
    } else if (stats.isDirectory()) {
      await walk(absolute, absolute, files);
    } else {
      throw new MregError(`${input} is neither a file nor a directory`);
    }
  }
  const seen = new Map<string, string>();
  for (const file of files) {
    const other = seen.get(file.path);
    if (other !== undefined) {
      throw new MregError(`two files would be logged as ${file.path}: ${other} and ${file.absolutePath}`);
    }
    seen.set(file.path, file.absolutePath);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walk(root: string, dir: string, into: LocalFile[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const absolute = join(dir, entry.name);
    if (entry.isDirectory()) {
      await walk(root, absolute, into);
      continue;
    }
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const stats = await stat(absolute).catch(() => undefined);
    if (!stats?.isFile()) continue;
    into.push({ path: relative(root, absolute).split(sep).join("/"), absolutePath: absolute, size: stats.size });
  }
}
