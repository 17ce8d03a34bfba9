import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Edits, admin deletes, compare-and-swap alias moves, promotions and user changes against an
 * embedded registry (DynamoDB Local, the S3 emulator, the real handlers).
 */
let s: TestStack;
const keys: Record<string, string> = {};
const REG = "/v1/registries/model";
const col = (name: string) => `${REG}/collections/${name}`;
const ART = "/v1/projects/train/artifacts/mnist";

async function newUser(name: string, role: "viewer" | "member" | "admin"): Promise<string> {
  expect((await s.api("POST", "/v1/users", { name, role })).status).toBe(201);
  const key = await s.api("POST", "/v1/api-keys", { user: name });
  expect(key.status).toBe(201);
  return key.body.key as string;
}

async function logVersion(artifact: string, i: number, project = "train"): Promise<string> {
  const file = fileSpec("weights.bin", `${project}/${artifact} weights ${i}`);
  const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];
  const plan = await s.api("POST", `/v1/projects/${project}/artifacts/${artifact}/uploads`, { files: declared });
  await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
  const commit = await s.api("POST", `/v1/projects/${project}/artifacts/${artifact}/versions`, {
    type: "model",
    files: declared,
    metadata: { epoch: i },
    description: `epoch ${i}`,
  });
  expect(commit.status).toBe(201);
  return commit.body.version as string;
}

const history = async (path: string) => (await s.api("GET", `${path}/history?limit=100`)).body.items as { action: string }[];

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_STREAM_POLL_MS: "50", MREG_WEBHOOK_SWEEP_MS: "50" } });
  keys.max = await newUser("max", "member");
  keys.ana = await newUser("ana", "member");
  keys.bob = await newUser("bob", "member");
  keys.vera = await newUser("vera", "viewer");
  await s.api("PUT", `${REG}/members/max`, { role: "member" });
  for (const admin of ["ana", "bob"]) await s.api("PUT", `${REG}/members/${admin}`, { role: "admin" });
  for (let i = 0; i < 4; i++) await logVersion("mnist", i);
  for (let i = 0; i < 4; i++) {
    const linked = await s.api("POST", `${col("mnist-classifier")}/links`, {
      project: "train",
      artifact: "mnist",
      version: `v${i}`,
      ...(i === 0 ? { aliases: ["production", "staging"] } : {}),
    });
    expect(linked.status).toBe(201);
  }
});
afterAll(async () => {
  await s?.stop();
});

describe("compare-and-swap alias moves", () => {
  test("a stale expectation is a 412 naming the current holder, and nothing is written", async () => {
    await s.api("PUT", `${ART}/aliases/best`, { version: "v1" });
    const artifactEvents = (await history(ART)).length;
    const stale = await s.api("PUT", `${ART}/aliases/best`, { version: "v3", expectedVersion: "v2" }, keys.max);
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: "precondition_failed", current: "v1" });
    expect(stale.body.error.message).toContain("names v1, not v2");
    expect((await s.api("GET", `${ART}/versions/best`)).body.version).toBe("v1");
    expect(await history(ART)).toHaveLength(artifactEvents);

    const collectionEvents = (await history(col("mnist-classifier"))).length;
    const notYet = await s.api("PUT", `${col("mnist-classifier")}/aliases/staging`, { version: "v1", expectedVersion: null }, keys.max);
    expect(notYet.status).toBe(412);
    expect(notYet.body.error.current).toBe("v0");
    expect(await history(col("mnist-classifier"))).toHaveLength(collectionEvents);
    expect((await s.api("GET", col("mnist-classifier"))).body.aliases.staging).toBe("v0");

    const swapped = await s.api("PUT", `${col("mnist-classifier")}/aliases/staging`, { version: "v1", expectedVersion: "v0" }, keys.max);
    expect(swapped).toMatchObject({ status: 200, body: { alias: "staging", version: "v1", previous: "v0" } });
    const created = await s.api("PUT", `${ART}/aliases/candidate`, { version: 2, expectedVersion: null }, keys.max);
    expect(created.status).toBe(200);
  });

  test("two movers expecting the same holder: exactly one wins, the other gets a 412", async () => {
    await s.api("PUT", `${ART}/aliases/race`, { version: "v0" });
    const answers = await Promise.all(
      ["v1", "v2", "v3"].map((version) => s.api("PUT", `${ART}/aliases/race`, { version, expectedVersion: "v0" }, keys.max)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 412, 412]);
    const winner = answers.find((a) => a.status === 200)!.body.version;
    expect((await s.api("GET", `${ART}/versions/race`)).body.version).toBe(winner);
  });
});

