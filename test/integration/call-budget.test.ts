import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * The budgets as call counts, which are exact (unlike timings): a commit of a new version
 * with one new blob costs at most 8 DynamoDB calls; resolving `@registry/collection:alias`
 * to download URLs, and reading a version by alias, at most 2 sequential DynamoDB round
 * trips including authentication (and the resolve one S3 read). Counted on the real SDK
 * clients the embedded server uses.
 */
let s: TestStack;
const calls: string[] = [];
/** DynamoDB calls that started while none was in flight: the sequential round trips. */
let roundTrips = 0;
let inFlight = 0;

beforeAll(async () => {
  // The local stream poller and delivery sweeper share the counted client: keep them quiet
  // (their longest interval) so that only the request under test is counted.
  s = await startTestStack({ env: { MREG_STREAM_POLL_MS: "60000", MREG_WEBHOOK_SWEEP_MS: "60000", MREG_JOB_POLL_MS: "600000" } });
  // The stores speak through the document client; its command names (Get, Query, …) are what we count.
  for (const client of [DynamoDBDocumentClient, S3Client]) {
    const send = client.prototype.send;
    const dynamo = client === DynamoDBDocumentClient;
    vi.spyOn(client.prototype, "send").mockImplementation(function (this: unknown, command: any, ...rest: any[]) {
      calls.push(command.constructor.name.replace(/Command$/, ""));
      if (!dynamo) return (send as any).call(this, command, ...rest);
      if (inFlight++ === 0) roundTrips++;
      return Promise.resolve((send as any).call(this, command, ...rest)).finally(() => inFlight--);
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await s?.stop();
});

const S3_CALLS = new Set(["PutObject", "GetObject", "HeadObject", "CopyObject", "DeleteObject"]);

/** The calls a request made, in order, and how many sequential DynamoDB round trips they took. */
async function counted(action: () => Promise<{ status: number }>): Promise<{ used: string[]; dynamo: string[]; roundTrips: number }> {
  calls.length = 0;
  roundTrips = 0;
  const response = await action();
  expect(response.status).toBeLessThan(300);
  const used = [...calls];
  return { used, dynamo: used.filter((c) => !S3_CALLS.has(c)), roundTrips };
}

/** What every authenticated request costs before its own work: the key, which carries its user's role. */
const AUTH = ["Get"];

describe("calls per operation", () => {
  const file = fileSpec("model.bin", "budget weights");
  const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];

  beforeAll(async () => {
    const plan = await s.api("POST", "/v1/projects/p/artifacts/a/uploads", { files: declared });
    await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
    // Warm-up call: lastUsedAt of the admin key is refreshed at most every 5 minutes.
    await s.api("GET", "/v1/projects/p/artifacts");
  });

  test("commit of a new version: at most 8 DynamoDB calls", async () => {
    const { used, dynamo, roundTrips } = await counted(() =>
      s.api("POST", "/v1/projects/p/artifacts/a/versions", { type: "model", files: declared }),
    );
    console.log("commit (1 new blob):", used.join(", "), `(${roundTrips} DynamoDB round trips)`);
    // Auth; the artifact, digest and latest in one read; the blob ledger; claim and mark the
    // blob verified; then the manifest (S3) and one transaction expecting the state read.
    expect(used).toEqual([...AUTH, "BatchGet", "BatchGet", "Put", "Put", "PutObject", "TransactWrite"]);
    expect(dynamo.length).toBeLessThanOrEqual(8);
    expect(roundTrips).toBe(6);
  });

  test("re-commit of identical content", async () => {
    const { used, roundTrips } = await counted(() =>
      s.api("POST", "/v1/projects/p/artifacts/a/versions", { type: "model", files: declared }),
    );
    console.log("re-commit:", used.join(", "), `(${roundTrips} DynamoDB round trips)`);
    // The early answer: the state read finds the digest; the version is read for its aliases.
    expect(used).toEqual([...AUTH, "BatchGet", "Get"]);
    expect(roundTrips).toBe(3);
  });

  test("version read by alias: 2 round trips including auth", async () => {
    const { used, roundTrips } = await counted(() => s.api("GET", "/v1/projects/p/artifacts/a/versions/latest"));
    console.log("version read by alias:", used.join(", "), `(${roundTrips} DynamoDB round trips)`);
    // The alias items carry their version: one query answers it with all its aliases.
    expect(used).toEqual([...AUTH, "Query"]);
    expect(roundTrips).toBe(2);
  });

  test("collection:alias to download URLs: 1 round trip including auth, and one S3 read", async () => {
    await s.api("POST", "/v1/registries/model/collections/c/links", {
      project: "p",
      artifact: "a",
      version: "v0",
      aliases: ["production"],
    });
    const { used, roundTrips } = await counted(() => s.api("GET", "/v1/registries/model/collections/c/versions/production/files"));
    console.log("collection:alias files:", used.join(", "), `(${roundTrips} DynamoDB round trips)`);
    // The key, and at the same time the registry with the alias (which carries its link's
    // source and manifest digest); no membership, which an organization-visible registry
    // does not need to admit a reader; then the manifest (read once, then kept: it never changes).
    expect(used).toEqual([...AUTH, "BatchGet", "GetObject"]);
    expect(roundTrips).toBe(1);
    const again = await counted(() => s.api("GET", "/v1/registries/model/collections/c/versions/production/files"));
    expect(again.used).toEqual([...AUTH, "BatchGet"]);
    expect(again.roundTrips).toBe(1);
  });

  test("collection:alias in a restricted registry: the membership is a second round trip", async () => {
    await s.api("POST", "/v1/registries", { name: "secret", visibility: "restricted" });
    await s.api("POST", "/v1/users", { name: "max", role: "member" });
    const key = (await s.api("POST", "/v1/api-keys", { user: "max" })).body.key as string;
    await s.api("PUT", "/v1/registries/secret/members/max", { role: "viewer" });
    await s.api("POST", "/v1/registries/secret/collections/c/links", {
      project: "p",
      artifact: "a",
      version: "v0",
      aliases: ["production"],
    });
    // Warm-up: the new key's lastUsedAt is written on its first use.
    await s.api("GET", "/v1/projects/p/artifacts", undefined, key);
    const { used, roundTrips } = await counted(() =>
      s.api("GET", "/v1/registries/secret/collections/c/versions/production/files", undefined, key),
    );
    console.log("restricted collection:alias files:", used.join(", "), `(${roundTrips} DynamoDB round trips)`);
    expect(used).toEqual([...AUTH, "BatchGet", "Get"]);
    expect(roundTrips).toBe(2);
  });
});
