import { randomBytes } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createS3Client } from "../../lambdas/composition.js";
import { ERROR_STATUS, type ErrorCode } from "../../lambdas/contract/errors.js";
import { fileSpec, sha256, uploadPlanned } from "../support/files.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
const REF_BUCKET = "mreg-refs";

beforeAll(async () => {
  s = await startTestStack({
    env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) },
    extraBuckets: [REF_BUCKET],
  });
});
afterAll(async () => {
  await s?.stop();
});

type Spec = ReturnType<typeof fileSpec>;
const declared = (files: Spec[]) => files.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
const base = (artifact: string, project = "proj") => `/v1/projects/${project}/artifacts/${artifact}`;

/** The whole log protocol with plain fetch: plan, PUT what is missing, commit. */
async function log(artifact: string, files: Spec[], extra: Record<string, unknown> = {}) {
  const plan = await s.api("POST", `${base(artifact)}/uploads`, { files: declared(files) });
  expect(plan.status).toBe(200);
  const uploaded = await uploadPlanned(plan.body, new Map(files.map((f) => [f.sha256, f.bytes])));
  const commit = await s.api("POST", `${base(artifact)}/versions`, { type: "model", files: declared(files), ...extra });
  return { plan: plan.body, uploaded, commit };
}

async function download(artifact: string, version: string): Promise<Map<string, Buffer>> {
  const files = await s.api("GET", `${base(artifact)}/versions/${version}/files`);
  expect(files.status).toBe(200);
  const out = new Map<string, Buffer>();
  for (const item of files.body.items) {
    const response = await fetch(item.url);
    expect(response.status).toBe(200);
    out.set(item.path, Buffer.from(await response.arrayBuffer()));
  }
  return out;
}

