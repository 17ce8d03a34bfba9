import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { putFileRange } from "../clients/node/src/http-transfer.js";
import { LOCAL_BUCKET } from "../local/stack.js";
import { load, median, startStack, stopStack } from "./bench-support.js";

/**
 * `npx tsx bench/ingest-ab.ts`: what the local stack's SHA-256-on-ingest costs a PUT. The same
 * file is PUT, alternately, to a key the emulator hashes as it writes (`staging/…`) and to one
 * it does not (`bench/…`), BENCH_ROUNDS (4) times each, on one embedded registry.
 */
const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const work = await mkdtemp(join(tmpdir(), "mreg-ingest-ab-"));
const stack = await startStack(join(work, "data"));
try {
  const s3 = new S3Client({ region: "us-east-1", endpoint: stack.s3, forcePathStyle: true, credentials: stack.credentials });
  const file = join(work, "f.bin");
  await writeFile(file, randomBytes(SIZE));
  const put = async (key: string) => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }), { expiresIn: 600 });
    const started = performance.now();
    await putFileRange(url, {}, { path: file, start: 0, end: SIZE });
    return Math.round(performance.now() - started);
  };
  await put("bench/warm");
  const times: Record<"hashed" | "plain", number[]> = { hashed: [], plain: [] };
  for (let i = 0; i < ROUNDS; i++) {
    times.plain.push(await put(`bench/${i}`));
    times.hashed.push(await put(`staging/${i}`));
  }
  console.log(
    JSON.stringify({
      sizeMiB: SIZE / MIB,
      loadAverage: load(),
      ...times,
      medianPlain: median(times.plain),
      medianHashed: median(times.hashed),
    }),
  );
} finally {
  await stopStack(stack);
  await rm(work, { recursive: true, force: true });
}
