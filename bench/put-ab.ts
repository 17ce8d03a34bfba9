import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Agent as UndiciAgent, request as undiciRequest } from "undici";
import { putFileRange } from "../clients/node/src/http-transfer.js";
import { LOCAL_BUCKET } from "../local/stack.js";
import { cpuTicks, load, machine, printTable, run, settle, spread, startStack, stopStack, type Stack } from "./bench-support.js";

/**
 * `npm run bench:put`: one presigned PUT of a file to the embedded store, sent by different
 * HTTP clients, in rotating order, BENCH_ROUNDS (3) times each; wall time and the CPU time
 * of the client and of the registry process per PUT. The file is BENCH_MIB (1024) MiB;
 * BENCH_VARIANTS picks variants (comma-separated names below). Keys are under `staging/`,
 * which the emulator hashes as it writes, as it does a log's bytes.
 *
 *   curl            curl -T
 *   sdk             putFileRange: node:http, two reused 1 MiB buffers
 *   sdk-64k, sdk-4m the same with 64 KiB or 4 MiB reads
 *   stream-1m       node:http with a read stream as body (1 MiB chunks), the SDK's earlier way
 *   stream-64k      the same with the read stream's default 64 KiB
 *   undici          undici.request with a read stream as body (1 MiB chunks)
 */
const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const streamAgent = new Agent({ keepAlive: true });
const undiciAgent = new UndiciAgent({ connections: 8 });

function streamPut(file: string, chunk: number) {
  return (url: string) =>
    new Promise<void>((resolve, reject) => {
      const request = httpRequest(url, { method: "PUT", agent: streamAgent, headers: { "content-length": String(SIZE) } });
      request.on("response", (response) => {
        response.resume();
        response.on("end", () => ((response.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
      });
      request.on("error", reject);
      createReadStream(file, { highWaterMark: chunk }).pipe(request);
    });
}

function variants(file: string): Record<string, (url: string) => Promise<void>> {
  const sdk = (chunkSize: number) => async (url: string) =>
    void (await putFileRange(url, {}, { path: file, start: 0, end: SIZE }, { chunkSize }));
  return {
    curl: async (url) => {
      const result = await run("curl", ["-sS", "-f", "-o", "/dev/null", "-T", file, url]);
      if (result.code !== 0) throw new Error(`curl exited with ${result.code}: ${result.stderr}`);
    },
    sdk: sdk(MIB),
    "sdk-64k": sdk(64 * 1024),
    "sdk-4m": sdk(4 * MIB),
    "stream-1m": streamPut(file, MIB),
    "stream-64k": streamPut(file, 64 * 1024),
    undici: async (url) => {
      const response = await undiciRequest(url, {
        method: "PUT",
        headers: { "content-length": String(SIZE) },
        body: createReadStream(file, { highWaterMark: MIB }),
        dispatcher: undiciAgent,
      });
      await response.body.dump();
      if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
    },
  };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const work = await mkdtemp(join(tmpdir(), "mreg-put-ab-"));
  let stack: Stack | undefined;
  const loadAtStart = load();
  try {
    const file = join(work, "file.bin");
    const handle = await open(file, "w");
    for (let written = 0; written < SIZE; written += 8 * MIB) await handle.write(randomBytes(Math.min(8 * MIB, SIZE - written)));
    await handle.close();
    stack = await startStack(join(work, "data"));
    const registry = stack;
    const s3 = new S3Client({
      region: "us-east-1",
      endpoint: registry.s3,
      forcePathStyle: true,
      credentials: registry.credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const all = variants(file);
    const names = process.env.BENCH_VARIANTS?.split(",") ?? ["curl", "sdk", "stream-1m", "undici"];
    for (const name of names) if (!all[name]) throw new Error(`unknown variant ${name}; known: ${Object.keys(all).join(", ")}`);
    let n = 0;
    const once = async (name: string) => {
      const key = `staging/put-ab-${n++}`;
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }), { expiresIn: 3600 });
      await settle();
      const before = { self: cpuTicks("self"), server: cpuTicks(registry.child.pid!) };
      const started = performance.now();
      await all[name]!(url);
      const ms = Math.round(performance.now() - started);
      const after = { self: cpuTicks("self"), server: cpuTicks(registry.child.pid!) };
      await s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
      const side = name === "curl" ? "children" : "own";
      return {
        ms,
        clientCpuMs: before.self && after.self ? Math.round(after.self[side] - before.self[side]) : undefined,
        serverCpuMs: before.server && after.server ? Math.round(after.server.own - before.server.own) : undefined,
      };
    };
    for (const name of names) await once(name); // warm-up
    const samples = Object.fromEntries(names.map((name) => [name, [] as Awaited<ReturnType<typeof once>>[]]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]!;
        samples[name]!.push(await once(name));
      }
    }
    const summary = Object.fromEntries(
      names.map((name) => {
        const list = samples[name]!;
        const cpu = (key: "clientCpuMs" | "serverCpuMs") =>
          list.every((s) => s[key] !== undefined) ? spread(list.map((s) => s[key]!)) : undefined;
        return [name, { ms: spread(list.map((s) => s.ms)), clientCpuMs: cpu("clientCpuMs"), serverCpuMs: cpu("serverCpuMs") }];
      }),
    );
    const results = {
      at: new Date().toISOString(),
      machine: machine(),
      loadAverage: { start: loadAtStart, end: load() },
      sizeBytes: SIZE,
      rounds: ROUNDS,
      variants: summary,
    };
    console.log(
      `\n${SIZE / MIB} MiB, ${ROUNDS} rounds; load average ${loadAtStart.join(" ")} at the start, ${results.loadAverage.end.join(" ")} at the end\n`,
    );
    const curl = summary.curl?.ms.median;
    printTable([
      ["variant", "median ms", "spread; CPU per PUT (medians): client, registry"],
      ...names.map((name): [string, string, string] => {
        const s = summary[name]!;
        const ratio = curl ? ` (${(s.ms.median / curl).toFixed(2)}× curl)` : "";
        return [
          name,
          String(s.ms.median),
          `${s.ms.min}–${s.ms.max}${ratio}; client ${s.clientCpuMs?.median ?? "?"} ms, registry ${s.serverCpuMs?.median ?? "?"} ms`,
        ];
      }),
    ]);
    const out = join(import.meta.dirname, "results");
    await mkdir(out, { recursive: true });
    const path = join(out, `put-ab-${SIZE / MIB}mib-${results.at.replace(/[:.]/g, "-")}.json`);
    await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${path}`);
  } finally {
    if (stack) await stopStack(stack);
    await undiciAgent.close();
    streamAgent.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
