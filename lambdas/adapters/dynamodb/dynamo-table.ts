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
import { ConflictError, NotFoundError, TooManyRequestsError, ValidationError } from "../../core/errors.js";
import { LATEST_ALIAS, versionLabel, type AuditEvent, type Page, type PageRequest } from "../../core/model.js";
import type { AliasChange, AliasMove } from "../../core/ports.js";
import { keys } from "./keys.js";
import type { IndexName } from "./table-definition.js";

export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
export type Item = Record<string, unknown>;
export type Key = { PK: string; SK: string };

const MAX_TRANSACTION_ATTEMPTS = 40;
/** A filtered page stops after this many queries even if short: its cursor goes on from there. */
const MAX_FILTERED_ROUNDS = 10;
/** DynamoDB refuses a BatchGetItem of more keys than this. */
const BATCH_GET_KEYS = 100;
const MAX_BATCH_GET_ATTEMPTS = 8;

/** Strictly increasing within a process, so events written together keep their order. */
const eventId = monotonicFactory();

/**
 * A numbered sequence with aliases: an artifact's versions or a collection's links. Both
 * keep items `{index, aliases}` and alias items `{alias, index}` in one partition, and
 * write their audit events to a history partition.
 */
export interface Sequence {
  /** For messages: `project/artifact` or `registry/collection`. */
  label: string;
  partition: string;
  itemKey(index: number): Key;
  aliasKey(alias: string): Key;
  history: string;
  /** Fields every event of this sequence carries (registry, collection, …). */
  context: Record<string, unknown>;
}

export class TransientContention extends Error {}

