import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readTree, runMreg, type CliResult } from "../support/cli.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
let work: string;

/** `mreg` as a child process with this suite's registry, cache and config (as the admin unless another key is given). */
function mreg(args: string[], key?: string): Promise<CliResult> {
  return runMreg(args, {
    cwd: work,
    env: {
      HOME: work,
      MREG_URL: s.url,
      MREG_API_KEY: key ?? s.adminKey,
      MREG_CACHE_DIR: join(work, "cache"),
      MREG_CONFIG: join(work, "config.json"),
    },
  });
}

async function writeTree(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}

let first: string;
let second: string;

beforeAll(async () => {
  s = await startTestStack();
  work = await mkdtemp(join(tmpdir(), "mreg-cli-registries-"));
  first = join(work, "run-1");
  second = join(work, "run-2");
  await writeTree(first, { "model.safetensors": randomBytes(300_000), "config.json": '{"layers":4}' });
  await writeTree(second, { "model.safetensors": randomBytes(300_000), "config.json": '{"layers":8}' });
  // The default `model` registry: organization-visible, `production` protected.
  const registry = await s.api("GET", "/v1/registries/model");
  expect(registry.body).toMatchObject({ visibility: "organization", protectedAliases: ["production"] });
  for (const dir of [first, second]) {
    const logged = await mreg(["log", dir, "-p", "vision", "-n", "classifier", "--json"]);
    expect(logged.code).toBe(0);
  }
});

