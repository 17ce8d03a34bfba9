import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestStack, type TestStack } from "../support/local-stack.js";

const run = promisify(execFile);
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack();
});
afterAll(async () => {
  await s?.stop();
});

/** The README's curl walkthrough, run verbatim: the docs cannot rot without this failing. */
test("the README curl walkthrough works as written", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const section = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  expect(section).not.toBeNull();
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", section![1]!], {
    cwd: s.dataDir,
    env: { ...process.env, MREG_URL: s.url, MREG_API_KEY: s.adminKey },
  });
  expect(stdout).toContain("uploaded model.bin");
  expect(stdout).toContain("uploaded config.json");
  expect(stdout).toMatch(/"version": "v0",\s*"index": 0,[\s\S]*"created": true/);
  expect(stdout).toMatch(/"uploads": 0,\s*"present": 2/);
  expect(stdout).toMatch(/"version": "v0",\s*"created": false/);
  expect(stdout).toContain("downloaded files are identical");
});
