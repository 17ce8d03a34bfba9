import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat, utimes, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import pLimit from "p-limit";
import { hashFile } from "../clients/node/src/hash-files.js";
import { putFileRange } from "../clients/node/src/http-transfer.js";
import type { LogArtifactResult } from "../clients/node/src/log-artifact.js";
import { formatBytes } from "../clients/node/src/format-bytes.js";
import { LOCAL_BUCKET, LOCAL_MULTIPART_THRESHOLD } from "../local/stack.js";
import {
  cpuTicks,
  load,
  machine,
  MREG_BIN,
  printTable,
  run,
  settle,
  spread,
  startStack,
  stopStack,
  type Spread,
  type Stack,
} from "./bench-support.js";

/**
 * `npm run bench`: how `mreg log` of a large file compares with `curl -T` of the same file
 * to the same store, on the embedded registry (a child process, as `npm start` runs it).
 *
 *   BENCH_MIB     file size in MiB (1024)
 *   BENCH_ROUNDS  rounds (5); medians are compared
 *
 * Each round runs five steps, in an order that rotates from round to round (the disk slows
 * as it fills, so a fixed order would hand one step the faster disk), each after a `sync`:
 *
 *   curl               `curl -T` of the file to a presigned PUT URL
 *   SDK PUT            the same PUT through the SDK's transfer code (putFileRange)
 *   CLI log            `node clients/node/bin/mreg.js log` of the file, process start included;
 *                      it sends while hashing or hashes first by the load (upload-order.ts)
 *   CLI --hash-first   the same, always hashing first
 *   CLI --no-hash-first  the same, always sending while hashing (an open upload)
 *
 * Both raw PUTs go to `staging/` keys, which the emulator hashes as it writes them, as it does
 * a log's bytes. Each log gets new bytes (the first 8 bytes carry a counter) and an mtime an
 * hour back, like a checkpoint written earlier. Then the CLI re-logs the unchanged file
 * BENCH_ROUNDS times, and, once each, a raw presigned multipart upload and a read-back of the
 * stored blob over HTTP + SHA-256 (the verification's fallback). Client and server CPU time
 * per step come from /proc. Prints a table and writes JSON to bench/results/.
 */
const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PART_SIZE = 16 * MIB; // the registry's default MREG_PART_SIZE
const CONCURRENCY = 8; // the SDK's default
const GOALS = { cliLogOverCurl: 1.15, sdkPutOverCurl: 1.05, relogOverLog: 0.05 };

type StepName = "curl" | "sdkPut" | "cliLog" | "cliLogHashFirst" | "cliLogOpen";

interface Sample {
  ms: number;
  /** CPU of the client (curl, the CLI process, or this process for the SDK PUT). */
  clientCpuMs?: number;
  /** CPU of the registry process (API + S3 emulator). */
  serverCpuMs?: number;
  load1: number;
  log?: LogArtifactResult;
}

/** Incompressible bytes, written in 8 MiB chunks: the generator never holds the whole file. */
async function generate(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let written = 0; written < size;) {
    const chunk = randomBytes(Math.min(8 * MIB, size - written));
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    written += chunk.length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/**
 * A new version of the checkpoint: its first 8 bytes carry `n`. The mtime is set an hour
 * back, as for a checkpoint written earlier (a file modified seconds ago is not cached).
 */
async function stamp(path: string, n: number): Promise<string> {
  const handle = await open(path, "r+");
  try {
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(n) + 1n);
    await handle.write(head, 0, 8, 0);
  } finally {
    await handle.close();
  }
  const past = new Date(Date.now() - 3_600_000);
  await utimes(path, past, past);
  return (await hashFile(path)).sha256;
}

