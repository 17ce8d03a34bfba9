import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PAGINATED_OPERATIONS, routes } from "../../lambdas/contract/routes.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * What a caller must not get around: a protected alias removed by unlinking what holds it,
 * a page cursor that names what the caller cannot see (or that opens another list), and a
 * second credential in one request.
 */
let s: TestStack;
const keys = { member: "", outsider: "" };

async function newUser(name: string, role: "viewer" | "member" | "admin"): Promise<string> {
  expect((await s.api("POST", "/v1/users", { name, role })).status).toBe(201);
  return (await s.api("POST", "/v1/api-keys", { user: name })).body.key;
}

/** Logs a version of `train/<artifact>` holding `files` (path → content); its label. */
async function logVersion(artifact: string, files: Record<string, string>, extra: Record<string, unknown> = {}): Promise<string> {
  const specs = Object.entries(files).map(([path, content]) => fileSpec(path, content));
  const declared = specs.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
  const plan = await s.api("POST", `/v1/projects/train/artifacts/${artifact}/uploads`, { files: declared });
  await uploadPlanned(plan.body, new Map(specs.map((f) => [f.sha256, f.bytes])));
  const commit = await s.api("POST", `/v1/projects/train/artifacts/${artifact}/versions`, { type: "model", files: declared, ...extra });
  expect(commit.status, JSON.stringify(commit.body)).toBeLessThan(300);
  return commit.body.version;
}

const COL = "/v1/registries/model/collections";

beforeAll(async () => {
  s = await startTestStack();
  keys.member = await newUser("max", "member");
  keys.outsider = await newUser("olga", "member");
  expect((await s.api("PUT", "/v1/registries/model/members/max", { role: "member" })).status).toBe(200);
  for (let i = 0; i < 4; i++) await logVersion("net", { "w.bin": `net weights ${i}` });
});
afterAll(async () => {
  await s?.stop();
});

describe("protected aliases stay with registry admins", () => {
  test("a registry member cannot unlink the version holding production; an admin can", async () => {
    for (const v of ["v0", "v1"]) {
      expect((await s.api("POST", `${COL}/guarded/links`, { project: "train", artifact: "net", version: v })).status).toBe(201);
    }
    expect((await s.api("PUT", `${COL}/guarded/aliases/production`, { version: "v0" })).status).toBe(200);

    const refused = await s.api("DELETE", `${COL}/guarded/versions/v0`, undefined, keys.member);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("protected alias production");
    // Named by the alias itself: the same.
    expect((await s.api("DELETE", `${COL}/guarded/versions/production`, undefined, keys.member)).status).toBe(403);
    const collection = await s.api("GET", `${COL}/guarded`);
    expect(collection.body).toMatchObject({ linkCount: 2, aliases: { production: "v0", latest: "v1" } });
    const history = await s.api("GET", `${COL}/guarded/history`);
    expect(history.body.items.map((e: { action: string }) => e.action)).not.toContain("link.removed");

    // What holds no protected alias is the member's to unlink.
    expect((await s.api("DELETE", `${COL}/guarded/versions/v1`, undefined, keys.member)).status).toBe(200);
    expect((await s.api("DELETE", `${COL}/guarded/versions/v0`)).status).toBe(200);
    expect((await s.api("GET", `${COL}/guarded`)).body).toMatchObject({ linkCount: 0, aliases: {} });
  });

  test("a forced delete of an artifact version unlinks what holds production only for an admin", async () => {
    const version = await logVersion("forced", { "w.bin": "forced weights" });
    expect((await s.api("POST", `${COL}/forced/links`, { project: "train", artifact: "forced", version })).status).toBe(201);
    expect((await s.api("PUT", `${COL}/forced/aliases/production`, { version: "v0" })).status).toBe(200);
    // Deleting artifact versions is for org admins (project:admin), who are admins of every registry.
    expect(
      (await s.api("DELETE", `/v1/projects/train/artifacts/forced/versions/${version}?force=true`, undefined, keys.member)).status,
    ).toBe(403);
    expect((await s.api("GET", `${COL}/forced/versions/production`)).status).toBe(200);
    const deleted = await s.api("DELETE", `/v1/projects/train/artifacts/forced/versions/${version}?force=true`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.unlinked).toEqual(["@model/forced:v0"]);
  });

  test("racing an admin who moves production onto a link, a member's unlink never removes it", async () => {
    for (let round = 0; round < 8; round++) {
      const name = `race-${round}`;
      for (const v of ["v0", "v1"]) {
        expect((await s.api("POST", `${COL}/${name}/links`, { project: "train", artifact: "net", version: v })).status).toBe(201);
      }
      expect((await s.api("PUT", `${COL}/${name}/aliases/production`, { version: "v0" })).status).toBe(200);
      const [unlink, move] = await Promise.all([
        s.api("DELETE", `${COL}/${name}/versions/v1`, undefined, keys.member),
        s.api("PUT", `${COL}/${name}/aliases/production`, { version: "v1" }),
      ]);
      // Either the unlink came first (the move then finds no v1), or the move did (the unlink is refused).
      expect([unlink.status, move.status].sort(), JSON.stringify({ unlink: unlink.body, move: move.body })).not.toEqual([200, 200]);
      const collection = await s.api("GET", `${COL}/${name}`);
      expect(collection.body.aliases.production, JSON.stringify(collection.body)).toBeDefined();
      const holder = await s.api("GET", `${COL}/${name}/versions/production`);
      expect(holder.status).toBe(200);
    }
  });
});

