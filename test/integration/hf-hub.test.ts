import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { downloadFile, fileDownloadInfo, HubApiError, listFiles, modelInfo, snapshotDownload, uploadFiles } from "@huggingface/hub";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runMreg, type CliResult } from "../support/cli.js";
import { sha256 } from "../support/files.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
let work: string;
let hubUrl: string;
let projectsUrl: string;
const keys = { viewer: "", member: "" };

function mreg(args: string[], key = s.adminKey): Promise<CliResult> {
  return runMreg(args, {
    cwd: work,
    env: { HOME: work, MREG_URL: s.url, MREG_API_KEY: key, MREG_CACHE_DIR: join(work, "cache"), MREG_CONFIG: join(work, "config.json") },
  });
}

async function writeTree(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}

/**
 * Every file below `dir` (symbolic links followed: an HF snapshot links into its blob cache)
 * by relative path, as its SHA-256: trees compare with toEqual and differences stay readable.
 */
async function readTree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    if ((await stat(path)).isFile()) files[relative(dir, path)] = sha256(await readFile(path));
  }
  return files;
}

async function newUser(name: string, role: "viewer" | "member"): Promise<string> {
  expect((await s.api("POST", "/v1/users", { name, role })).status).toBe(201);
  return (await s.api("POST", "/v1/api-keys", { user: name })).body.key;
}

/** `mreg use` into a fresh directory: what the registry's own client returns for a reference. */
async function used(ref: string): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(work, "use-"));
  const result = await mreg(["use", ref, "--dir", dir, "--json"]);
  expect(result.code, result.stderr).toBe(0);
  return readTree(dir);
}

const token = () => `hf_${s.adminKey}`;
/**
 * `@huggingface/hub` reads a string starting with `model/` or `dataset/` as a repository type
 * and refuses it, so repositories of the default registries are named in the object form.
 */
const MODEL_REPO = { type: "model", name: "model/classifier" } as const;

let first: string;
let second: string;

beforeAll(async () => {
  s = await startTestStack({ env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) } });
  hubUrl = `${s.url}/hf`;
  projectsUrl = `${s.url}/hf/_projects`;
  work = await mkdtemp(join(tmpdir(), "mreg-hf-"));
  first = join(work, "run-1");
  second = join(work, "run-2");
  await writeTree(first, { "model.safetensors": randomBytes(200_000), "config.json": '{"layers":4}', "tokenizer/vocab.txt": "a\nb\n" });
  await writeTree(second, { "model.safetensors": randomBytes(200_000), "config.json": '{"layers":8}', "tokenizer/vocab.txt": "a\nc\n" });
  for (const dir of [first, second]) expect((await mreg(["log", dir, "-p", "vision", "-n", "classifier", "--json"])).code).toBe(0);
  expect((await mreg(["link", "vision/classifier:v0", "@model/classifier", "--alias", "production", "--json"])).code).toBe(0);
  expect((await mreg(["link", "vision/classifier:v1", "@model/classifier", "--json"])).code).toBe(0);
  keys.viewer = await newUser("vera", "viewer");
  keys.member = await newUser("max", "member");
  await s.api("POST", "/v1/registries", { name: "secret", visibility: "restricted" });
  await s.api("POST", "/v1/registries/secret/collections/classifier/links", { project: "vision", artifact: "classifier", version: "v0" });
});

