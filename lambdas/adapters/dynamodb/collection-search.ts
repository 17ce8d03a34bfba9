import {
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { TooManyRequestsError } from "../../core/errors.js";
import type { PageRequest } from "../../core/model.js";
import { ValidationError } from "../../core/errors.js";
import { CursorSealer, type Cursors } from "../../core/cursors.js";
import { openKeyCursor, sealKeyCursor, sleep, type Key } from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * The index behind `?q=` on a registry's collections: one item per suffix of each lower-cased
 * collection name, keyed by the registry and the suffix's first three characters and sorted by
 * `<suffix>#<name>`. A name contains `q` exactly when one of its suffixes begins with `q`, so
 * a search is one `begins_with` query in the partition of `q`'s first three characters: it
 * reads the places where `q` occurs and the few suffixes sharing its head, however many
 * collections the registry holds. Queries shorter than the head are the caller's to serve.
 *
 * The items are written before the write that creates the collection (idempotent puts), so
 * every collection is findable from the moment it exists; items of a collection whose
 * creation failed point at nothing and readers drop them. Renaming or deleting a collection
 * writes the new name's items first and deletes the old ones after.
 */
export const SEARCH_HEAD = 3;

/** DynamoDB refuses a BatchWriteItem of more requests than this. */
const BATCH_WRITE_ITEMS = 25;
const MAX_BATCH_WRITE_ATTEMPTS = 8;
/** A page stops after this many queries even if short (occurrences after the first are skipped); its cursor goes on from there. */
const MAX_SEARCH_ROUNDS = 10;
/** Collection names are `[A-Za-z0-9][A-Za-z0-9._-]*`: a query with any other character matches none. */
const SEARCHABLE = /^[a-z0-9._-]+$/;

export const SEARCH_ENTITY = "collectionSearch";

function searchKeys(registry: string, name: string): (Key & { position: number })[] {
  const lower = name.toLowerCase();
  // Suffixes shorter than the head can hold no query the index serves.
  return Array.from({ length: Math.max(0, lower.length - SEARCH_HEAD + 1) }, (_, position) => ({
    PK: keys.collectionSearchPartition(registry, lower.slice(position, position + SEARCH_HEAD)),
    SK: keys.collectionSearchTerm(lower.slice(position), name),
    position,
  }));
}

/** Writes or deletes items in requests of at most 25, asking again for what DynamoDB left unprocessed. */
export async function batchWrite(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: NonNullable<BatchWriteCommandInput["RequestItems"]>[string],
): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_ITEMS) {
    let pending: BatchWriteCommandInput["RequestItems"] = { [tableName]: requests.slice(i, i + BATCH_WRITE_ITEMS) };
    for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt++) {
      if (attempt >= MAX_BATCH_WRITE_ATTEMPTS) throw new TooManyRequestsError("the table is throttling writes; retry");
      if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      const result: BatchWriteCommandOutput = await client.send(new BatchWriteCommand({ RequestItems: pending }));
      pending = result.UnprocessedItems;
    }
  }
}

/** Makes a collection findable by any part of its name (before the write that creates it). */
export async function writeCollectionSearchIndex(
  client: DynamoDBDocumentClient,
  tableName: string,
  registry: string,
  name: string,
): Promise<void> {
  await batchWrite(
    client,
    tableName,
    searchKeys(registry, name).map(({ PK, SK, position }) => ({
      PutRequest: { Item: { PK, SK, entity: SEARCH_ENTITY, registry, collection: name, position } },
    })),
  );
}

/** Removes a collection's name from the index (after the write that deletes or renames it). */
export async function deleteCollectionSearchIndex(
  client: DynamoDBDocumentClient,
  tableName: string,
  registry: string,
  name: string,
): Promise<void> {
  await batchWrite(
    client,
    tableName,
    searchKeys(registry, name).map(({ PK, SK }) => ({ DeleteRequest: { Key: { PK, SK } } })),
  );
}

/**
 * Names of the registry's collections whose name contains `q` (any case; at least
 * SEARCH_HEAD characters), a page at a time. Each name is reported once, at the first place
 * `q` occurs in it; the caller reads the collections and drops names whose collection does
 * not exist.
 */
export async function searchCollectionNames(
  client: DynamoDBDocumentClient,
  tableName: string,
  registry: string,
  q: string,
  page: PageRequest,
  cursors: Cursors = CursorSealer.ephemeral(),
): Promise<{ names: string[]; nextCursor?: string }> {
  const term = q.toLowerCase();
  if (term.length < SEARCH_HEAD) throw new Error(`the search index serves queries of ${SEARCH_HEAD} characters or more`);
  if (!SEARCHABLE.test(term)) {
    // No name can hold such a term, so no page of it ever handed out a cursor.
    if (page.cursor !== undefined) throw new ValidationError("cursor is not valid for this list");
    return { names: [] };
  }
  const partition = keys.collectionSearchPartition(registry, term.slice(0, SEARCH_HEAD));
  const list = { partition };
  let start = page.cursor === undefined ? undefined : await openKeyCursor(cursors, page.cursor, list);
  const names: string[] = [];
  for (let round = 0; round < MAX_SEARCH_ROUNDS && names.length < page.limit; round++) {
    const result = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :term)",
        ExpressionAttributeValues: { ":pk": partition, ":term": term },
        Limit: page.limit - names.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of result.Items ?? []) {
      const name = item.collection as string;
      // A name holding q twice has an item for each place: only the first place counts, so no page repeats a name.
      if (name.toLowerCase().indexOf(term) === item.position) names.push(name);
    }
    start = result.LastEvaluatedKey;
    if (start === undefined) break;
  }
  return { names, nextCursor: start ? await sealKeyCursor(cursors, start, list) : undefined };
}

const BACKFILL = "collection-search-index";

/**
 * Indexes every existing collection of every registry (idempotent), for tables that hold
 * collections created before the index existed; returns how many names it indexed.
 */
export async function indexExistingCollections(client: DynamoDBDocumentClient, tableName: string): Promise<number> {
  const registries: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: "GSI1",
        KeyConditionExpression: "GSI1PK = :pk",
        ExpressionAttributeValues: { ":pk": keys.registriesIndex },
        ExclusiveStartKey: start,
      }),
    );
    registries.push(...(page.Items ?? []).map((item) => item.name as string));
    start = page.LastEvaluatedKey;
  } while (start);
  let indexed = 0;
  for (const registry of registries) {
    let from: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: { ":pk": keys.registryPartition(registry), ":prefix": keys.collectionPrefix },
          ProjectionExpression: "#name",
          ExpressionAttributeNames: { "#name": "name" },
          ExclusiveStartKey: from,
        }),
      );
      for (const item of page.Items ?? []) {
        await writeCollectionSearchIndex(client, tableName, registry, item.name as string);
        indexed++;
      }
      from = page.LastEvaluatedKey;
    } while (from);
  }
  return indexed;
}

/** The backfill once per table: a marker item records that it ran. */
export async function ensureCollectionSearchIndex(client: DynamoDBDocumentClient, tableName: string): Promise<number | undefined> {
  const marker = await client.send(new GetCommand({ TableName: tableName, Key: keys.migration(BACKFILL), ConsistentRead: true }));
  if (marker.Item) return undefined;
  const indexed = await indexExistingCollections(client, tableName);
  await client.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...keys.migration(BACKFILL), entity: "migration", at: new Date().toISOString(), indexed },
    }),
  );
  return indexed;
}
