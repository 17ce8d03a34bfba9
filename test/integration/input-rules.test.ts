import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_USER_JSON_DEPTH } from "../../lambdas/contract/user-json.js";
import { createS3Client } from "../../lambdas/composition.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * The rule for what users hand the registry to keep, against the real DynamoDB Local:
 * what is taken comes back exactly as sent, what is not is a 400 naming where, and a
 * refused request leaves nothing behind.
 */
let s: TestStack;
let s3: S3Client;
const file = fileSpec("w.bin", "input rules weights");
const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];
const ART = "/v1/projects/rules/artifacts";

/** Sends `body` as the exact text given (numbers and keys as written). */
async function raw(method: string, path: string, body: string | Buffer): Promise<{ status: number; text: string }> {
  const response = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.adminKey}`, "content-type": "application/json" },
    body: body === "" ? undefined : typeof body === "string" ? body : new Uint8Array(body),
  });
  return { status: response.status, text: await response.text() };
}

async function manifests(): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: s.stack.config.bucket, Prefix: "manifests/" }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

/** A commit of the one uploaded file under a name of its own, with `extra` as raw JSON members. */
const commitText = (extra: string) => `{"type": "model", "files": ${JSON.stringify(declared)}${extra ? `, ${extra}` : ""}}`;

beforeAll(async () => {
  s = await startTestStack();
  s3 = createS3Client(s.stack.config);
  const plan = await s.api("POST", `${ART}/card/uploads`, { files: declared });
  await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
});
afterAll(async () => {
  s3?.destroy();
  await s?.stop();
});

describe("user JSON that is kept", () => {
  test("metadata {constructor: ResNet50} and the other Object.prototype names round-trip through every read", async () => {
    const metadata = {
      constructor: "ResNet50",
      prototype: { name: "Set" },
      toString: 1,
      hasOwnProperty: [true, null],
      valueOf: { constructor: { name: "Uint8Array" } },
      nested: { deeper: [{ constructor: { name: "Number" } }] },
    };
    const commit = await s.api("POST", `${ART}/card/versions`, { type: "model", files: declared, metadata, aliases: ["best"] });
    expect(commit.status, JSON.stringify(commit.body)).toBe(201);
    for (const selector of ["v0", "best", "latest"]) {
      expect((await s.api("GET", `${ART}/card/versions/${selector}`)).body.metadata).toEqual(metadata);
    }
    // An alias moved onto it copies the metadata into the alias item again.
    expect((await s.api("PUT", `${ART}/card/aliases/production`, { version: "v0" })).status).toBe(200);
    expect((await s.api("GET", `${ART}/card/versions/production`)).body.metadata).toEqual(metadata);
    // A link copies it into the collection.
    const link = await s.api("POST", "/v1/registries/model/collections/cards/links", {
      project: "rules",
      artifact: "card",
      version: "v0",
      aliases: ["staging"],
    });
    expect(link.status).toBe(201);
    expect((await s.api("GET", "/v1/registries/model/collections/cards/versions/staging")).body.metadata).toEqual(metadata);
  });

  test("run config and metric keys named like Object.prototype members round-trip", async () => {
    const config = { constructor: "Trainer", optimizer: { constructor: { name: "Set" }, lr: 1e-3 } };
    expect((await s.api("POST", "/v1/projects/rules/runs", { id: "r1", config })).status).toBe(201);
    expect((await s.api("GET", "/v1/projects/rules/runs/r1")).body.config).toEqual(config);
    const logged = await s.api("POST", "/v1/projects/rules/runs/r1/metrics", {
      items: [{ step: 0, values: { constructor: 1, toString: 0.5 } }],
    });
    expect(logged.status, JSON.stringify(logged.body)).toBe(200);
    expect(logged.body.summary).toEqual({ constructor: 1, toString: 0.5 });
    // The second request sets keys in place (the map exists): the same.
    const again = await s.api("POST", "/v1/projects/rules/runs/r1/metrics", {
      items: [{ step: 1, values: { constructor: 2, hasOwnProperty: 3 } }],
    });
    expect(again.body.summary).toEqual({ constructor: 2, toString: 0.5, hasOwnProperty: 3 });
    expect((await s.api("GET", "/v1/projects/rules/runs/r1")).body.summary).toEqual({ constructor: 2, toString: 0.5, hasOwnProperty: 3 });
  });

  test("numbers come back exactly as sent, above 2^53 and near DynamoDB's bounds included", async () => {
    const text =
      '{"big": 100000000000000000000, "e": 1e20, "max": 9.99999999999999e125, "min": 1e-130, "neg": -1.5e-7, "safe": 9007199254740991}';
    const commit = await raw("POST", `${ART}/numbers/versions`, commitText(`"metadata": ${text}`));
    expect(commit.status, commit.text).toBe(201);
    const read = await raw("GET", `${ART}/numbers/versions/v0`, "");
    const metadata = JSON.parse(read.text).metadata;
    expect(metadata).toEqual(JSON.parse(text));
    expect(read.text).toContain('"big":100000000000000000000');
    const metrics = await s.api("POST", "/v1/projects/rules/runs/r2/metrics", { items: [{ values: { huge: 1e125, tiny: -1e-129 } }] });
    expect(metrics.status).toBe(200);
    expect((await s.api("GET", "/v1/projects/rules/runs/r2/metrics?key=huge")).body.points).toEqual([{ step: null, value: 1e125 }]);
  });

  test(`metadata nested ${MAX_USER_JSON_DEPTH} levels is stored, alias items included`, async () => {
    let text = '"leaf"';
    for (let i = 0; i < MAX_USER_JSON_DEPTH; i++) text = `{"a": ${text}}`;
    const commit = await raw("POST", `${ART}/deep/versions`, commitText(`"metadata": ${text}, "aliases": ["best"]`));
    expect(commit.status, commit.text).toBe(201);
    expect((await s.api("GET", `${ART}/deep/versions/best`)).body.metadata).toEqual(JSON.parse(text));
  });
});

describe("what is refused with a 400 naming where, and leaves nothing behind", () => {
  const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
  const cases: [string, string, string][] = [
    ["a number beyond DynamoDB's range", '"metadata": {"x": {"y": 1e200}}', "metadata.x.y: is outside the range"],
    ["a number below DynamoDB's range", '"metadata": {"x": 1e-200}', "metadata.x: is outside the range"],
    ["2^64 as an integer", '"metadata": {"x": 18446744073709551616}', "metadata.x: 18446744073709551616 cannot be held exactly"],
    ["Infinity", '"metadata": {"x": 1e999}', "metadata.x: 1e999 is too large"],
    ["an empty key", '"metadata": {"a": {"": 1}}', "metadata.a.: empty keys cannot be stored"],
    ["a __proto__ key", '"metadata": {"__proto__": {"x": 1}}', "metadata.__proto__: __proto__ is not accepted as a key"],
    ["a nested __proto__ key", '"metadata": {"a": [{"__proto__": 1}]}', "metadata.a.0.__proto__"],
    ["a key twice", '"metadata": {"a": 1, "a": 2}', "metadata.a: appears twice"],
    [
      `${MAX_USER_JSON_DEPTH + 1} levels`,
      `"metadata": ${deep(MAX_USER_JSON_DEPTH + 1)}`,
      `nests deeper than ${MAX_USER_JSON_DEPTH} levels`,
    ],
    ["10 000 levels", `"metadata": ${deep(10_000)}`, "nests deeper than 64 levels"],
    ["10 000 levels of arrays", `"metadata": {"a": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`, "nests deeper than 64 levels"],
    ["a lone surrogate", '"metadata": {"a": "\\udead"}', "metadata.a: must be well-formed Unicode"],
    ["more than 64 KiB", `"metadata": {"a": "${"x".repeat(64 * 1024)}"}`, "metadata: must serialise to at most 64 KiB"],
    ["latest among the aliases", '"aliases": ["best", "latest"]', "aliases.1: latest is maintained by the registry"],
    ["a C1 control in the description", '"description": "a\u0085b"', "description: must not contain control characters"],
    ["metadata that is a list", '"metadata": [1]', "metadata: must be a JSON object"],
  ];

  test.each(cases)("%s", async (_, extra, message) => {
    const before = await manifests();
    const response = await raw("POST", `${ART}/refused/versions`, commitText(extra));
    expect(response.status, response.text).toBe(400);
    expect(JSON.parse(response.text).error.message).toContain(message);
    expect((await s.api("GET", `${ART}/refused`)).status).toBe(404);
    expect(await manifests()).toEqual(before);
  });

  test("a body that is not UTF-8 is refused, not stored with replacement characters", async () => {
    // "café" in Latin-1: 0xE9 alone is no UTF-8.
    const [head, tail] = commitText('"description": "caf#"').split("#");
    const body = Buffer.concat([Buffer.from(head!), Buffer.from([0xe9]), Buffer.from(tail!)]);
    const response = await raw("POST", `${ART}/refused/versions`, body);
    expect(response.status, response.text).toBe(400);
    expect(JSON.parse(response.text).error.message).toBe("request body is not valid UTF-8");
  });

  test.each([
    ["a file that is also a directory", ["a", "a/b"], "a is a file and also a directory (of a/b)"],
    ["two names one file on macOS and Windows", ["Model.bin", "model.bin"], "model.bin and Model.bin differ only in case"],
    ["a colon", ["ckpt:1.pt"], "Windows cannot write them"],
    ["a Windows device name", ["NUL.json"], "device name NUL"],
    ["a trailing dot", ["weights."], "may end with a dot or a space"],
    ["a C1 control", ["a\u0085b"], "control characters"],
  ])("a manifest with %s", async (_, paths, message) => {
    const files = paths.map((path) => ({ ...declared[0]!, path }));
    const before = await manifests();
    const response = await s.api("POST", `${ART}/refused/versions`, { type: "model", files });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain(message);
    expect(await manifests()).toEqual(before);
  });

  test("runs, metrics, registries and automations hold the same rules", async () => {
    const checks: [string, string, string, string][] = [
      ["POST", "/v1/projects/rules/runs", '{"id": "bad", "config": {"x": 1e300}}', "config.x: is outside the range"],
      ["POST", "/v1/projects/rules/runs", '{"id": "bad", "name": "a\u009bb"}', "name: must not contain control characters"],
      ["POST", "/v1/projects/rules/runs/bad/metrics", '{"items": [{"values": {"loss": 1e200}}]}', "is outside the range"],
      ["POST", "/v1/projects/rules/runs/bad/metrics", '{"items": [{"values": {"__proto__": 1}}]}', "__proto__ is not accepted"],
      ["POST", "/v1/registries", '{"name": "bad", "protectedAliases": ["latest"]}', "protectedAliases.0: latest is maintained"],
      [
        "POST",
        "/v1/registries/model/automations",
        '{"name": "a\\u0000b", "event": "LINK_ARTIFACT", "url": "http://127.0.0.1:9/"}',
        "name: must not contain control characters",
      ],
      [
        "POST",
        "/v1/users",
        '{"name": "bad", "role": "member", "displayName": "x\u0085"}',
        "displayName: must not contain control characters",
      ],
      [
        "POST",
        "/v1/registries/model/collections/cards/links",
        '{"project": "rules", "artifact": "card", "version": 0, "aliases": ["latest"]}',
        "latest is maintained",
      ],
    ];
    for (const [method, path, body, message] of checks) {
      const response = await raw(method, path, body);
      expect(response.status, `${path} ${body}: ${response.text}`).toBe(400);
      expect(JSON.parse(response.text).error.message).toContain(message);
    }
    expect((await s.api("GET", "/v1/projects/rules/runs/bad")).status).toBe(404);
    expect((await s.api("GET", "/v1/registries/bad")).status).toBe(404);
  });
});

describe("sizes", () => {
  test("an uploadId longer than S3 hands out is a 400, not a key DynamoDB refuses", async () => {
    for (const uploadId of ["x".repeat(1024), "é".repeat(600), "a b"]) {
      const response = await s.api("POST", "/v1/uploads/complete", {
        sha256: "c".repeat(64),
        uploadId,
        parts: [{ partNumber: 1, etag: "e" }],
      });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.error.message).toContain("uploadId");
    }
  });

  test("a plan for the largest object S3 stores has parts S3 takes; one byte more is refused", async () => {
    const TIB = 1024 ** 4;
    const huge = { path: "huge.bin", size: 5 * TIB, sha256: "b".repeat(64) };
    const plan = await s.api("POST", `${ART}/huge/uploads`, { files: [huge] });
    expect(plan.status, JSON.stringify(plan.body).slice(0, 300)).toBe(200);
    const { multipart } = plan.body.uploads[0];
    expect(multipart.partSize).toBeLessThanOrEqual(5 * 1024 ** 3);
    expect(multipart.parts.length).toBeLessThanOrEqual(10_000);
    expect(multipart.partSize * multipart.parts.length).toBeGreaterThanOrEqual(huge.size);
    const over = await s.api("POST", `${ART}/huge/uploads`, { files: [{ ...huge, size: 5 * TIB + 1 }] });
    expect(over.status).toBe(400);
  });
});
