import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat, utimes, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import pLimit from "p-limit";
import { hashFile } from "../clients/node/src/hash-files.js";
import { putFileRange } from "../clients/node/src/http-transfer.js";
import { MregClient } from "../clients/node/src/mreg-client.js";
import { formatBytes } from "../clients/node/src/progress-bars.js";
import { S3_EMULATOR_CREDENTIALS } from "../local/s3-emulator.js";
import { LOCAL_BUCKET, LOCAL_MULTIPART_THRESHOLD } from "../local/stack.js";

/**
 * `npm run bench`: log a generated file (1 GiB unless BENCH_MIB says otherwise) through the
 * SDK against the embedded registry and PUT the same bytes raw to the same store, in
 * BENCH_ROUNDS (3) rounds of (raw PUT, log, log --hash-first) in rotating order with new
 * bytes for each log; then re-log it unchanged, and report medians. The registry runs in a child process, like `npm start`.
 */
const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const PART_SIZE = 16 * MIB; // the registry's default MREG_PART_SIZE
const CONCURRENCY = 8; // the SDK's default
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Stack {
  url: string;
  adminKey: string;
  s3: string;
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
  return { ...(JSON.parse(line) as Omit<Stack, "child">), child };
}

async function stopStack(stack: Stack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  const exited = new Promise((resolve) => stack.child.once("exit", resolve));
  stack.child.kill("SIGTERM");
  await exited;
}

/** Incompressible bytes, written in 8 MiB chunks: the generator never holds the whole file. */
async function generate(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let written = 0; written < size; ) {
    const chunk = randomBytes(Math.min(8 * MIB, size - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    written += chunk.length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest("hex");
}

/**
 * Each timed step starts with the previous steps' bytes on disk: otherwise the kernel's
 * write-back of earlier gigabytes lands on whichever step comes next and decides the ratio.
 */
function settle(): void {
  spawnSync("sync", { stdio: "ignore" });
}

interface Timed<T> {
  ms: number;
  value: T;
}
type LogResult = Awaited<ReturnType<MregClient["logArtifact"]>>;

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/**
 * A new version of the checkpoint: its first 8 bytes carry the round. The mtime is set an
 * hour back, as for a checkpoint written earlier (a file modified seconds ago is not cached).
 */
async function stamp(path: string, round: number): Promise<string> {
  const handle = await open(path, "r+");
  try {
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(round) + 1n);
    await handle.write(head, 0, 8, 0);
  } finally {
    await handle.close();
  }
  const past = new Date(Date.now() - 3_600_000);
  await utimes(path, past, past);
  return (await hashFile(path)).sha256;
}

async function timed<T>(run: () => Promise<T>): Promise<Timed<T>> {
  settle();
  const started = performance.now();
  const value = await run();
  return { ms: Math.round(performance.now() - started), value };
}

function s3Client(endpoint: string): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: S3_EMULATOR_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** One presigned PUT of the whole file, through the same HTTP code the SDK uses. */
async function rawPut(s3: S3Client, path: string, key: string): Promise<void> {
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }), { expiresIn: 3600 });
  await putFileRange(url, {}, { path, start: 0, end: SIZE });
}

