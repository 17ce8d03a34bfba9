import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

interface UploadStateFile {
  sha256: string;
  uploadId: string;
  partSize: number;
  /** partNumber → ETag of every part the store has acknowledged. */
  parts: Record<string, string>;
}

/**
 * The parts of a multipart upload already sent, saved as each one lands, so a re-run that
 * is handed the same uploadId by the registry sends only the rest.
 */
export class UploadStateStore {
  private readonly writes = new Map<string, Promise<void>>();
  private readonly states = new Map<string, UploadStateFile>();

  constructor(readonly dir: string) {}

  /** Parts recorded for this upload; empty when none or when they were for another part size. */
  async completedParts(sha256: string, uploadId: string, partSize: number): Promise<Map<number, string>> {
    const state = await this.load(sha256, uploadId, partSize);
    return new Map(Object.entries(state.parts).map(([n, etag]) => [Number(n), etag]));
  }

  /** Serialised per upload: parts finish concurrently, the file is rewritten in order. */
  recordPart(sha256: string, uploadId: string, partSize: number, partNumber: number, etag: string): Promise<void> {
    const key = this.fileFor(uploadId);
    const previous = this.writes.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      const state = await this.load(sha256, uploadId, partSize);
      state.parts[String(partNumber)] = etag;
      await mkdir(this.dir, { recursive: true });
      const temp = `${key}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(state));
      await rename(temp, key);
    });
    this.writes.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }

  async forget(uploadId: string): Promise<void> {
    const key = this.fileFor(uploadId);
    await this.writes.get(key);
    this.states.delete(key);
    await rm(key, { force: true });
  }

  private async load(sha256: string, uploadId: string, partSize: number): Promise<UploadStateFile> {
    const key = this.fileFor(uploadId);
    const known = this.states.get(key);
    if (known) return known;
    let state: UploadStateFile = { sha256, uploadId, partSize, parts: {} };
    try {
      const saved = JSON.parse(await readFile(key, "utf8")) as UploadStateFile;
      if (saved.sha256 === sha256 && saved.uploadId === uploadId && saved.partSize === partSize) state = saved;
    } catch {
      // Nothing saved (or unreadable): start from no parts.
    }
    this.states.set(key, state);
    return state;
  }

  private fileFor(uploadId: string): string {
    return join(this.dir, `${createHash("sha256").update(uploadId).digest("hex")}.json`);
  }
}