describe("promotions", () => {
  let receiver: Server;
  const received: { event_type: string; promotion?: { id: string } }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    for (const event of ["PROMOTION_REQUESTED", "PROMOTION_APPROVED"]) {
      expect((await s.api("POST", `${REG}/automations`, { name: event, event, collection: "mnist-classifier", url })).status).toBe(201);
    }
    const gated = await s.api("PATCH", REG, { approvalsRequired: 2 }, keys.ana);
    expect(gated.body).toMatchObject({ approvalsRequired: 2 });
  });
  afterAll(async () => {
    await s.api("PATCH", REG, { approvalsRequired: 0 });
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const production = async () => (await s.api("GET", col("mnist-classifier"))).body.aliases.production as string;

  test("an admin cannot move the protected alias directly while approvals are required", async () => {
    const direct = await s.api("PUT", `${col("mnist-classifier")}/aliases/production`, { version: "v2" });
    expect(direct.status).toBe(403);
    expect(direct.body.error.message).toContain("requires 2 approvals");
  });

  test("a promotion needing 2 approvals moves only after the second distinct admin approves", async () => {
    const asked = await s.api(
      "POST",
      `${col("mnist-classifier")}/promotions`,
      { alias: "production", version: "v2", note: "+1.2% acc" },
      keys.max,
    );
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({ status: "pending", from: "v0", version: "v2", approvalsRequired: 2, requestedBy: "max" });
    const id = asked.body.id as string;
    const promotion = `${col("mnist-classifier")}/promotions/${id}`;

    expect((await s.api("POST", `${promotion}/approve`, {}, keys.max)).status).toBe(403);
    const first = await s.api("POST", `${promotion}/approve`, {}, keys.ana);
    expect(first.body).toMatchObject({ status: "pending", approvals: [{ by: "ana" }] });
    expect((await s.api("POST", `${promotion}/approve`, {}, keys.ana)).body.approvals).toHaveLength(1);
    expect(await production()).toBe("v0");

    const second = await s.api("POST", `${promotion}/approve`, { note: "ok" }, keys.bob);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: "approved", approvals: [{ by: "ana" }, { by: "bob", note: "ok" }] });
    expect(await production()).toBe("v2");

    const actions = (await history(col("mnist-classifier"))).slice(0, 4).map((e) => e.action);
    expect(actions).toEqual(["promotion.approved", "alias.moved", "promotion.approval", "promotion.requested"]);
    const listed = await s.api("GET", `${col("mnist-classifier")}/promotions?status=approved`, undefined, keys.vera);
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([id]);

    const until = Date.now() + 10_000;
    while (received.filter((r) => r.promotion?.id === id).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(received.filter((r) => r.promotion?.id === id).map((r) => r.event_type)).toEqual(["PROMOTION_REQUESTED", "PROMOTION_APPROVED"]);
  });

  test("a promotion goes stale, moving nothing, if the alias was moved meanwhile", async () => {
    const asked = await s.api("POST", `${col("mnist-classifier")}/promotions`, { alias: "production", version: "v3" }, keys.max);
    const promotion = `${col("mnist-classifier")}/promotions/${asked.body.id as string}`;
    expect((await s.api("POST", `${promotion}/approve`, {}, keys.ana)).status).toBe(200);
    // Meanwhile another promotion moves production (v2 → v1).
    const other = await s.api("POST", `${col("mnist-classifier")}/promotions`, { alias: "production", version: "v1" }, keys.max);
    for (const admin of ["ana", "bob"]) {
      await s.api("POST", `${col("mnist-classifier")}/promotions/${other.body.id as string}/approve`, {}, keys[admin]);
    }
    expect(await production()).toBe("v1");

    const late = await s.api("POST", `${promotion}/approve`, {}, keys.bob);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toContain("stale: production names v1 now, not v2");
    expect(await production()).toBe("v1");
    expect((await s.api("GET", promotion)).body).toMatchObject({ status: "stale", approvals: [{ by: "ana" }] });
  });

  test("a rejected promotion is decided for good", async () => {
    const asked = await s.api("POST", `${col("mnist-classifier")}/promotions`, { alias: "production", version: "v0" }, keys.max);
    const promotion = `${col("mnist-classifier")}/promotions/${asked.body.id as string}`;
    expect((await s.api("POST", `${promotion}/reject`, { note: "not yet" }, keys.bob)).body).toMatchObject({
      status: "rejected",
      rejection: { by: "bob", note: "not yet" },
    });
    expect((await s.api("POST", `${promotion}/approve`, {}, keys.ana)).status).toBe(409);
    expect((await s.api("POST", `${col("mnist-classifier")}/promotions`, { alias: "staging", version: "v0" }, keys.max)).status).toBe(422);
  });
});

