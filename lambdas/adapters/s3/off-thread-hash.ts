import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/**
 * SHA-256 of a stream of chunks, computed on a worker thread once the stream is large: the
 * emulator's event loop is what bounds a local upload, and hashing a gigabyte on it would
 * cost that loop about 0.6 s. The caller's thread only copies chunks into batches (a memcpy,
 * a tenth of the cost) and hands each batch over without copying it again. Small objects
 * (manifests, small files) never leave the caller's thread.
 */
export interface HashJob {
  update(chunk: Buffer): void;
  /** The hex digest of every chunk given, in order. */
  digest(): Promise<string>;
  /** Forgets the job (its stream failed). */
  abort(): void;
}

/** Below this the digest is taken inline at the end; above, batches go to the worker. */
const INLINE_MAX_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 4 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const jobs = new Map();
parentPort.on("message", (message) => {
  if (message.op === "start") jobs.set(message.id, createHash("sha256"));
  else if (message.op === "data") jobs.get(message.id)?.update(new Uint8Array(message.buffer, 0, message.length));
  else if (message.op === "end") {
    const hash = jobs.get(message.id);
    jobs.delete(message.id);
    parentPort.postMessage({ id: message.id, sha256: hash ? hash.digest("hex") : undefined });
  } else if (message.op === "abort") jobs.delete(message.id);
});
`;

export class OffThreadHasher {
  private worker: Worker | undefined;
  private closed = false;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (sha256: string) => void; reject: (error: Error) => void }>();

  start(): HashJob {
    const inline: Buffer[] = [];
    let inlineBytes = 0;
    let id: number | undefined;
    /** Set once the hasher is closed while this job outgrew the inline limit: hashed right here. */
    let here: ReturnType<typeof createHash> | undefined;
    let batch: Buffer | undefined;
    let filled = 0;
    const flush = () => {
      if (!batch || filled === 0) return;
      // The batch is ours alone: its memory moves to the worker instead of being copied.
      this.post({ op: "data", id, buffer: batch.buffer, length: filled }, [batch.buffer as ArrayBuffer]);
      batch = undefined;
      filled = 0;
    };
    const copy = (chunk: Buffer) => {
      for (let offset = 0; offset < chunk.length; ) {
        batch ??= Buffer.allocUnsafeSlow(BATCH_BYTES);
        const n = chunk.copy(batch, filled, offset);
        filled += n;
        offset += n;
        if (filled === BATCH_BYTES) flush();
      }
    };
    return {
      update: (chunk) => {
        if (here) return void here.update(chunk);
        if (id !== undefined) return copy(chunk);
        inline.push(chunk);
        inlineBytes += chunk.length;
        if (inlineBytes <= INLINE_MAX_BYTES) return;
        if (this.closed) {
          here = createHash("sha256");
          for (const held of inline.splice(0)) here.update(held);
          return;
        }
        id = this.nextId++;
        this.post({ op: "start", id });
        for (const held of inline.splice(0)) copy(held);
      },
      digest: () => {
        if (here) return Promise.resolve(here.digest("hex"));
        if (id === undefined) {
          const hash = createHash("sha256");
          for (const held of inline) hash.update(held);
          return Promise.resolve(hash.digest("hex"));
        }
        flush();
        const jobId = id;
        return new Promise<string>((resolve, reject) => {
          this.waiting.set(jobId, { resolve, reject });
          this.post({ op: "end", id: jobId });
        });
      },
      abort: () => {
        if (id !== undefined) this.post({ op: "abort", id });
        inline.length = 0;
      },
    };
  }

  /** Stops the worker; jobs still waiting for a digest fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private post(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
    this.workerOrNew().postMessage(message, transfer);
  }

  private workerOrNew(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // An idle worker must not keep the process alive; `close` ends it with the emulator.
    worker.unref();
    worker.on("message", (message: { id: number; sha256?: string }) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.sha256 === undefined) waiter?.reject(new Error("the hash worker lost the job"));
      else waiter?.resolve(message.sha256);
    });
    const failAll = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on("error", failAll);
    worker.on("exit", () => failAll(new Error("the hash worker stopped")));
    this.worker = worker;
    return worker;
  }
}
