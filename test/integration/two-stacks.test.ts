import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { MIB, startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * Two embedded registries in one process: each hands its own configuration to its own
 * services and handlers, so neither sees the other's data, keys or settings, and starting
 * them writes nothing into process.env.
 */
let a: TestStack;
let b: TestStack;
let environmentBefore: Record<string, string | undefined>;

beforeAll(async () => {
  environmentBefore = { ...process.env };
  // Started side by side: nothing global for one start to overwrite under the other.
  [a, b] = await Promise.all([
    startTestStack({ env: { MREG_MULTIPART_THRESHOLD: String(5 * MIB), MREG_PART_SIZE: String(5 * MIB) } }),
    startTestStack(),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const versions = "/v1/projects/twin/artifacts/model/versions";

async function logVersion(stack: TestStack, content: string) {
  const { bytes, ...file } = fileSpec("weights.bin", content);
  const plan = await stack.api("POST", "/v1/projects/twin/artifacts/model/uploads", { files: [file] });
  expect(plan.status).toBe(200);
  await uploadPlanned(plan.body, new Map([[file.sha256, bytes]]));
  const commit = await stack.api("POST", versions, { type: "model", files: [file] });
  expect(commit.status).toBe(201);
  return commit.body;
}

describe("two local stacks in one process", () => {
  test("leave process.env as it was", () => {
    expect(process.env).toEqual(environmentBefore);
    expect(a.stack.config.endpoints).not.toEqual(b.stack.config.endpoints);
  });

  test("keep their data apart", async () => {
    const inA = await logVersion(a, "weights of a");
    expect(inA).toMatchObject({ version: "v0", created: true });
    expect((await b.api("GET", versions)).status).toBe(404);
    expect((await b.api("GET", "/v1/projects/twin/artifacts")).body.items).toEqual([]);

    // The same names in the other stack start their own sequence.
    const inB = await logVersion(b, "weights of b");
    expect(inB).toMatchObject({ version: "v0", created: true });
    expect(inB.digest).not.toBe(inA.digest);
    expect((await a.api("GET", `${versions}/latest`)).body.digest).toBe(inA.digest);
    expect((await b.api("GET", `${versions}/latest`)).body.digest).toBe(inB.digest);
  });

  test("know only their own keys", async () => {
    expect(a.adminKey).not.toBe(b.adminKey);
    const crossed = await b.api("GET", "/v1/me", undefined, a.adminKey);
    expect(crossed.status).toBe(401);
    expect(crossed.body.error).toMatchObject({ code: "unauthorized", requestId: expect.any(String) });
    expect((await a.api("GET", "/v1/me")).status).toBe(200);
  });

  test("plan with their own settings", async () => {
    const big = fileSpec("big.bin", Buffer.alloc(6 * MIB, 1));
    const request = { files: [{ path: big.path, size: big.size, sha256: big.sha256 }] };
    const [planA, planB] = await Promise.all([
      a.api("POST", "/v1/projects/twin/artifacts/big/uploads", request),
      b.api("POST", "/v1/projects/twin/artifacts/big/uploads", request),
    ]);
    // 5 MiB threshold in a: multipart in 5 MiB parts; the local default in b: one PUT.
    expect(planA.body.uploads[0].multipart).toMatchObject({ partSize: 5 * MIB });
    expect(planA.body.uploads[0].multipart.parts).toHaveLength(2);
    expect(planB.body.uploads[0]).toMatchObject({ method: "PUT" });
  });

  test("stop on their own", async () => {
    await a.stack.stop();
    await expect(fetch(`${a.url}/v1/health`)).rejects.toThrow();
    expect((await b.api("GET", "/v1/health")).status).toBe(200);
    expect((await b.api("GET", `${versions}/latest`)).body).toMatchObject({ version: "v0" });
  });
});
