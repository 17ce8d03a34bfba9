import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { ApiError, IntegrityError, MregError } from "../../clients/node/src/errors.js";
import { MregClient } from "../../clients/node/src/mreg-client.js";

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

/** A registry that records every request and answers from a table of canned responses. */
let server: Server;
let url = "";
let seen: Seen[] = [];
/** PUTs the fake store took in full. */
let stored: { path: string; bytes: number }[] = [];
let answers: Record<string, { status: number; body?: unknown }[] | { status: number; body?: unknown }> = {};
const blob = Buffer.from("weights");
const blobSha = createHash("sha256").update(blob).digest("hex");

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const target = new URL(req.url ?? "/", "http://x");
    let text = "";
    for await (const chunk of req) text += String(chunk);
    if (target.pathname === "/blob") {
      res.writeHead(200, { "content-length": blob.length }).end(blob);
      return;
    }
    if (target.pathname.startsWith("/store/")) {
      stored.push({ path: target.pathname, bytes: text.length });
      res.writeHead(200, { etag: '"e"' }).end();
      return;
    }
    seen.push({
      method: req.method ?? "",
      path: decodeURIComponent(target.pathname),
      query: Object.fromEntries(target.searchParams),
      body: text ? JSON.parse(text) : undefined,
      authorization: req.headers.authorization,
    });
    const key = `${req.method} ${decodeURIComponent(target.pathname)}`;
    const entry = answers[key];
    const answer = Array.isArray(entry) ? (entry.length > 1 ? entry.shift()! : entry[0]!) : entry;
    if (!answer) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "not_found", message: `no route ${key}` } }));
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body === undefined ? "" : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

let dir: string;
let client: MregClient;
beforeEach(async () => {
  seen = [];
  stored = [];
  answers = {};
  dir = await mkdtemp(join(tmpdir(), "mreg-sdk-"));
  client = new MregClient({ url, apiKey: "mreg_test", cacheDir: join(dir, "cache"), retry: { baseDelayMs: 1, maxDelayMs: 2 } });
  return () => rm(dir, { recursive: true, force: true });
});

/** The digest of a listing, as the registry computes a version's (lambdas/contract/manifest.ts). */
const digestOf = (items: { path: string; size: number; sha256: string }[]) =>
  createHash("sha256")
    .update(JSON.stringify(items.map((i) => ({ path: i.path, size: i.size, sha256: i.sha256 })).sort((a, b) => (a.path < b.path ? -1 : 1))))
    .digest("hex");
const oneBlob = [{ path: "w.bin", size: blob.length, sha256: blobSha }];

const collectionVersion = {
  registry: "model",
  collection: "mnist",
  version: "v2",
  index: 2,
  digest: digestOf(oneBlob),
  source: { project: "vision", artifact: "cnn", version: "v7", digest: digestOf(oneBlob) },
};

