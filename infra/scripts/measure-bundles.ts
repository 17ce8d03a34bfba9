/**
 * `npm run measure:bundles`: synthesizes the app, then for every Lambda bundle reports its
 * minified size and its cold import time (a fresh `node` process timing `import()` of the
 * bundle, with the same NODE_OPTIONS the function gets), wall clock and CPU: on a shared
 * machine the CPU time says what the import costs, the wall time what other work added.
 * Fails when a budget is exceeded.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { App, Stack } from "aws-cdk-lib";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { buildMregApp } from "../mreg-app.js";

const MAX_BYTES = 1_000_000;
const MAX_IMPORT_MS = 150;
const RUNS = 7;

const outdir = mkdtempSync(path.join(tmpdir(), "mreg-measure-"));
try {
  const app = new App({ outdir });
  const { stateless } = buildMregApp(app);
  app.synth();

  const functions = [
    ...stateless.functions,
    [stateless.streamConsumer.node.id, stateless.streamConsumer] as const,
    [stateless.deliverySweeper.node.id, stateless.deliverySweeper] as const,
    [stateless.jobRunner.node.id, stateless.jobRunner] as const,
  ];
  const rows: string[] = [];
  let failed = false;
  for (const [name, fn] of functions) {
    const cfn = fn.function.node.defaultChild as CfnFunction;
    const code = Stack.of(fn).resolve(cfn.code) as { s3Key: string };
    const bundle = path.join(outdir, `asset.${code.s3Key.replace(/\.zip$/, "")}`, "index.mjs");
    const bytes = statSync(bundle).size;
    const gzipped = gzipSync(readFileSync(bundle)).length;
    const environment = Stack.of(fn).resolve(cfn.environment) as { variables: Record<string, unknown> };
    const runs = Array.from({ length: RUNS }, () => coldImportMs(bundle, environment.variables));
    const times = runs.map((run) => run.wall).sort((a, b) => a - b);
    const cpu = runs.map((run) => run.cpu).sort((a, b) => a - b);
    const median = times[Math.floor(RUNS / 2)]!;
    const fastest = times[0]!;
    const over = bytes > MAX_BYTES || median >= MAX_IMPORT_MS;
    failed ||= over;
    rows.push(
      [
        name.padEnd(16),
        `${(bytes / 1000).toFixed(1)} kB`.padStart(10),
        `${(gzipped / 1000).toFixed(1)} kB`.padStart(10),
        `${median.toFixed(1)} ms`.padStart(10),
        `${fastest.toFixed(1)} ms`.padStart(10),
        `${cpu[Math.floor(RUNS / 2)]!.toFixed(1)} ms`.padStart(10),
        over ? "  OVER BUDGET" : "",
      ].join(""),
    );
  }
  // Other work on the machine inflates import times: the load average says how much to trust them.
  const load = loadavg()[0]!.toFixed(1);
  console.log(
    `node ${process.version}, ${cpus().length} cores, load ${load}; budgets: ${MAX_BYTES / 1000} kB minified, ${MAX_IMPORT_MS} ms import (median of ${RUNS})`,
  );
  console.log(
    `${"function".padEnd(16)}${"minified".padStart(10)}${"gzip".padStart(10)}${"import".padStart(10)}${"fastest".padStart(10)}${"CPU".padStart(10)}`,
  );
  for (const row of rows) console.log(row);
  process.exitCode = failed ? 1 : 0;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}

/**
 * Time to import the bundle in a new process, as Lambda's init phase does: with the
 * function's variables (imported values as plain names), so the module-scope configuration,
 * logger, tracer, metrics and services are built as at a cold start.
 */
function coldImportMs(bundle: string, variables: Record<string, unknown>): { wall: number; cpu: number } {
  const script =
    "const t = performance.now(); const c = process.cpuUsage(); await import(process.argv[1]); " +
    "const u = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 }));";
  const deployed = Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, typeof value === "string" ? value : `deployed-${name.toLowerCase()}`]),
  );
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(bundle).href], {
    // Node 20 here, 24 in Lambda: the SDK's notice about Node 20 would only add noise.
    env: {
      PATH: process.env.PATH ?? "",
      ...deployed,
      NODE_OPTIONS: "--enable-source-maps",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    encoding: "utf8",
  });
  return JSON.parse(output) as { wall: number; cpu: number };
}