afterAll(async () => {
  await s?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("link", () => {
  test("links an artifact version into a collection it creates; linking again returns the first link", async () => {
    const linked = await mreg(["link", "vision/classifier:v0", "@model/classifier", "--alias", "staging", "--json"]);
    expect(linked.stderr).toBe("");
    expect(linked.json).toMatchObject({ version: "v0", index: 0, created: true });
    const again = await mreg(["link", "vision/classifier:v0", "@model/classifier", "--json"]);
    expect(again.json).toMatchObject({ version: "v0", created: false });
    const text = await mreg(["link", "vision/classifier:v1", "model/classifier"]);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe("@model/classifier:v1 linked (vision/classifier:v1)");
  });

  test("an unknown source fails with one line", async () => {
    const result = await mreg(["link", "vision/no-such:v0", "@model/classifier"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^mreg: .*no-such/);
  });
});

describe("use by @registry/collection:alias", () => {
  test("alias set, then use: the linked version's files, and a second use downloads nothing", async () => {
    const set = await mreg(["alias", "set", "@model/classifier:v1", "production", "--json"]);
    expect(set.json).toMatchObject({ alias: "production", version: "v1" });

    const out = join(work, "deploy");
    const used = await mreg(["use", "@model/classifier:production", "--dir", out, "--json"]);
    expect(used.stderr).toBe("");
    expect(used.json).toMatchObject({
      path: out,
      ref: "@model/classifier:v1",
      version: "v1",
      source: { project: "vision", artifact: "classifier", version: "v1" },
      downloadedBytes: 300_000 + '{"layers":8}'.length,
    });
    expect(await readTree(out)).toEqual(await readTree(second));

    const again = await mreg(["use", "@model/classifier:production", "--dir", join(work, "deploy-2"), "--json"]);
    expect(again.json).toMatchObject({ version: "v1", downloadedBytes: 0 });

    const staging = await mreg(["use", "@model/classifier:staging", "--dir", join(work, "staging")]);
    expect(staging.stdout.trim()).toBe(join(work, "staging"));
    expect(await readTree(join(work, "staging"))).toEqual(await readTree(first));
  });

  test("moving the alias changes what use resolves to", async () => {
    await mreg(["alias", "set", "@model/classifier:v0", "production"]);
    const used = await mreg(["use", "@model/classifier:production", "--dir", join(work, "rollback"), "--json"]);
    expect(used.json).toMatchObject({ version: "v0", downloadedBytes: 0 });
    expect(await readTree(join(work, "rollback"))).toEqual(await readTree(first));
  });

  test("alias rm removes a collection alias", async () => {
    const removed = await mreg(["alias", "rm", "@model/classifier", "staging"]);
    expect(removed.code).toBe(0);
    const result = await mreg(["use", "@model/classifier:staging"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/staging/);
  });

  test("an unknown collection fails with one line", async () => {
    const result = await mreg(["use", "@model/no-such-collection:production"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("tags, lists, history", () => {
  test("tags on collections and versions; ls filters by tag", async () => {
    expect((await mreg(["tag", "add", "@model/classifier", "vision", "cnn"])).code).toBe(0);
    expect((await mreg(["tag", "add", "@model/classifier:v1", "approved"])).code).toBe(0);
    const tagged = await mreg(["ls", "@model", "--tag", "vision", "--json"]);
    expect(tagged.json.items.map((c: { name: string }) => c.name)).toEqual(["classifier"]);
    const none = await mreg(["ls", "@model", "--tag", "audio", "--json"]);
    expect(none.json.items).toEqual([]);
    const version = await mreg(["show", "@model/classifier:v1", "--json"]);
    expect(version.json.tags).toEqual(["approved"]);

    expect((await mreg(["tag", "rm", "@model/classifier", "cnn"])).code).toBe(0);
    const collection = await mreg(["show", "@model/classifier", "--json"]);
    expect(collection.json.tags).toEqual(["vision"]);
  });

  test("tags on an artifact are refused before any request", async () => {
    const result = await mreg(["tag", "add", "vision/classifier", "x"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mreg: tags belong to registry collections/);
  });

  test("ls lists registries and a collection's versions", async () => {
    const registries = await mreg(["ls", "--json"]);
    expect(registries.json.items.map((r: { name: string }) => r.name)).toContain("model");
    const versions = await mreg(["ls", "@model/classifier", "--json"]);
    expect(versions.json.items.map((v: { version: string }) => v.version)).toEqual(["v1", "v0"]);
  });

  test("history shows links and alias moves, newest first", async () => {
    const result = await mreg(["history", "@model/classifier", "--json"]);
    expect(result.code).toBe(0);
    const actions = result.json.items.map((e: { action: string }) => e.action);
    expect(actions.filter((a: string) => a === "link.created")).toHaveLength(2);
    expect(actions).toContain("alias.removed");
    const times = result.json.items.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const text = await mreg(["history", "@model/classifier"]);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(actions.length);
    expect(text.stdout).toMatch(/ link\.created /);
  });

  test("registry create makes a registry with its rules; a second create fails with one line", async () => {
    const created = await mreg(["registry", "create", "curated", "--restricted", "-t", "model", "--protect", "production", "--json"]);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({
      name: "curated",
      visibility: "restricted",
      artifactTypes: ["model"],
      protectedAliases: ["production"],
    });
    const again = await mreg(["registry", "create", "curated"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toMatch(/^mreg: .*already exists/);
  });
});

describe("compare-and-swap and promotions", () => {
  test("alias set --expect moves only from the version expected; --expect none only sets a new alias", async () => {
    expect((await mreg(["alias", "set", "vision/classifier:v0", "best"])).code).toBe(0);
    const stale = await mreg(["alias", "set", "vision/classifier:v1", "best", "--expect", "v1"]);
    expect(stale.code).toBe(1);
    expect(stale.stderr.trimEnd()).toMatch(
      /^mreg: vision\/classifier: alias best names v0, not v1 as expected; nothing was changed \(HTTP 412\)$/,
    );
    expect((await mreg(["alias", "set", "vision/classifier:v1", "best", "--expect", "none"])).code).toBe(1);
    expect((await mreg(["show", "vision/classifier", "--json"])).json.aliases.best).toBe("v0");

    const moved = await mreg(["alias", "set", "vision/classifier:v1", "best", "--expect", "v0", "--json"]);
    expect(moved.json).toMatchObject({ alias: "best", version: "v1", previous: "v0" });
    expect((await mreg(["alias", "set", "vision/classifier:v0", "fresh", "--expect", "none"])).code).toBe(0);
  });

  test("promote asks, a second admin approves, and the alias moves", async () => {
    const gated = await mreg(["registry", "create", "gated", "--protect", "production", "--approvals", "1", "--json"]);
    expect(gated.json).toMatchObject({ name: "gated", protectedAliases: ["production"], approvalsRequired: 1 });
    await s.api("POST", "/v1/users", { name: "ana", role: "admin" });
    const ana = (await s.api("POST", "/v1/api-keys", { user: "ana" })).body.key as string;
    for (const v of ["v0", "v1"]) expect((await mreg(["link", `vision/classifier:${v}`, "@gated/classifier"])).code).toBe(0);

    const asked = await mreg(["promote", "@gated/classifier:v1", "production", "--note", "better", "--json"]);
    expect(asked.json).toMatchObject({ status: "pending", version: "v1", from: null, approvalsRequired: 1, note: "better" });
    const id = asked.json.id as string;
    const listed = await mreg(["promotions", "@gated/classifier", "--status", "pending"]);
    expect(listed.stdout).toContain(`${id}  pending  production (unset) → v1  by admin  0/1 approvals  "better"`);

    const own = await mreg(["approve", "@gated/classifier", id]);
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/another registry admin decides/);
    const approved = await mreg(["approve", "@gated/classifier", id, "--note", "ok"], ana);
    expect(approved.stdout.trim()).toBe(`promotion ${id} approved: production → v1`);
    expect((await mreg(["show", "@gated/classifier", "--json"])).json.aliases.production).toBe("v1");
  });
});