describe("useArtifact", () => {
  test("resolves a collection alias once, reads files by number, and records the run input on the source", async () => {
    answers["GET /v1/registries/model/collections/mnist/versions/production"] = { status: 200, body: collectionVersion };
    answers["GET /v1/registries/model/collections/mnist/versions/v2/files"] = {
      status: 200,
      body: { items: [{ path: "w.bin", size: blob.length, sha256: blobSha, url: `${url}/blob` }] },
    };
    answers["POST /v1/projects/vision/runs/run-42/inputs"] = { status: 201, body: {} };
    const result = await client.useArtifact("@model/mnist:production", { dir: join(dir, "out"), run: "run-42" });
    expect(result).toMatchObject({
      ref: "@model/mnist:v2",
      version: "v2",
      source: { project: "vision", artifact: "cnn", version: "v7" },
      downloadedBytes: blob.length,
    });
    expect(await readFile(join(dir, "out", "w.bin"), "utf8")).toBe("weights");
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/registries/model/collections/mnist/versions/production",
      "GET /v1/registries/model/collections/mnist/versions/v2/files",
      "POST /v1/projects/vision/runs/run-42/inputs",
    ]);
    expect(seen[2]!.body).toEqual({ artifact: "cnn", version: "v7" });
    expect(seen.every((r) => r.authorization === "Bearer mreg_test")).toBe(true);
  });

  test("follows file pages, checks the whole list against the version's digest, then keeps to the prefix", async () => {
    const files = ["d/1", "d/2", "e/3"].map((path) => ({ path, size: blob.length, sha256: blobSha }));
    answers["GET /v1/projects/p/artifacts/a/versions/latest"] = { status: 200, body: { version: "v0", index: 0, digest: digestOf(files) } };
    answers["GET /v1/projects/p/artifacts/a/versions/v0/files"] = [
      {
        status: 200,
        body: { items: files.slice(0, 2).map((f) => ({ ...f, url: `${url}/blob` })), nextCursor: "c1", digest: digestOf(files) },
      },
      { status: 200, body: { items: files.slice(2).map((f) => ({ ...f, url: `${url}/blob` })), digest: digestOf(files) } },
    ];
    const result = await client.useArtifact("p/a", { dir: join(dir, "out"), prefix: "d/" });
    expect(result.files).toBe(2);
    const pages = seen.filter((r) => r.path.endsWith("/files"));
    expect(pages.map((r) => r.query)).toEqual([{}, { cursor: "c1" }]);
  });

  test("an empty prefix match is an error naming it", async () => {
    answers["GET /v1/projects/p/artifacts/a/versions/latest"] = {
      status: 200,
      body: { version: "v0", index: 0, digest: digestOf(oneBlob) },
    };
    answers["GET /v1/projects/p/artifacts/a/versions/v0/files"] = {
      status: 200,
      body: { items: oneBlob.map((f) => ({ ...f, url: `${url}/blob` })) },
    };
    await expect(client.useArtifact("p/a", { dir: join(dir, "out"), prefix: "nope/" })).rejects.toThrow("p/a:v0 has no files under nope/");
  });

  test.each([
    [
      "a listing that does not hash to the version's digest",
      { digest: digestOf(oneBlob) },
      [{ path: "w.bin", size: 4, sha256: createHash("sha256").update("evil").digest("hex") }],
    ],
    ["a version without a digest", {}, oneBlob],
  ])("refuses %s before fetching any byte (a registry that does not check its store)", async (_, version, items) => {
    answers["GET /v1/projects/p/artifacts/a/versions/latest"] = { status: 200, body: { version: "v0", index: 0, ...version } };
    answers["GET /v1/projects/p/artifacts/a/versions/v0/files"] = {
      status: 200,
      body: { items: items.map((f) => ({ ...f, url: `${url}/blob` })) },
    };
    const error = await client.useArtifact("p/a", { dir: join(dir, "out") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/^p\/a:v0: /);
    expect(await readdir(join(dir, "out")).catch(() => "absent")).toBe("absent");
    expect(await client.files("p/a").catch((e: unknown) => e)).toBeInstanceOf(IntegrityError);
  });

  test("refuses a page of another version's files", async () => {
    answers["GET /v1/projects/p/artifacts/a/versions/latest"] = {
      status: 200,
      body: { version: "v0", index: 0, digest: digestOf(oneBlob) },
    };
    answers["GET /v1/projects/p/artifacts/a/versions/v0/files"] = {
      status: 200,
      body: { items: oneBlob.map((f) => ({ ...f, url: `${url}/blob` })), digest: "f".repeat(64) },
    };
    await expect(client.useArtifact("p/a", { dir: join(dir, "out") })).rejects.toThrow(
      /listed the files of digest f{64}, not the version's/,
    );
  });

  test("an integrity error from the registry is final: asked once, not retried", async () => {
    answers["GET /v1/projects/p/artifacts/a/versions/latest"] = {
      status: 200,
      body: { version: "v0", index: 0, digest: digestOf(oneBlob) },
    };
    answers["GET /v1/projects/p/artifacts/a/versions/v0/files"] = {
      status: 500,
      body: { error: { code: "integrity_error", message: "p/a:v0: the stored manifest with digest d was modified outside the registry" } },
    };
    await expect(client.useArtifact("p/a", { dir: join(dir, "out") })).rejects.toThrow(/modified outside the registry/);
    expect(seen.filter((r) => r.path.endsWith("/files"))).toHaveLength(1);
  });
});

