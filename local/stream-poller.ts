import { readFile, rename, writeFile } from "node:fs/promises";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
  type ShardIteratorType,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { matchesFilter, type FilterPattern } from "../lambdas/adapters/dynamodb/audit-event-filter.js";
import { STREAM_CONSUMPTION } from "../lambdas/settings.js";

export interface StreamPollerOptions {
  endpoint: string;
  region: string;
  tableName: string;
  /** Pause between two polls of every shard. */
  intervalMs: number;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
  /** Like the event source mapping's filter: only matching records reach the handler. */
  filter?: FilterPattern;
  /** The credentials DynamoDB Local is called with. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /**
   * Where the position reached in each shard is kept, so that a restart (after a crash too)
   * goes on from there instead of from the stream's end: changes made just before a server
   * died are still consumed. Without it, shards open at start are read from their end.
   */
  checkpointFile?: string;
  log?: (line: string) => void;
}

export interface StreamPoller {
  stop(): Promise<void>;
}

/** As the Lambda event source mapping does: a batch is retried this often before its records are skipped. */
const MAX_BATCH_ATTEMPTS = 1 + STREAM_CONSUMPTION.retryAttempts;
/** New shards (DynamoDB rolls them over) are looked for every this many polls. */
const DESCRIBE_EVERY = 20;

interface Shard {
  id: string;
  iterator?: string;
  lastSequenceNumber?: string;
}

/** Per shard: the last sequence number consumed, or null for none yet (read it from its start). */
type Checkpoint = Record<string, string | null>;

/**
 * Reads DynamoDB Local's stream of the table and hands each batch of records to the same
 * handler Lambda's event source mapping invokes in AWS. With a checkpoint, every shard is read
 * on from where the last run left it (at least once: a record consumed just before a crash may
 * be handed over again, which the consumer's idempotent deliveries absorb) and new shards from
 * their start. At a first start (no checkpoint yet), shards open at start are read from their
 * end (this process made every earlier write and the server is not serving yet); shards that
 * appear later are read from their beginning.
 */
