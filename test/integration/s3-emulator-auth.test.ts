import { stat, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/composition.js";
import { loadOrCreateS3Credentials, S3_CREDENTIALS_FILE, type S3Credentials } from "../../local/s3-credentials.js";
import { startS3Emulator, type S3Emulator } from "../../local/s3-emulator.js";
import { startTestStack } from "../support/local-stack.js";

/**
 * The embedded store answers only requests signed with its own key pair: anonymous requests,
 * the public S3RVER pair, another store's pair, a wrong secret, a stripped or expired
 * presigned URL and SigV2 are all refused, for every kind of request, and change nothing.
 */
const BUCKET = "mreg-blobs";
let directory: string;
let emulator: S3Emulator;
let other: S3Emulator;
let owner: S3Client;

const clientWith = (endpoint: string, credentials: S3Credentials) =>
  createS3Client({ region: "us-east-1", endpoints: { s3: endpoint }, credentials, s3ForcePathStyle: true, s3Emulator: true });

async function refusal(run: () => Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await run();
  } catch (error) {
    if (error instanceof S3ServiceException) return { status: error.$metadata.httpStatusCode ?? 0, code: error.name };
    throw error;
  }
  throw new Error("the request was accepted");
}

async function raw(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${emulator.endpoint}${path}`, { method, body: init.body, headers: init.headers });
  return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
}

async function read(key: string): Promise<string | undefined> {
  try {
    const result = await owner.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await result.Body!.transformToString();
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
    throw error;
  }
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "mreg-emulator-auth-"));
  emulator = await startS3Emulator({ directory: join(directory, "a"), buckets: [BUCKET] });
  other = await startS3Emulator({ directory: join(directory, "b"), buckets: [BUCKET] });
  owner = clientWith(emulator.endpoint, emulator.credentials);
  await owner.send(new PutObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json", Body: "original" }));
});

afterAll(async () => {
  owner?.destroy();
  await emulator?.stop();
  await other?.stop();
  await rm(directory, { recursive: true, force: true });
});

describe("anonymous requests", () => {
  it.each([
    ["list the bucket", "GET", `/${BUCKET}?list-type=2`],
    ["list the buckets", "GET", "/"],
    ["read an object", "GET", `/${BUCKET}/manifests/m.json`],
    ["read an object's head", "HEAD", `/${BUCKET}/manifests/m.json`],
    ["overwrite an object", "PUT", `/${BUCKET}/manifests/m.json`],
    ["write a blob", "PUT", `/${BUCKET}/blobs/${"a".repeat(64)}`],
    ["delete an object", "DELETE", `/${BUCKET}/manifests/m.json`],
    ["start a multipart upload", "POST", `/${BUCKET}/blobs/x?uploads`],
    ["delete many objects", "POST", `/${BUCKET}?delete`],
    ["delete the bucket", "DELETE", `/${BUCKET}`],
    ["create a bucket", "PUT", "/another-bucket"],
  ])("may not %s", async (_, method, path) => {
    const answer = await raw(method, path, method === "PUT" || method === "POST" ? { body: "tampered" } : {});
    expect(answer.status).toBe(403);
    if (method !== "HEAD") {
      expect(answer.type).toContain("application/xml");
      expect(answer.text).toContain("<Code>AccessDenied</Code>");
    }
    expect(await read("manifests/m.json")).toBe("original");
    expect(await read(`blobs/${"a".repeat(64)}`)).toBeUndefined();
  });

  it("may not upload a part to, complete or abort a multipart upload the owner started", async () => {
    const started = await owner.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "blobs/multi" }));
    const upload = encodeURIComponent(started.UploadId!);
    expect((await raw("PUT", `/${BUCKET}/blobs/multi?partNumber=1&uploadId=${upload}`, { body: "tampered part" })).status).toBe(403);
    const complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>";
    expect((await raw("POST", `/${BUCKET}/blobs/multi?uploadId=${upload}`, { body: complete })).status).toBe(403);
    expect((await raw("DELETE", `/${BUCKET}/blobs/multi?uploadId=${upload}`)).status).toBe(403);
    expect(await read("blobs/multi")).toBeUndefined();
  });

  it("may send a CORS preflight, which reads nothing", async () => {
    const answer = await raw("OPTIONS", `/${BUCKET}/manifests/m.json`, {
      headers: { origin: "http://127.0.0.1:8787", "access-control-request-method": "GET" },
    });
    expect(answer.text).not.toContain("original");
    expect((await raw("OPTIONS", `/${BUCKET}/manifests/m.json`)).status).toBe(403);
  });
});

describe("signed requests with other credentials", () => {
  it.each([
    ["the public S3RVER pair", () => ({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }), "InvalidAccessKeyId"],
    ["another store's pair", () => other.credentials, "InvalidAccessKeyId"],
    ["the right key id with a wrong secret", () => ({ ...emulator.credentials, secretAccessKey: "x".repeat(43) }), "SignatureDoesNotMatch"],
  ])("are refused with %s, for every kind of request", async (_, credentials, code) => {
    const intruder = clientWith(emulator.endpoint, credentials());
    try {
      const attempts: [string, () => Promise<unknown>][] = [
        ["list", () => intruder.send(new ListObjectsV2Command({ Bucket: BUCKET }))],
        ["get", () => intruder.send(new GetObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }))],
        ["put", () => intruder.send(new PutObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json", Body: "tampered" }))],
        ["delete", () => intruder.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }))],
        ["multipart", () => intruder.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "blobs/x" }))],
      ];
      for (const [what, attempt] of attempts) {
        expect(await refusal(attempt), what).toEqual({ status: 403, code });
      }
      expect(await read("manifests/m.json")).toBe("original");
    } finally {
      intruder.destroy();
    }
  });

  it("are refused when signed with Signature Version 2", async () => {
    const answer = await raw(
      "GET",
      `/${BUCKET}/manifests/m.json?AWSAccessKeyId=${emulator.credentials.accessKeyId}&Expires=9999999999&Signature=x`,
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("AWS4-HMAC-SHA256");
    const header = await raw("GET", `/${BUCKET}/manifests/m.json`, {
      headers: { authorization: `AWS ${emulator.credentials.accessKeyId}:c2lnbmF0dXJl`, date: new Date().toUTCString() },
    });
    expect(header.status).toBe(400);
  });
});

describe("presigned URLs", () => {
  const presign = (command: GetObjectCommand | PutObjectCommand, options: { expiresIn: number; signingDate?: Date }) =>
    command instanceof GetObjectCommand ? getSignedUrl(owner, command, options) : getSignedUrl(owner, command, options);

  it("work while they last, for what they were signed for only", async () => {
    const url = await presign(new GetObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }), { expiresIn: 60 });
    expect(await (await fetch(url)).text()).toBe("original");
    const elsewhere = url.replace("manifests/m.json", "manifests/n.json");
    expect((await fetch(elsewhere)).status).toBe(403);
    expect((await fetch(url, { method: "PUT", body: "tampered" })).status).toBe(403);
    expect(await read("manifests/m.json")).toBe("original");
  });

  it("are refused with their signature stripped, or with every signing parameter stripped", async () => {
    const url = new URL(await presign(new GetObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }), { expiresIn: 60 }));
    const stripped = new URL(url);
    stripped.searchParams.delete("X-Amz-Signature");
    const strippedAnswer = await fetch(stripped);
    expect(strippedAnswer.status).toBe(400);
    expect(await strippedAnswer.text()).not.toContain("original");
    const bare = new URL(url);
    for (const name of [...url.searchParams.keys()]) if (name.startsWith("X-Amz-")) bare.searchParams.delete(name);
    expect((await fetch(bare)).status).toBe(403);
    const doubled = new URL(url);
    doubled.searchParams.append("X-Amz-Credential", emulator.credentials.accessKeyId);
    expect((await fetch(doubled)).status).toBe(400);
  });

  it("are refused once expired, stripped of their signature or not", async () => {
    const signingDate = new Date(Date.now() - 2 * 3600 * 1000);
    const url = new URL(await presign(new GetObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }), { expiresIn: 3600, signingDate }));
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain("Request has expired");
    url.searchParams.delete("X-Amz-Signature");
    expect([400, 403]).toContain((await fetch(url)).status);
    const put = await presign(new PutObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }), { expiresIn: 60, signingDate });
    expect((await fetch(put, { method: "PUT", body: "tampered" })).status).toBe(403);
    expect(await read("manifests/m.json")).toBe("original");
  });

  it("are refused when their expiry was edited", async () => {
    const url = new URL(await presign(new GetObjectCommand({ Bucket: BUCKET, Key: "manifests/m.json" }), { expiresIn: 60 }));
    for (const expires of ["604800", "abc", "-1", "0"]) {
      const edited = new URL(url);
      edited.searchParams.set("X-Amz-Expires", expires);
      expect([400, 403], expires).toContain((await fetch(edited)).status);
    }
  });
});

describe("the local stack's key pair", () => {
  it("is generated once per data dir, private, and the stack's configuration carries it", async () => {
    const s = await startTestStack();
    try {
      const file = join(s.dataDir, S3_CREDENTIALS_FILE);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(await readFile(file, "utf8")) as S3Credentials;
      expect(saved.accessKeyId).not.toBe("S3RVER");
      expect(saved.secretAccessKey.length).toBeGreaterThanOrEqual(40);
      // (The SDK notes where credentials came from on the object it was given: compare the pair.)
      const pair = () => ({
        accessKeyId: s.stack.config.credentials?.accessKeyId,
        secretAccessKey: s.stack.config.credentials?.secretAccessKey,
      });
      expect(pair()).toEqual(saved);
      await s.restart();
      expect(pair()).toEqual(saved);
      expect(await loadOrCreateS3Credentials(s.dataDir)).toEqual(saved);
      const answer = await fetch(`${s.stack.endpoints.s3}/${BUCKET}?list-type=2`);
      expect(answer.status).toBe(403);
    } finally {
      await s.stop();
    }
  });

  it("differs between data dirs", async () => {
    const a = await mkdtemp(join(tmpdir(), "mreg-creds-a-"));
    const b = await mkdtemp(join(tmpdir(), "mreg-creds-b-"));
    try {
      expect(await loadOrCreateS3Credentials(a)).not.toEqual(await loadOrCreateS3Credentials(b));
    } finally {
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
  });
});
