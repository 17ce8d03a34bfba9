import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { writeCollectionSearchIndex } from "../lambdas/adapters/dynamodb/collection-search.js";
import { ensureTable } from "../lambdas/adapters/dynamodb/ensure-table.js";
import { keys } from "../lambdas/adapters/dynamodb/keys.js";
import { DynamoRegistryStore } from "../lambdas/adapters/dynamodb/registry-store.js";
import { startDynamoDbLocal } from "../local/dynamodb-local.js";

/**
 * Name search (`GET /v1/registries/{r}/collections?q=`) at 10, 1 000 and 100 000 collections:
 * the time and the DynamoDB calls of finding one rare name, through the registry store's own
 * code (the search index of lambdas/adapters/dynamodb/collection-search.ts), and for contrast
 * the filtered partition query it replaced. DynamoDB Local, in memory.
 *
 *   npx tsx bench/collection-search.ts            # BENCH_SIZES=10,1000,100000 BENCH_SEARCHES=41
 */
const SIZES = (process.env.BENCH_SIZES ?? "10,1000,100000").split(",").map(Number);
const SEARCHES = Number(process.env.BENCH_SEARCHES ?? 41);
const RARE = "zebrafish-segmenter";
const TABLE = "mreg";
const WORDS = [
  "resnet",
  "bert",
  "vgg",
  "mnist",
  "llama",
  "whisper",
  "clip",
  "vit",
  "gpt",
  "unet",
  "yolo",
  "detr",
  "t5",
  "xlnet",
  "albert",
  "mobilenet",
];
const TASKS = ["cls", "seg", "det", "asr", "chat", "qa", "ner", "ocr"];

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const dynamo = await startDynamoDbLocal();
let calls = 0;
try {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  raw.middlewareStack.add(
    (next) => async (args) => {
      calls++;
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  await ensureTable(raw, TABLE);
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const store = new DynamoRegistryStore(client, TABLE);

  /** A collection item as the store writes it, plus its search index items: seeded with batch writes. */
  async function seed(registry: string, count: number): Promise<void> {
    const names = [
      RARE,
      ...Array.from({ length: count - 1 }, (_, i) => `${WORDS[i % WORDS.length]}-${TASKS[(i >> 4) % TASKS.length]}-${i.toString(36)}`),
    ];
    const at = new Date().toISOString();
    const collectionItems = names.map((name) => ({
      PutRequest: {
        Item: {
          ...keys.collection(registry, name),
          entity: "collection",
          registry,
          name,
          nameLower: name.toLowerCase(),
          type: "model",
          nextIndex: 0,
          linkCount: 0,
          createdAt: at,
          createdBy: "bench",
        },
      },
    }));
    const chunks = Array.from({ length: Math.ceil(collectionItems.length / 25) }, (_, i) => collectionItems.slice(i * 25, i * 25 + 25));
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < Math.max(chunks.length, names.length); i = next++) {
        if (i < chunks.length) await client.send(new BatchWriteCommand({ RequestItems: { [TABLE]: chunks[i]! } }));
        if (i < names.length) await writeCollectionSearchIndex(client, TABLE, registry, names[i]!);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * q)]!;

  /** One timed search and the DynamoDB calls it made; exactly one collection must match. */
  async function timed(run: () => Promise<number>): Promise<{ ms: number; calls: number }> {
    const before = calls;
    const started = performance.now();
    const found = await run();
    const ms = performance.now() - started;
    if (found !== 1) throw new Error(`expected exactly one match, found ${found}`);
    return { ms, calls: calls - before };
  }

  const searchIndex = (registry: string) => async () => (await store.listCollections(registry, { limit: 50, q: "zebrafish" })).items.length;
  // What ?q= was before the index: a filter on the registry's partition, paged until the page fills or the partition ends.
  const searchFiltered = (registry: string) => async () => {
    let found = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const result = await client.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          FilterExpression: "contains(nameLower, :q)",
          ExpressionAttributeValues: { ":pk": keys.registryPartition(registry), ":prefix": keys.collectionPrefix, ":q": "zebrafish" },
          Limit: 50,
          ExclusiveStartKey: start,
        }),
      );
      found += result.Items?.length ?? 0;
      start = result.LastEvaluatedKey;
    } while (start && found < 50);
    return found;
  };

  const seedMs = new Map<number, number>();
  for (const size of SIZES) {
    const started = performance.now();
    await seed(`bench-${size}`, size);
    seedMs.set(size, performance.now() - started);
    console.log(`seeded ${size} collections in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  for (const size of SIZES) for (let i = 0; i < 5; i++) await searchIndex(`bench-${size}`)();

  // Rounds visit the sizes in rotating order, so drift on a shared machine falls on all of them alike.
  const samples = new Map(
    SIZES.map((size) => [size, { index: [] as number[], filtered: [] as number[], indexCalls: 0, filteredCalls: 0 }]),
  );
  for (let round = 0; round < SEARCHES; round++) {
    for (let k = 0; k < SIZES.length; k++) {
      const size = SIZES[(round + k) % SIZES.length]!;
      const sample = samples.get(size)!;
      const index = await timed(searchIndex(`bench-${size}`));
      sample.index.push(index.ms);
      sample.indexCalls = index.calls;
      // The filtered query reads the whole partition: a few rounds say enough at 100 000.
      if (size <= 10_000 || round < 5) {
        const filtered = await timed(searchFiltered(`bench-${size}`));
        sample.filtered.push(filtered.ms);
        sample.filteredCalls = filtered.calls;
      }
    }
  }
  const summary = (values: number[]) => ({
    medianMs: median(values),
    p10Ms: quantile(values, 0.1),
    p90Ms: quantile(values, 0.9),
    samples: values.length,
  });
  const rows = SIZES.map((size) => {
    const sample = samples.get(size)!;
    const row = {
      collections: size,
      seedMs: Math.round(seedMs.get(size)!),
      index: { ...summary(sample.index), calls: sample.indexCalls },
      filtered: { ...summary(sample.filtered), calls: sample.filteredCalls },
    };
    console.log(
      `${String(size).padStart(7)} collections: index ${row.index.medianMs.toFixed(2)} ms (p10 ${row.index.p10Ms.toFixed(2)}, p90 ${row.index.p90Ms.toFixed(2)}, ${row.index.calls} calls)` +
        ` · filtered partition query ${row.filtered.medianMs.toFixed(1)} ms (${row.filtered.calls} calls)`,
    );
    return row;
  });
  const smallest = rows[0]!.index as { medianMs: number };
  const largest = rows[rows.length - 1]!.index as { medianMs: number };
  const ratio = largest.medianMs / smallest.medianMs;
  console.log(`index: ${SIZES[SIZES.length - 1]} / ${SIZES[0]} collections = ${ratio.toFixed(2)}× (goal ≤ 1.5×)`);
  const dir = join(import.meta.dirname, "results");
  await mkdir(dir, { recursive: true });
  const file = join(dir, `collection-search-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ rare: RARE, searches: SEARCHES, rows, ratio }, null, 2));
  console.log(`results: ${file}`);
} finally {
  await dynamo.stop();
}