describe("requests", () => {
  test("link sends the source and aliases, defaulting the version to latest", async () => {
    answers["POST /v1/registries/model/collections/mnist/links"] = {
      status: 201,
      body: { version: "v0", index: 0, created: true, aliases: [] },
    };
    await client.link("vision/cnn", "@model/mnist", { aliases: ["staging"] });
    expect(seen[0]!.body).toEqual({ project: "vision", artifact: "cnn", version: "latest", aliases: ["staging"] });
    await expect(client.link("@model/mnist:v1", "@model/other")).rejects.toThrow(/link takes an artifact version/);
  });

  test("aliases and tags go to the artifact, collection or collection version the reference names", async () => {
    answers["PUT /v1/projects/p/artifacts/a/aliases/best"] = { status: 200, body: { alias: "best", version: "v3" } };
    answers["PUT /v1/registries/model/collections/mnist/aliases/production"] = {
      status: 200,
      body: { alias: "production", version: "v1" },
    };
    answers["PUT /v1/registries/model/collections/mnist/tags/vision"] = { status: 200, body: {} };
    answers["DELETE /v1/registries/model/collections/mnist/versions/v1/tags/approved"] = { status: 200, body: {} };
    await client.setAlias("p/a:v3", "best");
    await client.setAlias("@model/mnist:1", "production");
    await client.addTag("@model/mnist", "vision");
    await client.removeTag("@model/mnist:v1", "approved");
    expect(seen.map((r) => [r.method, r.path, r.body])).toEqual([
      ["PUT", "/v1/projects/p/artifacts/a/aliases/best", { version: "v3" }],
      ["PUT", "/v1/registries/model/collections/mnist/aliases/production", { version: "1" }],
      ["PUT", "/v1/registries/model/collections/mnist/tags/vision", undefined],
      ["DELETE", "/v1/registries/model/collections/mnist/versions/v1/tags/approved", undefined],
    ]);
  });

  test("a compare-and-swap move sends expectedVersion; a 412 is an ApiError naming the current holder, not retried", async () => {
    answers["PUT /v1/projects/p/artifacts/a/aliases/best"] = [
      { status: 200, body: { alias: "best", version: "v3", previous: "v2" } },
      {
        status: 412,
        body: { error: { code: "precondition_failed", message: "p/a: alias best names v3, not v2", requestId: "r", current: "v3" } },
      },
    ];
    await client.setAlias("p/a:v3", "best", { expectedVersion: "v2" });
    const refused = await client.setAlias("p/a:v4", "best", { expectedVersion: "v2" }).catch((error: unknown) => error);
    await client.setAlias("p/a:v4", "fresh", { expectedVersion: null }).catch(() => undefined);

    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 412, code: "precondition_failed", details: { current: "v3" } });
    expect(seen.map((r) => r.body)).toEqual([
      { version: "v3", expectedVersion: "v2" },
      { version: "v4", expectedVersion: "v2" },
      { version: "v4", expectedVersion: null },
    ]);
  });

  test("edits, promotions and the projects list go where the reference says", async () => {
    answers["PATCH /v1/projects/p/artifacts/a/versions/v3"] = { status: 200, body: {} };
    answers["PATCH /v1/registries/model/collections/mnist"] = { status: 200, body: {} };
    answers["POST /v1/registries/model/collections/mnist/promotions"] = { status: 201, body: { id: "P1" } };
    answers["POST /v1/registries/model/collections/mnist/promotions/P1/approve"] = { status: 200, body: {} };
    answers["GET /v1/projects"] = { status: 200, body: { items: [] } };
    await client.updateVersion("p/a:v3", { metadata: { f1: 0.9, old: null } });
    await client.updateCollection("@model/mnist", { description: "# card" });
    await client.requestPromotion("@model/mnist:v2", "production", { note: "why" });
    await client.approvePromotion("@model/mnist", "P1");
    await client.listProjects({ limit: 5 });
    expect(seen.map((r) => [r.method, r.path, r.body])).toEqual([
      ["PATCH", "/v1/projects/p/artifacts/a/versions/v3", { metadata: { f1: 0.9, old: null } }],
      ["PATCH", "/v1/registries/model/collections/mnist", { description: "# card" }],
      ["POST", "/v1/registries/model/collections/mnist/promotions", { alias: "production", version: "v2", note: "why" }],
      ["POST", "/v1/registries/model/collections/mnist/promotions/P1/approve", {}],
      ["GET", "/v1/projects", undefined],
    ]);
    await expect(client.requestPromotion("@model/mnist", "production")).rejects.toThrow(/collection version/);
    await expect(client.updateVersion("@model/mnist:v1", { description: "x" })).rejects.toThrow(/artifact version/);
  });

  test("invalid input is refused before any request", async () => {
    await expect(client.setAlias("p/a", "best")).rejects.toThrow(/needs a version/);
    await expect(client.setAlias("p/a:v1", "v2")).rejects.toThrow(/invalid alias "v2"/);
    await expect(client.addTag("p/a", "x")).rejects.toThrow(/tags belong to registry collections/);
    await expect(client.addTag("@r/c", "no spaces")).rejects.toThrow(/invalid tag/);
    await expect(client.logArtifact({ project: "p", name: "a", paths: [dir], aliases: ["latest!"] })).rejects.toBeInstanceOf(MregError);
    expect(seen).toEqual([]);
  });

  test("the registry's error body becomes an ApiError; 503 is retried first", async () => {
    answers["GET /v1/projects/p/artifacts/a"] = [
      { status: 503, body: { error: { code: "unavailable", message: "busy" } } },
      { status: 404, body: { error: { code: "not_found", message: "artifact p/a does not exist" } } },
    ];
    const failure = client.show("p/a");
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ status: 404, code: "not_found", message: "artifact p/a does not exist" });
    expect(seen).toHaveLength(2);
  });

  test("list picks the endpoint from the reference", async () => {
    for (const path of [
      "/v1/registries",
      "/v1/projects/p/artifacts",
      "/v1/projects/p/artifacts/a/versions",
      "/v1/projects/p/artifacts/a/versions/v1/files",
      "/v1/registries/model/collections",
      "/v1/registries/model/collections/mnist/versions",
    ]) {
      answers[`GET ${path}`] = { status: 200, body: { items: [] } };
    }
    await client.list();
    await client.list("p", { limit: 5 });
    await client.list("p/a");
    await client.list("p/a:v1", { prefix: "w/" });
    await client.list("@model", { tag: "vision", q: "mn" });
    await client.list("@model/mnist");
    expect(seen.map((r) => [r.path, r.query])).toEqual([
      ["/v1/registries", {}],
      ["/v1/projects/p/artifacts", { limit: "5" }],
      ["/v1/projects/p/artifacts/a/versions", {}],
      ["/v1/projects/p/artifacts/a/versions/v1/files", { prefix: "w/" }],
      ["/v1/registries/model/collections", { tag: "vision", q: "mn" }],
      ["/v1/registries/model/collections/mnist/versions", {}],
    ]);
  });
});