/** Flips one bit in the middle of a cursor's bytes. */
function tampered(cursor: string): string {
  const bytes = Buffer.from(cursor, "base64url");
  bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
  return bytes.toString("base64url");
}

describe("page cursors", () => {
  /**
   * For every paginated route of the route table: a path whose list has more than one page
   * at `limit=1` (or `fanOut=1` for lineage), and how its answer hands on the cursor.
   */
  const lists = new Map<string, { path: string; query: string; cursorOf: (body: any) => string | undefined }>();
  const next = (body: any) => body.nextCursor as string | undefined;
  const more = (dir: "up" | "down") => (body: any) => body.nodes.find((n: any) => n.id === body.root)?.more?.[dir] as string | undefined;

  beforeAll(async () => {
    await logVersion("files", { "a.bin": "a", "b.bin": "b", "c.bin": "c" });
    expect((await s.api("PUT", "/v1/projects/train/artifacts/files/aliases/best", { version: "v0" })).status).toBe(200);
    await logVersion("files", { "a.bin": "a, again", "b.bin": "b, again" });
    await logVersion("other", { "a.bin": "other a" });
    await logVersion("other", { "a.bin": "other a, again" });
    for (const run of ["r1", "r2"]) {
      expect((await s.api("POST", `/v1/projects/train/runs/${run}/inputs`, { artifact: "net", version: "v0" })).status).toBe(200);
      expect((await s.api("POST", `/v1/projects/train/runs/${run}/inputs`, { artifact: "net", version: "v1" })).status).toBe(200);
    }
    for (const [collection, v] of [
      ["paged", "v0"],
      ["paged", "v1"],
      ["paged-too", "v0"],
    ] as const) {
      expect((await s.api("POST", `${COL}/${collection}/links`, { project: "train", artifact: "net", version: v })).status).toBe(201);
    }
    for (const version of ["v0", "v1"]) {
      expect((await s.api("POST", `${COL}/files/links`, { project: "train", artifact: "files", version })).status).toBe(201);
    }
    const automations: string[] = [];
    for (const name of ["one", "two"]) {
      const created = await s.api("POST", "/v1/registries/model/automations", {
        name,
        event: "LINK_ARTIFACT",
        collection: "hooked",
        url: "http://127.0.0.1:9/hook",
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      automations.push(created.body.id);
    }
    for (const v of ["v0", "v1"]) {
      expect((await s.api("POST", `${COL}/hooked/links`, { project: "train", artifact: "net", version: v })).status).toBe(201);
    }
    const deliveries = `/v1/registries/model/automations/${automations[0]}/deliveries`;
    for (let waited = 0; ; waited += 100) {
      if (((await s.api("GET", deliveries)).body.items ?? []).length >= 2) break;
      if (waited > 15_000) throw new Error("the stream poller wrote no deliveries");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await s.api("POST", "/v1/api-keys", { user: "max" });
    // A second project (its blob is already stored), a second member, two promotion requests.
    const weights = fileSpec("w.bin", "net weights 0");
    const again = await s.api("POST", "/v1/projects/train-too/artifacts/net/versions", {
      type: "model",
      files: [{ path: weights.path, size: weights.size, sha256: weights.sha256 }],
    });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await newUser("mia", "viewer");
    expect((await s.api("PUT", "/v1/registries/model/members/mia", { role: "viewer" })).status).toBe(200);
    for (const version of ["v0", "v1"]) {
      const asked = await s.api("POST", `${COL}/paged/promotions`, { alias: "production", version });
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    }

    const byOperation: Record<string, { path: string; query: string; cursorOf: (body: any) => string | undefined }> = {
      listArtifacts: { path: "/v1/projects/train/artifacts", query: "limit=1", cursorOf: next },
      listVersions: { path: "/v1/projects/train/artifacts/net/versions", query: "limit=1", cursorOf: next },
      listFiles: { path: "/v1/projects/train/artifacts/files/versions/v0/files", query: "limit=1", cursorOf: next },
      listHistory: { path: "/v1/projects/train/artifacts/net/history", query: "limit=1", cursorOf: next },
      listUsers: { path: "/v1/users", query: "limit=1", cursorOf: next },
      listApiKeys: { path: "/v1/api-keys", query: "limit=1", cursorOf: next },
      listRegistries: { path: "/v1/registries", query: "limit=1", cursorOf: next },
      listCollections: { path: `${COL}`, query: "limit=1", cursorOf: next },
      listCollectionVersions: { path: `${COL}/paged/versions`, query: "limit=1", cursorOf: next },
      listCollectionFiles: { path: `${COL}/files/versions/v0/files`, query: "limit=1", cursorOf: next },
      listCollectionHistory: { path: `${COL}/paged/history`, query: "limit=1", cursorOf: next },
      runLineage: { path: "/v1/projects/train/runs/r1/lineage", query: "direction=up&fanOut=1", cursorOf: more("up") },
      versionLineage: {
        path: "/v1/projects/train/artifacts/net/versions/v0/lineage",
        query: "direction=down&fanOut=1",
        cursorOf: more("down"),
      },
      collectionVersionLineage: { path: `${COL}/paged/versions/v0/lineage`, query: "direction=down&fanOut=1", cursorOf: more("down") },
      listAutomations: { path: "/v1/registries/model/automations", query: "limit=1", cursorOf: next },
      listDeliveries: { path: deliveries, query: "limit=1", cursorOf: next },
      listProjects: { path: "/v1/projects", query: "limit=1", cursorOf: next },
      listMembers: { path: "/v1/registries/model/members", query: "limit=1", cursorOf: next },
      listPromotions: { path: `${COL}/paged/promotions`, query: "limit=1", cursorOf: next },
    };
    for (const [operation, list] of Object.entries(byOperation)) lists.set(operation, list);
  });

  const paginated = routes.filter((route) => PAGINATED_OPERATIONS.has(route.operation));

  test("every paginated route of the route table is covered, and only GET routes page", () => {
    expect(paginated.length).toBe(PAGINATED_OPERATIONS.size);
    expect(paginated.every((route) => route.method === "GET")).toBe(true);
    expect([...lists.keys()].sort()).toEqual(paginated.map((route) => route.operation).sort());
  });

  test("a GET route that does not page ignores ?cursor= (so the list above is the whole of it)", async () => {
    // The /hf routes speak the Hub's protocol; its one paged list (the tree) is tested in hf-hub.test.ts.
    const others = routes.filter(
      (route) => route.method === "GET" && route.path.startsWith("/v1/") && !PAGINATED_OPERATIONS.has(route.operation),
    );
    const paths: Record<string, string> = {
      "/v1/health": "/v1/health",
      "/v1/openapi.json": "/v1/openapi.json",
      "/v1/me": "/v1/me",
      "/v1/projects/{project}/artifacts/{name}": "/v1/projects/train/artifacts/net",
      "/v1/projects/{project}/artifacts/{name}/versions/{v}": "/v1/projects/train/artifacts/net/versions/v0",
      "/v1/registries/{registry}": "/v1/registries/model",
      "/v1/registries/{registry}/collections/{collection}": `${COL}/paged`,
      "/v1/registries/{registry}/collections/{collection}/versions/{v}": `${COL}/paged/versions/v0`,
      "/v1/projects/{project}/runs/{run}": "/v1/projects/train/runs/r1",
      "/v1/projects/{project}/runs/{run}/metrics": "/v1/projects/train/runs/r1/metrics",
      "/v1/registries/{registry}/automations/{id}": "",
      "/v1/users/{user}/memberships": "/v1/users/max/memberships",
      "/v1/projects/{project}/usage": "/v1/projects/train/usage",
      "/v1/usage": "/v1/usage",
      "/v1/registries/{registry}/collections/{collection}/promotions/{id}": "",
      "/v1/registries/{registry}/automations/{id}/deliveries/{delivery}": "",
      "/v1/jobs/{id}": "",
    };
    for (const route of others) {
      expect(Object.keys(paths), route.path).toContain(route.path);
      const path = paths[route.path]!;
      if (path === "") continue;
      const query = route.path.endsWith("/metrics") ? "key=loss&" : "";
      const response = await s.api("GET", `${path}?${query}cursor=not-a-cursor`);
      expect(response.status, `${route.path}: ${JSON.stringify(response.body)}`).not.toBe(400);
    }
  });

  test.each(paginated.map((route) => [route.operation, route.path] as const))(
    "%s (%s): its own cursor pages on; forged, tampered, foreign and malformed ones are a 400",
    async (operation) => {
      const list = lists.get(operation)!;
      const first = await s.api("GET", `${list.path}?${list.query}`);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const cursor = list.cursorOf(first.body);
      expect(cursor, `${operation} handed out no cursor`).toBeDefined();
      const page = (c: string) => s.api("GET", `${list.path}?${list.query}&cursor=${encodeURIComponent(c)}`);
      expect((await page(cursor!)).status).toBe(200);

      // Foreign: every other list's cursor, and the same route's cursor of another list. Two
      // routes that page one list take each other's: the files of a version and of the link
      // to it (one manifest), the lineage of a version and of the link to it (one node).
      const sameList = [new Set(["listFiles", "listCollectionFiles"]), new Set(["versionLineage", "collectionVersionLineage"])];
      const foreign: string[] = [];
      for (const [other, otherList] of lists) {
        if (other === operation || sameList.some((set) => set.has(other) && set.has(operation))) continue;
        const c = otherList.cursorOf((await s.api("GET", `${otherList.path}?${otherList.query}`)).body);
        if (c) foreign.push(c);
      }
      const sibling: Record<string, string> = {
        listVersions: "/v1/projects/train/artifacts/other/versions",
        listFiles: "/v1/projects/train/artifacts/files/versions/v1/files",
        listCollectionFiles: `${COL}/files/versions/v1/files`,
        collectionVersionLineage: `${COL}/paged/versions/v1/lineage`,
        listCollectionVersions: `${COL}/hooked/versions`,
        listCollectionHistory: `${COL}/hooked/history`,
        listHistory: "/v1/projects/train/artifacts/files/history",
        versionLineage: "/v1/projects/train/artifacts/net/versions/v1/lineage",
        runLineage: "/v1/projects/train/runs/r2/lineage",
      };
      if (sibling[operation]) {
        const c = list.cursorOf((await s.api("GET", `${sibling[operation]}?${list.query}`)).body);
        expect(c).toBeDefined();
        foreign.push(c!);
      }
      // The cursors of before: the key itself, base64url JSON.
      const plain = Buffer.from(JSON.stringify({ PK: "REG#model", SK: "COL#paged" })).toString("base64url");
      const forged = [
        plain,
        Buffer.from(JSON.stringify({ dir: "up", after: plain })).toString("base64url"),
        Buffer.from("a".repeat(64)).toString("base64url"),
        tampered(cursor!),
        cursor!.slice(0, -4),
        `${cursor!}AAAA`,
        "",
        "%%%",
        "not a cursor",
        "\u0085",
      ];
      for (const bad of [...foreign, ...forged]) {
        const response = await page(bad);
        expect(response.status, `${operation} took ${bad}: ${JSON.stringify(response.body)}`).toBe(400);
        expect(response.body.error.code).toBe("invalid_request");
      }
    },
  );

  test("a non-member paging the registries sees neither a restricted registry nor its name in any cursor", async () => {
    for (const name of ["hidden-a", "hidden-b", "hidden-c", "zz-hidden"]) {
      expect((await s.api("POST", "/v1/registries", { name, visibility: "restricted" })).status).toBe(201);
    }
    expect((await s.api("POST", "/v1/registries", { name: "open-z", visibility: "organization" })).status).toBe(201);
    const seen: string[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    do {
      const page: { status: number; body: any } = await s.api(
        "GET",
        `/v1/registries?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        undefined,
        keys.outsider,
      );
      expect(page.status).toBe(200);
      // Every page is full: a short page would tell that something was left out.
      expect(page.body.items).toHaveLength(1);
      seen.push(...page.body.items.map((r: { name: string }) => r.name));
      cursor = page.body.nextCursor;
      if (cursor) cursors.push(cursor);
    } while (cursor);
    expect(seen).toEqual(["dataset", "model", "open-z"]);
    for (const c of cursors) {
      const text = Buffer.from(c, "base64url").toString("latin1");
      for (const hidden of ["hidden", "REG#", "REGISTRIES"]) expect(text).not.toContain(hidden);
    }
    // An admin sees all of them, a page at a time.
    const all: string[] = [];
    cursor = undefined;
    do {
      const page: { body: any } = await s.api("GET", `/v1/registries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      all.push(...page.body.items.map((r: { name: string }) => r.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(all).toEqual(["dataset", "hidden-a", "hidden-b", "hidden-c", "model", "open-z", "zz-hidden"]);
  });

  test("cursors stay valid across a restart: the secret is kept in the data dir", async () => {
    const first = await s.api("GET", "/v1/projects/train/artifacts/net/versions?limit=1");
    await s.restart();
    const second = await s.api("GET", `/v1/projects/train/artifacts/net/versions?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.body.items[0].version).toBe("v2");
  });
});

/** A raw request with exactly the header lines given (fetch would fold two Authorization headers into one). */
function rawRequest(path: string, headers: [string, string][]): Promise<{ status: number; body: any }> {
  const url = new URL(path, s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on("error", reject);
    const byName = new Map<string, string[]>();
    for (const [name, value] of headers) byName.set(name, [...(byName.get(name) ?? []), value]);
    for (const [name, values] of byName) req.setHeader(name, values.length === 1 ? values[0]! : values);
    req.end();
  });
}

describe("one credential per request", () => {
  test("two Authorization headers are a 400, whichever keys they carry", async () => {
    const admin = `Bearer ${s.adminKey}`;
    expect((await rawRequest("/v1/me", [["authorization", admin]])).status).toBe(200);
    for (const pair of [
      [admin, admin],
      [admin, `Bearer ${keys.member}`],
      [`Bearer ${keys.member}`, admin],
      [admin, "Bearer mreg_forged"],
    ]) {
      const response = await rawRequest("/v1/me", [
        ["authorization", pair[0]!],
        ["authorization", pair[1]!],
      ]);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toContain("more than one Authorization header");
    }
    // Also on a route that writes: nothing happens.
    const before = (await s.api("GET", "/v1/users?limit=1000")).body.items.length;
    const url = new URL("/v1/users", s.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.setHeader("authorization", [admin, admin]);
      req.setHeader("content-type", "application/json");
      req.end(JSON.stringify({ name: "twice", role: "member" }));
    });
    expect(status).toBe(400);
    expect((await s.api("GET", "/v1/users?limit=1000")).body.items.length).toBe(before);
  });
});
