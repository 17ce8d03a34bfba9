import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * DESIGN.md's budgets as call counts, which are exact (unlike timings): resolving
 * `collection:alias` to download URLs costs at most two DynamoDB reads and one S3 read,
 * besides authentication. Counted on the real SDK clients the embedded server uses.
 */
let s: TestStack;
const calls: string[] = [];

beforeAll(async () => {
  // The local stream poller and delivery sweeper share the counted client: keep them quiet
  // (their longest interval) so that only the request under test is counted.
  s = await startTestStack({ env: { MREG_STREAM_POLL_MS: "60000", MREG_WEBHOOK_SWEEP_MS: "60000" } });
  // The stores speak through the document client; its command names (Get, Query, …) are what we count.
  for (const client of [DynamoDBDocumentClient, S3Client]) {
    const send = client.prototype.send;
    vi.spyOn(client.prototype, "send").mockImplementation(function (this: unknown, command: any, ...rest: any[]) {
      calls.push(command.constructor.name.replace(/Command$/, ""));
      return (send as any).call(this, command, ...rest);
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await s?.stop();
});

async function counted(action: () => Promise<unknown>): Promise<string[]> {
  calls.length = 0;
  await action();
  return [...calls];
}

/** What every authenticated request costs before its own work: the key, then its user. */
const AUTH = ["Get", "Get"];

describe("calls per operation", () => {
  const file = fileSpec("model.bin", "budget weights");
  const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];

  beforeAll(async () => {
    const plan = await s.api("POST", "/v1/projects/p/artifacts/a/uploads", { files: declared });
    await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
    // Warm-up call: lastUsedAt of the admin key is refreshed at most every 5 minutes.
    await s.api("GET", "/v1/projects/p/artifacts");
  });

  test("commit of a new version", async () => {
    const used = await counted(() => s.api("POST", "/v1/projects/p/artifacts/a/versions", { type: "model", files: declared }));
    console.log("commit (1 new blob):", used.join(", "));
    expect(used.slice(0, 2)).toEqual(AUTH);
    expect(used.filter((c) => c === "TransactWrite")).toHaveLength(1);
  });

  test("re-commit of identical content", async () => {
    const used = await counted(() => s.api("POST", "/v1/projects/p/artifacts/a/versions", { type: "model", files: declared }));
    console.log("re-commit:", used.join(", "));
    expect(used.filter((c) => !["Get", "Query", "BatchGet"].includes(c))).toEqual([]);
  });

  test("version read by alias", async () => {
    const used = await counted(() => s.api("GET", "/v1/projects/p/artifacts/a/versions/latest"));
    console.log("version read by alias:", used.join(", "));
    expect(used).toEqual([...AUTH, "Get", "Get"]);
  });

  test("collection:alias to download URLs: two DynamoDB reads and one S3 read after auth", async () => {
    await s.api("POST", "/v1/registries/model/collections/c/links", { project: "p", artifact: "a", version: "v0", aliases: ["production"] });
    const used = await counted(() => s.api("GET", "/v1/registries/model/collections/c/versions/production/files"));
    console.log("collection:alias files:", used.join(", "));
    // Auth, then the registry and the caller's membership in one BatchGet.
    expect(used.slice(0, 3)).toEqual([...AUTH, "BatchGet"]);
    expect(used.slice(3).filter((c) => c !== "GetObject")).toEqual(["Get", "Get"]);
    expect(used.filter((c) => c === "GetObject").length).toBeLessThanOrEqual(1);
  });
});
