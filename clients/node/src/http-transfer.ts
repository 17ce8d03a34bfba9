import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { pipeline } from "node:stream/promises";
import { AbortedError, TransferError } from "./errors.js";

/**
 * Presigned transfers go through node:http rather than fetch: a streamed body needs an
 * explicit Content-Length (S3 refuses chunked PUTs), and a read stream per part keeps
 * memory flat whatever the file size.
 */
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

const READ_CHUNK = 1024 * 1024;

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
}

function send(url: string, method: string, headers: Record<string, string>, signal?: AbortSignal) {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  return (secure ? httpsRequest : httpRequest)(target, {
    method,
    headers,
    agent: secure ? agents.https : agents.http,
    ...(signal ? { signal } : {}),
  });
}

/** PUTs a byte range of a file to a presigned URL with exactly the headers the plan gave; returns the ETag. */
export async function putFileRange(
  url: string,
  headers: Record<string, string>,
  range: FileRange,
  options: TransferOptions = {},
): Promise<{ etag: string | undefined }> {
  const length = range.end - range.start;
  const request = send(url, "PUT", { ...headers, "content-length": String(length) }, options.signal);
  const answered = responseOf(request);
  // Counted as read, so a failed attempt can take back what it reported before the retry.
  let sent = 0;
  const body =
    length === 0
      ? undefined
      : createReadStream(range.path, { start: range.start, end: range.end - 1, highWaterMark: READ_CHUNK });
  body?.on("data", (chunk) => {
    sent += chunk.length;
    options.onBytes?.(chunk.length);
  });
  const [streamed, response] = await Promise.allSettled([
    body ? pipeline(body, request) : new Promise<void>((resolve) => request.end(resolve)),
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
    if (streamed.status === "rejected") throw streamed.reason;
    if (response.status === "rejected") throw response.reason;
    if (sent !== length) throw new TransferError(`sent ${sent} of ${length} bytes`);
    return { etag: headerOf(response.value, "etag") };
  } catch (error) {
    options.onBytes?.(-sent);
    request.destroy();
    throw toTransferError(error, options.signal, "PUT");
  }
}

export interface DownloadedFile {
  size: number;
  sha256: string;
  etag: string | undefined;
  versionId: string | undefined;
}

/** GETs a presigned URL into `dest` while hashing it; the caller verifies and renames. */
export async function getToFile(url: string, dest: string, options: TransferOptions = {}): Promise<DownloadedFile> {
  const request = send(url, "GET", {}, options.signal);
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
    await pipeline(response, createWriteStream(dest, { highWaterMark: READ_CHUNK }));
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

function responseOf(request: ReturnType<typeof send>): Promise<IncomingMessage> {
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
  if (error instanceof TransferError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new TransferError(`${method} to the store failed: ${code ?? (error as Error).message}`, undefined, {
    cause: error,
  });
}
