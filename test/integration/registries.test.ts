import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
});
afterAll(async () => {
  await s?.stop();
});

const REG = "/v1/registries/model";
const col = (name: string) => `${REG}/collections/${name}`;

/** Logs `count` distinct versions of project `train`, artifact `name`, and returns their labels. */
async function logVersions(name: string, count: number, type = "model"): Promise<string[]> {
  const labels: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = fileSpec("weights.bin", `${name} weights ${i}`);
    const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];
    const plan = await s.api("POST", `/v1/projects/train/artifacts/${name}/uploads`, { files: declared });
    await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
    const commit = await s.api("POST", `/v1/projects/train/artifacts/${name}/versions`, {
      type,
      files: declared,
      metadata: { epoch: i },
    });
    expect(commit.status).toBe(201);
    labels.push(commit.body.version);
  }
  return labels;
}

const link = (collection: string, artifact: string, version: string | number, aliases?: string[]) =>
  s.api("POST", `${col(collection)}/links`, { project: "train", artifact, version, ...(aliases ? { aliases } : {}) });

beforeAll(async () => {
  // `model` is one of the two registries every organization starts with.
  expect((await s.api("GET", REG)).status).toBe(200);
  await logVersions("mnist", 3);
});

describe("registries", () => {
  test("model and dataset exist from the start", async () => {
    const dataset = await s.api("GET", "/v1/registries/dataset");
    expect(dataset.body).toMatchObject({ name: "dataset", visibility: "organization", artifactTypes: ["dataset"], protectedAliases: [] });
  });

  test("create, get, list; a duplicate name is a 409", async () => {
    const created = await s.api("POST", "/v1/registries", {
      name: "curated",
      description: "hand-picked",
      visibility: "organization",
      artifactTypes: ["model"],
      protectedAliases: ["production"],
    });
    expect(created.status).toBe(201);
    expect((await s.api("GET", "/v1/registries/curated")).body).toMatchObject({ description: "hand-picked", role: "admin" });
    expect((await s.api("POST", "/v1/registries", { name: "curated" })).status).toBe(409);
    const got = await s.api("GET", REG);
    expect(got.body).toMatchObject({
      name: "model",
      visibility: "organization",
      artifactTypes: ["model"],
      protectedAliases: ["production"],
      role: "admin",
    });
    expect((await s.api("POST", "/v1/registries", { name: "model" })).status).toBe(409);
    const list = await s.api("GET", "/v1/registries");
    expect(list.body.items.map((r: { name: string }) => r.name)).toContain("model");
    expect((await s.api("GET", "/v1/registries/nope")).status).toBe(404);
  });
});

describe("links", () => {
  test("linking out of order numbers links in link order and creates the collection", async () => {
    const first = await link("mnist-classifier", "mnist", "v2");
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ version: "v0", index: 0, created: true, aliases: ["latest"] });
    expect((await link("mnist-classifier", "mnist", "v0")).body).toMatchObject({ version: "v1", created: true });
    expect((await link("mnist-classifier", "mnist", 1)).body).toMatchObject({ version: "v2", created: true });

    const versions = await s.api("GET", `${col("mnist-classifier")}/versions`);
    expect(versions.body.items.map((v: { version: string; source: { version: string } }) => [v.version, v.source.version])).toEqual([
      ["v2", "v1"],
      ["v1", "v0"],
      ["v0", "v2"],
    ]);
    const collection = await s.api("GET", col("mnist-classifier"));
    expect(collection.body).toMatchObject({ type: "model", linkCount: 3, latest: "v2", aliases: { latest: "v2" } });
  });

  test("linking the same version again returns the first link", async () => {
    const again = await link("mnist-classifier", "mnist", "v2", ["staging"]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ version: "v0", index: 0, created: false, aliases: ["staging"] });
  });

  test("a collection version resolves by number, label, alias and latest, with its source", async () => {
    for (const selector of ["v0", "0", "staging"]) {
      const got = await s.api("GET", `${col("mnist-classifier")}/versions/${selector}`);
      expect(got.body).toMatchObject({
        version: "v0",
        collection: "mnist-classifier",
        type: "model",
        metadata: { epoch: 2 },
        source: { project: "train", artifact: "mnist", version: "v2" },
      });
    }
    expect((await s.api("GET", `${col("mnist-classifier")}/versions/latest`)).body.version).toBe("v2");
    const files = await s.api("GET", `${col("mnist-classifier")}/versions/staging/files`);
    expect(files.body.items).toHaveLength(1);
    expect(await (await fetch(files.body.items[0].url)).text()).toBe("mnist weights 2");
  });

  test("an artifact type the registry does not accept is refused, naming both types", async () => {
    await logVersions("mnist-data", 1, "dataset");
    const refused = await link("mnist-data", "mnist-data", "v0");
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain("model");
    expect(refused.body.error.message).toContain("dataset");

    await s.api("POST", "/v1/registries", { name: "open", visibility: "organization" });
    await s.api("POST", "/v1/registries/open/collections", { name: "typed", type: "model" });
    const mismatch = await s.api("POST", "/v1/registries/open/collections/typed/links", {
      project: "train",
      artifact: "mnist-data",
      version: "v0",
    });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error.message).toMatch(/model.*dataset/);
  });

  test("linking an unknown version is a 404 and creates nothing", async () => {
    expect((await link("ghost", "mnist", "v9")).status).toBe(404);
    expect((await s.api("GET", col("ghost"))).status).toBe(404);
  });
});

