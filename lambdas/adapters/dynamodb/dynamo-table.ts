import { monotonicFactory } from "ulid";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type BatchGetCommandInput,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { CursorSealer, type Cursors } from "../../core/cursors.js";
import { ConflictError, TooManyRequestsError, ValidationError } from "../../core/errors.js";
import type { AuditEvent, Page, PageRequest } from "../../core/model.js";
import { keys } from "./keys.js";
import type { IndexName } from "./table-definition.js";

export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
export type Item = Record<string, unknown>;
export type Key = { PK: string; SK: string };

export const MAX_TRANSACTION_ATTEMPTS = 40;
/** A filtered page stops after this many queries even if short: its cursor goes on from there. */
const MAX_FILTERED_ROUNDS = 10;
/** DynamoDB refuses a BatchGetItem of more keys than this. */
const BATCH_GET_KEYS = 100;
const MAX_BATCH_GET_ATTEMPTS = 8;

/** Cancellation reasons that another attempt, on the state read again, can get past. */
const TRANSIENT_CANCELLATIONS = new Set([
  "None",
  "ConditionalCheckFailed",
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
]);

/** Strictly increasing within a process, so events written together keep their order. */
const eventId = monotonicFactory();

/**
 * One item of a transaction with the name its cancellation reason is known by: a failed
 * condition maps to a domain error by that name, never by its position or expression.
 */
export interface Tagged {
  tag: string;
  item: TransactItem;
}

export const tagged = (tag: string, item: TransactItem): Tagged => ({ tag, item });

/** Domain errors for the tags whose condition failure means something to the caller. */
export type CancellationErrors = Record<string, (cause: unknown) => Error>;

/**
 * A transaction cancelled by a concurrent change (a failed condition no caller maps, or a
 * conflict): reading again and deciding again is the answer. `tags` names the conditions.
 */
export class TransactionLost extends Error {
  constructor(
    readonly tags: string[],
    options?: { cause?: unknown },
  ) {
    super(`transaction lost to a concurrent change${tags.length > 0 ? ` (${tags.join(", ")})` : ""}`, options);
    this.name = "TransactionLost";
  }
}

