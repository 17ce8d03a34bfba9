import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { ApiClient } from "../../clients/node/src/api-client.js";
import { ApiError, MregError, TransferError } from "../../clients/node/src/errors.js";
import { putFileRange } from "../../clients/node/src/http-transfer.js";

/**
 * A store that records what each PUT delivered, and can refuse a request as soon as its
 * headers arrive, or drop a kept-alive connection when it is used again (as a server does
 * whose idle timeout ran out just as the client reused the connection).
 */
let server: Server;
let url = "";
let received: { path: string; bytes: Buffer }[] = [];
let refuseEarly: number | undefined;
let dropReused = 0;
const uses = new WeakMap<Socket, number>();
/** Requests held until `holdFor` of them have arrived, so that they are sure to use that many connections. */
let held: (() => void)[] = [];
let holdFor = 0;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const socket = req.socket;
  const used = (uses.get(socket) ?? 0) + 1;
  uses.set(socket, used);
  if (used > 1 && dropReused > 0) {
    dropReused -= 1;
    socket.destroy();
    return;
  }
  if (refuseEarly !== undefined) {
    // Answered at once; the body that still arrives is read and dropped, as node:http servers do.
    res.writeHead(refuseEarly).end("<Error><Code>AccessDenied</Code></Error>");
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (holdFor > 0) {
    const released = new Promise<void>((resolve) => held.push(resolve));
    if (held.length >= holdFor) {
      holdFor = 0;
      for (const release of held.splice(0)) release();
    }
    await released;
  }
  received.push({ path: req.url ?? "", bytes });
  if (req.method === "POST") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ echoed: JSON.parse(bytes.toString()) }));
    return;
  }
  res.writeHead(200, { etag: `"${createHash("md5").update(bytes).digest("hex")}"` }).end();
}

beforeAll(async () => {
  // A client that gives up mid-body aborts the request: nothing to answer then.
  server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let dir: string;
beforeEach(async () => {
  received = [];
  refuseEarly = undefined;
  dropReused = 0;
  holdFor = 0;
  held = [];
  dir = await mkdtemp(join(tmpdir(), "mreg-put-"));
  return () => rm(dir, { recursive: true, force: true });
});

async function fileOf(bytes: Buffer): Promise<string> {
  const path = join(dir, "file.bin");
  await writeFile(path, bytes);
  return path;
}

describe("putFileRange", () => {
  test("sends exactly the range, chunk by chunk through its two buffers, and reports every byte once", async () => {
    const bytes = randomBytes(1000);
    const path = await fileOf(bytes);
    let reported = 0;
    // 7-byte reads: the range's ends fall inside chunks, and the buffers are reused ~60 times.
    const { etag } = await putFileRange(
      `${url}/range`,
      { "x-amz-meta-a": "b" },
      { path, start: 123, end: 555 },
      {
        chunkSize: 7,
        onBytes: (delta) => (reported += delta),
      },
    );
    expect(received).toHaveLength(1);
    expect(received[0]!.bytes.equals(bytes.subarray(123, 555))).toBe(true);
    expect(etag).toBe(`"${createHash("md5").update(bytes.subarray(123, 555)).digest("hex")}"`);
    expect(reported).toBe(555 - 123);
  });

  test("a large file arrives intact with the default chunk size", async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 17);
    const path = await fileOf(bytes);
    await putFileRange(`${url}/large`, {}, { path, start: 0, end: bytes.length });
    expect(received[0]!.bytes.equals(bytes)).toBe(true);
  });

  test("an empty range is an empty PUT", async () => {
    const path = await fileOf(Buffer.alloc(0));
    await putFileRange(`${url}/empty`, {}, { path, start: 0, end: 0 });
    expect(received[0]!.bytes.length).toBe(0);
  });

  test("a file shorter than its range fails with a message that says so, and is not a transfer error to retry", async () => {
    const path = await fileOf(randomBytes(100));
    let reported = 0;
    const error = await putFileRange(
      `${url}/short`,
      {},
      { path, start: 0, end: 200 },
      { chunkSize: 64, onBytes: (d) => (reported += d) },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MregError);
    expect(error).not.toBeInstanceOf(TransferError);
    expect((error as Error).message).toMatch(/shorter than the 200 bytes/);
    expect(reported).toBe(0);
  });

  test("a store that refuses before the body is sent: its status wins, and the rest of the file is not sent", async () => {
    refuseEarly = 403;
    const bytes = randomBytes(64 * 1024 * 1024);
    const path = await fileOf(bytes);
    let reported = 0;
    const error = await putFileRange(
      `${url}/refused`,
      {},
      { path, start: 0, end: bytes.length },
      { onBytes: (d) => (reported += d) },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferError);
    expect((error as TransferError).status).toBe(403);
    expect((error as Error).message).toMatch(/HTTP 403 \(AccessDenied\)/);
    // Taken back: nothing counts as sent for a refused PUT.
    expect(reported).toBe(0);
  });

  test("a kept-alive connection the store dropped is sent again at once on a new one", async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const path = await fileOf(bytes);
    await putFileRange(`${url}/first`, {}, { path, start: 0, end: bytes.length });
    dropReused = 1;
    let reported = 0;
    await putFileRange(`${url}/second`, {}, { path, start: 0, end: bytes.length }, { onBytes: (d) => (reported += d) });
    expect(dropReused).toBe(0);
    expect(received.find((r) => r.path === "/second")!.bytes.equals(bytes)).toBe(true);
    expect(reported).toBe(bytes.length);
  });

  test("dropped again on the second try: a transfer error without a status, which the caller's retry takes up", async () => {
    const path = await fileOf(randomBytes(1024));
    // Two connections left idle in the pool, so the immediate second try reuses one too:
    // the server answers neither until both arrived, so they cannot share one connection.
    holdFor = 2;
    await Promise.all(["/one", "/two"].map((p) => putFileRange(`${url}${p}`, {}, { path, start: 0, end: 1024 })));
    dropReused = 2;
    const error = await putFileRange(`${url}/dropped`, {}, { path, start: 0, end: 1024 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferError);
    expect((error as TransferError).status).toBeUndefined();
    expect(dropReused).toBe(0);
    expect(received.some((r) => r.path === "/dropped")).toBe(false);
  });
});

describe("ApiClient over node:http", () => {
  test("posts JSON with the key and reads the answer", async () => {
    const api = new ApiClient({ url, apiKey: "k" });
    expect(await api.post("/echo", { a: 1 })).toEqual({ echoed: { a: 1 } });
  });

  test("a kept-alive connection the registry dropped is sent again at once, without the retry's backoff", async () => {
    const api = new ApiClient({ url, apiKey: "k", retry: { retries: 0 } });
    await api.post("/echo", { n: 1 });
    dropReused = 1;
    expect(await api.post("/echo", { n: 2 })).toEqual({ echoed: { n: 2 } });
    expect(dropReused).toBe(0);
  });

  test("no registry at the address: an ApiError with status 0 naming the cause", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const api = new ApiClient({ url: `http://127.0.0.1:${port}`, apiKey: "k", retry: { retries: 0 } });
    const error = await api.get("/v1/health").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(0);
    expect((error as Error).message).toMatch(/cannot reach the registry .*ECONNREFUSED/);
  });
});