describe("logArtifact: sending files while they are hashed", () => {
  const weights = "w".repeat(4096);
  const weightsSha = createHash("sha256").update(weights).digest("hex");
  const base = "/v1/projects/p/artifacts/a";
  const log = (extra: Record<string, unknown> = {}) =>
    client.logArtifact({ project: "p", name: "a", paths: [join(dir, "w.bin")], openUploadMinBytes: 1024, hashFirst: false, ...extra });
  const commitBody = () => seen.find((r) => r.path === `${base}/versions`)!.body as { files: Record<string, unknown>[] };
  beforeEach(async () => {
    await writeFile(join(dir, "w.bin"), weights);
    answers[`POST ${base}/versions`] = { status: 201, body: { version: "v0", index: 0, digest: "d", created: true, aliases: ["latest"] } };
  });

  test("a large unknown file goes through an open upload, is not sent again, and the commit names it", async () => {
    const uploadId = "01JD3Q5W8Z6N4K2M1P0R9S7T5V";
    answers[`POST ${base}/uploads`] = [
      {
        status: 200,
        body: {
          uploads: [],
          present: [],
          open: [{ path: "w.bin", size: weights.length, uploadId, method: "PUT", url: `${url}/store/open`, headers: {} }],
        },
      },
      {
        status: 200,
        body: {
          uploads: [{ sha256: weightsSha, size: weights.length, method: "PUT", url: `${url}/store/staging`, headers: {} }],
          present: [],
        },
      },
    ];
    const result = await log();
    expect(seen.filter((r) => r.path === `${base}/uploads`).map((r) => r.body)).toEqual([
      { files: [], open: [{ path: "w.bin", size: weights.length }] },
      { files: [{ path: "w.bin", size: weights.length, sha256: weightsSha }] },
    ]);
    expect(stored).toEqual([{ path: "/store/open", bytes: weights.length }]);
    expect(commitBody().files).toEqual([{ path: "w.bin", size: weights.length, sha256: weightsSha, uploadId }]);
    expect(result).toMatchObject({ uploadedBytes: weights.length, sentWhileHashing: 1, discardedBytes: 0, hashedBytes: weights.length });
  });

  test("a registry without open uploads (400 for the field) gets the file hashed first", async () => {
    answers[`POST ${base}/uploads`] = [
      { status: 400, body: { error: { code: "validation", message: "unrecognized key open" } } },
      {
        status: 200,
        body: {
          uploads: [{ sha256: weightsSha, size: weights.length, method: "PUT", url: `${url}/store/staging`, headers: {} }],
          present: [],
        },
      },
    ];
    const result = await log();
    expect(stored).toEqual([{ path: "/store/staging", bytes: weights.length }]);
    expect(commitBody().files).toEqual([{ path: "w.bin", size: weights.length, sha256: weightsSha }]);
    expect(result).toMatchObject({ uploadedBytes: weights.length, sentWhileHashing: 0 });
  });

  test("hashFirst and small files ask for no open upload", async () => {
    answers[`POST ${base}/uploads`] = { status: 200, body: { uploads: [], present: [weightsSha] } };
    await log({ hashFirst: true });
    await log({ openUploadMinBytes: weights.length + 1 });
    expect(seen.filter((r) => r.path === `${base}/uploads`).every((r) => !("open" in (r.body as object)))).toBe(true);
    expect(stored).toEqual([]);
  });

  test("an open upload that fails is sent again through the plan's own URL", async () => {
    answers[`POST ${base}/uploads`] = [
      {
        status: 200,
        body: {
          uploads: [],
          present: [],
          open: [
            {
              path: "w.bin",
              size: weights.length,
              uploadId: "01JD3Q5W8Z6N4K2M1P0R9S7T5V",
              method: "PUT",
              url: "http://127.0.0.1:1/refused",
              headers: {},
            },
          ],
        },
      },
      {
        status: 200,
        body: {
          uploads: [{ sha256: weightsSha, size: weights.length, method: "PUT", url: `${url}/store/staging`, headers: {} }],
          present: [],
        },
      },
    ];
    const result = await log();
    expect(stored).toEqual([{ path: "/store/staging", bytes: weights.length }]);
    // Named all the same: the registry looks there first, finds nothing, and takes the staged PUT.
    expect(commitBody().files).toEqual([
      { path: "w.bin", size: weights.length, sha256: weightsSha, uploadId: "01JD3Q5W8Z6N4K2M1P0R9S7T5V" },
    ]);
    expect(result).toMatchObject({ uploadedBytes: weights.length, sentWhileHashing: 0 });
  });
});
