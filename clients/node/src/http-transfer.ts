import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { ClientRequest, IncomingMessage } from "node:http";
import { pipeline } from "node:stream/promises";
import { AbortedError, MregError, TransferError } from "./errors.js";
import { isStaleConnection, openRequest } from "./http-agents.js";

/*
 * Presigned transfers go through node:http rather than fetch: a streamed body needs an
 * explicit Content-Length (S3 refuses chunked PUTs), and a file is sent in chunks so memory
 * stays flat whatever its size. undici was measured against node:http on the same PUTs
 * (bench/put-ab.ts): no faster, and its body writes give no signal that a buffer may be
 * reused, so it cannot send from the two reused buffers below.
 */

/** A download is written to its file in chunks of up to this size. */
const WRITE_CHUNK = 1024 * 1024;

/** A PUT reads its file in chunks of this size (bench/put-ab.ts compares sizes). */
export const PUT_CHUNK = 1024 * 1024;

export interface FileRange {
  path: string;
  /** First byte, inclusive. */
  start: number;
  /** Last byte + 1. */
  end: number;
}

export interface TransferOptions {
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
  /** Bytes per read of a PUT's file; PUT_CHUNK unless a benchmark compares others. */
  chunkSize?: number;
}

/** PUTs a byte range of a file to a presigned URL with exactly the headers the plan gave; returns the ETag. */
export async function putFileRange(
  url: string,
  headers: Record<string, string>,
  range: FileRange,
  options: TransferOptions = {},
): Promise<{ etag: string | undefined }> {
  const handle = range.end > range.start ? await open(range.path, "r") : undefined;
  try {
    try {
      return await putOnce(url, headers, range, handle, options);
    } catch (error) {
      if (!(error instanceof StaleConnectionError)) throw error;
      return await putOnce(url, headers, range, handle, options);
    }
  } finally {
    await handle?.close();
  }
}

class StaleConnectionError extends TransferError {}

async function putOnce(
  url: string,
  headers: Record<string, string>,
  range: FileRange,
  handle: FileHandle | undefined,
  options: TransferOptions,
): Promise<{ etag: string | undefined }> {
  const length = range.end - range.start;
  const request = openRequest(url, "PUT", { ...headers, "content-length": String(length) }, options.signal);
  const answered = responseOf(request);
  // Counted as the socket takes them, so a failed attempt can take back what it reported before the retry.
  let sent = 0;
  const body = handle
    ? writeRange(request, handle, range, options.chunkSize ?? PUT_CHUNK, (bytes) => {
        sent += bytes;
        options.onBytes?.(bytes);
      })
    : new Promise<void>((resolve) => request.end(resolve));
  const [streamed, response] = await Promise.allSettled([
    // A body that cannot be finished (the file shrank) ends the request, else the store would wait for the rest.
    body.catch((error: unknown) => {
      if (!(error instanceof AnsweredEarly)) request.destroy(error as Error);
      throw error;
    }),
    answered,
  ]);
  try {
    // A store that refuses early (expired URL) answers before the body is sent: its status wins.
    if (response.status === "fulfilled") {
      const status = response.value.statusCode ?? 0;
      const text = await readSmall(response.value);
      if (status >= 300) {
        throw new TransferError(`PUT to the store failed with HTTP ${status}${storeCode(text)}`, status);
      }
    }
    if (streamed.status === "rejected" && !(streamed.reason instanceof AnsweredEarly)) throw streamed.reason;
    if (response.status === "rejected") throw response.reason;
    if (sent !== length) throw new TransferError(`sent ${sent} of ${length} bytes`);
    return { etag: headerOf(response.value, "etag") };
  } catch (error) {
    options.onBytes?.(-sent);
    request.destroy();
    if (isStaleConnection(request, error, response.status === "fulfilled") && !options.signal?.aborted) {
      throw new StaleConnectionError(`PUT to the store failed: ${(error as NodeJS.ErrnoException).code}`, undefined, { cause: error });
    }
    throw toTransferError(error, options.signal, "PUT");
  }
}

/** The store answered before the whole body was sent. */
class AnsweredEarly extends Error {}