/** What every store shares: reads, pages, tagged and retried transactions, audit events. */
export class DynamoTable {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
    /** One sealer for every store of a deployment (lambdas/composition.ts); its own, per process, otherwise. */
    protected readonly cursors: Cursors = CursorSealer.ephemeral(),
  ) {}

  protected async get(key: Key, consistent: boolean): Promise<Item | undefined> {
    const result = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: consistent }));
    return result.Item;
  }

  /**
   * The items among `wanted` that exist, in no particular order: duplicate keys asked once
   * (BatchGetItem refuses them), at most 100 keys a request, and keys left unprocessed
   * (throttled) asked for again rather than reported missing.
   */
  protected async batchGetItems(wanted: Key[], options: { consistent?: boolean } = {}): Promise<Item[]> {
    const unique = [...new Map(wanted.map((key) => [`${key.PK}\u0000${key.SK}`, key])).values()];
    const items: Item[] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
      let request: BatchGetCommandInput["RequestItems"] = {
        [this.tableName]: {
          Keys: unique.slice(i, i + BATCH_GET_KEYS),
          ...(options.consistent ? { ConsistentRead: true } : {}),
        },
      };
      for (let attempt = 1; request && Object.keys(request).length > 0; attempt++) {
        if (attempt > MAX_BATCH_GET_ATTEMPTS) throw new TooManyRequestsError("the table is throttling reads; retry");
        if (attempt > 1) await sleep(Math.min(1000, 20 * 2 ** attempt));
        const result: BatchGetCommandOutput = await this.client.send(new BatchGetCommand({ RequestItems: request }));
        items.push(...(result.Responses?.[this.tableName] ?? []));
        request = result.UnprocessedKeys;
      }
    }
    return items;
  }

  /**
   * Writes `items` in one transaction. A cancellation becomes the error `errors` maps the
   * first failed tag to, or else TransactionLost (retried by withTransactionRetries).
   */
  protected async transact(items: Tagged[], errors: CancellationErrors = {}): Promise<void> {
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items.map((i) => i.item) }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = items.filter((_, i) => reasons[i]?.Code === "ConditionalCheckFailed").map((i) => i.tag);
      const known = failed.find((tag) => errors[tag] !== undefined);
      if (known !== undefined) throw errors[known]!(error);
      // Reading again helps against a concurrent change or throttling; a write the table refuses
      // as such (ValidationError, ItemCollectionSizeLimitExceeded) would fail every attempt alike.
      if (reasons.some((reason) => reason.Code !== undefined && !TRANSIENT_CANCELLATIONS.has(reason.Code))) throw error;
      throw new TransactionLost(failed, { cause: error });
    }
  }

  /**
   * One page of a query. With a FilterExpression, DynamoDB applies `Limit` before filtering,
   * so a page could come back short or empty while more matches follow: the query goes on
   * (asking only for what is still missing, a bounded number of times) to fill the page.
   */
  protected async queryPage<T>(
    input: Omit<QueryCommandInput, "TableName" | "Limit" | "ExclusiveStartKey">,
    partition: string,
    page: PageRequest,
    map: (item: Item) => T,
    sortKeyPrefix?: string,
  ): Promise<Page<T>> {
    const items: Item[] = [];
    const list = { partition, sortKeyPrefix };
    let start: Record<string, unknown> | undefined =
      page.cursor === undefined ? undefined : await openKeyCursor(this.cursors, page.cursor, list);
    for (let round = 0; ; round++) {
      const result = await this.client.send(
        new QueryCommand({ ...input, TableName: this.tableName, Limit: page.limit - items.length, ExclusiveStartKey: start }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
      const filled = items.length >= page.limit || start === undefined;
      if (filled || input.FilterExpression === undefined || round + 1 >= MAX_FILTERED_ROUNDS) break;
    }
    return { items: items.map(map), nextCursor: start ? await sealKeyCursor(this.cursors, start, list) : undefined };
  }

  /** One page of a partition (optionally under a sort-key prefix), oldest or newest first. */
  protected async partitionPage<T>(
    partition: string,
    prefix: string | undefined,
    page: PageRequest,
    map: (item: Item) => T,
    order: "ascending" | "descending" = "ascending",
  ): Promise<Page<T>> {
    return this.queryPage(
      {
        KeyConditionExpression: prefix === undefined ? "PK = :pk" : "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: prefix === undefined ? { ":pk": partition } : { ":pk": partition, ":prefix": prefix },
        ScanIndexForward: order === "ascending",
      },
      partition,
      page,
      map,
      prefix,
    );
  }

  /** One page of a global secondary index's partition, in its sort-key order. */
  protected async queryIndexPage<T>(index: IndexName, partition: string, page: PageRequest, map: (item: Item) => T): Promise<Page<T>> {
    const partitionAttribute = `${index}PK`;
    const list = { index, partition, partitionAttribute };
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": partitionAttribute },
        ExpressionAttributeValues: { ":pk": partition },
        Limit: page.limit,
        ExclusiveStartKey: page.cursor === undefined ? undefined : await openKeyCursor(this.cursors, page.cursor, list),
      }),
    );
    return {
      items: (result.Items ?? []).map(map),
      nextCursor: result.LastEvaluatedKey ? await sealKeyCursor(this.cursors, result.LastEvaluatedKey, list) : undefined,
    };
  }

  /** Every item of a partition under a sort-key prefix, following pages; `attributes` narrows each item. */
  protected async queryAll(partition: string, prefix: string, consistent = false, attributes?: string[]): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    const projection = attributes && {
      ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(", "),
      ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name])),
    };
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": partition, ":prefix": prefix },
          ExclusiveStartKey: start,
          ConsistentRead: consistent,
          ...projection,
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Reads, decides and writes again while a transaction loses to a concurrent one: the
   * conditions on the write are what guarantee the invariants, this loop only retries.
   */
  protected async withTransactionRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = error instanceof TransactionLost;
        if (!retryable) throw error;
        if (n >= MAX_TRANSACTION_ATTEMPTS) {
          throw new ConflictError("too many concurrent changes; retry", { cause: error });
        }
        await contentionBackoff(n);
      }
    }
  }

  /**
   * An audit event, stamped when the write is attempted: under contention a change commits
   * later than its caller started it, and history must list changes in commit order.
   */
  protected eventItem(partition: string, event: AuditEvent): Tagged {
    const at = new Date().toISOString();
    return tagged("event", {
      Put: {
        TableName: this.tableName,
        Item: { ...keys.event(partition, at, eventId()), entity: "event", event: { ...event, at } },
      },
    });
  }
}

/** The list a key cursor pages: a partition of the table or of an index, under a sort-key prefix where lists share one. */
export interface KeyList {
  index?: IndexName;
  partition: string;
  /** The index's partition attribute; `PK` for the table. */
  partitionAttribute?: string;
  sortKeyPrefix?: string;
}

const listName = (list: KeyList) => ["key", list.index ?? "table", list.partition, list.sortKeyPrefix ?? ""].join("\u0000");

/** A LastEvaluatedKey as a cursor: sealed and bound to its list (lambdas/core/cursors.ts). */
export async function sealKeyCursor(cursors: Cursors, key: Record<string, unknown>, list: KeyList): Promise<string> {
  return cursors.seal(listName(list), JSON.stringify(key));
}

/**
 * The ExclusiveStartKey a cursor holds, for its own list only. The seal already refuses any
 * other; the shape is checked again so that nothing but a key of this list reaches DynamoDB.
 */
export async function openKeyCursor(cursors: Cursors, cursor: string, list: KeyList): Promise<Record<string, unknown>> {
  const payload = await cursors.open(listName(list), cursor);
  let key: unknown;
  try {
    key = JSON.parse(payload);
  } catch (error) {
    throw new ValidationError("cursor is not valid", { cause: error });
  }
  const partitionAttribute = list.partitionAttribute ?? "PK";
  const valid =
    typeof key === "object" &&
    key !== null &&
    !Array.isArray(key) &&
    Object.values(key).every((v) => typeof v === "string") &&
    (key as Item)[partitionAttribute] === list.partition &&
    typeof (key as Item).SK === "string" &&
    (list.sortKeyPrefix === undefined || ((key as Item).SK as string).startsWith(list.sortKeyPrefix));
  if (!valid) throw new ValidationError("cursor is not valid for this list");
  return key as Record<string, unknown>;
}

/** Full jitter, growing with the attempts lost so far, at most half a second. */
export function contentionBackoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(500, 10 * 2 ** Math.min(attempt, 6)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