/** Presigned parts in parallel, as the SDK sends them, completed directly: no registry, no verification. */
async function rawMultipart(s3: S3Client, path: string, key: string): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: LOCAL_BUCKET, Key: key }));
  const count = Math.ceil(SIZE / PART_SIZE);
  const limit = pLimit(CONCURRENCY);
  const parts = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(async () => {
        const url = await getSignedUrl(
          s3,
          new UploadPartCommand({ Bucket: LOCAL_BUCKET, Key: key, UploadId, PartNumber: i + 1 }),
          { expiresIn: 3600 },
        );
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

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const work = await mkdtemp(join(tmpdir(), "mreg-bench-"));
  let stack: Stack | undefined;
  try {
    console.log(`generating ${formatBytes(SIZE)} in ${work} …`);
    const file = join(work, "checkpoint.bin");
    await generate(file, SIZE);
    console.log("starting the embedded registry …");
    stack = await startStack(join(work, "data"));
    const s3 = s3Client(stack.s3);
    const client = new MregClient({ url: stack.url, apiKey: stack.adminKey, cacheDir: join(work, "cache"), concurrency: CONCURRENCY });

    // Warm the page cache and the connections. Then ROUNDS rounds of a raw PUT, a log and a
    // log with --hash-first (the order rotating), each log of new bytes: the disk slows as it
    // fills, so a fixed order would hand one side the faster disk. Medians are compared.
    await rawPut(s3, file, "bench/warm-up");
    // The registry's side warms up too (DynamoDB Local's JIT, the hash workers, the code
    // paths of a log): one log of a small file that takes the same path.
    const warmUp = join(work, "warm-up.bin");
    await generate(warmUp, 96 * MIB);
    await stamp(warmUp, 0);
    await client.logArtifact({ project: "bench", name: "warm-up", paths: [warmUp] });
    const raws: number[] = [];
    const logs: Timed<LogResult>[] = [];
    const hashFirstLogs: Timed<LogResult>[] = [];
    let sha256 = "";
    for (let round = 0; round < ROUNDS; round++) {
      const steps = [
        async () => raws.push((await timed(() => rawPut(s3, file, `bench/raw-put-${round}`))).ms),
        async () => {
          sha256 = await stamp(file, 2 * round);
          logs.push(await timed(() => client.logArtifact({ project: "bench", name: "checkpoint", paths: [file] })));
        },
        async () => {
          sha256 = await stamp(file, 2 * round + 1);
          hashFirstLogs.push(await timed(() => client.logArtifact({ project: "bench", name: "checkpoint", paths: [file], hashFirst: true })));
        },
      ];
      for (let i = 0; i < steps.length; i++) await steps[(i + round) % steps.length]!();
    }
    // The file now holds the bytes the last log of the last round logged: the re-log below finds them unchanged.
    const again = await timed(() => client.logArtifact({ project: "bench", name: "checkpoint", paths: [file] }));
    const rawParts = await timed(() => rawMultipart(s3, file, "bench/raw-multipart"));
    const verify = await timed(() => readAndHash(s3, `blobs/${sha256}`));
    if (verify.value !== sha256) throw new Error("the stored blob does not hash to the file's SHA-256");
    const rawMs = median(raws);
    const medianOf = (runs: Timed<LogResult>[]) => [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
    const first = medianOf(logs);
    const hashFirst = medianOf(hashFirstLogs);

    const log = first.value;
    const relog = again.value;
    const results = {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
      sizeBytes: SIZE,
      partSize: PART_SIZE,
      multipartThreshold: Number(process.env.MREG_MULTIPART_THRESHOLD || LOCAL_MULTIPART_THRESHOLD),
      loadAverage: loadavg(),
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      rawPutMs: { each: raws, median: rawMs },
      logMs: { each: logs.map((l) => l.ms), median: first.ms },
      logHashFirstMs: { each: hashFirstLogs.map((l) => l.ms), median: hashFirst.ms, timings: hashFirst.value.timings },
      rawMultipartMs: rawParts.ms,
      serverVerifyHashMs: verify.ms,
      log: {
        ms: first.ms,
        uploadedBytes: log.uploadedBytes,
        sentWhileHashing: log.sentWhileHashing,
        discardedBytes: log.discardedBytes,
        created: log.created,
        timings: log.timings,
      },
      relog: { ms: again.ms, uploadedBytes: relog.uploadedBytes, hashedBytes: relog.hashedBytes, created: relog.created, timings: relog.timings },
      ratios: {
        logOverRawPut: first.ms / rawMs,
        relogOverLog: again.ms / first.ms,
        // Each log over the raw PUT of the same round (run back to back).
        pairs: logs.map((l, i) => Number((l.ms / raws[i]!).toFixed(3))),
        hashFirstOverRawPut: hashFirst.ms / rawMs,
      },
      goals: { logOverRawPut: 1.1, relogOverLog: 0.05 },
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    const pass = (value: number, goal: number) => (value <= goal ? "ok" : "MISSED");
    const mbps = (ms: number) => `${(SIZE / MIB / (ms / 1000)).toFixed(0)} MiB/s`;
    const rows: [string, string, string][] = [
      [`raw presigned PUT (1 request), median of ${ROUNDS}`, `${rawMs} ms`, `${mbps(rawMs)}  [${raws.join(", ")}]`],
      [`raw presigned multipart (${PART_SIZE / MIB} MiB × ${CONCURRENCY})`, `${rawParts.ms} ms`, mbps(rawParts.ms)],
      [`mreg log (new bytes), median of ${ROUNDS}`, `${first.ms} ms`, `${mbps(first.ms)}  [${logs.map((l) => l.ms).join(", ")}]`],
      ["  hash (client, SHA-256)", `${log.timings.hashMs} ms`, log.sentWhileHashing > 0 ? "while the bytes are sent (open upload)" : "before any byte is sent"],
      ["  plan", `${log.timings.planMs} ms`, ""],
      ["  bytes sent (first to last byte)", `${log.timings.transferMs} ms`, mbps(log.timings.transferMs)],
      ["  complete (multipart: assemble + verify)", `${log.timings.completeMs} ms`, ""],
      ["  commit (verify + promote a PUT blob, version)", `${log.timings.commitMs} ms`, ""],
      [`mreg log --hash-first (new bytes), median of ${ROUNDS}`, `${hashFirst.ms} ms`, `${mbps(hashFirst.ms)}  [${hashFirstLogs.map((l) => l.ms).join(", ")}]; hash ${hashFirst.value.timings.hashMs} ms, then the PUT`],
      ["blob read back over HTTP + SHA-256 (fallback)", `${verify.ms} ms`, mbps(verify.ms)],
      ["mreg log (unchanged, re-log)", `${again.ms} ms`, `${relog.uploadedBytes} B sent, ${relog.hashedBytes} B read`],
      ["log / raw PUT (medians)", results.ratios.logOverRawPut.toFixed(2), `goal ≤ 1.10: ${pass(results.ratios.logOverRawPut, 1.1)}; per round [${results.ratios.pairs.map((r) => r.toFixed(2)).join(", ")}]`],
      ["log --hash-first / raw PUT (medians)", results.ratios.hashFirstOverRawPut.toFixed(2), "the order before open uploads"],
      ["re-log / log", results.ratios.relogOverLog.toFixed(3), `goal ≤ 0.05 and 0 B: ${pass(results.ratios.relogOverLog, 0.05)}`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`\n${formatBytes(SIZE)}, ${cpus().length} CPUs, ${process.version}; peak RSS of the benchmark process ${results.maxRssMiB} MiB\n`);
    for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(9)}  ${note}`);
    const out = join(import.meta.dirname, "results");
    await mkdir(out, { recursive: true });
    const path = join(out, `log-${SIZE / MIB}mib-${results.at.replace(/[:.]/g, "-")}.json`);
    await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${path}`);
    if ((await stat(file)).size !== SIZE) throw new Error("the generated file changed size");
  } finally {
    if (stack) await stopStack(stack);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