describe("aliases", () => {
  test("production moved v0 → v1 leaves exactly one holder; protected aliases need an admin", async () => {
    const set = await s.api("PUT", `${col("mnist-classifier")}/aliases/production`, { version: "v0" });
    expect(set.body).toEqual({ alias: "production", version: "v0", previous: null });
    const moved = await s.api("PUT", `${col("mnist-classifier")}/aliases/production`, { version: "v1" });
    expect(moved.body).toEqual({ alias: "production", version: "v1", previous: "v0" });
    const versions = await s.api("GET", `${col("mnist-classifier")}/versions`);
    const holders = versions.body.items.filter((v: { aliases: string[] }) => v.aliases.includes("production"));
    expect(holders.map((v: { version: string }) => v.version)).toEqual(["v1"]);
    expect((await s.api("PUT", `${col("mnist-classifier")}/aliases/latest`, { version: "v0" })).status).toBe(400);
  });

  test("12 concurrent moves of one alias leave one holder and 12 events", async () => {
    await logVersions("race", 12);
    for (let i = 0; i < 12; i++) await link("race", "race", `v${i}`);
    const moves = await Promise.all(
      Array.from({ length: 12 }, (_, i) => s.api("PUT", `${col("race")}/aliases/champion`, { version: `v${i}` })),
    );
    expect(moves.every((m) => m.status === 200)).toBe(true);
    const versions = await s.api("GET", `${col("race")}/versions?limit=100`);
    const holders = versions.body.items.filter((v: { aliases: string[] }) => v.aliases.includes("champion"));
    expect(holders).toHaveLength(1);
    const collection = await s.api("GET", col("race"));
    expect(collection.body.aliases.champion).toBe(holders[0].version);
    const history = await s.api("GET", `${col("race")}/history?limit=1000`);
    const aliasEvents = history.body.items.filter(
      (e: { action: string; alias?: string }) => e.alias === "champion" && e.action.startsWith("alias."),
    );
    expect(aliasEvents).toHaveLength(12);
    // The last event names the final holder.
    expect(aliasEvents[0].to).toBe(holders[0].version);
  });

  test("12 concurrent links get 12 distinct gap-free numbers", async () => {
    await logVersions("burst", 12);
    const links = await Promise.all(Array.from({ length: 12 }, (_, i) => link("burst", "burst", `v${i}`)));
    expect(links.every((l) => l.status === 201)).toBe(true);
    expect(links.map((l) => l.body.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});

describe("tags and search", () => {
  test("collections are found by tag and by name substring; untag removes", async () => {
    await s.api("POST", `${REG}/collections`, { name: "resnet-imagenet", type: "model", tags: ["vision"] });
    await s.api("POST", `${REG}/collections`, { name: "bert-base", type: "model", tags: ["nlp"] });
    expect((await s.api("PUT", `${col("mnist-classifier")}/tags/vision`)).body).toEqual({ tag: "vision", changed: true });
    expect((await s.api("PUT", `${col("mnist-classifier")}/tags/vision`)).body.changed).toBe(false);

    const vision = await s.api("GET", `${REG}/collections?tag=vision`);
    expect(vision.body.items.map((c: { name: string }) => c.name).sort()).toEqual(["mnist-classifier", "resnet-imagenet"]);
    const named = await s.api("GET", `${REG}/collections?q=NET`);
    expect(named.body.items.map((c: { name: string }) => c.name)).toEqual(["resnet-imagenet"]);
    const prefix = await s.api("GET", `${REG}/collections?q=bert`);
    expect(prefix.body.items.map((c: { name: string }) => c.name)).toEqual(["bert-base"]);

    await s.api("DELETE", `${col("mnist-classifier")}/tags/vision`);
    const after = await s.api("GET", `${REG}/collections?tag=vision`);
    expect(after.body.items.map((c: { name: string }) => c.name)).toEqual(["resnet-imagenet"]);
    expect((await s.api("GET", col("mnist-classifier"))).body.tags).toEqual([]);
  });

  test("name search pages through every name containing the text once, in the middle of words too", async () => {
    const names = ["kite-1", "kite-2", "kitekite-3", "skite-4", "bikiter-5", "kit-6"];
    for (const name of names) await s.api("POST", `${REG}/collections`, { name, type: "model" });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.api("GET", `${REG}/collections?q=KITE&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c: { name: string }) => c.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(["bikiter-5", "kite-1", "kite-2", "kitekite-3", "skite-4"]);
    expect((await s.api("GET", `${REG}/collections?q=ki`)).body.items.map((c: { name: string }) => c.name).sort()).toEqual([
      "bikiter-5",
      "kit-6",
      "kite-1",
      "kite-2",
      "kitekite-3",
      "skite-4",
    ]);
  });

  test("linked versions take tags", async () => {
    const tagged = await s.api("PUT", `${col("mnist-classifier")}/versions/v1/tags/approved`);
    expect(tagged.body).toEqual({ tag: "approved", version: "v1", changed: true });
    expect((await s.api("GET", `${col("mnist-classifier")}/versions/v1`)).body.tags).toEqual(["approved"]);
    await s.api("DELETE", `${col("mnist-classifier")}/versions/v1/tags/approved`);
    expect((await s.api("GET", `${col("mnist-classifier")}/versions/v1`)).body.tags).toEqual([]);
  });
});

describe("history", () => {
  test("every change is an audit event with actor and time, newest first", async () => {
    const history = await s.api("GET", `${col("mnist-classifier")}/history?limit=100`);
    const actions = history.body.items.map((e: { action: string }) => e.action);
    expect(actions.at(-1)).toBe("collection.created");
    expect(actions).toEqual(expect.arrayContaining(["link.created", "alias.set", "alias.moved", "tag.added", "tag.removed"]));
    for (const event of history.body.items) {
      expect(event).toMatchObject({ actor: "admin", at: expect.any(String), registry: "model", collection: "mnist-classifier" });
    }
    const times = history.body.items.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const moved = history.body.items.find((e: { action: string }) => e.action === "alias.moved");
    expect(moved).toMatchObject({ alias: "production", from: "v0", to: "v1" });
  });
});

describe("pagination", () => {
  test("250 links page through in order without repeats", async () => {
    // Distinct artifacts log in parallel without contending for one version counter.
    for (let i = 0; i < 250; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => logVersions(`many-${i + j}`, 1)));
    }
    for (let i = 0; i < 250; i++) await link("many", `many-${i}`, "v0");
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.api("GET", `${col("many")}/versions?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.items.map((v: { index: number }) => v.index));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => 249 - i));
  }, 180_000);
});

describe("unlink and delete", () => {
  test("a linked version cannot be deleted; force unlinks it everywhere", async () => {
    await logVersions("guarded", 1);
    await link("guarded", "guarded", "v0", ["production"]);
    await s.api("POST", "/v1/registries/open/collections/guarded-too/links", {
      project: "train",
      artifact: "guarded",
      version: "v0",
    });
    const refused = await s.api("DELETE", "/v1/projects/train/artifacts/guarded/versions/v0");
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("@model/guarded:v0");
    expect(refused.body.error.message).toContain("@open/guarded-too:v0");

    const forced = await s.api("DELETE", "/v1/projects/train/artifacts/guarded/versions/v0?force=true");
    expect(forced.status).toBe(200);
    expect(forced.body.unlinked.sort()).toEqual(["@model/guarded:v0", "@open/guarded-too:v0"]);
    expect((await s.api("GET", `${col("guarded")}/versions/v0`)).status).toBe(404);
    expect((await s.api("GET", `${col("guarded")}/versions/production`)).status).toBe(404);
    const history = await s.api("GET", `${col("guarded")}/history`);
    expect(history.body.items[0]).toMatchObject({ action: "link.removed", version: "v0" });
  });

  test("unlinking never reuses the number and latest moves back", async () => {
    await logVersions("cycle", 3);
    await link("cycle", "cycle", "v0");
    await link("cycle", "cycle", "v1");
    const unlinked = await s.api("DELETE", `${col("cycle")}/versions/v1`);
    expect(unlinked.body).toEqual({ unlinked: "v1" });
    expect((await s.api("GET", `${col("cycle")}/versions/latest`)).body.version).toBe("v0");
    expect((await link("cycle", "cycle", "v2")).body.version).toBe("v2");
    // The unlinked artifact version can be deleted now.
    expect((await s.api("DELETE", "/v1/projects/train/artifacts/cycle/versions/v1")).status).toBe(200);
  });
});
