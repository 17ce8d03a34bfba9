import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routes, type FunctionName } from "../../lambdas/contract/routes.js";
import type { ApiHandler } from "../../lambdas/http/api-handler.js";
import { localObservability } from "../../lambdas/observability.js";
import { startLocalServer, type LocalServer } from "../../local/server.js";
import { ensureWebAssets } from "../../local/web-assets.js";

let root: string;
let server: LocalServer;

/** These tests never reach a function: every one answers 500 so that a request routed to one would fail them. */
const unreachable: ApiHandler = async () => ({ statusCode: 500, headers: {}, body: "" });
const handlers = Object.fromEntries(routes.map((r) => [r.function, unreachable])) as Record<FunctionName, ApiHandler>;
const serverOptions = (webRoot: string) => ({ port: 0, webRoot, handlers, logger: localObservability({ logLevel: "silent" }).logger });

const INDEX = '<!doctype html><script type="module" src="/assets/app-abc123.js"></script>';
const SCRIPT = `console.log(${JSON.stringify("x".repeat(2000))});`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mreg-web-"));
  await mkdir(join(root, "dist", "assets"), { recursive: true });
  await mkdir(join(root, "dist", ".vite"), { recursive: true });
  await writeFile(join(root, "dist", "index.html"), INDEX);
  await writeFile(join(root, "dist", "assets", "app-abc123.js"), SCRIPT);
  await writeFile(join(root, "dist", "assets", "app-abc123.css"), "body{}");
  await writeFile(join(root, "dist", ".vite", "manifest.json"), "{}");
  await writeFile(join(root, "secret.txt"), "outside the build");
  server = await startLocalServer(serverOptions(join(root, "dist")));
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

/** A raw request, so that paths reach the server exactly as written and bodies are not decoded. */
function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the local server's web assets", () => {
  it("serves index.html at / with a content security policy and no caching", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.body.toString()).toBe(INDEX);
  });

  it("answers deep links with index.html so the app's router takes over", async () => {
    const res = await get("/registries/model/collections/mnist/versions/v3/lineage");
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(INDEX);
  });

  it("serves hashed assets with their type, cached for good", async () => {
    const js = await get("/assets/app-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.body.toString()).toBe(SCRIPT);
    expect((await get("/assets/app-abc123.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("gzips text for clients that accept it", async () => {
    const res = await get("/assets/app-abc123.js", { "accept-encoding": "gzip, deflate" });
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(res.headers.vary).toBe("accept-encoding");
    expect(res.body.length).toBeLessThan(SCRIPT.length);
    expect(gunzipSync(res.body).toString()).toBe(SCRIPT);
  });

  it("answers a missing hashed asset with 404, not the page", async () => {
    const res = await get("/assets/app-old999.js");
    expect(res.status).toBe(404);
    expect(res.body.toString()).not.toContain("<script");
  });

  it("never serves files outside the build, nor the build manifest", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]) {
      const res = await get(path);
      expect(res.body.toString(), path).not.toContain("outside the build");
    }
    expect((await get("/.vite/manifest.json")).body.toString()).toBe(INDEX);
  });

  it("answers HEAD without a body", async () => {
    const res = await get("/", {}, "HEAD");
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
  });

  it("leaves /v1 to the API, JSON errors included", async () => {
    const wrongMethod = await get("/v1/health", {}, "DELETE");
    expect(wrongMethod.status).toBe(405);
    expect(JSON.parse(wrongMethod.body.toString()).error.code).toBe("method_not_allowed");
    const missing = await get("/v1/nothing-here");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error.code).toBe("not_found");
  });

  it("without a build, answers other paths as before: a JSON 404", async () => {
    const bare = await startLocalServer(serverOptions(join(root, "no-build")));
    try {
      const res = await fetch(`${bare.url}/registries`);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe("not_found");
    } finally {
      await bare.close();
    }
  });
});

describe("building the web app when needed", () => {
  it("keeps a build that is newer than every source", async () => {
    const web = await mkdtemp(join(tmpdir(), "mreg-web-build-"));
    try {
      await mkdir(join(web, "src"), { recursive: true });
      await mkdir(join(web, "dist"), { recursive: true });
      await writeFile(join(web, "src", "main.tsx"), "");
      await writeFile(join(web, "dist", "index.html"), "");
      const old = new Date(Date.now() - 60_000);
      await utimes(join(web, "src", "main.tsx"), old, old);
      expect(await ensureWebAssets({ webDir: web })).toBe("fresh");
    } finally {
      await rm(web, { recursive: true, force: true });
    }
  });

  it("reports a stale build it cannot rebuild (no Vite installed) and keeps serving it", async () => {
    const web = await mkdtemp(join(tmpdir(), "mreg-web-build-"));
    try {
      await mkdir(join(web, "src"), { recursive: true });
      await mkdir(join(web, "dist"), { recursive: true });
      await writeFile(join(web, "package.json"), "{}");
      await writeFile(join(web, "dist", "index.html"), "");
      const old = new Date(Date.now() - 60_000);
      await utimes(join(web, "dist", "index.html"), old, old);
      await writeFile(join(web, "src", "main.tsx"), "");
      const lines: string[] = [];
      expect(await ensureWebAssets({ webDir: web, log: (l) => lines.push(l) })).toBe("unavailable");
      expect(lines.join("\n")).toMatch(/Vite is not installed; serving the existing build/);
    } finally {
      await rm(web, { recursive: true, force: true });
    }
  });
});
