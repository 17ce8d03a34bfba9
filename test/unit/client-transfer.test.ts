import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { blobCachePath, downloadFiles } from "../../clients/node/src/download-files.js";
import { ApiError, IntegrityError } from "../../clients/node/src/errors.js";
import { uploadBlobs, type BlobSource } from "../../clients/node/src/upload-blobs.js";
import { UploadStateStore } from "../../clients/node/src/upload-state.js";
import type { CompleteUploadRequest, FileResponse, UploadPlan } from "../../lambdas/contract/artifacts.js";

const MIB = 1024 * 1024;
const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const fast = { baseDelayMs: 1, maxDelayMs: 2 };

/** A store that keeps objects in memory and can be told to fail, lie or go slow. */
class FakeStore {
  objects = new Map<string, Buffer>();
  requests: { method: string; key: string; headers: IncomingMessage["headers"] }[] = [];
  /** key → statuses to answer before behaving. */
  failures = new Map<string, number[]>();
  /** key → bytes to serve instead of the stored ones. */
  corrupt = new Map<string, Buffer>();
  etags = new Map<string, string>();
  /** key → milliseconds to wait before answering it. */
  delays = new Map<string, number>();
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  url = "";
  private server: Server = createServer((req, res) => void this.handle(req, res));

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
  at(key: string) {
    return `${this.url}/${key}?X-Amz-Signature=fake`;
  }
  count(method: string, key: string) {
    return this.requests.filter((r) => r.method === method && r.key === key).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const key = new URL(req.url ?? "/", this.url).pathname.slice(1);
    this.requests.push({ method: req.method ?? "", key, headers: req.headers });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const delay = this.delays.get(key);
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const failure = this.failures.get(key)?.shift();
      if (failure) {
        res.writeHead(failure).end(`<Error><Code>Injected${failure}</Code></Error>`);
        return;
      }
      if (req.method === "PUT") {
        const body = Buffer.concat(chunks);
        this.objects.set(key, body);
        const etag = `"${createHash("md5").update(body).digest("hex")}"`;
        res.writeHead(200, { etag }).end();
        return;
      }
      const body = this.corrupt.get(key) ?? this.objects.get(key);
      if (!body) {
        res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
        return;
      }
      const etag = this.etags.get(key) ?? createHash("md5").update(body).digest("hex");
      res.writeHead(200, { etag: `"${etag}"`, "content-length": body.length }).end(body);
    } finally {
      this.inFlight--;
    }
  }
}

let store: FakeStore;
let dir: string;

