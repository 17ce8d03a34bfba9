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

/** The README's curl walkthroughs, run verbatim: the docs cannot rot without this failing. */
test("the README curl walkthrough works as written", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const block = (name: string) => {
    const match = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(readme);
    expect(match, name).not.toBeNull();
    return match![1]!;
  };
  const script = `${block("walkthrough")}\n${block("walkthrough:registry")}`;
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
    cwd: s.dataDir,
    env: { ...process.env, MREG_URL: s.url, MREG_API_KEY: s.adminKey },
  });
  expect(stdout).toContain("uploaded model.bin");
  expect(stdout).toContain("uploaded config.json");
  expect(stdout).toMatch(/"version": "v0",\s*"index": 0,[\s\S]*"created": true/);
  expect(stdout).toMatch(/"uploads": 0,\s*"present": 2/);
  expect(stdout).toMatch(/"version": "v0",\s*"created": false/);
  expect(stdout).toContain("downloaded files are identical");
  expect(stdout).toMatch(/"version": "v0",\s*"index": 0,\s*"created": true,\s*"aliases": \[\s*"latest",\s*"production"/);
  expect(stdout).toContain('"vision"');
  expect(stdout).toContain("production files are identical");
  expect(stdout).toMatch(/200\n403\n?$/);
});