/**
 * Sends `range` of the open file as the request body through two buffers: the next chunk is
 * read while the current one is written, and a buffer is read into again only once the
 * socket has taken what it held. A read stream allocates a new buffer per chunk instead,
 * which cost about three times curl's CPU per gigabyte (bench/put-ab.ts), CPU the store
 * lacks when it runs on the same machine.
 */
async function writeRange(
  request: ClientRequest,
  handle: FileHandle,
  range: FileRange,
  chunkSize: number,
  onWritten: (bytes: number) => void,
): Promise<void> {
  // Settles (rejects) once the request cannot take more bytes: it failed, closed or was answered.
  const halted = new Promise<never>((_, reject) => {
    request.once("response", () => reject(new AnsweredEarly()));
    request.once("error", reject);
    request.once("close", () => reject(new TransferError("the connection to the store closed")));
  });
  halted.catch(() => undefined);
  const size = Math.min(chunkSize, range.end - range.start);
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const;
  let current: 0 | 1 = 0;
  let position = range.start;
  let reading: Promise<number> = readAt(handle, buffers[0], position, range.end);
  let writing: Promise<void> = Promise.resolve();
  try {
    while (position < range.end) {
      const bytesRead = await Promise.race([reading, halted]);
      if (bytesRead === 0) throw new MregError(`${range.path} is shorter than the ${range.end} bytes it had when it was planned`);
      const chunk = buffers[current].subarray(0, bytesRead);
      position += bytesRead;
      // The other buffer is free once the socket has taken its bytes.
      await Promise.race([writing, halted]);
      current = current === 0 ? 1 : 0;
      reading = position < range.end ? readAt(handle, buffers[current], position, range.end) : Promise.resolve(0);
      writing = new Promise<void>((resolve, reject) => {
        request.write(chunk, (error) => {
          if (error) return reject(error);
          onWritten(chunk.length);
          resolve();
        });
      });
      writing.catch(() => undefined);
    }
    await Promise.race([writing, halted]);
    request.end();
  } finally {
    // A read still in flight must finish before the caller closes the file.
    await reading.catch(() => undefined);
  }
}

async function readAt(handle: FileHandle, buffer: Buffer, position: number, end: number): Promise<number> {
  const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
  return bytesRead;
}

export interface DownloadedFile {
  size: number;
  sha256: string;
  etag: string | undefined;
  versionId: string | undefined;
}

/** GETs a presigned URL into `dest` while hashing it; the caller verifies and renames. */
export async function getToFile(url: string, dest: string, options: TransferOptions = {}): Promise<DownloadedFile> {
  const request = openRequest(url, "GET", {}, options.signal);
  request.end();
  let received = 0;
  try {
    const response = await responseOf(request);
    if ((response.statusCode ?? 0) >= 300) {
      const text = await readSmall(response);
      throw new TransferError(`GET from the store failed with HTTP ${response.statusCode}${storeCode(text)}`, response.statusCode);
    }
    const hash = createHash("sha256");
    response.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      options.onBytes?.(chunk.length);
    });
    await pipeline(response, createWriteStream(dest, { highWaterMark: WRITE_CHUNK }));
    return {
      size: received,
      sha256: hash.digest("hex"),
      etag: stripQuotes(headerOf(response, "etag")),
      versionId: headerOf(response, "x-amz-version-id"),
    };
  } catch (error) {
    options.onBytes?.(-received);
    request.destroy();
    throw toTransferError(error, options.signal, "GET");
  }
}

function responseOf(request: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    request.once("response", resolve);
    // `on`, not `once`: a second socket error after the first must not go unhandled.
    request.on("error", reject);
  });
}

async function readSmall(response: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of response) {
    if (text.length < 4096) text += String(chunk);
  }
  return text;
}

/** S3 error bodies are XML with a `<Code>`: worth one word in the message. */
function storeCode(text: string): string {
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
  return code ? ` (${code})` : "";
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function stripQuotes(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, "");
}

function toTransferError(error: unknown, signal: AbortSignal | undefined, method: string): Error {
  if (signal?.aborted) return new AbortedError(signal.reason);
  if (error instanceof MregError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new TransferError(`${method} to the store failed: ${code ?? (error as Error).message}`, undefined, {
    cause: error,
  });
}
