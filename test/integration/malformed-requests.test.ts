import { ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createDynamoClient, createS3Client } from "../../lambdas/composition.js";
import { routes, type RouteDefinition } from "../../lambdas/contract/routes.js";
import { LOCAL_TABLE } from "../../local/stack.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * A few hundred malformed requests, generated from the route table: every route with its
 * path parameters, query and body broken in the ways clients and attackers break them.
 * None may answer 5xx, none that writes may be accepted, and the table and the bucket must
 * be exactly as before (nothing half-written).
 */
let s: TestStack;
const seeded: Record<string, string> = {
  project: "fz",
  name: "net",
  v: "v0",
  alias: "best",
  registry: "model",
  collection: "col",
  tag: "vision",
  user: "fuzzer",
  run: "r1",
  id: "",
  delivery: "01J00000000000000000000000",
  revision: "main",
  "path+": "w.bin",
};

/** A valid body for each route that takes one: the mutations below break it. */
const file = fileSpec("w.bin", "fuzz weights");
seeded.oid = file.sha256;
const blob = { path: file.path, size: file.size, sha256: file.sha256 };
const BODIES: Record<string, Record<string, unknown>> = {
  planUpload: { files: [blob] },
  completeUpload: { sha256: file.sha256, uploadId: "x", parts: [{ partNumber: 1, etag: "e" }] },
  commitVersion: { type: "model", files: [blob], metadata: { acc: 0.9 }, aliases: ["best"], description: "d" },
  setAlias: { version: "v0" },
  setCollectionAlias: { version: "v0" },
  createUser: { name: "newbie", role: "member", displayName: "New" },
  createApiKey: { user: "fuzzer" },
  createRegistry: { name: "fresh", visibility: "restricted", protectedAliases: ["production"] },
  putMember: { role: "member" },
  createCollection: { name: "fresh", type: "model", tags: ["t"] },
  link: { project: "fz", artifact: "net", version: "v0", aliases: ["gold"] },
  createRun: { id: "r2", name: "run", config: { lr: 0.1 } },
  addRunInput: { artifact: "net", version: "v0" },
  logRunMetrics: { items: [{ step: 1, values: { loss: 0.5 } }] },
  createAutomation: { name: "hook", event: "LINK_ARTIFACT", url: "http://127.0.0.1:9/hook" },
  deleteVersions: { olderThan: "30d", aliasAbsent: true, notLinked: true },
};

/** Replacements for any field of the bodies above that no field takes: wrong types, and strings none may hold. */
const BAD_VALUES: unknown[] = [null, true, -1, 1.5, "x".repeat(5000), "a\u0085b", "a\u0000b"];
/** Raw JSON fragments JSON.stringify cannot produce. */
const BAD_RAW = [
  "18446744073709551616",
  "1e999",
  '"\\ud800"',
  '{"__proto__": 1}',
  '{"": 1}',
  '{"a": 1, "a": 2}',
  `${"[".repeat(3000)}${"]".repeat(3000)}`,
  `${'{"a":'.repeat(100)}1${"}".repeat(100)}`,
];
const BAD_SEGMENTS = ["%00", "%C2%85", "%2F", "a".repeat(300), "%ZZ", "%F0%9F%98%80", "-1", "latest%00", "__proto__", "a%20b", "%E2%80%AE"];
/** What a version selector may look like and name nothing by: a 404 at most. */
const BAD_SELECTORS = ["v99999999999999999999", "v-1", "1e3", "0x1", "%20v0"];
const BAD_QUERIES = [
  "limit=0",
  "limit=-1",
  "limit=abc",
  "limit=1e309",
  "limit=99999999",
  "cursor=%00",
  "cursor=eyJQSyI6IlJFRyNhIn0",
  `cursor=${"A".repeat(3000)}`,
  "depth=99",
  "direction=sideways",
  "fanOut=0",
  "force=yes",
  "dryRun=maybe",
  "prefix=%C2%85",
  "q=%00",
  "tag=%C2%85",
  "key=__proto__",
  "user=%00",
];

interface Attempt {
  label: string;
  method: string;
  path: string;
  body?: string | Buffer;
  duplicateAuth?: boolean;
}

