import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_TABLE } from "../local/stack.js";

/**
 * `npm run bench:resolve`: what resolving `@registry/collection:alias` to download URLs costs
 * on the embedded registry, next to the cheapest DynamoDB call there is. Alternating pairs of
 * (one raw GetItem on the registry's own table, one `GET …/collections/c/versions/production/files`
 * over HTTP), BENCH_ROUNDS (500) of them after a warm-up; medians and spread of both, and of
 * the per-pair ratio. The registry runs in a child process, as `npm start` runs it.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 500);
const WARMUP = 50;
const FILES = Number(process.env.BENCH_FILES ?? 3);

interface Stack {
  url: string;
  adminKey: string;
  dynamodb: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  child: ChildProcess;
}

async function startStack(dataDir: string): Promise<Stack> {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "stack-process.ts"), dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the registry exited with ${code} before it was ready`)));
  });
  const started = JSON.parse(line) as Omit<Stack, "child">;
  if (!started.dynamodb) throw new Error("bench/stack-process.ts did not report the DynamoDB endpoint");
  return { ...started, child };
}

async function stopStack(stack: Stack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  const exited = new Promise((resolve) => stack.child.once("exit", resolve));
  stack.child.kill("SIGTERM");
  await exited;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const ms = (value: number) => `${value.toFixed(2)} ms`;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mreg-bench-resolve-"));
  const stack = await startStack(dataDir);
  const ddb = new DynamoDBClient({
    endpoint: stack.dynamodb,
    region: "us-east-1",
    credentials: stack.credentials,
  });
  try {
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${stack.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${stack.adminKey}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };

    // The default `model` registry, a version of a few small files linked with an alias: what a deployment job resolves.
    const files = Array.from({ length: FILES }, (_, i) => {
      const bytes = Buffer.from(`bench file ${i}\n`);
      return { path: `model/part-${i}.bin`, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), bytes };
    });
    const declared = files.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
    const plan = await api("POST", "/v1/projects/bench/artifacts/m/uploads", { files: declared });
    for (const upload of plan.uploads) {
      const file = files.find((f) => f.sha256 === upload.sha256)!;
      const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: new Uint8Array(file.bytes) });
      if (!put.ok) throw new Error(`PUT ${put.status}`);
    }
    await api("POST", "/v1/projects/bench/artifacts/m/versions", { type: "model", files: declared });
    await api("POST", "/v1/registries/model/collections/c/links", {
      project: "bench",
      artifact: "m",
      version: "latest",
      aliases: ["production"],
    });

    // The raw read: one eventually consistent GetItem of a small item of the same table.
    const rawKey = { PK: { S: "REG#model" }, SK: { S: "REGISTRY" } };
    const getItem = async () => {
      const result = await ddb.send(new GetItemCommand({ TableName: LOCAL_TABLE, Key: rawKey }));
      if (!result.Item) throw new Error("the raw GetItem found nothing");
    };
    const resolve = async () => {
      const body = await api("GET", "/v1/registries/model/collections/c/versions/production/files");
      if (body.items.length !== FILES) throw new Error(`the resolve answered ${body.items.length} files`);
    };
    const time = async (run: () => Promise<void>) => {
      const started = performance.now();
      await run();
      return performance.now() - started;
    };

    for (let i = 0; i < WARMUP; i++) {
      await getItem();
      await resolve();
    }
    const raw: number[] = [];
    const resolved: number[] = [];
    const ratios: number[] = [];
    const load = loadavg()[0]!;
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always runs on a connection just used.
      let rawMs: number;
      let resolveMs: number;
      if (round % 2 === 0) {
        rawMs = await time(getItem);
        resolveMs = await time(resolve);
      } else {
        resolveMs = await time(resolve);
        rawMs = await time(getItem);
      }
      raw.push(rawMs);
      resolved.push(resolveMs);
      ratios.push(resolveMs / rawMs);
    }

    const summary = (values: number[]) => ({
      median: quantile(values, 0.5),
      p10: quantile(values, 0.1),
      p90: quantile(values, 0.9),
    });
    const result = {
      rounds: ROUNDS,
      files: FILES,
      cpus: cpus().length,
      loadAverage: { start: load, end: loadavg()[0] },
      rawGetItem: summary(raw),
      resolve: summary(resolved),
      ratioOfMedians: quantile(resolved, 0.5) / quantile(raw, 0.5),
      perPairRatio: summary(ratios),
    };
    console.log(`resolve @model/c:production → ${FILES} file URLs vs one raw GetItem, ${ROUNDS} alternating pairs`);
    console.log(`load average ${load.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs`);
    for (const [label, values] of [
      ["raw GetItem", result.rawGetItem],
      ["resolve (HTTP)", result.resolve],
    ] as const) {
      console.log(`${label.padEnd(16)} median ${ms(values.median)}   p10 ${ms(values.p10)}   p90 ${ms(values.p90)}`);
    }
    console.log(
      `resolve / GetItem: ${result.ratioOfMedians.toFixed(2)}× (medians); per pair median ${result.perPairRatio.median.toFixed(2)}×, ` +
        `p10 ${result.perPairRatio.p10.toFixed(2)}×, p90 ${result.perPairRatio.p90.toFixed(2)}×; goal ≤ 3×`,
    );
    const out = join(import.meta.dirname, "results");
    await mkdir(out, { recursive: true });
    await writeFile(
      join(out, `resolve-latency-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  } finally {
    ddb.destroy();
    await stopStack(stack);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