/** What both stores share: reads, pages, retried transactions, events and alias moves. */
export class DynamoTable {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  protected async get(key: Key, consistent: boolean): Promise<Item | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: consistent }),
    );
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

  protected async transact(items: TransactItem[]): Promise<void> {
    await this.client.send(new TransactWriteCommand({ TransactItems: items }));
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
    let start: Record<string, unknown> | undefined =
      page.cursor === undefined ? undefined : decodeCursor(page.cursor, partition, "PK", sortKeyPrefix);
    for (let round = 0; ; round++) {
      const result = await this.client.send(
        new QueryCommand({ ...input, TableName: this.tableName, Limit: page.limit - items.length, ExclusiveStartKey: start }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
      const filled = items.length >= page.limit || start === undefined;
      if (filled || input.FilterExpression === undefined || round + 1 >= MAX_FILTERED_ROUNDS) break;
    }
    return { items: items.map(map), nextCursor: start ? encodeCursor(start) : undefined };
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
  protected async queryIndexPage<T>(
    index: IndexName,
    partition: string,
    page: PageRequest,
    map: (item: Item) => T,
  ): Promise<Page<T>> {
    const partitionAttribute = `${index}PK`;
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": partitionAttribute },
        ExpressionAttributeValues: { ":pk": partition },
        Limit: page.limit,
        ExclusiveStartKey:
          page.cursor === undefined ? undefined : decodeCursor(page.cursor, partition, partitionAttribute),
      }),
    );
    return {
      items: (result.Items ?? []).map(map),
      nextCursor: result.LastEvaluatedKey ? encodeCursor(result.LastEvaluatedKey) : undefined,
    };
  }

  /** Every item of a partition under a sort-key prefix, following pages. */
  protected async queryAll(partition: string, prefix: string, consistent = false): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": partition, ":prefix": prefix },
          ExclusiveStartKey: start,
          ConsistentRead: consistent,
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
        const retryable = error instanceof TransactionCanceledException || error instanceof TransientContention;
        if (!retryable) throw error;
        if (n >= MAX_TRANSACTION_ATTEMPTS) {
          throw new ConflictError("too many concurrent changes; retry", { cause: error });
        }
        await sleep(Math.random() * Math.min(500, 10 * 2 ** Math.min(n, 6)));
      }
    }
  }

  /**
   * An audit event, stamped when the write is attempted: under contention a change commits
   * later than its caller started it, and history must list changes in commit order.
   */
  protected eventItem(partition: string, event: AuditEvent): TransactItem {
    const at = new Date().toISOString();
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...keys.event(partition, at, eventId()), entity: "event", event: { ...event, at } },
      },
    };
  }

  protected async listAliasesIn(sequence: Sequence): Promise<Record<string, number>> {
    const aliases: Record<string, number> = {};
    for (const item of await this.queryAll(sequence.partition, keys.aliasPrefix)) {
      aliases[item.alias as string] = item.index as number;
    }
    return aliases;
  }

  protected async aliasHolders(sequence: Sequence, aliases: string[]): Promise<Map<string, number>> {
    const holders = new Map<string, number>();
    if (aliases.length === 0) return holders;
    const result = await this.client.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tableName]: { Keys: aliases.map((alias) => sequence.aliasKey(alias)), ConsistentRead: true },
        },
      }),
    );
    if (Object.keys(result.UnprocessedKeys ?? {}).length > 0) {
      throw new TransientContention("alias read throttled");
    }
    for (const item of result.Responses?.[this.tableName] ?? []) {
      holders.set(item.alias as string, item.index as number);
    }
    return holders;
  }

  /** Alias items conditioned on the holder we read, plus the alias sets on both items. */
  protected aliasMoveItems(
    sequence: Sequence,
    index: number,
    holders: Map<string, number>,
    aliases: string[],
    target: { newItem: boolean },
  ): TransactItem[] {
    const items: TransactItem[] = aliases.map((alias) => {
      const from = holders.get(alias);
      return {
        Put: {
          TableName: this.tableName,
          Item: { ...sequence.aliasKey(alias), entity: "alias", alias, index },
          ...(from === undefined
            ? { ConditionExpression: "attribute_not_exists(PK)" }
            : {
                ConditionExpression: "#index = :from",
                ExpressionAttributeNames: { "#index": "index" },
                ExpressionAttributeValues: { ":from": from },
              }),
        },
      };
    });
    const dropped = new Map<number, string[]>();
    for (const alias of aliases) {
      const from = holders.get(alias);
      if (from !== undefined && from !== index) dropped.set(from, [...(dropped.get(from) ?? []), alias]);
    }
    for (const [from, moved] of dropped) items.push(this.dropAliasesItem(sequence, from, moved));
    // A brand-new item is written with its aliases; an existing one gains them here.
    if (!target.newItem) items.push(this.addAliasesItem(sequence, index, aliases));
    return items;
  }

  protected addAliasesItem(sequence: Sequence, index: number, aliases: string[]): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: sequence.itemKey(index),
        UpdateExpression: "ADD aliases :aliases",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":aliases": new Set(aliases) },
      },
    };
  }

  protected dropAliasesItem(sequence: Sequence, index: number, aliases: string[]): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: sequence.itemKey(index),
        UpdateExpression: "DELETE aliases :aliases",
        ConditionExpression: "attribute_exists(PK)",
        ExpressionAttributeValues: { ":aliases": new Set(aliases) },
      },
    };
  }

  protected aliasEvents(
    sequence: Sequence,
    change: { actor: string; at: string },
    index: number,
    holders: Map<string, number>,
    aliases: string[],
  ): TransactItem[] {
    return aliases.map((alias) => {
      const from = holders.get(alias);
      return this.eventItem(sequence.history, {
        action: from === undefined ? "alias.set" : "alias.moved",
        actor: change.actor,
        at: change.at,
        ...sequence.context,
        alias,
        ...(from === undefined ? {} : { from: versionLabel(from) }),
        to: versionLabel(index),
      });
    });
  }

  protected async moveAliasesIn(
    sequence: Sequence,
    change: Pick<AliasChange, "actor" | "at">,
    index: number,
    aliases: string[],
  ): Promise<AliasMove[]> {
    return this.withTransactionRetries(async () => {
      if (!(await this.get(sequence.itemKey(index), true))) {
        throw new NotFoundError(`${sequence.label} has no version ${versionLabel(index)}`);
      }
      const holders = await this.aliasHolders(sequence, aliases);
      const moving = aliases.filter((alias) => holders.get(alias) !== index);
      if (moving.length === 0) return [];
      await this.transact([
        ...this.aliasMoveItems(sequence, index, holders, moving, { newItem: false }),
        ...this.aliasEvents(sequence, change, index, holders, moving),
      ]);
      return moving.map((alias) => ({ alias, from: holders.get(alias), to: index }));
    });
  }

  protected async removeAliasIn(
    sequence: Sequence,
    change: Pick<AliasChange, "actor" | "at">,
    alias: string,
  ): Promise<number | undefined> {
    return this.withTransactionRetries(async () => {
      const item = await this.get(sequence.aliasKey(alias), true);
      if (!item) return undefined;
      const from = item.index as number;
      await this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: sequence.aliasKey(alias),
            ConditionExpression: "#index = :from",
            ExpressionAttributeNames: { "#index": "index" },
            ExpressionAttributeValues: { ":from": from },
          },
        },
        this.dropAliasesItem(sequence, from, [alias]),
        this.eventItem(sequence.history, {
          action: "alias.removed",
          actor: change.actor,
          at: change.at,
          ...sequence.context,
          alias,
          from: versionLabel(from),
        }),
      ]);
      return from;
    });
  }

  /**
   * Alias writes for removing item `index`: its aliases go with it, except `latest`, which
   * moves back to `previous` (the highest surviving index) when there is one.
   */
  protected retireAliasItems(
    sequence: Sequence,
    index: number,
    aliases: string[],
    previous: number | undefined,
  ): TransactItem[] {
    const condition = {
      ConditionExpression: "#index = :index",
      ExpressionAttributeNames: { "#index": "index" },
      ExpressionAttributeValues: { ":index": index },
    };
    const items: TransactItem[] = aliases.map((alias) =>
      alias === LATEST_ALIAS && previous !== undefined
        ? {
            Put: {
              TableName: this.tableName,
              Item: { ...sequence.aliasKey(alias), entity: "alias", alias, index: previous },
              ...condition,
            },
          }
        : { Delete: { TableName: this.tableName, Key: sequence.aliasKey(alias), ...condition } },
    );
    if (aliases.includes(LATEST_ALIAS) && previous !== undefined) {
      items.push(this.addAliasesItem(sequence, previous, [LATEST_ALIAS]));
    }
    return items;
  }

  /** The highest live index below `index` in a sequence whose item keys sort by index. */
  protected async previousIndex(sequence: Sequence, index: number): Promise<number | undefined> {
    if (index === 0) return undefined;
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :low AND :high",
        ExpressionAttributeValues: {
          ":pk": sequence.partition,
          ":low": sequence.itemKey(0).SK,
          ":high": sequence.itemKey(index - 1).SK,
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return result.Items?.[0]?.index as number | undefined;
  }
}

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/**
 * A cursor is only valid for the list it came from: its partition and, where lists share a
 * partition, its sort-key prefix. Anything else is a client error, not a 500 from DynamoDB.
 */
export function decodeCursor(
  cursor: string,
  partition: string,
  partitionAttribute = "PK",
  sortKeyPrefix?: string,
): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (error) {
    throw new ValidationError("cursor is not valid", { cause: error });
  }
  const valid =
    typeof key === "object" &&
    key !== null &&
    Object.values(key).every((v) => typeof v === "string") &&
    (key as Item)[partitionAttribute] === partition &&
    typeof (key as Item).SK === "string" &&
    (sortKeyPrefix === undefined || ((key as Item).SK as string).startsWith(sortKeyPrefix));
  if (!valid) throw new ValidationError("cursor is not valid for this list");
  return key as Record<string, unknown>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