export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const log = options.log ?? (() => undefined);
  const clientConfig = { region: options.region, endpoint: options.endpoint, credentials: options.credentials };
  const dynamo = new DynamoDBClient(clientConfig);
  const streams = new DynamoDBStreamsClient(clientConfig);
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: options.tableName }));
  dynamo.destroy();
  const streamArn = Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${options.tableName} has no stream`);
  const saved = options.checkpointFile === undefined ? undefined : await readCheckpoint(options.checkpointFile);

  const shards = new Map<string, Shard>();
  /** Closed shards read to their end, kept in the checkpoint while the stream still lists them. */
  const finished = new Map<string, string | null>();
  const iteratorFor = async (shard: Shard, type: ShardIteratorType, after?: string) => {
    const result = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.id,
        ShardIteratorType: type,
        ...(type === "AFTER_SEQUENCE_NUMBER" ? { SequenceNumber: after ?? shard.lastSequenceNumber } : {}),
      }),
    );
    shard.iterator = result.ShardIterator;
  };
  /** Reads a shard to its current end without handing anything over: where "from now on" starts. */
  const skipToEnd = async (shard: Shard) => {
    await iteratorFor(shard, "TRIM_HORIZON");
    while (shard.iterator) {
      const result = await streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }));
      const last = result.Records?.at(-1)?.dynamodb?.SequenceNumber;
      if (last !== undefined) shard.lastSequenceNumber = last;
      shard.iterator = result.NextShardIterator;
      if (!result.Records?.length) break;
    }
  };
  const seen = new Set<string>();
  const discover = async (initial: boolean) => {
    let start: string | undefined;
    do {
      const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
      for (const found of StreamDescription?.Shards ?? []) {
        if (!found.ShardId || seen.has(found.ShardId)) continue;
        seen.add(found.ShardId);
        const closed = found.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        const shard: Shard = { id: found.ShardId };
        const position = saved?.[found.ShardId];
        if (!initial || (saved !== undefined && position === undefined) || position === null) {
          // Appeared since the last look, or nothing of it consumed yet: all of it is new.
          await iteratorFor(shard, "TRIM_HORIZON");
        } else if (position !== undefined) {
          shard.lastSequenceNumber = position;
          await iteratorFor(shard, "AFTER_SEQUENCE_NUMBER", position).catch(async (error: unknown) => {
            // Trimmed past the position (down longer than the stream keeps records): from what is left.
            if (!(error instanceof TrimmedDataAccessException)) throw error;
            log(`stream: shard ${shard.id} was trimmed past the last position read; reading what is left`);
            await iteratorFor(shard, "TRIM_HORIZON");
          });
        } else if (closed) {
          // At a first start, closed shards hold only what was consumed before.
          finished.set(shard.id, found.SequenceNumberRange?.EndingSequenceNumber ?? null);
          continue;
        } else if (options.checkpointFile !== undefined) {
          await skipToEnd(shard);
        } else {
          await iteratorFor(shard, "LATEST");
        }
        shards.set(shard.id, shard);
      }
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
  };
  await discover(true);

  let written = "";
  const saveCheckpoint = async () => {
    if (options.checkpointFile === undefined) return;
    const checkpoint: Checkpoint = {
      ...Object.fromEntries(finished),
      ...Object.fromEntries([...shards.values()].map((shard) => [shard.id, shard.lastSequenceNumber ?? null])),
    };
    const text = JSON.stringify(checkpoint);
    if (text === written) return;
    const temp = `${options.checkpointFile}.${process.pid}.tmp`;
    await writeFile(temp, text);
    await rename(temp, options.checkpointFile);
    written = text;
  };
  await saveCheckpoint();

  const deliver = async (records: DynamoDBRecord[]) => {
    let remaining = records;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      let failed: string | undefined;
      try {
        failed = (await options.handler({ Records: remaining }))?.batchItemFailures[0]?.itemIdentifier;
      } catch (error) {
        failed = remaining[0]?.dynamodb?.SequenceNumber;
        log(`stream handler failed: ${(error as Error).message}`);
      }
      if (failed === undefined) return;
      const from = remaining.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
      remaining = remaining.slice(Math.max(0, from));
      if (attempt >= MAX_BATCH_ATTEMPTS) {
        log(`stream: skipping ${remaining.length} record(s) after ${attempt} failed attempts`);
        return;
      }
      await sleep(options.intervalMs);
    }
  };

  const pollShard = async (shard: Shard) => {
    if (!shard.iterator) return;
    try {
      const result = await streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: STREAM_CONSUMPTION.batchSize }));
      const records = (result.Records ?? []).map(toLambdaRecord);
      if (records.length > 0) {
        const filter = options.filter;
        const selected = filter ? records.filter((record) => matchesFilter(filter, record)) : records;
        if (selected.length > 0) await deliver(selected);
        shard.lastSequenceNumber = records.at(-1)!.dynamodb!.SequenceNumber;
      }
      shard.iterator = result.NextShardIterator;
      // A closed shard has been read to its end.
      if (!shard.iterator) {
        shards.delete(shard.id);
        finished.set(shard.id, shard.lastSequenceNumber ?? null);
      }
    } catch (error) {
      if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
        await iteratorFor(shard, shard.lastSequenceNumber ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON");
      } else {
        throw error;
      }
    }
  };

  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    for (let round = 1; !stopped; round++) {
      try {
        if (round % DESCRIBE_EVERY === 0) await discover(false);
        for (const shard of [...shards.values()]) {
          if (stopped) break;
          await pollShard(shard);
        }
        await saveCheckpoint();
      } catch (error) {
        if (!stopped) log(`stream poll failed: ${(error as Error).message}`);
      }
      if (!stopped) await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, options.intervalMs))));
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
      await saveCheckpoint().catch((error: unknown) => log(`stream checkpoint not saved: ${(error as Error).message}`));
      streams.destroy();
    },
  };
}

/** The positions saved by the last run; undefined when there are none (or they cannot be read). */
async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed as Record<string, unknown>).filter(
      (entry): entry is [string, string | null] => entry[1] === null || typeof entry[1] === "string",
    );
    return Object.fromEntries(entries);
  } catch {
    return undefined;
  }
}

/** The SDK's stream record in the shape Lambda hands to a stream consumer. */
export function toLambdaRecord(record: StreamRecord): DynamoDBRecord {
  const data = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord["eventName"],
    eventVersion: record.eventVersion,
    eventSource: record.eventSource ?? "aws:dynamodb",
    awsRegion: record.awsRegion,
    dynamodb: {
      ...(data.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: Math.floor(data.ApproximateCreationDateTime.getTime() / 1000) }
        : {}),
      Keys: data.Keys as never,
      NewImage: data.NewImage as never,
      OldImage: data.OldImage as never,
      SequenceNumber: data.SequenceNumber,
      SizeBytes: data.SizeBytes,
      StreamViewType: data.StreamViewType as NonNullable<DynamoDBRecord["dynamodb"]>["StreamViewType"],
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