describe("edits", () => {
  test("a member edits a version's description and metadata; reads by alias and through collections show it", async () => {
    await s.api("PUT", `${ART}/aliases/edited`, { version: "v3" });
    const edited = await s.api("PATCH", `${ART}/versions/v3`, { description: "final", metadata: { epoch: null, f1: 0.91 } }, keys.max);
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ version: "v3", description: "final", metadata: { f1: 0.91 } });
    expect((await s.api("GET", `${ART}/versions/edited`)).body).toMatchObject({ description: "final", metadata: { f1: 0.91 } });
    expect((await s.api("GET", `${col("mnist-classifier")}/versions/v3`)).body).toMatchObject({
      description: "final",
      metadata: { f1: 0.91 },
    });
    const [event] = (await s.api("GET", `${ART}/history?limit=1`)).body.items;
    expect(event).toMatchObject({
      action: "version.updated",
      actor: "max",
      before: { metadata: { epoch: 3 } },
      after: { metadata: { f1: 0.91 } },
    });
    expect((await s.api("PATCH", `${ART}/versions/v3`, { description: "x" }, keys.vera)).status).toBe(403);
    expect((await s.api("PATCH", `${ART}/versions/v3`, {}, keys.max)).status).toBe(400);
  });

  test("an edit's metadata follows the one rule for user JSON: ordinary keys and large numbers round-trip, the rest is a 400", async () => {
    const metadata = { constructor: "ResNet50", toString: { prototype: 1 }, big: 1e20, tiny: 1e-100, nested: [{ constructor: null }] };
    const edited = await s.api("PATCH", `${ART}/versions/v2`, { metadata }, keys.max);
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    const kept = { constructor: "ResNet50", toString: { prototype: 1 }, big: 1e20, tiny: 1e-100, nested: [{ constructor: null }] };
    expect(edited.body.metadata).toMatchObject(kept);
    expect((await s.api("GET", `${ART}/versions/v2`)).body.metadata).toMatchObject(kept);
    const [event] = (await s.api("GET", `${ART}/history?limit=1`)).body.items;
    expect(event.after.metadata).toMatchObject(kept);
    for (const bad of [
      '{"metadata": {"__proto__": 1}}',
      '{"metadata": {"": 1}}',
      '{"metadata": {"n": 1e200}}',
      '{"description": "a\u0000b"}',
    ]) {
      const refused = await s.api("PATCH", `${ART}/versions/v2`, bad, keys.max);
      expect(refused.status, bad).toBe(400);
    }
    expect((await s.api("GET", `${ART}/versions/v2`)).body.metadata).toMatchObject(kept);
  });

  test("a registry member edits a collection's model card and tags; admins edit the registry", async () => {
    const card = "# MNIST classifier\n\nA CNN on 28×28 digits.";
    const edited = await s.api("PATCH", col("mnist-classifier"), { description: card, tags: ["vision"] }, keys.max);
    expect(edited.body).toMatchObject({ description: card, tags: ["vision"] });
    expect((await s.api("GET", `${REG}/collections?tag=vision`)).body.items.map((c: { name: string }) => c.name)).toContain(
      "mnist-classifier",
    );
    expect((await s.api("PATCH", col("mnist-classifier"), { description: "x" }, keys.vera)).status).toBe(403);
    expect((await s.api("PATCH", REG, { description: "x" }, keys.max)).status).toBe(403);
    expect((await s.api("PATCH", REG, { description: "Models for production" }, keys.ana)).body.description).toBe("Models for production");
  });
});