beforeAll(async () => {
  store = new FakeStore();
  await store.start();
});
afterAll(async () => {
  await store.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mreg-transfer-"));
  Object.assign(store, {
    objects: new Map(),
    requests: [],
    failures: new Map(),
    corrupt: new Map(),
    etags: new Map(),
    delays: new Map(),
    delayMs: 0,
    maxInFlight: 0,
  });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function source(name: string, bytes: Buffer): Promise<BlobSource> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { sha256: sha(bytes), size: bytes.length, path };
}

function multipartPlan(blob: BlobSource, partSize: number, uploadId = "upload-1"): UploadPlan["uploads"][number] {
  const count = Math.ceil(blob.size / partSize);
  return {
    sha256: blob.sha256,
    size: blob.size,
    multipart: {
      uploadId,
      partSize,
      parts: Array.from({ length: count }, (_, i) => ({ partNumber: i + 1, url: store.at(`big/${i + 1}`), headers: {} })),
    },
  };
}

describe("uploadBlobs", () => {
  test("sends single PUTs with exactly the planned headers and multipart parts by range, then completes", async () => {
    const small = await source("small.txt", Buffer.from("hello"));
    const bigBytes = randomBytes(12 * MIB + 3);
    const big = await source("big.bin", bigBytes);
    const completed: CompleteUploadRequest[] = [];
    const plan: UploadPlan = {
      uploads: [
        { sha256: small.sha256, size: 5, method: "PUT", url: store.at("small"), headers: { "x-amz-checksum-sha256": "abc=" } },
        multipartPlan(big, 5 * MIB),
      ],
      present: [],
    };
    const result = await uploadBlobs(plan, new Map([small, big].map((b) => [b.sha256, b])), {
      concurrency: 4,
      completeUpload: async (request) => void completed.push(request),
    });
    expect(store.objects.get("small")?.toString()).toBe("hello");
    const smallPut = store.requests.find((r) => r.key === "small")!;
    expect(smallPut.headers["x-amz-checksum-sha256"]).toBe("abc=");
    expect(smallPut.headers["content-length"]).toBe("5");
    expect(smallPut.headers["transfer-encoding"]).toBeUndefined();
    expect(Buffer.concat([1, 2, 3].map((n) => store.objects.get(`big/${n}`)!)).equals(bigBytes)).toBe(true);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(completed[0]!.parts[0]!.etag).toBe(
      `"${createHash("md5")
        .update(bigBytes.subarray(0, 5 * MIB))
        .digest("hex")}"`,
    );
    expect(result).toMatchObject({ uploadedBytes: 5 + bigBytes.length, uploadedParts: 3, resumedBytes: 0 });
  });

  test("retries a failing part with backoff and counts its bytes once", async () => {
    const big = await source("big.bin", randomBytes(11 * MIB));
    store.failures.set("big/2", [500, 503]);
    const retries: string[] = [];
    let progress = 0;
    const result = await uploadBlobs({ uploads: [multipartPlan(big, 5 * MIB)], present: [] }, new Map([[big.sha256, big]]), {
      concurrency: 2,
      retry: fast,
      completeUpload: async () => undefined,
      onRetry: (what) => retries.push(what),
      onBytes: (delta) => (progress += delta),
    });
    expect(store.count("PUT", "big/2")).toBe(3);
    expect(retries).toEqual([`${big.path} part 2`, `${big.path} part 2`]);
    expect(result.uploadedBytes).toBe(11 * MIB);
    expect(progress).toBe(11 * MIB);
  });

  test("a refused part fails at once with the store's answer and stops the rest", async () => {
    const big = await source("big.bin", randomBytes(16 * MIB));
    store.failures.set("big/1", [403]);
    store.delayMs = 20;
    let completed = false;
    await expect(
      uploadBlobs({ uploads: [multipartPlan(big, 5 * MIB)], present: [] }, new Map([[big.sha256, big]]), {
        concurrency: 1,
        retry: fast,
        completeUpload: async () => void (completed = true),
      }),
    ).rejects.toThrow(/HTTP 403 \(Injected403\)/);
    expect(store.count("PUT", "big/1")).toBe(1);
    expect(store.count("PUT", "big/4")).toBe(0);
    expect(completed).toBe(false);
  });

  test("a part refused with 403 (an expired URL) gets fresh URLs for the same upload, once per blob", async () => {
    const bytes = randomBytes(11 * MIB);
    const big = await source("big.bin", bytes);
    store.failures.set("big/2", [403]);
    store.failures.set("big/3", [403]);
    let refreshed = 0;
    const completed: CompleteUploadRequest[] = [];
    await uploadBlobs({ uploads: [multipartPlan(big, 5 * MIB)], present: [] }, new Map([[big.sha256, big]]), {
      concurrency: 3,
      retry: fast,
      completeUpload: async (request) => void completed.push(request),
      refreshUpload: async () => {
        refreshed++;
        const fresh = multipartPlan(big, 5 * MIB);
        if ("multipart" in fresh) fresh.multipart.parts.forEach((p) => (p.url = store.at(`fresh/${p.partNumber}`)));
        return fresh;
      },
    });
    expect(refreshed).toBe(1);
    expect(store.objects.get("big/1")!.equals(bytes.subarray(0, 5 * MIB))).toBe(true);
    expect(store.objects.get("fresh/2")!.equals(bytes.subarray(5 * MIB, 10 * MIB))).toBe(true);
    expect(store.objects.get("fresh/3")!.equals(bytes.subarray(10 * MIB))).toBe(true);
    expect(completed[0]!.parts).toHaveLength(3);
  });

  test("parallelism is bounded across files and parts", async () => {
    const blobs = await Promise.all([1, 2, 3].map((n) => source(`f${n}.bin`, randomBytes(6 * MIB + n))));
    store.delayMs = 30;
    const plan: UploadPlan = {
      uploads: blobs.map((b, i) => {
        const upload = multipartPlan(b, 5 * MIB, `u${i}`);
        if ("multipart" in upload) upload.multipart.parts.forEach((p) => (p.url = store.at(`f${i}/${p.partNumber}`)));
        return upload;
      }),
      present: [],
    };
    await uploadBlobs(plan, new Map(blobs.map((b) => [b.sha256, b])), { concurrency: 3, completeUpload: async () => undefined });
    expect(store.requests).toHaveLength(6);
    expect(store.maxInFlight).toBe(3);
  });

  test("resumes: parts an interrupted run recorded are not sent again", async () => {
    const bytes = randomBytes(14 * MIB);
    const big = await source("big.bin", bytes);
    const state = new UploadStateStore(join(dir, "state"));
    const plan: UploadPlan = { uploads: [multipartPlan(big, 5 * MIB)], present: [] };

    const stop = new AbortController();
    await expect(
      uploadBlobs(plan, new Map([[big.sha256, big]]), {
        concurrency: 1,
        state,
        signal: stop.signal,
        completeUpload: async () => undefined,
        onPartUploaded: () => stop.abort(),
      }),
    ).rejects.toThrow(/aborted|interrupted/);
    expect(store.count("PUT", "big/1")).toBe(1);
    expect(store.count("PUT", "big/2")).toBe(0);

    // A new process: a new state store reading the same directory.
    const completed: CompleteUploadRequest[] = [];
    const result = await uploadBlobs(plan, new Map([[big.sha256, big]]), {
      concurrency: 2,
      state: new UploadStateStore(join(dir, "state")),
      completeUpload: async (request) => void completed.push(request),
    });
    expect(store.count("PUT", "big/1")).toBe(1);
    expect(store.count("PUT", "big/2")).toBe(1);
    expect(result).toMatchObject({ resumedParts: 1, resumedBytes: 5 * MIB, uploadedParts: 2, uploadedBytes: 9 * MIB });
    expect(completed[0]!.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, "state"))).toEqual([]);
  });

  test("if the store lost the remembered parts, the blob is sent again in full", async () => {
    const big = await source("big.bin", randomBytes(6 * MIB));
    const state = new UploadStateStore(join(dir, "state"));
    await state.recordPart(big.sha256, "upload-1", 5 * MIB, 1, '"stale"');
    let calls = 0;
    const result = await uploadBlobs({ uploads: [multipartPlan(big, 5 * MIB)], present: [] }, new Map([[big.sha256, big]]), {
      concurrency: 2,
      state,
      completeUpload: async (request) => {
        if (calls++ === 0) {
          expect(request.parts[0]!.etag).toBe('"stale"');
          throw new ApiError(422, "unprocessable", "the store refused to complete the upload: InvalidPart");
        }
      },
    });
    expect(calls).toBe(2);
    expect(store.count("PUT", "big/1")).toBe(1);
    expect(store.count("PUT", "big/2")).toBe(2);
    // Bytes actually sent: part 2 twice.
    expect(result).toMatchObject({ resumedBytes: 0, uploadedBytes: 7 * MIB });
  });

  test("state for another part size is ignored", async () => {
    const state = new UploadStateStore(join(dir, "state"));
    await state.recordPart("a".repeat(64), "u", 5 * MIB, 1, '"e1"');
    expect(await new UploadStateStore(join(dir, "state")).completedParts("a".repeat(64), "u", 5 * MIB)).toEqual(new Map([[1, '"e1"']]));
    expect(await new UploadStateStore(join(dir, "state")).completedParts("a".repeat(64), "u", 8 * MIB)).toEqual(new Map());
  });
});

