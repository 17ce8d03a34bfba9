import { createHash } from "node:crypto";
import { mkdir, realpath, unlink } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The right to serve one data dir. DynamoDB Local protects nothing: two JVMs on one `-dbPath`
 * lose and duplicate each other's writes, so a second server must be refused before it
 * starts anything. The lock is a listening Unix socket, which the kernel removes with the
 * last process holding it, so a server killed with SIGKILL leaves nothing behind:
 *
 * - `abstract` (Linux): a socket in the abstract namespace named after the data dir's real
 *   path. No file, nothing stale, and `listen` is atomic: of two starts exactly one wins.
 * - `pipe` (Windows): a named pipe, which has the same properties.
 * - `file` (elsewhere): a socket file in the data dir (or, when that path is too long for
 *   a socket, in the temp dir). A file outlives its process, so one that refuses connections
 *   is stale and is replaced; two starts that find the same stale file at the same instant
 *   can both replace it, a window the other modes do not have.
 *
 * The socket's descriptor is handed to DynamoDB Local (`fd`), so the lock lasts until the JVM
 * has exited too: a JVM that outlives its server for a moment still counts as a server.
 */
export interface DataDirLock {
  /** The data dir's real path. */
  readonly dataDir: string;
  readonly mode: LockMode;
  /** The listening socket's descriptor, for child processes that use the data dir; undefined where there is none. */
  readonly fd: number | undefined;
  /** What a refused start is told about this server, besides its pid. */
  describe(details: { url?: string }): void;
  /** Gives the lock up (once every child holding `fd` has exited too). */
  release(): Promise<void>;
}

export type LockMode = "abstract" | "pipe" | "file";

/** A start refused because another server holds the data dir. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: { pid?: number; url?: string } | undefined,
  ) {
    super(
      `data dir ${dataDir} is in use by another mreg server (${describeHolder(holder)}); ` +
        "stop it first, or set MREG_DATA_DIR to another directory",
    );
    this.name = "DataDirInUseError";
  }
}

function describeHolder(holder: { pid?: number; url?: string } | undefined): string {
  if (holder?.pid === undefined) return "it does not answer: it may be stopping";
  return holder.url === undefined ? `pid ${holder.pid}, starting` : `pid ${holder.pid}, serving ${holder.url}`;
}

/** How long a start waits for the holder to say who it is: a live server answers in milliseconds. */
const PROBE_TIMEOUT_MS = 500;
/** How long a start waits for a holder that does not answer (a dead server's DynamoDB Local) to exit. */
const HOLDER_EXIT_WAIT_MS = 10_000;
const RETRY_MS = 100;
/** Unix socket paths are limited to about 104 bytes (macOS) or 108 (Linux). */
const MAX_SOCKET_PATH = 100;

export function defaultLockMode(platform: NodeJS.Platform = process.platform): LockMode {
  if (platform === "linux") return "abstract";
  if (platform === "win32") return "pipe";
  return "file";
}

/** Where the lock of the data dir at `realDir` listens in `mode`. */
export function lockAddress(realDir: string, mode: LockMode): string {
  const id = createHash("sha256").update(realDir).digest("hex").slice(0, 40);
  if (mode === "abstract") return `\0mreg-data-dir-${id}`;
  if (mode === "pipe") return `\\\\?\\pipe\\mreg-data-dir-${id}`;
  const inDir = join(realDir, "server.lock");
  return Buffer.byteLength(inDir) <= MAX_SOCKET_PATH ? inDir : join(tmpdir(), `mreg-data-dir-${id}.lock`);
}

/**
 * Takes the lock of `dataDir` (created when missing) or throws DataDirInUseError, at once
 * when the holder answers (a live server, named by its pid and URL). A holder that does not
 * answer is a server that is going away, typically the DynamoDB Local of a server that was
 * killed, which exits as soon as it notices: the lock is waited for, up to `waitMs`.
 */
export async function acquireDataDirLock(dataDir: string, options: { mode?: LockMode; waitMs?: number } = {}): Promise<DataDirLock> {
  const mode = options.mode ?? defaultLockMode();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const realDir = await realpath(dataDir);
  const address = lockAddress(realDir, mode);
  const details: { pid: number; url?: string } = { pid: process.pid };
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end(`${JSON.stringify(details)}\n`);
  });
  // Connections to the lock must never keep the process alive or stop it from exiting.
  server.unref();

  const deadline = Date.now() + (options.waitMs ?? HOLDER_EXIT_WAIT_MS);
  for (;;) {
    if (await tryListen(server, address, mode)) break;
    const holder = await probe(address);
    if (holder !== undefined || Date.now() >= deadline) throw new DataDirInUseError(realDir, holder);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }

  let released: Promise<void> | undefined;
  return {
    dataDir: realDir,
    mode,
    fd: descriptorOf(server),
    describe(more) {
      if (more.url !== undefined) details.url = more.url;
    },
    release() {
      // Closing a Unix socket server removes its file; the abstract name and the pipe vanish
      // with the last descriptor.
      released ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return released;
    },
  };
}

/** True once `server` listens at `address`; false while another socket holds it. */
async function tryListen(server: net.Server, address: string, mode: LockMode): Promise<boolean> {
  try {
    await listen(server, address);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
  }
  // A socket file whose process is gone refuses connections: replace it.
  if (mode !== "file" || !(await isStale(address))) return false;
  await unlink(address).catch(() => undefined);
  try {
    await listen(server, address);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    return false;
  }
}

function listen(server: net.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(address, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** The holder's own account of itself, or undefined when it does not give one in time. */
async function probe(address: string): Promise<{ pid?: number; url?: string } | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const socket = net.connect(address);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      try {
        const parsed = JSON.parse(text.split("\n")[0]!) as { pid?: unknown; url?: unknown };
        resolve({
          ...(typeof parsed.pid === "number" ? { pid: parsed.pid } : {}),
          ...(typeof parsed.url === "string" ? { url: parsed.url } : {}),
        });
      } catch {
        resolve(undefined);
      }
    };
    const timer = setTimeout(done, PROBE_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\n") || text.length > 4096) done();
    });
    socket.on("end", done);
    socket.on("error", done);
  });
}

/** A socket file nobody listens on: connecting is refused (ECONNREFUSED) or finds no socket. */
function isStale(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(error.code === "ECONNREFUSED" || error.code === "ENOENT");
    });
  });
}

/** The descriptor of a listening Unix socket (libuv exposes it on its handle); none for a Windows pipe. */
function descriptorOf(server: net.Server): number | undefined {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}