describe("logging through presigned URLs", () => {
  const weights = fileSpec("model/weights.bin", randomBytes(4096));
  const config = fileSpec("config.json", '{"lr":0.001}');

  test("first log uploads every blob and creates v0 with latest", async () => {
    const { plan, uploaded, commit } = await log("mnist", [weights, config], {
      metadata: { accuracy: 0.98 },
      description: "first",
      aliases: ["candidate"],
    });
    expect(plan.present).toEqual([]);
    expect(plan.uploads.map((u: { method: string }) => u.method)).toEqual(["PUT", "PUT"]);
    expect(uploaded).toBe(weights.size + config.size);
    expect(commit.status).toBe(201);
    expect(commit.body).toMatchObject({ version: "v0", index: 0, created: true, aliases: ["candidate", "latest"] });

    const version = await s.api("GET", `${base("mnist")}/versions/latest`);
    expect(version.body).toMatchObject({
      version: "v0",
      type: "model",
      metadata: { accuracy: 0.98 },
      description: "first",
      size: weights.size + config.size,
      fileCount: 2,
      createdBy: "admin",
    });
    const bytes = await download("mnist", "v0");
    expect(bytes.get("model/weights.bin")!.equals(weights.bytes)).toBe(true);
    expect(bytes.get("config.json")!.toString()).toBe('{"lr":0.001}');
  });

  test("re-logging identical content uploads nothing and returns the same version with the new aliases", async () => {
    const { plan, uploaded, commit } = await log("mnist", [config, weights], { aliases: ["best"] });
    expect(plan.uploads).toEqual([]);
    expect(plan.present.sort()).toEqual([weights.sha256, config.sha256].sort());
    expect(uploaded).toBe(0);
    expect(commit.status).toBe(200);
    expect(commit.body).toMatchObject({ version: "v0", created: false, aliases: ["best", "candidate", "latest"] });
  });

  test("changing one file uploads only that blob and creates v1", async () => {
    const changed = fileSpec("config.json", '{"lr":0.01}');
    const { plan, uploaded, commit } = await log("mnist", [weights, changed]);
    expect(plan.uploads.map((u: { sha256: string }) => u.sha256)).toEqual([changed.sha256]);
    expect(plan.present).toEqual([weights.sha256]);
    expect(uploaded).toBe(changed.size);
    expect(commit.status).toBe(201);
    expect(commit.body).toMatchObject({ version: "v1", created: true, aliases: ["latest"] });
    const v0 = await s.api("GET", `${base("mnist")}/versions/v0`);
    expect(v0.body.aliases).toEqual(["best", "candidate"]);
  });

  test("versions resolve by v-label, number and alias, newest first in lists", async () => {
    for (const selector of ["v1", "1", "latest"]) {
      const response = await s.api("GET", `${base("mnist")}/versions/${selector}`);
      expect(response.body.version).toBe("v1");
    }
    expect((await s.api("GET", `${base("mnist")}/versions/best`)).body.version).toBe("v0");
    const page1 = await s.api("GET", `${base("mnist")}/versions?limit=1`);
    expect(page1.body.items.map((v: { version: string }) => v.version)).toEqual(["v1"]);
    const page2 = await s.api("GET", `${base("mnist")}/versions?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((v: { version: string }) => v.version)).toEqual(["v0"]);
    const artifact = await s.api("GET", base("mnist"));
    expect(artifact.body).toMatchObject({
      name: "mnist",
      type: "model",
      versionCount: 2,
      latest: "v1",
      aliases: { latest: "v1", best: "v0", candidate: "v0" },
    });
    const list = await s.api("GET", "/v1/projects/proj/artifacts");
    expect(list.body.items.map((a: { name: string }) => a.name)).toContain("mnist");
  });

  test("files can be listed by prefix", async () => {
    const files = await s.api("GET", `${base("mnist")}/versions/v1/files?prefix=model/`);
    expect(files.body.items.map((f: { path: string }) => f.path)).toEqual(["model/weights.bin"]);
  });

  test("an alias moves atomically: exactly one holder", async () => {
    const set = await s.api("PUT", `${base("mnist")}/aliases/production`, { version: "v0" });
    expect(set.body).toEqual({ alias: "production", version: "v0", previous: null });
    const moved = await s.api("PUT", `${base("mnist")}/aliases/production`, { version: 1 });
    expect(moved.body).toEqual({ alias: "production", version: "v1", previous: "v0" });
    const [v0, v1] = await Promise.all([s.api("GET", `${base("mnist")}/versions/v0`), s.api("GET", `${base("mnist")}/versions/v1`)]);
    expect(v0.body.aliases).not.toContain("production");
    expect(v1.body.aliases).toContain("production");
    const removed = await s.api("DELETE", `${base("mnist")}/aliases/production`);
    expect(removed.body).toEqual({ alias: "production", previous: "v1" });
    expect((await s.api("GET", `${base("mnist")}/versions/production`)).status).toBe(404);
    expect((await s.api("PUT", `${base("mnist")}/aliases/latest`, { version: "v0" })).status).toBe(400);
    const history = await s.api("GET", `${base("mnist")}/history?limit=3`);
    expect(history.body.items.map((e: { action: string }) => e.action)).toEqual(["alias.removed", "alias.moved", "alias.set"]);
  });
});

describe("integrity", () => {
  test("bytes that do not match the declared sha256 never become a version", async () => {
    const real = fileSpec("a.bin", "the real bytes");
    const plan = await s.api("POST", `${base("tampered")}/uploads`, { files: declared([real]) });
    const [upload] = plan.body.uploads;
    // The signed checksum header binds the URL to the declared digest; without it the signature fails.
    const unsigned = await fetch(upload.url, { method: "PUT", body: "other bytes" });
    expect(unsigned.status).toBe(403);
    const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: "other bytes!!" });
    expect(put.ok).toBe(true);
    const commit = await s.api("POST", `${base("tampered")}/versions`, { type: "model", files: declared([real]) });
    expect(commit.status).toBe(422);
    expect(commit.body.error.message).toContain("a.bin");
    expect((await s.api("GET", base("tampered"))).status).toBe(404);
    // The rejected bytes are gone: the next plan asks for the blob again.
    const again = await s.api("POST", `${base("tampered")}/uploads`, { files: declared([real]) });
    expect(again.body.uploads).toHaveLength(1);
  });

  test("a tampered presigned URL is refused by the store", async () => {
    const file = fileSpec("b.bin", "bytes");
    const plan = await s.api("POST", `${base("tampered")}/uploads`, { files: declared([file]) });
    const url = new URL(plan.body.uploads[0].url);
    url.pathname = url.pathname.replace("staging/", "blobs/");
    const response = await fetch(url, { method: "PUT", headers: plan.body.uploads[0].headers, body: file.bytes });
    expect(response.status).toBe(403);
  });

  test("committing a blob that was never uploaded is a 422 naming the file", async () => {
    const ghost = fileSpec("ghost.bin", "never sent");
    const commit = await s.api("POST", `${base("ghost")}/versions`, { type: "model", files: declared([ghost]) });
    expect(commit.status).toBe(422);
    expect(commit.body.error.message).toContain("ghost.bin");
  });
});

describe("multipart uploads", () => {
  async function putParts(plan: any, bytes: Buffer) {
    const { multipart } = plan;
    const parts = [];
    for (const part of multipart.parts) {
      const start = (part.partNumber - 1) * multipart.partSize;
      const response = await fetch(part.url, {
        method: "PUT",
        headers: part.headers,
        body: new Uint8Array(bytes.subarray(start, start + multipart.partSize)),
      });
      expect(response.status).toBe(200);
      parts.push({ partNumber: part.partNumber, etag: response.headers.get("etag")! });
    }
    return parts;
  }

  test("a large file goes up in parts, is verified on completion and downloads intact", async () => {
    const big = fileSpec("big.bin", randomBytes(11 * MIB));
    const plan = await s.api("POST", `${base("large")}/uploads`, { files: declared([big]) });
    const [upload] = plan.body.uploads;
    expect(upload.multipart.partSize).toBe(5 * MIB);
    expect(upload.multipart.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2, 3]);

    // Asking again before finishing hands out the same upload: that is how a client resumes.
    const resumed = await s.api("POST", `${base("large")}/uploads`, { files: declared([big]) });
    expect(resumed.body.uploads[0].multipart.uploadId).toBe(upload.multipart.uploadId);

    const parts = await putParts(upload, big.bytes);
    const complete = await s.api("POST", `${base("large")}/uploads/complete`, {
      sha256: big.sha256,
      uploadId: upload.multipart.uploadId,
      parts,
    });
    expect(complete.status).toBe(200);
    expect(complete.body).toMatchObject({ sha256: big.sha256, verified: true, alreadyPresent: false });

    const commit = await s.api("POST", `${base("large")}/versions`, { type: "dataset", files: declared([big]) });
    expect(commit.status).toBe(201);
    const bytes = await download("large", "v0");
    expect(sha256(bytes.get("big.bin")!)).toBe(big.sha256);
  });

  test("multipart bytes that do not match are refused and discarded", async () => {
    const declaredFile = fileSpec("wrong.bin", randomBytes(6 * MIB));
    const plan = await s.api("POST", `${base("large")}/uploads`, { files: declared([declaredFile]) });
    const [upload] = plan.body.uploads;
    const parts = await putParts(upload, randomBytes(6 * MIB));
    const complete = await s.api("POST", `${base("large")}/uploads/complete`, {
      sha256: declaredFile.sha256,
      uploadId: upload.multipart.uploadId,
      parts,
    });
    expect(complete.status).toBe(422);
    const again = await s.api("POST", `${base("large")}/uploads`, { files: declared([declaredFile]) });
    expect(again.body.present).toEqual([]);
  });

  test("completion with missing parts is a 400", async () => {
    const file = fileSpec("partial.bin", randomBytes(6 * MIB));
    const plan = await s.api("POST", `${base("large")}/uploads`, { files: declared([file]) });
    const complete = await s.api("POST", `${base("large")}/uploads/complete`, {
      sha256: file.sha256,
      uploadId: plan.body.uploads[0].multipart.uploadId,
      parts: [{ partNumber: 1, etag: "x" }],
    });
    expect(complete.status).toBe(400);
  });
});

describe("concurrency", () => {
  test("16 concurrent commits of different content get v0..v15 without gaps", async () => {
    const specs = Array.from({ length: 16 }, (_, i) => fileSpec(`f.txt`, `content ${i}`));
    const results = await Promise.all(specs.map((spec) => log("concurrent", [spec])));
    expect(results.every((r) => r.commit.status === 201)).toBe(true);
    const indexes = results.map((r) => r.commit.body.index).sort((a: number, b: number) => a - b);
    expect(indexes).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const latest = await s.api("GET", `${base("concurrent")}/versions/latest`);
    expect(latest.body.version).toBe("v15");
    const holders = await s.api("GET", `${base("concurrent")}/versions?limit=100`);
    const withLatest = holders.body.items.filter((v: { aliases: string[] }) => v.aliases.includes("latest"));
    expect(withLatest.map((v: { version: string }) => v.version)).toEqual(["v15"]);
  });

  test("8 concurrent commits of identical content make one version", async () => {
    const spec = fileSpec("same.txt", "same content");
    const results = await Promise.all(Array.from({ length: 8 }, () => log("identical", [spec])));
    expect(new Set(results.map((r) => r.commit.body.version))).toEqual(new Set(["v0"]));
    expect(results.filter((r) => r.commit.body.created)).toHaveLength(1);
  });
});

describe("deleting versions", () => {
  test("numbers are never reused and latest moves back", async () => {
    await log("deletable", [fileSpec("x", "one")]);
    await log("deletable", [fileSpec("x", "two")]);
    const deleted = await s.api("DELETE", `${base("deletable")}/versions/v1`);
    expect(deleted.body).toEqual({ deleted: "v1", unlinked: [] });
    expect((await s.api("GET", `${base("deletable")}/versions/v1`)).status).toBe(404);
    expect((await s.api("GET", `${base("deletable")}/versions/latest`)).body.version).toBe("v0");
    // The same content again is a new version, with a new number.
    const { commit } = await log("deletable", [fileSpec("x", "two")]);
    expect(commit.body).toMatchObject({ version: "v2", created: true });
    expect((await s.api("GET", base("deletable"))).body).toMatchObject({ versionCount: 2, latest: "v2" });
  });
});

describe("reference entries", () => {
  test("an s3:// reference is pinned by its ETag and size; a missing one is a 422 naming it", async () => {
    const s3 = createS3Client(s.stack.config);
    await s3.send(new PutObjectCommand({ Bucket: REF_BUCKET, Key: "datasets/train.csv", Body: "a,b\n1,2\n" }));
    const commit = await s.api("POST", `${base("refs")}/versions`, {
      type: "dataset",
      files: [{ path: "train.csv", ref: `s3://${REF_BUCKET}/datasets/train.csv` }],
    });
    expect(commit.status).toBe(201);
    const files = await s.api("GET", `${base("refs")}/versions/v0/files`);
    expect(files.body.items[0]).toMatchObject({
      path: "train.csv",
      ref: `s3://${REF_BUCKET}/datasets/train.csv`,
      size: 8,
      etag: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(await (await fetch(files.body.items[0].url)).text()).toBe("a,b\n1,2\n");

    const missing = await s.api("POST", `${base("refs")}/versions`, {
      type: "dataset",
      files: [{ path: "gone.csv", ref: `s3://${REF_BUCKET}/datasets/gone.csv` }],
    });
    expect(missing.status).toBe(422);
    expect(missing.body.error.message).toContain(`s3://${REF_BUCKET}/datasets/gone.csv`);
  });
});

describe("bad input is a 4xx and writes nothing", () => {
  const ok = { path: "a.txt", size: 1, sha256: "a".repeat(64) };
  const cases: [string, string, string, unknown, number][] = [
    ["bad project name", "POST", "/v1/projects/-bad/artifacts/x/versions", { type: "model", files: [ok] }, 400],
    ["bad artifact name", "POST", "/v1/projects/p/artifacts/a%20b/versions", { type: "model", files: [ok] }, 400],
    ["absolute path", "POST", "/v1/projects/p/artifacts/x/versions", { type: "model", files: [{ ...ok, path: "/etc/passwd" }] }, 400],
    ["dot-dot segment", "POST", "/v1/projects/p/artifacts/x/uploads", { files: [{ ...ok, path: "a/../../b" }] }, 400],
    ["duplicate paths", "POST", "/v1/projects/p/artifacts/x/versions", { type: "model", files: [ok, ok] }, 400],
    ["non-hex digest", "POST", "/v1/projects/p/artifacts/x/uploads", { files: [{ ...ok, sha256: "z".repeat(64) }] }, 400],
    ["negative size", "POST", "/v1/projects/p/artifacts/x/uploads", { files: [{ ...ok, size: -1 }] }, 400],
    ["absurd size", "POST", "/v1/projects/p/artifacts/x/uploads", { files: [{ ...ok, size: 2 ** 60 }] }, 400],
    ["bad type", "POST", "/v1/projects/p/artifacts/x/versions", { type: "a b", files: [ok] }, 400],
    ["unknown field", "POST", "/v1/projects/p/artifacts/x/versions", { type: "model", files: [ok], extra: 1 }, 400],
    ["no files", "POST", "/v1/projects/p/artifacts/x/versions", { type: "model", files: [] }, 400],
    ["malformed JSON", "POST", "/v1/projects/p/artifacts/x/versions", "{not json", 400],
    ["oversized body", "POST", "/v1/projects/p/artifacts/x/versions", "x".repeat(7 * MIB), 413],
    ["unknown version", "GET", `${base("mnist")}/versions/v99`, undefined, 404],
    ["unknown alias", "GET", `${base("mnist")}/versions/nope`, undefined, 404],
    ["unknown artifact", "GET", `${base("nothing-here")}`, undefined, 404],
    ["version-like alias", "PUT", `${base("mnist")}/aliases/v7`, { version: "v0" }, 400],
    ["bad cursor", "GET", `${base("mnist")}/versions?cursor=abc`, undefined, 400],
    [
      "cursor from another list",
      "GET",
      `/v1/projects/proj/artifacts?cursor=${Buffer.from(JSON.stringify({ PK: "USER#admin", SK: "USER" })).toString("base64url")}`,
      undefined,
      400,
    ],
    [
      "cursor from another list of the same partition",
      "GET",
      `${base("mnist")}/versions?cursor=${Buffer.from(JSON.stringify({ PK: "ART#proj#mnist", SK: "ALIAS#best" })).toString("base64url")}`,
      undefined,
      400,
    ],
    ["unknown route", "GET", "/v1/nothing", undefined, 404],
    ["method the route does not take", "PATCH", `${base("mnist")}/versions`, { type: "model" }, 405],
  ];

  test.each(cases)("%s", async (_name, method, path, body, status) => {
    const before = await s.api("GET", "/v1/projects/p/artifacts");
    const response = await s.api(method, path, body);
    expect(response.status).toBe(status);
    expect(response.body.error).toEqual({ code: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
    // The server's own refusals and the handlers' answer from one code table.
    expect(ERROR_STATUS[response.body.error.code as ErrorCode]).toBe(status);
    const after = await s.api("GET", "/v1/projects/p/artifacts");
    expect(after.body).toEqual(before.body);
  });

  test("a type change on an existing artifact is a 409", async () => {
    const response = await s.api("POST", `${base("mnist")}/versions`, {
      type: "dataset",
      files: declared([fileSpec("config.json", '{"lr":0.01}')]),
    });
    expect(response.status).toBe(409);
  });

  test("requests without a valid key are 401", async () => {
    const anonymous = await fetch(`${s.url}/v1/projects/proj/artifacts`);
    expect(anonymous.status).toBe(401);
    expect((await s.api("GET", "/v1/projects/proj/artifacts", undefined, "mreg_wrong")).status).toBe(401);
    expect((await fetch(`${s.url}/v1/health`)).status).toBe(200);
  });
});

describe("restart", () => {
  test("stopping and starting the stack loses nothing", async () => {
    const before = await s.api("GET", `${base("mnist")}/versions/latest`);
    await s.restart();
    const after = await s.api("GET", `${base("mnist")}/versions/latest`);
    expect(after.body).toEqual(before.body);
    const bytes = await download("mnist", "best");
    expect(bytes.get("config.json")!.toString()).toBe('{"lr":0.001}');
  });
});