/** A seeded PRNG, so a failure names a request that can be sent again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function fill(route: RouteDefinition, overrides: Record<string, string> = {}): string {
  return route.path.replace(/\{([\w+]+)\}/g, (_, param: string) => overrides[param] ?? encodeURIComponent(seeded[param]!));
}

function attemptsFor(route: RouteDefinition, next: () => number): Attempt[] {
  const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)]!;
  const attempts: Attempt[] = [];
  const base = fill(route);
  const params = [...route.path.matchAll(/\{([\w+]+)\}/g)].map((m) => m[1]!);
  const body = BODIES[route.operation];
  // Path parameters: each broken in turn.
  for (const param of params) {
    const segments = param === "v" ? [...BAD_SELECTORS, pick(BAD_SEGMENTS)] : [pick(BAD_SEGMENTS), pick(BAD_SEGMENTS)];
    for (const segment of segments) {
      attempts.push({
        label: `${param}=${segment.slice(0, 20)}`,
        method: route.method,
        path: fill(route, { [param]: segment }),
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    }
  }
  if (route.method === "GET") {
    for (const query of [pick(BAD_QUERIES), pick(BAD_QUERIES), pick(BAD_QUERIES)]) {
      attempts.push({ label: query.slice(0, 30), method: "GET", path: `${base}?${query}` });
    }
  }
  if (body) {
    attempts.push({ label: "not JSON", method: route.method, path: base, body: "{type: model" });
    attempts.push({ label: "a list", method: route.method, path: base, body: "[]" });
    attempts.push({ label: "an unknown field", method: route.method, path: base, body: JSON.stringify({ ...body, admin: true }) });
    attempts.push({
      label: "not UTF-8",
      method: route.method,
      path: base,
      body: Buffer.concat([Buffer.from(JSON.stringify(body).slice(0, -1)), Buffer.from(', "x": "\xff"}', "latin1")]),
    });
    for (const field of Object.keys(body)) {
      const value = pick(BAD_VALUES);
      attempts.push({
        label: `${field}=${JSON.stringify(value)?.slice(0, 20)}`,
        method: route.method,
        path: base,
        body: JSON.stringify({ ...body, [field]: value }),
      });
      const fragment = pick(BAD_RAW);
      const text = JSON.stringify({ ...body, [field]: "@@" }).replace('"@@"', fragment);
      attempts.push({ label: `${field}=${fragment.slice(0, 20)}`, method: route.method, path: base, body: text });
    }
  }
  attempts.push({
    label: "two Authorization headers",
    method: route.method,
    path: base,
    duplicateAuth: true,
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return attempts;
}

function send(attempt: Attempt, key: string): Promise<{ status: number; text: string }> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: attempt.path, method: attempt.method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.setHeader("authorization", attempt.duplicateAuth ? [`Bearer ${key}`, `Bearer ${key}`] : `Bearer ${key}`);
    if (attempt.body !== undefined) req.setHeader("content-type", "application/json");
    req.end(attempt.body);
  });
}

/** Every item of the table and every object of the bucket, minus what reads legitimately touch (a key's last use). */
async function snapshot(): Promise<{ items: string[]; objects: string[] }> {
  const dynamo = createDynamoClient(s.stack.config);
  const s3 = createS3Client(s.stack.config);
  try {
    const items: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamo.send(new ScanCommand({ TableName: LOCAL_TABLE, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const { lastUsedAt: _, ...rest } = item;
        items.push(JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)))));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    const objects: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: s.stack.config.bucket, ContinuationToken: token }));
      objects.push(...(page.Contents ?? []).map((o) => `${o.Key} ${o.Size} ${o.ETag}`));
      token = page.NextContinuationToken;
    } while (token);
    return { items: items.sort(), objects: objects.sort() };
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}

beforeAll(async () => {
  // No sweeps or polls that would change deliveries while the snapshot is compared.
  s = await startTestStack({ env: { MREG_WEBHOOK_SWEEP_MS: "60000" } });
  expect((await s.api("POST", "/v1/users", { name: "fuzzer", role: "member" })).status).toBe(201);
  expect((await s.api("POST", "/v1/api-keys", { user: "fuzzer" })).status).toBe(201);
  const plan = await s.api("POST", "/v1/projects/fz/artifacts/net/uploads", { files: [blob] });
  await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
  expect((await s.api("POST", "/v1/projects/fz/artifacts/net/versions", { type: "model", files: [blob], aliases: ["best"] })).status).toBe(
    201,
  );
  expect(
    (
      await s.api("POST", "/v1/registries/model/collections/col/links", {
        project: "fz",
        artifact: "net",
        version: "v0",
        aliases: ["staging"],
      })
    ).status,
  ).toBe(201);
  expect((await s.api("PUT", "/v1/registries/model/collections/col/tags/vision")).status).toBe(200);
  expect((await s.api("PUT", "/v1/registries/model/members/fuzzer", { role: "member" })).status).toBe(200);
  expect((await s.api("POST", "/v1/projects/fz/runs/r1/inputs", { artifact: "net", version: "v0" })).status).toBe(200);
  const automation = await s.api("POST", "/v1/registries/model/automations", {
    name: "hook",
    event: "LINK_ARTIFACT",
    collection: "nothing-links-here",
    url: "http://127.0.0.1:9/hook",
  });
  expect(automation.status).toBe(201);
  seeded.id = automation.body.id;
  // The cursor secret is made on first use: make it now, so the snapshot holds it already.
  expect((await s.api("GET", "/v1/users?limit=1")).body.nextCursor).toBeDefined();
});
afterAll(async () => {
  await s?.stop();
});

describe("malformed requests across the route table", () => {
  test("a few hundred of them: no 5xx, no write accepted, nothing half-written", async () => {
    const next = random(12);
    const attempts = routes.flatMap((route) => attemptsFor(route, next).map((attempt) => ({ route, attempt })));
    expect(attempts.length).toBeGreaterThan(300);
    const before = await snapshot();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const { route, attempt } of attempts) {
      const response = await send(attempt, s.adminKey);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const where = `${route.method} ${route.path} [${attempt.label}] → ${response.status} ${response.text.slice(0, 200)}`;
      if (response.status >= 500) failures.push(`5xx: ${where}`);
      else if (route.method !== "GET" && response.status < 400) failures.push(`accepted: ${where}`);
      else if (attempt.duplicateAuth && response.status !== 400) failures.push(`second credential taken: ${where}`);
      if (response.status >= 400 && route.path.startsWith("/hf/")) {
        // The Hub's dialect: `{"error": "…"}` (nothing on HEAD), as its clients read it.
        const body = route.method === "HEAD" ? { error: "HEAD" } : (JSON.parse(response.text) as { error?: unknown });
        if (typeof body.error !== "string" || body.error === "") failures.push(`bad error body: ${where}`);
      } else if (response.status >= 400) {
        // Every refusal is the one error shape, with a message that says something.
        const body = JSON.parse(response.text) as { error?: { code?: string; message?: string } };
        if (!body.error?.code || !body.error.message) failures.push(`bad error body: ${where}`);
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
    // The mix of answers, for whoever reads the log of a failure.
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
  });
});
