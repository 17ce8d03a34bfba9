import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fileDownloadInfo, listFiles, pathsInfo, snapshotDownload, uploadFiles } from "@huggingface/hub";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { routes } from "../../lambdas/contract/routes.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";
import { checkedFetch, exercised } from "../support/openapi-check.js";

/**
 * Every route of the route table, called for real against an embedded stack, its answers
 * checked against the OpenAPI document: `s.api` checks each (test/support/local-stack.ts),
 * the Hugging Face client runs through `checkedFetch`. The last test fails for a route no
 * request here reached with a success, so a new route needs a request here too.
 */

let s: TestStack;
let work: string;
let hooks: Server;
let hookUrl: string;
let viewerKey: string;
const P = "/v1/projects/contract/artifacts/model";
const C = "/v1/registries/team/collections/net";

async function expectStatus(method: string, path: string, body: unknown, status: number, key?: string) {
  const answer = await s.api(method, path, body, key);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(status);
  return answer.body;
}

async function putParts(plan: any, bytes: Buffer): Promise<{ partNumber: number; etag: string }[]> {
  const { partSize, parts } = plan.multipart;
  return Promise.all(
    parts.map(async (part: { partNumber: number; url: string; headers: Record<string, string> }) => {
      const slice = bytes.subarray((part.partNumber - 1) * partSize, part.partNumber * partSize);
      const response = await fetch(part.url, { method: "PUT", headers: part.headers, body: new Uint8Array(slice) });
      expect(response.ok).toBe(true);
      return { partNumber: part.partNumber, etag: response.headers.get("etag")! };
    }),
  );
}

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("timed out");
}

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) } });
  work = await mkdtemp(join(tmpdir(), "mreg-contract-"));
  hooks = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200).end("ok"));
  });
  await new Promise<void>((resolve) => hooks.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await s?.stop();
  await new Promise((resolve) => hooks?.close(resolve));
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the registry's answers are what the OpenAPI document says", () => {
  test("health and the document itself", async () => {
    await expectStatus("GET", "/v1/health", undefined, 200);
    const doc = await expectStatus("GET", "/v1/openapi.json", undefined, 200);
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  test("uploads (single and multipart, at both paths), commits, artifacts and aliases", async () => {
    const small = fileSpec("config.json", '{"layers": 2}');
    const big = fileSpec("weights.bin", randomBytes(6 * MIB));
    const other = fileSpec("optimizer.bin", randomBytes(6 * MIB));
    const plan = await expectStatus("POST", "/v1/uploads", { files: [small, big].map(({ bytes: _, ...f }) => f) }, 200);
    const put = plan.uploads.find((u: { sha256: string }) => u.sha256 === small.sha256);
    expect((await fetch(put.url, { method: "PUT", headers: put.headers, body: small.bytes })).ok).toBe(true);
    const multipart = plan.uploads.find((u: { sha256: string }) => u.sha256 === big.sha256);
    const parts = await putParts(multipart, big.bytes);
    await expectStatus("POST", "/v1/uploads/complete", { sha256: big.sha256, uploadId: multipart.multipart.uploadId, parts }, 200);
    const planned = await expectStatus(
      "POST",
      `${P}/uploads`,
      { files: [{ path: other.path, size: other.size, sha256: other.sha256 }] },
      200,
    );
    const otherParts = await putParts(planned.uploads[0], other.bytes);
    await expectStatus(
      "POST",
      `${P}/uploads/complete`,
      { sha256: other.sha256, uploadId: planned.uploads[0].multipart.uploadId, parts: otherParts },
      200,
    );
    const files = [small, big, other].map(({ bytes: _, ...f }) => f);
    await expectStatus("POST", `${P}/versions`, { type: "model", files, aliases: ["best"], runId: "train-1", metadata: { acc: 0.9 } }, 201);
    await expectStatus("POST", `${P}/versions`, { type: "model", files }, 200);
    await expectStatus("POST", `${P}/versions`, { type: "model", files: [files[0]] }, 201);
    await expectStatus("POST", `${P}/versions`, { type: "dataset", files: [files[1]] }, 409);
    await expectStatus("POST", `${P}/versions`, { type: "model", files: [{ path: "x", size: 3, sha256: "0".repeat(64) }] }, 422);
    await expectStatus("POST", `${P}/versions`, { type: "model" }, 400);
    await expectStatus("GET", "/v1/projects/contract/artifacts", undefined, 200);
    await expectStatus("GET", P, undefined, 200);
    await expectStatus("GET", `${P}/versions?limit=1`, undefined, 200);
    await expectStatus("GET", `${P}/versions/best`, undefined, 200);
    await expectStatus("GET", `${P}/versions/v0/files?prefix=w`, undefined, 200);
    await expectStatus("PUT", `${P}/aliases/staging`, { version: "v1" }, 200);
    await expectStatus("DELETE", `${P}/aliases/staging`, undefined, 200);
    await expectStatus("DELETE", `${P}/aliases/staging`, undefined, 404);
    await expectStatus("GET", `${P}/history`, undefined, 200);
  });

  test("users and keys", async () => {
    await expectStatus("GET", "/v1/me", undefined, 200);
    await expectStatus("POST", "/v1/users", { name: "vic", role: "viewer" }, 201);
    await expectStatus("POST", "/v1/users", { name: "vic", role: "viewer" }, 409);
    await expectStatus("GET", "/v1/users", undefined, 200);
    viewerKey = (await expectStatus("POST", "/v1/api-keys", { user: "vic" }, 201)).key;
    const spare = await expectStatus("POST", "/v1/api-keys", { user: "vic" }, 201);
    await expectStatus("GET", "/v1/api-keys?user=vic", undefined, 200);
    await expectStatus("DELETE", `/v1/api-keys/${spare.id}`, undefined, 200);
    await expectStatus("POST", "/v1/users", { name: "eve", role: "admin" }, 403, viewerKey);
    await expectStatus("GET", "/v1/me", undefined, 401, "mreg_unknown");
  });

  test("registries, collections, links, aliases, tags and history", async () => {
    await expectStatus("POST", "/v1/registries", { name: "team", protectedAliases: ["production"], artifactTypes: ["model"] }, 201);
    await expectStatus("GET", "/v1/registries", undefined, 200);
    await expectStatus("GET", "/v1/registries/team", undefined, 200);
    await expectStatus("PUT", "/v1/registries/team/members/vic", { role: "viewer" }, 200);
    await expectStatus("DELETE", "/v1/registries/team/members/vic", undefined, 200);
    await expectStatus("POST", "/v1/registries/team/collections", { name: "net", type: "model", tags: ["vision"] }, 201);
    await expectStatus("POST", "/v1/registries/team/collections", { name: "sets", type: "dataset" }, 422);
    await expectStatus("GET", "/v1/registries/team/collections?tag=vision", undefined, 200);
    await expectStatus("GET", C, undefined, 200);
    await expectStatus("POST", `${C}/links`, { project: "contract", artifact: "model", version: "v0", aliases: ["production"] }, 201);
    await expectStatus("POST", `${C}/links`, { project: "contract", artifact: "model", version: "v0" }, 200);
    await expectStatus("POST", `${C}/links`, { project: "contract", artifact: "model", version: "v1" }, 201);
    await expectStatus("GET", `${C}/versions`, undefined, 200);
    await expectStatus("GET", `${C}/versions/production`, undefined, 200);
    await expectStatus("GET", `${C}/versions/production/files`, undefined, 200);
    await expectStatus("PUT", `${C}/aliases/staging`, { version: "v1" }, 200);
    await expectStatus("DELETE", `${C}/aliases/staging`, undefined, 200);
    await expectStatus("PUT", `${C}/tags/best`, undefined, 200);
    await expectStatus("DELETE", `${C}/tags/best`, undefined, 200);
    await expectStatus("PUT", `${C}/versions/v0/tags/checked`, undefined, 200);
    await expectStatus("DELETE", `${C}/versions/v0/tags/checked`, undefined, 200);
    await expectStatus("GET", `${C}/history`, undefined, 200);
    await expectStatus("PUT", `${C}/aliases/production`, { version: "v1" }, 403, viewerKey);
    await expectStatus("DELETE", `${P}/versions/v0`, undefined, 409);
  });

  test("runs, metrics and lineage", async () => {
    await expectStatus("POST", "/v1/projects/contract/runs", { id: "eval-1", name: "eval", config: { lr: 0.1 } }, 201);
    await expectStatus("POST", "/v1/projects/contract/runs", { id: "eval-1" }, 200);
    await expectStatus("GET", "/v1/projects/contract/runs/eval-1", undefined, 200);
    await expectStatus("POST", "/v1/projects/contract/runs/eval-1/inputs", { artifact: "model", version: "v0" }, 200);
    await expectStatus("POST", "/v1/projects/contract/runs/eval-1/metrics", { items: [{ step: 1, values: { acc: 0.5 } }] }, 200);
    await expectStatus("GET", "/v1/projects/contract/runs/eval-1/metrics?key=acc", undefined, 200);
    await expectStatus("GET", "/v1/projects/contract/runs/eval-1/lineage", undefined, 200);
    await expectStatus("GET", `${P}/versions/v0/lineage?depth=2`, undefined, 200);
    await expectStatus("GET", `${C}/versions/v0/lineage`, undefined, 200);
  });

  test("automations and their deliveries", async () => {
    const hook = await expectStatus("POST", "/v1/registries/team/automations", { name: "ci", event: "LINK_ARTIFACT", url: hookUrl }, 201);
    await expectStatus("GET", "/v1/registries/team/automations", undefined, 200);
    await expectStatus("GET", `/v1/registries/team/automations/${hook.id}`, undefined, 200);
    await expectStatus("POST", `${C}/links`, { project: "contract", artifact: "model", version: "v1", aliases: [] }, 200);
    await expectStatus(
      "POST",
      "/v1/registries/team/collections/other/links",
      { project: "contract", artifact: "model", version: "v1" },
      201,
    );
    const delivery = await until(async () => {
      const listed = await expectStatus("GET", `/v1/registries/team/automations/${hook.id}/deliveries`, undefined, 200);
      return listed.items.find((d: { status: string }) => d.status === "delivered");
    });
    await expectStatus("GET", `/v1/registries/team/automations/${hook.id}/deliveries/${delivery.id}`, undefined, 200);
    await expectStatus("POST", `/v1/registries/team/automations/${hook.id}/deliveries/${delivery.id}/replay`, undefined, 200);
    await expectStatus("DELETE", `/v1/registries/team/automations/${hook.id}`, undefined, 200);
  });

  test("edits, projects, members, user changes, promotions and admin deletes", async () => {
    await expectStatus("PATCH", `${P}/versions/v1`, { description: "edited", metadata: { acc: 0.95 } }, 200);
    await expectStatus("PUT", `${P}/aliases/candidate`, { version: "v1", expectedVersion: null }, 200);
    await expectStatus("PUT", `${P}/aliases/candidate`, { version: "v0", expectedVersion: "v0" }, 412);
    const projects = await expectStatus("GET", "/v1/projects", undefined, 200);
    expect(projects.items.map((p: { name: string }) => p.name)).toContain("contract");

    await expectStatus("POST", "/v1/users", { name: "tem", role: "member" }, 201);
    await expectStatus("PATCH", "/v1/users/tem", { role: "viewer" }, 200);
    await expectStatus("PATCH", "/v1/users/tem", { status: "deactivated" }, 200);
    await expectStatus("PUT", "/v1/registries/team/members/vic", { role: "viewer" }, 200);
    await expectStatus("GET", "/v1/users/vic/memberships", undefined, 200, viewerKey);
    await expectStatus("GET", "/v1/registries/team/members", undefined, 200);

    await expectStatus("PATCH", "/v1/registries/team", { description: "the team's models" }, 200);
    await expectStatus("PATCH", C, { description: "# net\n\nA model card.", tags: ["vision"] }, 200);
    await expectStatus("POST", "/v1/registries", { name: "gated", protectedAliases: ["production"], approvalsRequired: 1 }, 201);
    await expectStatus("POST", "/v1/registries/gated/collections", { name: "net", type: "model" }, 201);
    const gated = "/v1/registries/gated/collections/net";
    await expectStatus("POST", `${gated}/links`, { project: "contract", artifact: "model", version: "v1" }, 201);
    await expectStatus("POST", `${gated}/links`, { project: "contract", artifact: "model", version: "v0" }, 201);
    await expectStatus("POST", "/v1/users", { name: "ada", role: "admin" }, 201);
    const adaKey = (await expectStatus("POST", "/v1/api-keys", { user: "ada" }, 201)).key;
    const asked = await expectStatus("POST", `${gated}/promotions`, { alias: "production", version: "v0", note: "ship it" }, 201);
    await expectStatus("GET", `${gated}/promotions`, undefined, 200);
    await expectStatus("GET", `${gated}/promotions/${asked.id}`, undefined, 200);
    await expectStatus("POST", `${gated}/promotions/${asked.id}/approve`, undefined, 403);
    expect(await expectStatus("POST", `${gated}/promotions/${asked.id}/approve`, { note: "ok" }, 200, adaKey)).toMatchObject({
      status: "approved",
    });
    const other = await expectStatus("POST", `${gated}/promotions`, { alias: "production", version: "v1" }, 201);
    await expectStatus("POST", `${gated}/promotions/${other.id}/reject`, { note: "not now" }, 200, adaKey);

    await expectStatus("POST", "/v1/registries/gated/collections", { name: "scratch", type: "model" }, 201);
    await expectStatus("DELETE", "/v1/registries/gated/collections/scratch?dryRun=true", undefined, 200);
    await expectStatus("DELETE", "/v1/registries/gated/collections/scratch", undefined, 200);
    await expectStatus("DELETE", `${gated}?dryRun=true&force=true`, undefined, 200);
    await expectStatus("DELETE", "/v1/registries/gated", undefined, 409);
    await expectStatus("DELETE", `${gated}?force=true`, undefined, 200);
    await expectStatus("DELETE", "/v1/registries/gated?dryRun=true", undefined, 200);
    await expectStatus("DELETE", "/v1/registries/gated", undefined, 200);
  });

  test("usage, dry runs and the garbage collector", async () => {
    await expectStatus("GET", "/v1/projects/contract/usage", undefined, 200);
    await expectStatus("GET", "/v1/projects/nothing-here/usage", undefined, 404);
    await expectStatus("GET", "/v1/usage", undefined, 200);
    await expectStatus("GET", "/v1/usage", undefined, 403, viewerKey);
    await expectStatus("DELETE", `${P}/versions/v0?dryRun=true&force=true`, undefined, 200);
    await expectStatus("POST", "/v1/admin/gc?dryRun=true", undefined, 200);
    await expectStatus("POST", "/v1/admin/gc", undefined, 200);
  });

  test("deleting versions and unlinking", async () => {
    await expectStatus("DELETE", `${C}/versions/v1`, undefined, 200);
    await expectStatus("DELETE", `${P}/versions/v0?force=true`, undefined, 200);
  });

  test("bulk deletes, their dry runs and jobs", async () => {
    const file = fileSpec("w.bin", "bulk contract weights");
    const declared = { path: file.path, size: file.size, sha256: file.sha256 };
    await uploadPlanned(await expectStatus("POST", "/v1/uploads", { files: [declared] }, 200), new Map([[file.sha256, file.bytes]]));
    const B = "/v1/projects/bulk-contract/artifacts";
    for (const [artifact, path] of [
      ["a", "1"],
      ["a", "2"],
      ["b", "1"],
    ]) {
      await expectStatus("POST", `${B}/${artifact}/versions`, { type: "model", files: [{ ...declared, path }] }, 201);
    }
    await expectStatus("PATCH", "/v1/projects/bulk-contract", { ttlDays: 7 }, 200);
    await expectStatus("POST", `${B}/b/versions`, { type: "model", files: [{ ...declared, path: "2" }], ttlDays: 1 }, 201);
    await expectStatus("GET", `${B}/b/versions/v1`, undefined, 200);
    await expectStatus("POST", `${B}/a/version-deletions?dryRun=true`, { aliasAbsent: true }, 200);
    const filtered = await expectStatus("POST", `${B}/a/version-deletions`, { aliasAbsent: true }, 202);
    await expectStatus("GET", `/v1/jobs/${filtered.id}`, undefined, 200);
    await expectStatus("GET", "/v1/jobs/01J00000000000000000000000", undefined, 404);
    await expectStatus("DELETE", `${B}/a?dryRun=true`, undefined, 200);
    await expectStatus("DELETE", `${B}/a`, undefined, 202);
    await expectStatus("DELETE", `${B}/nothing`, undefined, 404);
    await expectStatus("DELETE", "/v1/projects/bulk-contract?dryRun=true", undefined, 200);
    await expectStatus("DELETE", "/v1/projects/bulk-contract", undefined, 202);
  });

  test("the Hugging Face protocol, as @huggingface/hub drives it", async () => {
    const fetch = checkedFetch(new URL(s.url).origin);
    const accessToken = `hf_${s.adminKey}`;
    const hubUrl = `${s.url}/hf`;
    const projectsUrl = `${s.url}/hf/_projects`;
    const folder = join(work, "upload");
    await mkdir(join(folder, "tokenizer"), { recursive: true });
    await writeFile(join(folder, "weights.bin"), randomBytes(6 * MIB));
    await writeFile(join(folder, "tokenizer", "vocab.txt"), "a\nb\n");
    await uploadFiles({
      repo: "contract/hf",
      files: [pathToFileURL(folder)],
      hubUrl: projectsUrl,
      accessToken,
      fetch,
      commitTitle: "first",
    });
    await expectStatus("POST", "/v1/registries/team/collections/hf/links", { project: "contract", artifact: "hf", version: "v0" }, 201);
    const repo = "team/hf";
    for await (const _ of listFiles({ repo, recursive: true, hubUrl, accessToken, fetch })) void _;
    for await (const _ of listFiles({ repo, path: "upload/tokenizer", hubUrl, accessToken, fetch })) void _;
    for await (const _ of listFiles({ repo: "contract/hf", path: "upload", hubUrl: projectsUrl, accessToken, fetch })) void _;
    await pathsInfo({ repo, paths: ["upload/weights.bin", "upload"], expand: true, hubUrl, accessToken, fetch });
    await pathsInfo({ repo: "contract/hf", paths: ["upload/weights.bin"], hubUrl: projectsUrl, accessToken, fetch });
    expect(await fileDownloadInfo({ repo, path: "nothing", hubUrl, accessToken, fetch })).toBeNull();
    await snapshotDownload({ repo, revision: "latest", cacheDir: join(work, "cache"), hubUrl, accessToken, fetch });
    await snapshotDownload({ repo: "contract/hf", cacheDir: join(work, "cache"), hubUrl: projectsUrl, accessToken, fetch });
    const auth = { authorization: `Bearer ${accessToken}` };
    for (const url of [`${hubUrl}/api/models/${repo}`, `${projectsUrl}/api/models/contract/hf`]) {
      expect((await fetch(url, { headers: auth })).status).toBe(200);
    }
    for (const url of [`${hubUrl}/${repo}/resolve/main/upload/weights.bin`, `${projectsUrl}/contract/hf/resolve/v0/upload/weights.bin`]) {
      expect((await fetch(url, { method: "HEAD", headers: auth, redirect: "manual" })).status).toBe(302);
    }
    // Errors in the Hugging Face dialect.
    expect((await fetch(`${hubUrl}/api/models/${repo}/revision/v9`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${hubUrl}/api/models/${repo}/revision/main`)).status).toBe(401);
    expect(
      (await fetch(`${projectsUrl}/api/models/contract/hf/commit/main`, { method: "POST", headers: auth, body: "not json" })).status,
    ).toBe(400);
    const viewer = { authorization: `Bearer hf_${viewerKey}` };
    expect(
      (await fetch(`${projectsUrl}/api/models/contract/hf/preupload/main`, { method: "POST", headers: viewer, body: "{}" })).status,
    ).toBe(403);
  });

  test("every route was answered with a documented success", () => {
    const missing = routes
      .map((route) => `${route.method} ${route.path.replace(/\{(\w+)\+\}/g, "{$1}")}`)
      .filter((key) => ![...(exercised.get(key) ?? [])].some((status) => status < 400));
    expect(missing).toEqual([]);
    const statuses = new Set([...exercised.values()].flatMap((set) => [...set]));
    for (const status of [200, 201, 302, 400, 401, 403, 404, 409, 422]) expect(statuses).toContain(status);
  });
});
