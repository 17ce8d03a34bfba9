import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { commitVersion } from "../../lambdas/core/artifact-versions.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Bulk deletes as background jobs on the embedded registry: the jobs worker (local/job-worker.ts)
 * runs them; a restart midway resumes from the last step written.
 */
let s: TestStack;
const blob = fileSpec("w.bin", "one blob shared by every version of these tests");

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_JOB_POLL_MS: "50" } });
  const plan = await s.api("POST", "/v1/uploads", { files: [{ path: blob.path, size: blob.size, sha256: blob.sha256 }] });
  await uploadPlanned(plan.body, new Map([[blob.sha256, blob.bytes]]));
});
afterAll(async () => {
  await s?.stop();
});

/** Commits version `i` of an artifact: the one blob under a path of its own, so every version has its own digest. Plain fetch, no document check: it runs thousands of times. */
async function commit(project: string, artifact: string, i: number, extra: Record<string, unknown> = {}): Promise<void> {
  const response = await fetch(`${s.url}/v1/projects/${project}/artifacts/${artifact}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "model", files: [{ path: `f${i}.bin`, size: blob.size, sha256: blob.sha256 }], ...extra }),
  });
  if (response.status !== 201) throw new Error(`commit ${project}/${artifact} ${i}: ${response.status} ${await response.text()}`);
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const job = async (id: string) => (await s.api("GET", `/v1/jobs/${id}`)).body;
const finished = (id: string, timeoutMs?: number) =>
  until(
    () => job(id),
    (j) => j.status === "succeeded" || j.status === "failed",
    timeoutMs,
  );

describe("filtered version deletes", () => {
  test("the dry run lists exactly what the job then deletes, and writes nothing", async () => {
    const ART = "/v1/projects/filtered/artifacts/mnist";
    for (let i = 0; i < 6; i++) await commit("filtered", "mnist", i);
    expect((await s.api("PUT", `${ART}/aliases/best`, { version: "v1" })).status).toBe(200);
    expect((await s.api("POST", "/v1/registries", { name: "vault" })).status).toBe(201);
    expect(
      (await s.api("POST", "/v1/registries/vault/collections/mnist/links", { project: "filtered", artifact: "mnist", version: "v2" }))
        .status,
    ).toBe(201);
    const filter = { aliasAbsent: true, notLinked: true };

    const dry = await s.api("POST", `${ART}/version-deletions?dryRun=true`, filter);
    expect(dry.status).toBe(200);
    expect(dry.body.versions.map((v: { version: string }) => v.version)).toEqual(["v0", "v3", "v4"]);
    expect(dry.body).toMatchObject({ files: 3, logicalBytes: 3 * blob.size, links: [], skipped: [], artifacts: [] });
    expect((await s.api("GET", `${ART}/versions?limit=100`)).body.items).toHaveLength(6);

    const created = await s.api("POST", `${ART}/version-deletions`, filter);
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ kind: "versions.delete", status: "queued", progress: { done: 0 }, createdBy: "admin" });
    const done = await finished(created.body.id);
    expect(done).toMatchObject({ status: "succeeded", progress: { done: 3, failed: 0, skipped: 0 } });
    const left = (await s.api("GET", `${ART}/versions?limit=100`)).body.items.map((v: { version: string }) => v.version);
    expect(left.sort()).toEqual(["v1", "v2", "v5"]);
    const actions = (await s.api("GET", `${ART}/history?limit=100`)).body.items.map((e: { action: string }) => e.action);
    expect(actions.filter((a: string) => a === "version.deleted")).toHaveLength(3);
    expect(actions).toEqual(expect.arrayContaining(["job.created", "job.finished"]));
  });

  test("an artifact delete skips the linked version and says why; forced, it unlinks", async () => {
    const ART = "/v1/projects/filtered/artifacts/mnist";
    const plain = await s.api("DELETE", ART);
    expect(plain.status).toBe(202);
    const kept = await finished(plain.body.id);
    expect(kept).toMatchObject({ status: "succeeded", progress: { total: 3, done: 2, skipped: 1 } });
    expect(kept.skipped).toEqual([{ version: "filtered/mnist:v2", reason: expect.stringContaining("linked into @vault/mnist:v0") }]);
    expect((await s.api("GET", ART)).status).toBe(200);

    const dry = await s.api("DELETE", `${ART}?dryRun=true&force=true`);
    expect(dry.body).toMatchObject({ links: ["@vault/mnist:v0"], artifacts: ["filtered/mnist"], skipped: [] });
    const forced = await s.api("DELETE", `${ART}?force=true`);
    expect(await finished(forced.body.id)).toMatchObject({ status: "succeeded", progress: { done: 1, skipped: 0 } });
    expect((await s.api("GET", ART)).status).toBe(404);
    // The history stays readable and ends with the artifact's deletion.
    const history = await s.api("GET", `${ART}/history?limit=5`);
    expect(history.status).toBe(200);
    expect(history.body.items.map((e: { action: string }) => e.action)).toContain("artifact.deleted");
    // The name starts again after the numbers it burnt.
    await commit("filtered", "mnist", 99);
    expect((await s.api("GET", ART)).body.latest).toBe("v6");
  });
});

describe("retention", () => {
  test("expired unlinked versions go; linked ones and protected-alias holders stay and say why", { timeout: 60_000 }, async () => {
    const ART = "/v1/projects/ttl/artifacts/net";
    // Far enough ahead that the links below are made before the sweep (every 50 ms here) gets to them.
    const expiresAt = new Date(Date.now() + 8_000).toISOString();
    for (let i = 0; i < 4; i++) await commit("ttl", "net", i, i < 3 ? { expiresAt } : {});
    expect((await s.api("POST", "/v1/registries", { name: "keepers", protectedAliases: ["production"] })).status).toBe(201);
    const linkTo = (version: string, aliases: string[]) =>
      s.api("POST", "/v1/registries/keepers/collections/net/links", { project: "ttl", artifact: "net", version, aliases });
    expect((await linkTo("v1", [])).status).toBe(201);
    expect((await linkTo("v2", ["production"])).status).toBe(201);
    expect((await s.api("GET", `${ART}/versions/v0`)).body.retention).toEqual({ expiresAt });

    await until(
      () => s.api("GET", `${ART}/versions/v0`),
      (r) => r.status === 404,
      30_000,
    );
    // The sweep takes them in order (v1, then v2): both kept, each saying why.
    await until(
      () => s.api("GET", `${ART}/versions/v2`),
      (r) => r.body.retention?.kept !== undefined,
    );
    const v1 = await s.api("GET", `${ART}/versions/v1`);
    expect(v1.body.retention).toEqual({ expiresAt, kept: "linked into @keepers/net:v0" });
    const v2 = await s.api("GET", `${ART}/versions/v2`);
    expect(v2.body.retention).toEqual({ expiresAt, kept: "linked into @keepers/net:v1 (protected alias production)" });
    expect((await s.api("GET", `${ART}/versions/v3`)).body).not.toHaveProperty("retention");
    const deleted = (await s.api("GET", `${ART}/history?limit=100`)).body.items.filter(
      (e: { action: string }) => e.action === "version.deleted",
    );
    expect(deleted).toEqual([expect.objectContaining({ version: "v0", actor: "retention" })]);
  });

  test("a project's default retention applies to the versions committed after it is set", async () => {
    const set = await s.api("PATCH", "/v1/projects/ttl", { ttlDays: 3 });
    expect(set).toMatchObject({ status: 200, body: { name: "ttl", ttlDays: 3 } });
    const before = Date.now();
    await commit("ttl", "net", 10);
    const expiresAt = Date.parse((await s.api("GET", "/v1/projects/ttl/artifacts/net/versions/latest")).body.retention.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(3 * 86_400_000 - 1_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(3 * 86_400_000);
    expect((await s.api("PATCH", "/v1/projects/ttl", { ttlDays: null })).body).not.toHaveProperty("ttlDays");
    expect((await s.api("PATCH", "/v1/projects/none-such", { ttlDays: 3 })).status).toBe(404);
  });
});

describe("a project delete of 2 000 versions", () => {
  const ARTIFACTS = 16;
  const PER_ARTIFACT = 125;
  const TOTAL = ARTIFACTS * PER_ARTIFACT;

  // Minutes on a loaded machine: 2 000 commits, then 2 000 deletes of about four DynamoDB calls each.
  test("shows its progress while it runs, survives a restart midway and finishes", { timeout: 480_000 }, async () => {
    const started = Date.now();
    // The commit use case in the server's own process (the HTTP edge adds nothing here but
    // time), one writer per artifact: commits to one artifact would contend on its head item.
    const services = s.stack.services;
    const principal = { userId: "admin", orgRole: "admin" as const };
    await Promise.all(
      Array.from({ length: ARTIFACTS }, async (_, w) => {
        const artifact = `a${String(w).padStart(2, "0")}`;
        for (let i = 0; i < PER_ARTIFACT; i++) {
          const files = [{ path: `f${i}.bin`, size: blob.size, sha256: blob.sha256 }];
          await commitVersion(services, principal, { project: "bulk", artifact }, { type: "model", files });
        }
      }),
    );
    const committedMs = Date.now() - started;

    const dry = await s.api("DELETE", "/v1/projects/bulk?dryRun=true");
    expect(dry.status).toBe(200);
    expect(dry.body.versions).toHaveLength(TOTAL);
    expect(dry.body.artifacts).toEqual(Array.from({ length: ARTIFACTS }, (_, a) => `bulk/a${String(a).padStart(2, "0")}`));
    expect(dry.body.logicalBytes).toBe(TOTAL * blob.size);

    const created = await s.api("DELETE", "/v1/projects/bulk");
    expect(created.status).toBe(202);
    expect(created.body.progress).toEqual({ total: TOTAL, done: 0, failed: 0, skipped: 0 });
    const midway = await until(
      () => job(created.body.id),
      (j) => j.progress.done >= 300,
      180_000,
    );
    expect(midway.status).toBe("running");
    expect(midway.progress.done).toBeLessThan(TOTAL);

    await s.restart();
    const afterRestart = await job(created.body.id);
    expect(afterRestart.progress.done).toBeGreaterThanOrEqual(midway.progress.done);
    const done = await finished(created.body.id, 300_000);
    expect(done).toMatchObject({ status: "succeeded", progress: { total: TOTAL, done: TOTAL, failed: 0, skipped: 0 } });
    for (let a = 0; a < ARTIFACTS; a++) {
      expect((await s.api("GET", `/v1/projects/bulk/artifacts/a${String(a).padStart(2, "0")}`)).status).toBe(404);
    }
    const projects = (await s.api("GET", "/v1/projects?limit=100")).body.items.map((p: { name: string }) => p.name);
    expect(projects).not.toContain("bulk");
    console.log(`2 000 versions: committed in ${committedMs} ms, deleted (restart included) in ${Date.now() - started - committedMs} ms`);
  });
});
