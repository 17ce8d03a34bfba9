import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestStack, type TestStack } from "../support/local-stack.js";
import { fileSpec, uploadPlanned } from "../support/files.js";

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
});
afterAll(async () => {
  await s?.stop();
});

test("smoke", async () => {
  const a = fileSpec("model.bin", "weights-1");
  const b = fileSpec("config.json", '{"lr":0.1}');
  const files = [a, b].map(({ path, size, sha256 }) => ({ path, size, sha256 }));
  const plan = await s.api("POST", "/v1/projects/p/artifacts/m/uploads", { files });
  console.log(JSON.stringify(plan, null, 1));
  await uploadPlanned(plan.body, new Map([a, b].map((f) => [f.sha256, f.bytes])));
  const commit = await s.api("POST", "/v1/projects/p/artifacts/m/versions", { type: "model", files, aliases: ["best"] });
  console.log(commit);
  const again = await s.api("POST", "/v1/projects/p/artifacts/m/versions", { type: "model", files });
  console.log(again);
  const v = await s.api("GET", "/v1/projects/p/artifacts/m/versions/latest");
  console.log(v);
  const f = await s.api("GET", "/v1/projects/p/artifacts/m/versions/best/files");
  console.log(f.body);
  const got = await fetch(f.body.items[0].url);
  console.log(got.status, await got.text());
  expect(commit.status).toBe(201);
});
