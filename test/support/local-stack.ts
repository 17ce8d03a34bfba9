import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { assertDocumented } from "./openapi-check.js";

export interface TestStack {
  stack: LocalStack;
  url: string;
  adminKey: string;
  dataDir: string;
  /** JSON request against the API; returns status and parsed body, after checking the answer against the OpenAPI document. */
  api<T = any>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const MIB = 1024 * 1024;

/** A whole embedded registry in a fresh temp dir, on free loopback ports. */
export async function startTestStack(options: { env?: Record<string, string>; extraBuckets?: string[] } = {}): Promise<TestStack> {
  const dataDir = await mkdtemp(join(tmpdir(), "mreg-test-"));
  // Only the settings a test names (nothing from the runner's environment), and quiet: one
  // line per request unless MREG_LOG_LEVEL asks for them.
  const env = { MREG_LOG_LEVEL: process.env.MREG_LOG_LEVEL || "silent", ...options.env };
  const start = () => startLocalStack({ dataDir, port: 0, env, extraBuckets: options.extraBuckets });
  let stack = await start();
  const adminKey = stack.adminKey!;
  const handle: TestStack = {
    get stack() {
      return stack;
    },
    get url() {
      return stack.url;
    },
    adminKey,
    dataDir,
    async api(method, path, body, key = adminKey) {
      const response = await fetch(`${stack.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      // Every answer is checked against the OpenAPI document (test/support/openapi-check.ts).
      assertDocumented({ method, path, status: response.status, headers: response.headers, text });
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async restart() {
      await stack.stop();
      stack = await start();
    },
    async stop() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