describe("downloadFiles", () => {
  const entriesFor = (files: Record<string, Buffer>): FileResponse[] =>
    Object.entries(files).map(([path, bytes]) => {
      store.objects.set(`blobs/${sha(bytes)}`, bytes);
      return { path, size: bytes.length, sha256: sha(bytes), url: store.at(`blobs/${sha(bytes)}`) };
    });

  test("fetches, verifies and caches; a second download into a fresh directory reads only the cache", async () => {
    const files = { "model.bin": randomBytes(3 * MIB), "cfg/config.json": Buffer.from("{}"), "copy.json": Buffer.from("{}") };
    const entries = entriesFor(files);
    const cacheDir = join(dir, "cache");
    const first = await downloadFiles(entries, { dir: join(dir, "a"), cacheDir, concurrency: 4 });
    expect(first).toMatchObject({ downloadedBytes: 3 * MIB + 2, cachedBytes: 2, files: 3 });
    for (const [path, bytes] of Object.entries(files)) expect((await readFile(join(dir, "a", path))).equals(bytes)).toBe(true);
    expect((await readFile(blobCachePath(cacheDir, sha(files["model.bin"])))).equals(files["model.bin"])).toBe(true);
    const gets = store.requests.length;
    expect(gets).toBe(2);

    const second = await downloadFiles(entries, { dir: join(dir, "b"), cacheDir, concurrency: 4 });
    expect(second).toMatchObject({ downloadedBytes: 0, cachedBytes: 3 * MIB + 4 });
    expect(store.requests.length).toBe(gets);
    expect((await readFile(join(dir, "b", "model.bin"))).equals(files["model.bin"])).toBe(true);
  });

  test("bytes that do not match the SHA-256 are refused and leave nothing behind", async () => {
    const entries = entriesFor({ "model.bin": Buffer.from("true weights") });
    store.corrupt.set(new URL(entries[0]!.url).pathname.slice(1), Buffer.from("evil weights"));
    await expect(downloadFiles(entries, { dir: join(dir, "out"), cacheDir: join(dir, "cache"), concurrency: 2 })).rejects.toThrow(
      /model.bin: received bytes with sha256 .* expected/,
    );
    expect(await readdir(join(dir, "out")).catch(() => [])).toEqual([]);
    expect(await readdir(join(dir, "cache", "blobs"), { recursive: true }).then((f) => f.filter((n) => n.includes(".")))).toEqual([]);
  });

  test("a file that does not verify takes back every file the download placed, and only those", async () => {
    const out = join(dir, "out");
    await mkdir(join(out, "mine"), { recursive: true });
    await writeFile(join(out, "mine", "notes.txt"), "kept");
    const good = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`deep/tree/${i}.bin`, Buffer.from(`good ${i}`)]));
    const entries = entriesFor({ ...good, "present.txt": Buffer.from("already here"), "z/model.bin": Buffer.from("true weights") });
    await writeFile(join(out, "present.txt"), "already here");
    store.corrupt.set(new URL(entries.at(-1)!.url).pathname.slice(1), Buffer.from("evil weights"));
    // The tampered file is fetched last, once the good ones are in place.
    store.delays.set(new URL(entries.at(-1)!.url).pathname.slice(1), 50);

    const error = await downloadFiles(entries, { dir: out, cacheDir: join(dir, "cache"), concurrency: 3 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(IntegrityError);
    expect((await readdir(out, { recursive: true })).sort()).toEqual(["mine", "mine/notes.txt", "present.txt"]);
    expect(await readFile(join(out, "mine", "notes.txt"), "utf8")).toBe("kept");
  });

  test("transient GET failures are retried", async () => {
    const entries = entriesFor({ "a.bin": Buffer.from("abc") });
    store.failures.set(new URL(entries[0]!.url).pathname.slice(1), [503]);
    const result = await downloadFiles(entries, { dir: join(dir, "out"), concurrency: 1, retry: fast });
    expect(result.downloadedBytes).toBe(3);
  });

  test("a reference whose ETag changed since it was logged is an error", async () => {
    store.objects.set("ext/data.csv", Buffer.from("a,b\n"));
    const entry: FileResponse = { path: "data.csv", size: 4, ref: "s3://ext/data.csv", etag: "0123", url: store.at("ext/data.csv") };
    await expect(downloadFiles([entry], { dir: join(dir, "out"), concurrency: 1 })).rejects.toThrow(
      /s3:\/\/ext\/data.csv \(data.csv\) changed since it was logged: ETag 0123 then, ETag [0-9a-f]+ now/,
    );
    store.etags.set("ext/data.csv", "0123");
    await expect(downloadFiles([entry], { dir: join(dir, "out"), concurrency: 1 })).resolves.toMatchObject({ downloadedBytes: 4 });
  });

  test("a reference that is gone says so", async () => {
    const entry: FileResponse = { path: "gone.csv", size: 4, ref: "s3://ext/gone.csv", etag: "1", url: store.at("ext/gone.csv") };
    await expect(downloadFiles([entry], { dir: join(dir, "out"), concurrency: 1, retry: fast })).rejects.toThrow(
      /s3:\/\/ext\/gone.csv \(gone.csv\) no longer exists/,
    );
  });

  test("a path that would leave the directory is refused", async () => {
    const [entry] = entriesFor({ x: Buffer.from("x") });
    await expect(downloadFiles([{ ...entry!, path: "../escape" }], { dir: join(dir, "out"), concurrency: 1 })).rejects.toThrow(
      /refusing to write/,
    );
  });
});