afterAll(async () => {
  await s?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("reads with @huggingface/hub", () => {
  test("listFiles lists a collection revision's files with their LFS ids", async () => {
    const files = [];
    for await (const entry of listFiles({ repo: MODEL_REPO, revision: "production", recursive: true, hubUrl, accessToken: token() })) {
      files.push(entry);
    }
    const paths = files.map((f) => `${f.type}:${f.path}`).sort();
    expect(paths).toEqual(["directory:tokenizer", "file:config.json", "file:model.safetensors", "file:tokenizer/vocab.txt"]);
    const weights = files.find((f) => f.path === "model.safetensors")!;
    const bytes = await readFile(join(first, "model.safetensors"));
    expect(weights).toMatchObject({ size: bytes.length, lfs: { oid: sha256(bytes), size: bytes.length } });
  });

  test("fileDownloadInfo and downloadFile answer a file's size and bytes", async () => {
    const bytes = await readFile(join(first, "tokenizer/vocab.txt"));
    const info = await fileDownloadInfo({
      repo: MODEL_REPO,
      path: "tokenizer/vocab.txt",
      revision: "production",
      hubUrl,
      accessToken: token(),
    });
    expect(info).toMatchObject({ size: bytes.length, etag: expect.any(String) });
    const blob = await downloadFile({
      repo: MODEL_REPO,
      path: "tokenizer/vocab.txt",
      revision: "production",
      hubUrl,
      accessToken: token(),
    });
    expect(Buffer.from(await blob!.arrayBuffer())).toEqual(bytes);
    const missing = await fileDownloadInfo({ repo: MODEL_REPO, path: "nope.bin", revision: "production", hubUrl, accessToken: token() });
    expect(missing).toBeNull();
  });

  test("snapshotDownload of @model/classifier:production is what `mreg use` returns; moving the alias changes the next one", async () => {
    const cacheDir = join(work, "hf-cache");
    const snapshot = await snapshotDownload({ repo: MODEL_REPO, revision: "production", cacheDir, hubUrl, accessToken: token() });
    expect(await readTree(snapshot)).toEqual(await used("@model/classifier:production"));
    expect(await readTree(snapshot)).toEqual(await readTree(first));

    expect((await s.api("PUT", "/v1/registries/model/collections/classifier/aliases/production", { version: "v1" })).status).toBe(200);
    const moved = await snapshotDownload({ repo: MODEL_REPO, revision: "production", cacheDir, hubUrl, accessToken: token() });
    expect(moved).not.toBe(snapshot);
    expect(await readTree(moved)).toEqual(await used("@model/classifier:production"));
    expect(await readTree(moved)).toEqual(await readTree(second));
    // The cache keeps the ref HF clients resolve offline.
    expect(await readFile(join(cacheDir, "models--model--classifier", "refs", "production"), "utf8")).toBe(moved.split("/").pop());
  });

  test("a revision is an alias, vN, main (latest) or the commit id, which stays stable", async () => {
    const byNumber = await modelInfo({ name: "model/classifier", revision: "v0", hubUrl, accessToken: token(), additionalFields: ["sha"] });
    const byCommit = await modelInfo({
      name: "model/classifier",
      revision: byNumber.sha,
      hubUrl,
      accessToken: token(),
      additionalFields: ["sha"],
    });
    expect(byCommit.sha).toBe(byNumber.sha);
    expect(byNumber.sha).toMatch(/^[0-9a-f]{40}$/);
    const main = await modelInfo({ name: "model/classifier", revision: "main", hubUrl, accessToken: token(), additionalFields: ["sha"] });
    const latest = await modelInfo({
      name: "model/classifier",
      revision: "latest",
      hubUrl,
      accessToken: token(),
      additionalFields: ["sha"],
    });
    expect(main.sha).toBe(latest.sha);
    expect(main.sha).not.toBe(byNumber.sha);
    // A commit id whose digest part does not match its number names nothing.
    const forged = `${"0".repeat(32)}${byNumber.sha.slice(32)}`;
    const refused = await fetch(`${hubUrl}/api/models/model/classifier/revision/${forged}`, {
      headers: { authorization: `Bearer ${token()}` },
    });
    expect(refused.status).toBe(404);
    expect(refused.headers.get("x-error-code")).toBe("RevisionNotFound");
  });

  test("a project artifact is a repository under /hf/_projects", async () => {
    const info = await modelInfo({
      name: "vision/classifier",
      revision: "v1",
      hubUrl: projectsUrl,
      accessToken: token(),
      additionalFields: ["sha"],
    });
    expect(info.name).toBe("vision/classifier");
    const blob = await downloadFile({
      repo: "vision/classifier",
      path: "config.json",
      revision: info.sha,
      hubUrl: projectsUrl,
      accessToken: token(),
    });
    expect(await blob!.text()).toBe('{"layers":8}');
  });
});

describe("the protocol as huggingface_hub reads it", () => {
  const auth = () => ({ authorization: `Bearer ${token()}` });

  test("HEAD resolve answers size, ETag, commit and the presigned location on the redirect itself", async () => {
    const bytes = await readFile(join(second, "model.safetensors"));
    const info = await modelInfo({ name: "model/classifier", revision: "v1", hubUrl, accessToken: token(), additionalFields: ["sha"] });
    const head = await fetch(`${hubUrl}/model/classifier/resolve/v1/model.safetensors`, {
      method: "HEAD",
      headers: auth(),
      redirect: "manual",
    });
    expect(head.status).toBe(302);
    expect(head.headers.get("x-repo-commit")).toBe(info.sha);
    expect(head.headers.get("x-linked-etag")).toBe(`"${sha256(bytes)}"`);
    expect(head.headers.get("etag")).toBe(`"${sha256(bytes)}"`);
    expect(head.headers.get("x-linked-size")).toBe(String(bytes.length));
    const location = head.headers.get("location")!;
    expect(new URL(location).origin).not.toBe(new URL(s.url).origin);
    // A Range request follows the redirect to the store, which answers the slice.
    const range = await fetch(`${hubUrl}/model/classifier/resolve/v1/model.safetensors`, { headers: { ...auth(), range: "bytes=10-19" } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(10, 20));
  });

  test("missing repositories, revisions and entries carry the X-Error-Code the clients read", async () => {
    const code = async (path: string, method = "GET") => {
      const response = await fetch(`${hubUrl}${path}`, { method, headers: auth(), redirect: "manual" });
      return [response.status, response.headers.get("x-error-code")];
    };
    expect(await code("/model/nothing/resolve/main/config.json", "HEAD")).toEqual([404, "RepoNotFound"]);
    expect(await code("/model/classifier/resolve/v9/config.json", "HEAD")).toEqual([404, "RevisionNotFound"]);
    expect(await code("/model/classifier/resolve/main/missing.json", "HEAD")).toEqual([404, "EntryNotFound"]);
    // huggingface_hub caches a missing file under the commit it was missing from.
    const missing = await fetch(`${hubUrl}/model/classifier/resolve/v0/missing.json`, { method: "HEAD", headers: auth() });
    expect(missing.headers.get("x-repo-commit")).toMatch(/^[0-9a-f]{40}$/);
    expect(await code("/api/models/model/classifier/revision/nope")).toEqual([404, "RevisionNotFound"]);
    expect(await code("/api/models/nothing/classifier/revision/main")).toEqual([404, "RepoNotFound"]);
    const body = await (await fetch(`${hubUrl}/api/models/model/classifier/tree/main/nofolder`, { headers: auth() })).json();
    expect(body).toMatchObject({ error: expect.stringContaining("nofolder"), code: "not_found" });
  });

  test("the tree pages with absolute Link headers, and listFiles follows them", async () => {
    const page = await fetch(`${hubUrl}/api/models/model/classifier/tree/main?recursive=true&limit=2`, { headers: auth() });
    expect(page.status).toBe(200);
    expect(await page.json()).toHaveLength(2);
    const next = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get("link") ?? "")?.[1];
    expect(next).toMatch(new RegExp(`^${hubUrl}/api/models/model/classifier/tree/main\\?`));
    // The cursor is sealed and bound to this listing: it names no path, and a forged one, or
    // this one on another folder's listing, is a 400.
    const cursor = new URL(next!).searchParams.get("cursor")!;
    expect(Buffer.from(cursor, "base64url").toString("latin1")).not.toContain("model.safetensors");
    expect((await fetch(next!, { headers: auth() })).status).toBe(200);
    const forged = Buffer.from("config.json").toString("base64url");
    for (const url of [
      `${hubUrl}/api/models/model/classifier/tree/main?recursive=true&limit=2&cursor=${forged}`,
      `${hubUrl}/api/models/model/classifier/tree/main/tokenizer?limit=2&cursor=${encodeURIComponent(cursor)}`,
    ]) {
      expect((await fetch(url, { headers: auth() })).status, url).toBe(400);
    }
    // Each page of one entry: listFiles walks four pages.
    let requests = 0;
    const onePerPage: typeof fetch = (input, init) => {
      requests++;
      const url = new URL(String(input));
      url.searchParams.set("limit", "1");
      return fetch(url, init);
    };
    const paths: string[] = [];
    for await (const entry of listFiles({ repo: MODEL_REPO, recursive: true, hubUrl, accessToken: token(), fetch: onePerPage })) {
      paths.push(entry.path);
    }
    expect(paths).toEqual(["config.json", "model.safetensors", "tokenizer", "tokenizer/vocab.txt"]);
    expect(requests).toBe(4);
    const folder = await fetch(`${hubUrl}/api/models/model/classifier/tree/main/tokenizer`, { headers: auth() });
    expect((await folder.json()).map((e: { path: string }) => e.path)).toEqual(["tokenizer/vocab.txt"]);
  });

  test("paths-info answers files and folders, as JSON or as the form huggingface_hub posts", async () => {
    const form = new URLSearchParams([
      ["paths", "config.json"],
      ["paths", "tokenizer"],
      ["paths", "absent"],
      ["expand", "True"],
    ]);
    const response = await fetch(`${hubUrl}/api/models/model/classifier/paths-info/main`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    const entries = await response.json();
    expect(entries.map((e: { type: string; path: string }) => `${e.type}:${e.path}`)).toEqual(["file:config.json", "directory:tokenizer"]);
    expect(entries[0].lastCommit.id).toMatch(/^[0-9a-f]{40}$/);
  });

  test("the plain key works as well as hf_<key>; no key is a 401", async () => {
    const plain = await fetch(`${hubUrl}/api/models/model/classifier/revision/main`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(plain.status).toBe(200);
    const none = await fetch(`${hubUrl}/api/models/model/classifier/revision/main`);
    expect(none.status).toBe(401);
  });

  test("a download names its run in X-Mreg-Run-Id: the version becomes the run's input", async () => {
    const response = await fetch(`${hubUrl}/model/classifier/resolve/v0/config.json`, {
      method: "HEAD",
      headers: { authorization: `Bearer hf_${keys.member}`, "x-mreg-run-id": "eval-7" },
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    const lineage = await s.api("GET", "/v1/projects/vision/runs/eval-7/lineage?direction=up&depth=1");
    expect(lineage.body.nodes.map((n: { id: string }) => n.id)).toContain("version:vision/classifier:v0");
    const viewer = await fetch(`${hubUrl}/model/classifier/resolve/v0/config.json`, {
      method: "HEAD",
      headers: { authorization: `Bearer hf_${keys.viewer}`, "x-mreg-run-id": "eval-8" },
      redirect: "manual",
    });
    expect(viewer.status).toBe(403);
  });
});

describe("writes with @huggingface/hub", () => {
  test("uploadFiles of a folder (one file in parts) makes a version that `mreg use` returns byte for byte; the same again is the same version", async () => {
    const folder = join(work, "upload", "checkpoint");
    await writeTree(folder, {
      "weights.bin": randomBytes(12 * MIB),
      "config.json": '{"hidden": 64}',
      "notes/readme.md": "# trained on mnist\n",
    });
    let requests: string[] = [];
    const recording: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      requests.push(`${init?.method ?? "GET"} ${url.origin === new URL(s.url).origin ? url.pathname : "store"}`);
      return fetch(input, init);
    };
    const upload = () =>
      uploadFiles({
        repo: "vision/hf-upload",
        files: [pathToFileURL(folder)],
        hubUrl: projectsUrl,
        accessToken: token(),
        commitTitle: "epoch 3",
        commitDescription: "uploaded from @huggingface/hub",
        fetch: recording,
      });
    const committed = (await upload())!;
    expect(committed.commit.oid).toMatch(/^[0-9a-f]{40}$/);
    // Two single PUTs and three parts go to the store; the registry completes the multipart blob.
    expect(requests.filter((r) => r === "PUT store")).toHaveLength(5);
    expect(requests.filter((r) => r.includes("/info/lfs/objects/complete/"))).toHaveLength(1);
    expect(requests.at(-1)).toBe("POST /hf/_projects/api/models/vision/hf-upload/commit/main");
    const version = await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/latest");
    expect(version.body).toMatchObject({
      version: "v0",
      type: "model",
      fileCount: 3,
      description: "epoch 3\n\nuploaded from @huggingface/hub",
    });
    const expected = Object.fromEntries(Object.entries(await readTree(join(work, "upload"))).map(([path, bytes]) => [path, bytes]));
    expect(await used("vision/hf-upload:latest")).toEqual(expected);
    const history = await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/history");
    expect(history.body.items.map((e: { action: string }) => e.action)).toContain("version.created");

    requests = [];
    const again = (await upload())!;
    expect(again.commit.oid).toBe(committed.commit.oid);
    expect(requests.filter((r) => r === "PUT store")).toHaveLength(0);
    expect((await s.api("GET", "/v1/projects/vision/artifacts/hf-upload")).body.versionCount).toBe(1);
  });

  test("a commit applies to its branch: added files join the files already there", async () => {
    await uploadFiles({
      repo: "vision/hf-upload",
      files: [{ path: "extra.txt", content: new Blob(["more"]) }],
      hubUrl: projectsUrl,
      accessToken: token(),
    });
    const files = await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/latest/files");
    expect(files.body.items.map((f: { path: string }) => f.path)).toEqual([
      "checkpoint/config.json",
      "checkpoint/notes/readme.md",
      "checkpoint/weights.bin",
      "extra.txt",
    ]);
  });

  test("the commit protocol as huggingface_hub sends it: copies without a size, deletions, parents and alias branches", async () => {
    const commit = (branch: string, lines: object[]) =>
      fetch(`${projectsUrl}/api/models/vision/hf-upload/commit/${branch}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token()}`, "content-type": "application/x-ndjson", "x-mreg-run-id": "train-9" },
        body: lines.map((line) => JSON.stringify(line)).join("\n"),
      });
    const head = await modelInfo({ name: "vision/hf-upload", hubUrl: projectsUrl, accessToken: token(), additionalFields: ["sha"] });
    const readme = (await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/latest/files")).body.items.find(
      (f: { path: string }) => f.path === "checkpoint/notes/readme.md",
    );
    const header = (parentCommit?: string) => ({
      key: "header",
      value: { summary: "reshuffle", ...(parentCommit ? { parentCommit } : {}) },
    });
    const operations = [
      { key: "lfsFile", value: { path: "README.md", algo: "sha256", oid: readme.sha256 } },
      { key: "deletedFile", value: { path: "extra.txt" } },
      { key: "deletedFolder", value: { path: "checkpoint/notes" } },
    ];
    const stale = await commit("main", [header("0".repeat(40)), ...operations]);
    expect(stale.status).toBe(409);
    const noBranch = await commit("candidate", [header(), ...operations]);
    expect([noBranch.status, noBranch.headers.get("x-error-code")]).toEqual([404, "RevisionNotFound"]);
    const gone = await commit("main", [header(), { key: "deletedFile", value: { path: "nope.txt" } }]);
    expect([gone.status, gone.headers.get("x-error-code")]).toEqual([404, "EntryNotFound"]);
    const inline = await commit("main", [header(), { key: "file", value: { path: "empty.txt", content: "", encoding: "base64" } }]);
    expect(inline.status).toBe(400);

    const made = await commit("main", [header(head.sha), ...operations]);
    expect(made.status).toBe(200);
    const body = await made.json();
    expect(body).toMatchObject({ version: "v2", created: true, commitOid: expect.stringMatching(/^[0-9a-f]{40}$/) });
    const files = await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/v2/files");
    expect(files.body.items.map((f: { path: string }) => f.path)).toEqual([
      "README.md",
      "checkpoint/config.json",
      "checkpoint/weights.bin",
    ]);
    expect((await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/v2")).body).toMatchObject({
      description: "reshuffle",
      runId: "train-9",
    });

    // Another branch is an alias: the commit builds on the version it names and moves it.
    expect((await s.api("PUT", "/v1/projects/vision/artifacts/hf-upload/aliases/candidate", { version: "v0" })).status).toBe(200);
    const onAlias = await commit("candidate", [header(), { key: "deletedFile", value: { path: "checkpoint/config.json" } }]);
    expect(onAlias.status).toBe(200);
    const moved = (await s.api("GET", "/v1/projects/vision/artifacts/hf-upload/versions/candidate")).body;
    expect(moved).toMatchObject({ version: "v3", fileCount: 2 });
    expect((await commit("v1", [header(), ...operations])).status).toBe(400);
  });

  test("a viewer's upload is refused with 403", async () => {
    const refused = await uploadFiles({
      repo: "vision/hf-upload",
      files: [{ path: "x.txt", content: new Blob(["x"]) }],
      hubUrl: projectsUrl,
      accessToken: `hf_${keys.viewer}`,
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HubApiError);
    expect((refused as HubApiError).statusCode).toBe(403);
  });
});

describe("restricted registries", () => {
  test("are RepoNotFound to a non-member and readable to a member", async () => {
    const listing = async (key: string) => {
      const entries = [];
      for await (const entry of listFiles({ repo: "secret/classifier", hubUrl, accessToken: `hf_${key}` })) entries.push(entry.path);
      return entries;
    };
    const refused = await listing(keys.member).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HubApiError);
    expect((refused as HubApiError).statusCode).toBe(404);
    const head = await fetch(`${hubUrl}/secret/classifier/resolve/main/config.json`, {
      method: "HEAD",
      headers: { authorization: `Bearer hf_${keys.member}` },
      redirect: "manual",
    });
    expect([head.status, head.headers.get("x-error-code")]).toEqual([404, "RepoNotFound"]);

    await s.api("PUT", "/v1/registries/secret/members/max", { role: "viewer" });
    expect(await listing(keys.member)).toEqual(["config.json", "model.safetensors", "tokenizer"]);
    const info = await fetch(`${hubUrl}/api/models/secret/classifier/revision/main`, {
      headers: { authorization: `Bearer hf_${keys.member}` },
    });
    expect((await info.json()).private).toBe(true);
  });
});