describe("listings", () => {
  test("projects with artifact counts, a registry's members, a user's memberships (self or admin)", async () => {
    await logVersion("bert", 0, "nlp");
    const projects = await s.api("GET", "/v1/projects", undefined, keys.vera);
    expect(projects.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "train", artifactCount: 1 }),
        expect.objectContaining({ name: "nlp", artifactCount: 1 }),
      ]),
    );
    const members = await s.api("GET", `${REG}/members`, undefined, keys.vera);
    expect(members.body.items.map((m: { user: string; role: string }) => [m.user, m.role])).toEqual([
      ["ana", "admin"],
      ["bob", "admin"],
      ["max", "member"],
    ]);
    expect((await s.api("GET", "/v1/users/max/memberships", undefined, keys.max)).body).toEqual({
      user: "max",
      orgRole: "member",
      items: [{ registry: "model", role: "member" }],
    });
    expect((await s.api("GET", "/v1/users/ana/memberships", undefined, keys.max)).status).toBe(403);
    expect((await s.api("GET", "/v1/users/max/memberships")).status).toBe(200);
  });
});

describe("users", () => {
  test("a deactivated user's key is refused with 401 on the very next request; a lowered role is a 403 on the next", async () => {
    const key = await newUser("eve", "member");
    const write = () => s.api("PUT", `${ART}/aliases/eve`, { version: "v0" }, key);
    expect((await write()).status).toBe(200);

    const lowered = await s.api("PATCH", "/v1/users/eve", { role: "viewer" });
    expect(lowered.body).toMatchObject({ id: "eve", role: "viewer", status: "active" });
    expect((await write()).status).toBe(403);
    expect((await s.api("GET", `${ART}/versions/v0`, undefined, key)).status).toBe(200);

    expect((await s.api("PATCH", "/v1/users/eve", { status: "deactivated" })).body.status).toBe("deactivated");
    const refused = await s.api("GET", `${ART}/versions/v0`, undefined, key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain("deactivated");
    expect((await s.api("POST", "/v1/api-keys", { user: "eve" })).status).toBe(409);

    await s.api("PATCH", "/v1/users/eve", { status: "active", role: "member" });
    expect((await write()).status).toBe(200);
    expect((await s.api("PATCH", "/v1/users/admin", { role: "member" })).status).toBe(403);
    expect((await s.api("PATCH", "/v1/users/eve", { role: "admin" }, keys.max)).status).toBe(403);
  });
});

describe("admin deletes", () => {
  test("a collection with links is a 409 unless forced; forced, each link goes with its event, then the collection", async () => {
    for (let i = 0; i < 2; i++) {
      await logVersion("scrap", i);
      await s.api("POST", `${col("doomed")}/links`, { project: "train", artifact: "scrap", version: `v${i}` });
    }
    expect((await s.api("DELETE", col("doomed"), undefined, keys.max)).status).toBe(403);
    const refused = await s.api("DELETE", col("doomed"));
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("links 2 versions");

    const deleted = await s.api("DELETE", `${col("doomed")}?force=true`);
    expect(deleted.body).toEqual({ deleted: "@model/doomed", unlinked: ["@model/doomed:v0", "@model/doomed:v1"] });
    expect((await s.api("GET", col("doomed"))).status).toBe(404);
    expect((await s.api("GET", `${REG}/collections?q=doomed`)).body.items).toEqual([]);
    // The versions it linked can go now.
    expect((await s.api("DELETE", "/v1/projects/train/artifacts/scrap/versions/v1")).status).toBe(200);
  });

  test("a registry is deleted only when empty, with its members and automations", async () => {
    expect((await s.api("POST", "/v1/registries", { name: "scratch" })).status).toBe(201);
    await s.api("PUT", "/v1/registries/scratch/members/max", { role: "admin" });
    await s.api("POST", "/v1/registries/scratch/collections/tmp/links", { project: "train", artifact: "mnist", version: "v0" });
    expect((await s.api("DELETE", "/v1/registries/scratch", undefined, keys.max)).status).toBe(403);
    expect((await s.api("DELETE", "/v1/registries/scratch")).status).toBe(409);

    expect((await s.api("DELETE", "/v1/registries/scratch/collections/tmp?force=true")).status).toBe(200);
    const deleted = await s.api("DELETE", "/v1/registries/scratch");
    expect(deleted.body).toEqual({ deleted: "scratch", members: ["max"], automations: [] });
    expect((await s.api("GET", "/v1/registries/scratch")).status).toBe(404);
    expect((await s.api("GET", "/v1/users/max/memberships")).body.items).toEqual([{ registry: "model", role: "member" }]);
  });
});
