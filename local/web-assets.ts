import { spawn } from "node:child_process";
import { readFile, readdir, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { CONTENT_SECURITY_POLICY, HASHED_ASSETS_PREFIX } from "../web/security-headers.js";

/** The web app's package (web/) and its production build (web/dist), next to this directory. */
export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "web");
export const WEB_DIST = join(WEB_DIR, "dist");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map"]);

export interface WebAssets {
  /** Answers a GET or HEAD outside /v1 from the build; false when there is no build to serve. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean>;
}

/**
 * Serves the built app on the API's origin: files under dist/ as they are, hashed assets
 * (dist/assets/) cached for good, and index.html for every other path so that the app's
 * own router handles deep links. Text is gzipped once per file version and kept in memory.
 */
export function createWebAssets(root: string = WEB_DIST): WebAssets {
  const gzipped = new Map<string, { mtimeMs: number; body: Buffer }>();

  async function fileAt(path: string): Promise<{ path: string; mtimeMs: number } | undefined> {
    try {
      const info = await stat(path);
      return info.isFile() ? { path, mtimeMs: info.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    async serve(req, res, pathname) {
      const method = req.method ?? "GET";
      if (method !== "GET" && method !== "HEAD") return false;
      const index = await fileAt(join(root, "index.html"));
      if (!index) return false;
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathname);
      } catch {
        decoded = "/";
      }
      const candidate = resolve(root, `.${decoded}`);
      const inside = candidate === root || candidate.startsWith(root + sep);
      const hashedAsset = decoded.startsWith(HASHED_ASSETS_PREFIX);
      let file = inside && !decoded.endsWith("/") ? await fileAt(candidate) : undefined;
      // The build manifest is for tests and tooling, not for browsers.
      if (file && decoded.startsWith("/.vite/")) file = undefined;
      if (!file && hashedAsset) {
        // A missing hashed file is a stale page asking for an old build: say so rather than answer HTML.
        req.resume();
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end(method === "HEAD" ? undefined : "not found");
        return true;
      }
      const served = file ?? index;
      const extension = extname(served.path);
      const headers: Record<string, string> = {
        "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": hashedAsset ? "public, max-age=31536000, immutable" : "no-cache",
      };
      if (extension === ".html") {
        headers["content-security-policy"] = CONTENT_SECURITY_POLICY;
        headers["x-frame-options"] = "DENY";
      }
      let body: Buffer = await readFile(served.path);
      if (COMPRESSIBLE.has(extension)) {
        headers.vary = "accept-encoding";
        if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
          const cached = gzipped.get(served.path);
          if (cached && cached.mtimeMs === served.mtimeMs) {
            body = cached.body;
          } else {
            const compressed = gzipSync(body);
            gzipped.set(served.path, { mtimeMs: served.mtimeMs, body: compressed });
            body = compressed;
          }
          headers["content-encoding"] = "gzip";
        }
      }
      headers["content-length"] = String(body.length);
      req.resume();
      res.writeHead(200, headers);
      res.end(method === "HEAD" ? undefined : body);
      return true;
    },
  };
}

/** Newest modification time of the files a build reads (the app's sources and its build config). */
async function newestSourceTime(webDir: string): Promise<number> {
  let newest = 0;
  const visit = async (path: string): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch {
      return;
    }
    if (info.isDirectory()) {
      for (const entry of await readdir(path)) await visit(join(path, entry));
    } else {
      newest = Math.max(newest, info.mtimeMs);
    }
  };
  for (const entry of ["src", "index.html", "vite.config.ts", "package.json"]) await visit(join(webDir, entry));
  return newest;
}

export type WebBuildOutcome = "fresh" | "built" | "unavailable";

/**
 * Builds the app (vite build) when web/dist is missing or older than its sources; what
 * `npm start` and the test suite's setup call. Without Vite installed (a production install)
 * an existing build is served as it is.
 */
export async function ensureWebAssets(options: { webDir?: string; log?: (line: string) => void } = {}): Promise<WebBuildOutcome> {
  const webDir = options.webDir ?? WEB_DIR;
  const log = options.log ?? (() => {});
  const built = await stat(join(webDir, "dist", "index.html")).catch(() => undefined);
  const sources = await newestSourceTime(webDir);
  if (built && built.mtimeMs >= sources) return "fresh";
  let viteBin: string;
  try {
    const require = createRequire(join(webDir, "package.json"));
    viteBin = join(dirname(require.resolve("vite/package.json")), "bin", "vite.js");
  } catch {
    log(
      built
        ? "web app: sources changed but Vite is not installed; serving the existing build"
        : "web app: not built and Vite is not installed; serving the API only",
    );
    return "unavailable";
  }
  log(built ? "web app: sources changed, rebuilding web/dist" : "web app: building web/dist (first start)");
  const started = Date.now();
  await new Promise<void>((resolvePromise, reject) => {
    // A test runner's NODE_ENV=test would give React's development build.
    const env = { ...process.env, NODE_ENV: "production" };
    const child = spawn(process.execPath, [viteBin, "build", "--logLevel", "warn"], {
      env,
      cwd: webDir,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolvePromise() : reject(new Error(`vite build exited with ${code}`))));
  });
  log(`web app: built in ${Date.now() - started} ms`);
  return "built";
}