function s3Client(endpoint: string, credentials: Stack["credentials"]): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const curlVersion = await run("curl", ["--version"]).catch(() => undefined);
  if (curlVersion?.code !== 0) throw new Error("the baseline needs curl on PATH");
  // The CLI is measured as built from the current source.
  const built = await run(process.execPath, [join(import.meta.dirname, "../clients/node/build.mjs"), "--no-types"]);
  if (built.code !== 0) throw new Error(`building the CLI failed:\n${built.stderr}`);

  const work = await mkdtemp(join(tmpdir(), "mreg-bench-"));
  let stack: Stack | undefined;
  const loadAtStart = load();
  try {
    console.log(`generating ${formatBytes(SIZE)} in ${work} …`);
    const file = join(work, "checkpoint.bin");
    await generate(file, SIZE);
    console.log("starting the embedded registry …");
    stack = await startStack(join(work, "data"));
    const registry = stack;
    const s3 = s3Client(registry.s3, registry.credentials);
    const presignPut = (key: string) => getSignedUrl(s3, new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }), { expiresIn: 3600 });
    const removeObject = (key: string) => s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
    const cliEnv = {
      PATH: process.env.PATH ?? "",
      HOME: work,
      MREG_URL: registry.url,
      MREG_API_KEY: registry.adminKey,
      MREG_CACHE_DIR: join(work, "cache"),
      MREG_CONFIG: join(work, "no-config.json"),
    };
    const cliLog = async (path: string, name: string, extra: string[] = []): Promise<LogArtifactResult> => {
      const result = await run(process.execPath, [MREG_BIN, "log", "--json", "-p", "bench", "-n", name, ...extra, path], { env: cliEnv });
      if (result.code !== 0) throw new Error(`mreg log exited with ${result.code}:\n${result.stderr}`);
      return JSON.parse(result.stdout) as LogArtifactResult;
    };
    /** Times `step` after a sync, with the CPU the client and the registry spent on it. */
    const measure = async (client: "self" | "children", step: () => Promise<LogArtifactResult | void>): Promise<Sample> => {
      await settle();
      const load1 = load()[0];
      const before = { client: cpuTicks("self"), server: cpuTicks(registry.child.pid!) };
      const started = performance.now();
      const log = await step();
      const ms = Math.round(performance.now() - started);
      const after = { client: cpuTicks("self"), server: cpuTicks(registry.child.pid!) };
      const clientCpuMs =
        before.client && after.client
          ? Math.round(client === "self" ? after.client.own - before.client.own : after.client.children - before.client.children)
          : undefined;
      const serverCpuMs = before.server && after.server ? Math.round(after.server.own - before.server.own) : undefined;
      return { ms, clientCpuMs, serverCpuMs, load1, ...(log ? { log } : {}) };
    };

    let keys = 0;
    const steps: Record<StepName, () => Promise<Sample>> = {
      curl: async () => {
        const key = `staging/bench-curl-${keys++}`;
        const url = await presignPut(key);
        const sample = await measure("children", async () => {
          const result = await run("curl", ["-sS", "-f", "-o", "/dev/null", "-T", file, url]);
          if (result.code !== 0) throw new Error(`curl exited with ${result.code}: ${result.stderr}`);
        });
        await removeObject(key);
        return sample;
      },
      sdkPut: async () => {
        const key = `staging/bench-sdk-${keys++}`;
        const url = await presignPut(key);
        const sample = await measure("self", async () => {
          await putFileRange(url, {}, { path: file, start: 0, end: SIZE });
        });
        await removeObject(key);
        return sample;
      },
      cliLog: async () => {
        await stamp(file, keys++);
        return measure("children", () => cliLog(file, "checkpoint"));
      },
      cliLogHashFirst: async () => {
        await stamp(file, keys++);
        return measure("children", () => cliLog(file, "checkpoint", ["--hash-first"]));
      },
      cliLogOpen: async () => {
        await stamp(file, keys++);
        return measure("children", () => cliLog(file, "checkpoint", ["--no-hash-first"]));
      },
    };

    // Warm both sides: the page cache, the connections, the registry's JIT and code paths.
    console.log("warming up …");
    await steps.curl();
    await steps.sdkPut();
    const warmUp = join(work, "warm-up.bin");
    await generate(warmUp, Math.min(96 * MIB, SIZE));
    await stamp(warmUp, 0);
    await cliLog(warmUp, "warm-up");

    const order: StepName[] = ["curl", "sdkPut", "cliLog", "cliLogHashFirst", "cliLogOpen"];
    const samples: Record<StepName, Sample[]> = { curl: [], sdkPut: [], cliLog: [], cliLogHashFirst: [], cliLogOpen: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const names = order.map((_, i) => order[(i + round) % order.length]!);
      for (const name of names) samples[name].push(await steps[name]());
      const last = Object.fromEntries(order.map((name) => [name, samples[name].at(-1)!.ms]));
      console.log(`round ${round + 1}/${ROUNDS} (${names.join(", ")}): ${JSON.stringify(last)} load ${load().join(" ")}`);
    }

    // The file now holds the bytes the last log logged: each re-log finds them unchanged.
    const relogs: Sample[] = [];
    for (let i = 0; i < ROUNDS; i++) relogs.push(await measure("children", () => cliLog(file, "checkpoint")));
    for (const relog of relogs) {
      if (relog.log!.created || relog.log!.uploadedBytes !== 0 || relog.log!.hashedBytes !== 0) {
        throw new Error(`a re-log of unchanged bytes sent or read something: ${JSON.stringify(relog.log)}`);
      }
    }

    const rawMultipart = await measure("self", () => rawMultipartUpload(s3, file, "bench/raw-multipart"));
    const sha256 = (await hashFile(file)).sha256;
    const verify = await measure("self", async () => {
      if ((await readAndHash(s3, `blobs/${sha256}`)) !== sha256) throw new Error("the stored blob does not hash to the file's SHA-256");
    });
    if ((await stat(file)).size !== SIZE) throw new Error("the generated file changed size");

    const msOf = (name: StepName) => spread(samples[name].map((s) => s.ms));
    const cpuOf = (list: Sample[], side: "clientCpuMs" | "serverCpuMs") => {
      const values = list.map((s) => s[side]).filter((v): v is number => v !== undefined);
      return values.length === list.length ? spread(values) : undefined;
    };
    const curl = msOf("curl");
    const sdkPut = msOf("sdkPut");
    const cliLogMs = msOf("cliLog");
    const hashFirst = msOf("cliLogHashFirst");
    const open = msOf("cliLogOpen");
    const relog = spread(relogs.map((s) => s.ms));
    const pairs = (name: StepName, over: StepName = "curl") =>
      samples[name].map((s, i) => Number((s.ms / samples[over][i]!.ms).toFixed(3)));
    const ratios = {
      cliLogOverCurl: Number((cliLogMs.median / curl.median).toFixed(3)),
      sdkPutOverCurl: Number((sdkPut.median / curl.median).toFixed(3)),
      cliLogHashFirstOverCurl: Number((hashFirst.median / curl.median).toFixed(3)),
      cliLogOpenOverCurl: Number((open.median / curl.median).toFixed(3)),
      openOverHashFirst: Number((open.median / hashFirst.median).toFixed(3)),
      relogOverLog: Number((relog.median / cliLogMs.median).toFixed(3)),
      perRound: {
        cliLogOverCurl: pairs("cliLog"),
        sdkPutOverCurl: pairs("sdkPut"),
        cliLogHashFirstOverCurl: pairs("cliLogHashFirst"),
        cliLogOpenOverCurl: pairs("cliLogOpen"),
        openOverHashFirst: pairs("cliLogOpen", "cliLogHashFirst"),
      },
    };
    const typical = samples.cliLog.find((s) => s.ms === cliLogMs.median) ?? samples.cliLog[0]!;
    const typicalHashFirst = samples.cliLogHashFirst.find((s) => s.ms === hashFirst.median) ?? samples.cliLogHashFirst[0]!;
    const typicalOpen = samples.cliLogOpen.find((s) => s.ms === open.median) ?? samples.cliLogOpen[0]!;
    const results = {
      at: new Date().toISOString(),
      machine: { ...machine(), availableParallelism: availableParallelism() },
      loadAverage: { start: loadAtStart, end: load(), perStep: Object.fromEntries(order.map((n) => [n, samples[n].map((s) => s.load1)])) },
      sizeBytes: SIZE,
      rounds: ROUNDS,
      partSize: PART_SIZE,
      multipartThreshold: Number(process.env.MREG_MULTIPART_THRESHOLD || LOCAL_MULTIPART_THRESHOLD),
      curl: curlVersion.stdout.split("\n")[0],
      ms: {
        curl,
        sdkPut,
        cliLog: cliLogMs,
        cliLogHashFirst: hashFirst,
        cliLogOpen: open,
        relog,
        rawMultipart: rawMultipart.ms,
        serverVerifyReadBack: verify.ms,
      },
      clientCpuMs: {
        curl: cpuOf(samples.curl, "clientCpuMs"),
        sdkPut: cpuOf(samples.sdkPut, "clientCpuMs"),
        cliLog: cpuOf(samples.cliLog, "clientCpuMs"),
        cliLogHashFirst: cpuOf(samples.cliLogHashFirst, "clientCpuMs"),
        cliLogOpen: cpuOf(samples.cliLogOpen, "clientCpuMs"),
        relog: cpuOf(relogs, "clientCpuMs"),
      },
      serverCpuMs: {
        curl: cpuOf(samples.curl, "serverCpuMs"),
        sdkPut: cpuOf(samples.sdkPut, "serverCpuMs"),
        cliLog: cpuOf(samples.cliLog, "serverCpuMs"),
        cliLogHashFirst: cpuOf(samples.cliLogHashFirst, "serverCpuMs"),
        cliLogOpen: cpuOf(samples.cliLogOpen, "serverCpuMs"),
      },
      // How often the CLI's own choice (by the load) sent while hashing.
      cliLogSentWhileHashing: samples.cliLog.filter((s) => s.log!.sentWhileHashing > 0).length,
      cliLog: summary(typical.log!),
      cliLogHashFirst: summary(typicalHashFirst.log!),
      cliLogOpen: summary(typicalOpen.log!),
      relog: summary(relogs[0]!.log!),
      ratios,
      goals: GOALS,
      met: {
        cliLogOverCurl: ratios.cliLogOverCurl <= GOALS.cliLogOverCurl,
        sdkPutOverCurl: ratios.sdkPutOverCurl <= GOALS.sdkPutOverCurl,
        relogOverLog: ratios.relogOverLog <= GOALS.relogOverLog,
      },
    };

    const mibps = (ms: number) => `${(SIZE / MIB / (ms / 1000)).toFixed(0)} MiB/s`;
    const range = (s: Spread) => `${s.min}–${s.max} [${s.each.join(", ")}]`;
    const cpu = (s: Spread | undefined) => (s ? `cpu ${s.median} ms` : "");
    const pass = (ok: boolean) => (ok ? "ok" : "MISSED");
    const t = typical.log!.timings;
    console.log(
      `\n${formatBytes(SIZE)}, ${ROUNDS} rounds, ${machine().cpus} CPUs, ${process.version}; load average ${loadAtStart.join(" ")} at the start, ${results.loadAverage.end.join(" ")} at the end\n`,
    );
    printTable([
      ["step (median of rounds)", "ms", "spread; client CPU"],
      ["curl -T", String(curl.median), `${mibps(curl.median)}  ${range(curl)}  ${cpu(results.clientCpuMs.curl)}`],
      ["SDK PUT (putFileRange)", String(sdkPut.median), `${mibps(sdkPut.median)}  ${range(sdkPut)}  ${cpu(results.clientCpuMs.sdkPut)}`],
      [
        "CLI mreg log (process start included)",
        String(cliLogMs.median),
        `${mibps(cliLogMs.median)}  ${range(cliLogMs)}  ${cpu(results.clientCpuMs.cliLog)}`,
      ],
      [
        "  hash (worker thread)",
        String(t.hashMs),
        `${typical.log!.sentWhileHashing > 0 ? "while the bytes are sent (open upload)" : "before any byte is sent"}; sent while hashing in ${results.cliLogSentWhileHashing} of ${ROUNDS} rounds`,
      ],
      ["  plans", String(t.planMs), ""],
      ["  bytes sent, first to last", String(t.transferMs), mibps(t.transferMs)],
      ["  commit (verify, promote, version)", String(t.commitMs), ""],
      ["  in the SDK, start to end", String(t.totalMs), `process start and exit: ${cliLogMs.median - t.totalMs} ms`],
      [
        "CLI mreg log --hash-first",
        String(hashFirst.median),
        `${mibps(hashFirst.median)}  ${range(hashFirst)}  ${cpu(results.clientCpuMs.cliLogHashFirst)}`,
      ],
      [
        "CLI mreg log --no-hash-first",
        String(open.median),
        `${mibps(open.median)}  ${range(open)}  ${cpu(results.clientCpuMs.cliLogOpen)}`,
      ],
      ["CLI re-log, unchanged", String(relog.median), `${range(relog)}  0 B sent, 0 B read`],
      [`raw presigned multipart (${PART_SIZE / MIB} MiB × ${CONCURRENCY})`, String(rawMultipart.ms), mibps(rawMultipart.ms)],
      ["blob read back over HTTP + SHA-256", String(verify.ms), mibps(verify.ms)],
      [
        "CLI log / curl",
        ratios.cliLogOverCurl.toFixed(2),
        `goal ≤ ${GOALS.cliLogOverCurl}: ${pass(results.met.cliLogOverCurl)}; per round [${ratios.perRound.cliLogOverCurl.join(", ")}]`,
      ],
      [
        "SDK PUT / curl",
        ratios.sdkPutOverCurl.toFixed(2),
        `goal ≤ ${GOALS.sdkPutOverCurl}: ${pass(results.met.sdkPutOverCurl)}; per round [${ratios.perRound.sdkPutOverCurl.join(", ")}]`,
      ],
      [
        "CLI log --hash-first / curl",
        ratios.cliLogHashFirstOverCurl.toFixed(2),
        `per round [${ratios.perRound.cliLogHashFirstOverCurl.join(", ")}]`,
      ],
      [
        "CLI log --no-hash-first / curl",
        ratios.cliLogOpenOverCurl.toFixed(2),
        `per round [${ratios.perRound.cliLogOpenOverCurl.join(", ")}]`,
      ],
      [
        "--no-hash-first / --hash-first",
        ratios.openOverHashFirst.toFixed(2),
        `below 1: sending while hashing pays; per round [${ratios.perRound.openOverHashFirst.join(", ")}], faster in ${ratios.perRound.openOverHashFirst.filter((r) => r < 1).length} of ${ROUNDS}`,
      ],
      ["re-log / log", ratios.relogOverLog.toFixed(3), `goal ≤ ${GOALS.relogOverLog}: ${pass(results.met.relogOverLog)}`],
    ]);
    const out = join(import.meta.dirname, "results");
    await mkdir(out, { recursive: true });
    const path = join(out, `log-${SIZE / MIB}mib-${results.at.replace(/[:.]/g, "-")}.json`);
    await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${path}`);
  } finally {
    if (stack) await stopStack(stack);
    await rm(work, { recursive: true, force: true });
  }
}

function summary(log: LogArtifactResult) {
  const { created, uploadedBytes, hashedBytes, sentWhileHashing, discardedBytes, timings } = log;
  return { created, uploadedBytes, hashedBytes, sentWhileHashing, discardedBytes, timings };
}

/** Presigned parts in parallel, as the SDK sends them, completed directly: no registry, no verification. */
async function rawMultipartUpload(s3: S3Client, path: string, key: string): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: LOCAL_BUCKET, Key: key }));
  const count = Math.ceil(SIZE / PART_SIZE);
  const limit = pLimit(CONCURRENCY);
  const parts = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(async () => {
        const url = await getSignedUrl(s3, new UploadPartCommand({ Bucket: LOCAL_BUCKET, Key: key, UploadId, PartNumber: i + 1 }), {
          expiresIn: 3600,
        });
        const { etag } = await putFileRange(url, {}, { path, start: i * PART_SIZE, end: Math.min((i + 1) * PART_SIZE, SIZE) });
        return { PartNumber: i + 1, ETag: etag };
      }),
    ),
  );
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: LOCAL_BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** What the registry's verification does after a multipart upload: read the object back and hash it. */
async function readAndHash(s3: S3Client, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
  const hash = createHash("sha256");
  for await (const chunk of object.Body as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest("hex");
}

await main();
