import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError, PreconditionFailedError } from "../../core/errors.js";
import { LATEST_ALIAS, versionLabel } from "../../core/model.js";
import type { AliasExpectations, AliasMove, SequenceState } from "../../core/ports.js";
import {
  DynamoTable,
  MAX_TRANSACTION_ATTEMPTS,
  TransactionLost,
  contentionBackoff,
  tagged,
  type CancellationErrors,
  type Item,
  type Key,
  type Tagged,
} from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * Where one gap-free numbered sequence keeps its items: an artifact's versions or a
 * collection's links. Items `{index, aliases}`, alias items `{alias, index, target}` and
 * dedupe items `{index}` share one partition; the head (the artifact, the collection) holds
 * the counter; audit events go to a history partition.
 */
export interface SequenceLayout {
  /** For messages: `project/artifact` or `registry/collection`. */
  label: string;
  head: Key;
  /** The head's count of live items. */
  count: "versionCount" | "linkCount";
  partition: string;
  itemKey(index: number): Key;
  tombstoneKey(index: number): Key;
  aliasKey(alias: string): Key;
  history: string;
  /**
   * Where a deleted head leaves its next number (an artifact deleted whole): read with the
   * state, so the head created again goes on after it and no number is handed out twice.
   */
  retiredKey?: Key;
  /** Fields every event of this sequence carries (registry, collection, …). */
  context: Record<string, unknown>;
  /**
   * What an alias item carries of the item it names, so that an alias resolves in one read:
   * only fields that never change, written by the transaction that points the alias.
   */
  snapshot(item: Item): Item;
  /**
   * The snapshot holds fields an edit changes (a version's description and metadata): an
   * alias moves onto an item only while the item keeps the `revision` the snapshot was read at.
   */
  revisioned?: boolean;
}

/** The head fields an append decides on. */
export interface HeadFields {
  nextIndex: number;
  type: string;
}

/** A new item at the end of a sequence. */
export interface Append {
  /** The item that makes another append of the same content (digest) or source find this one. */
  dedupe: { key: Key; entity: string };
  /** Every item of a sequence has its head's type. */
  type: string;
  /** Aliases besides `latest`, which every append takes. */
  aliases: string[];
  /** The head to write when this is the first item, and what is written with it. */
  newHead: { item: Item; with: Tagged[] };
  /** The item at `index`: its attributes, its creation event's own fields, writes that go with it. */
  at(index: number): { item: Item; event: EventFields; with: Tagged[] };
  errors?: CancellationErrors;
  change: Change;
}

export type AppendOutcome<H> = { created: true; index: number; aliases: string[] } | { created: false; current: SequenceState<H> };

/** Removing an item: its number stays burnt. */
export interface Retire {
  /** Refuses to remove the item as read (throws). */
  check?(item: Item): void;
  /** What the check relied on, held by the delete's condition: `expression` with its values. */
  condition?: { expression: string; values: Record<string, unknown> };
  tombstone(item: Item): Item;
  dedupe(item: Item): Key;
  event(item: Item): EventFields;
  with(item: Item): Tagged[];
  errors?: CancellationErrors;
}

type Change = { actor: string; at: string };

/** An event's action and the details only its caller knows; the sequence adds who, when, which. */
export type EventFields = { action: string; [detail: string]: unknown };

const withLatest = (aliases: string[]) => [LATEST_ALIAS, ...new Set(aliases.filter((a) => a !== LATEST_ALIAS))];

const sameKey = (key: Key) => (item: Item) => item.PK === key.PK && item.SK === key.SK;

function holdersOf(items: Item[]): Map<string, number> {
  const holders = new Map<string, number>();
  for (const item of items) if (item.entity === "alias") holders.set(item.alias as string, item.index as number);
  return holders;
}

function aliasesOf(item: Item): string[] {
  return [...((item.aliases as Set<string> | undefined) ?? [])];
}

/** A compare-and-swap expectation as read: a mismatch is a 412 naming the current holder, with nothing written. */
function checkExpectation(layout: SequenceLayout, alias: string, current: number | undefined, want: number | null): void {
  if ((current ?? null) === want) return;
  const now = current === undefined ? null : versionLabel(current);
  throw new PreconditionFailedError(
    `${layout.label}: alias ${alias} names ${now ?? "nothing"}, not ${want === null ? "nothing" : versionLabel(want)} as expected; nothing was changed`,
    { details: { alias, current: now } },
  );
}

/** The one algorithm behind an artifact's versions and a collection's links. */
export class SequenceStore extends DynamoTable {
  /** The head, the item holding `dedupe` and the holders of `latest` and `aliases`: one consistent read. */
  protected async readState<H>(
    layout: SequenceLayout,
    dedupe: Key,
    aliases: string[],
    toHead: (item: Item) => H,
    /** One more item read in the same BatchGet, handed to `onExtra` (absent or not). */
    extra?: { key: Key; read(item: Item | undefined): void },
  ): Promise<SequenceState<H>> {
    const retired = layout.retiredKey ? [layout.retiredKey] : [];
    const also = extra ? [extra.key] : [];
    const items = await this.batchGetItems([layout.head, dedupe, ...withLatest(aliases).map(layout.aliasKey), ...retired, ...also], {
      consistent: true,
    });
    const head = items.find(sameKey(layout.head));
    const existing = items.find(sameKey(dedupe));
    const retiredItem = layout.retiredKey && items.find(sameKey(layout.retiredKey));
    extra?.read(items.find(sameKey(extra.key)));
    return {
      ...(head ? { head: toHead(head) } : {}),
      ...(!head && retiredItem ? { firstIndex: retiredItem.nextIndex as number } : {}),
      ...(existing ? { existing: existing.index as number } : {}),
      holders: holdersOf(items),
      attempts: 0,
    };
  }

  /**
   * Appends at the head's next index, in one transaction conditioned on the state the caller
   * read (`expected`). Losing to a concurrent change writes nothing and answers the state
   * read again, for the caller to decide on once more.
   */
  protected async append<H extends HeadFields>(
    layout: SequenceLayout,
    expected: SequenceState<H>,
    append: Append,
    toHead: (item: Item) => H,
  ): Promise<AppendOutcome<H>> {
    if (expected.attempts >= MAX_TRANSACTION_ATTEMPTS) throw new ConflictError("too many concurrent changes; retry");
    const index = expected.head?.nextIndex ?? expected.firstIndex ?? 0;
    const aliases = withLatest(append.aliases);
    const requested = aliases.slice(1);
    const { item, event, with: companions } = append.at(index);
    const written = { ...layout.itemKey(index), ...item, index, aliases: new Set(aliases) };
    const { change } = append;
    const items: Tagged[] = [
      ...(expected.head ? [this.advanceHead(layout, expected.head, index, append.type)] : this.createHead(layout, append, index)),
      // A number is handed out once: a second writer of this index loses here.
      tagged("item", {
        Put: { TableName: this.tableName, Item: written, ConditionExpression: "attribute_not_exists(PK)" },
      }),
      // One item per content or source: a concurrent append of the same loses here, then finds it.
      tagged("dedupe", {
        Put: {
          TableName: this.tableName,
          Item: { ...append.dedupe.key, entity: append.dedupe.entity, index },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      }),
      ...this.aliasMoves(layout, index, written, expected.holders, aliases, { newItem: true }),
      this.eventItem(layout.history, {
        actor: change.actor,
        at: change.at,
        ...layout.context,
        version: versionLabel(index),
        ...event,
        aliases,
      }),
      ...this.aliasEvents(layout, change, index, expected.holders, requested),
      ...companions,
    ];
    try {
      await this.transact(items, append.errors);
      return { created: true, index, aliases };
    } catch (error) {
      if (!(error instanceof TransactionLost)) throw error;
      const attempts = expected.attempts + 1;
      await contentionBackoff(attempts);
      const current = await this.readState(layout, append.dedupe.key, append.aliases, toHead);
      return { created: false, current: { ...current, attempts } };
    }
  }

  /**
   * Points each alias at item `index`; every move is conditioned on the holder read. With
   * `expected`, an alias must name what is expected of it (compare-and-swap): checked on
   * that same read, so the write's condition holds it, and a lost race is read and checked again.
   */
  protected async moveAliasesIn(
    layout: SequenceLayout,
    change: Change,
    index: number,
    requested: string[],
    expected?: AliasExpectations,
  ): Promise<AliasMove[]> {
    const aliases = [...new Set(requested)];
    return this.withTransactionRetries(async () => {
      const read = await this.batchGetItems([layout.itemKey(index), ...aliases.map(layout.aliasKey)], {
        consistent: true,
      });
      const target = read.find(sameKey(layout.itemKey(index)));
      if (!target) throw new NotFoundError(`${layout.label} has no version ${versionLabel(index)}`);
      const holders = holdersOf(read);
      for (const [alias, want] of expected ?? []) checkExpectation(layout, alias, holders.get(alias), want);
      const moving = aliases.filter((alias) => holders.get(alias) !== index);
      if (moving.length === 0) return [];
      await this.transact(this.aliasMoveItems(layout, change, index, target, holders, moving));
      return moving.map((alias) => ({ alias, from: holders.get(alias), to: index }));
    });
  }

  /**
   * The writes that move `aliases` from the holders read onto the existing item `target`
   * (at `index`), each conditioned on its holder, with their events: for a caller that
   * moves aliases together with writes of its own (a promotion's approval).
   */
  protected aliasMoveItems(
    layout: SequenceLayout,
    change: Change,
    index: number,
    target: Item,
    holders: ReadonlyMap<string, number>,
    aliases: string[],
    eventDetails: Record<string, unknown> = {},
  ): Tagged[] {
    return [
      ...this.aliasMoves(layout, index, target, holders, aliases, { newItem: false }),
      ...this.aliasEvents(layout, change, index, holders, aliases, eventDetails),
    ];
  }

  protected async removeAliasIn(layout: SequenceLayout, change: Change, alias: string): Promise<number | undefined> {
    return this.withTransactionRetries(async () => {
      const item = await this.get(layout.aliasKey(alias), true);
      if (!item) return undefined;
      const from = item.index as number;
      await this.transact([
        // Removes the alias only from the holder read: a concurrent move makes this lose.
        tagged(`alias:${alias}`, {
          Delete: {
            TableName: this.tableName,
            Key: layout.aliasKey(alias),
            ConditionExpression: "#index = :from",
            ExpressionAttributeNames: { "#index": "index" },
            ExpressionAttributeValues: { ":from": from },
          },
        }),
        this.aliasSetItem(layout, from, "DELETE", [alias]),
        this.eventItem(layout.history, {
          action: "alias.removed",
          actor: change.actor,
          at: change.at,
          ...layout.context,
          alias,
          from: versionLabel(from),
        }),
      ]);
      return from;
    });
  }

  /**
   * Removes item `index`, burning its number (the head's counter never goes down): its
   * aliases go with it but `latest`, which moves back to the highest surviving item.
   */
  protected async retire(layout: SequenceLayout, change: Change, index: number, retire: Retire): Promise<void> {
    await this.withTransactionRetries(async () => {
      const item = await this.get(layout.itemKey(index), true);
      if (!item) throw new NotFoundError(`${layout.label} has no version ${versionLabel(index)}`);
      retire.check?.(item);
      const aliases = aliasesOf(item);
      const previous = aliases.includes(LATEST_ALIAS) ? await this.previousItem(layout, index) : undefined;
      const previousIndex = previous?.index as number | undefined;
      // An alias moved onto the item meanwhile would be left naming nothing: lose that race.
      const aliasCondition = aliases.length > 0 ? "size(aliases) = :aliasCount" : "attribute_not_exists(aliases)";
      const values = { ...retire.condition?.values, ...(aliases.length > 0 ? { ":aliasCount": aliases.length } : {}) };
      const items: Tagged[] = [
        tagged("item", {
          Delete: {
            TableName: this.tableName,
            Key: layout.itemKey(index),
            ConditionExpression: ["attribute_exists(PK)", retire.condition?.expression, aliasCondition]
              .filter((c) => c !== undefined)
              .join(" AND "),
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          },
        }),
        tagged("tombstone", {
          Put: { TableName: this.tableName, Item: { ...layout.tombstoneKey(index), ...retire.tombstone(item) } },
        }),
        tagged("dedupe", { Delete: { TableName: this.tableName, Key: retire.dedupe(item) } }),
        ...aliases.map((alias) => {
          // Each alias goes only from this item: a concurrent move makes this lose.
          const condition = {
            ConditionExpression: "#index = :index",
            ExpressionAttributeNames: { "#index": "index" },
            ExpressionAttributeValues: { ":index": index },
          };
          return tagged(
            `alias:${alias}`,
            alias === LATEST_ALIAS && previous
              ? { Put: { TableName: this.tableName, Item: this.aliasItem(layout, alias, previous), ...condition } }
              : { Delete: { TableName: this.tableName, Key: layout.aliasKey(alias), ...condition } },
          );
        }),
        ...(previousIndex === undefined ? [] : [this.aliasSetItem(layout, previousIndex, "ADD", [LATEST_ALIAS], previous)]),
        tagged("head", {
          Update: {
            TableName: this.tableName,
            Key: layout.head,
            UpdateExpression: !aliases.includes(LATEST_ALIAS)
              ? `SET ${layout.count} = ${layout.count} - :one`
              : previousIndex === undefined
                ? `SET ${layout.count} = ${layout.count} - :one REMOVE latestIndex`
                : `SET ${layout.count} = ${layout.count} - :one, latestIndex = :previous`,
            ExpressionAttributeValues: { ":one": 1, ...(previousIndex === undefined ? {} : { ":previous": previousIndex }) },
          },
        }),
        this.eventItem(layout.history, {
          actor: change.actor,
          at: change.at,
          ...layout.context,
          version: versionLabel(index),
          ...retire.event(item),
          aliases,
        }),
        ...retire.with(item),
      ];
      await this.transact(items, retire.errors);
    });
  }

  /** Every alias item of a sequence, following pages; `attributes` narrows what comes back. */
  protected async aliasItems(layout: SequenceLayout, attributes?: string[]): Promise<Item[]> {
    return this.queryAll(layout.partition, keys.aliasPrefix, false, attributes);
  }

  protected async listAliasesOf(layout: SequenceLayout): Promise<Record<string, number>> {
    const aliases: Record<string, number> = {};
    for (const item of await this.aliasItems(layout, ["alias", "index"])) aliases[item.alias as string] = item.index as number;
    return aliases;
  }

  /** The counter moves from the index read: a concurrent append makes this lose; the type never changes. */
  private advanceHead(layout: SequenceLayout, head: HeadFields, index: number, type: string): Tagged {
    return tagged("head", {
      Update: {
        TableName: this.tableName,
        Key: layout.head,
        UpdateExpression: `SET nextIndex = :next, latestIndex = :index, ${layout.count} = ${layout.count} + :one`,
        ConditionExpression: "nextIndex = :index AND #type = :type",
        ExpressionAttributeNames: { "#type": "type" },
        ExpressionAttributeValues: { ":next": head.nextIndex + 1, ":index": index, ":one": 1, ":type": type },
      },
    });
  }

  /** The first item creates its head: a concurrent first append loses here. */
  private createHead(layout: SequenceLayout, append: Append, index: number): Tagged[] {
    return [
      tagged("head", {
        Put: {
          TableName: this.tableName,
          Item: { ...layout.head, ...append.newHead.item, nextIndex: index + 1, latestIndex: index, [layout.count]: 1 },
          ConditionExpression: "attribute_not_exists(PK)",
        },
      }),
      ...append.newHead.with,
    ];
  }

  protected aliasItem(layout: SequenceLayout, alias: string, target: Item): Item {
    return { ...layout.aliasKey(alias), entity: "alias", alias, index: target.index, target: layout.snapshot(target) };
  }

  /** Alias items conditioned on the holder read, and the alias sets of the items they leave and join. */
  private aliasMoves(
    layout: SequenceLayout,
    index: number,
    target: Item,
    holders: ReadonlyMap<string, number>,
    aliases: string[],
    where: { newItem: boolean },
  ): Tagged[] {
    const items = aliases.map((alias) => {
      const from = holders.get(alias);
      // An alias names one item: it moves only from the holder read, or is created only once.
      return tagged(`alias:${alias}`, {
        Put: {
          TableName: this.tableName,
          Item: this.aliasItem(layout, alias, { ...target, index }),
          ...(from === undefined
            ? { ConditionExpression: "attribute_not_exists(PK)" }
            : {
                ConditionExpression: "#index = :from",
                ExpressionAttributeNames: { "#index": "index" },
                ExpressionAttributeValues: { ":from": from },
              }),
        },
      });
    });
    const dropped = new Map<number, string[]>();
    for (const alias of aliases) {
      const from = holders.get(alias);
      if (from !== undefined && from !== index) dropped.set(from, [...(dropped.get(from) ?? []), alias]);
    }
    for (const [from, moved] of dropped) items.push(this.aliasSetItem(layout, from, "DELETE", moved));
    // A new item is written with its aliases; an existing one gains them here.
    if (!where.newItem) items.push(this.aliasSetItem(layout, index, "ADD", aliases, target));
    return items;
  }

  /**
   * Adds to or takes from an item's alias set; the item must exist, so no alias names nothing.
   * `snapshotOf` is the item as read when the alias items written with this carry its
   * snapshot: on a revisioned layout the item must still be at that revision (an edit
   * meanwhile makes this lose, so no alias item keeps a stale copy).
   */
  private aliasSetItem(layout: SequenceLayout, index: number, action: "ADD" | "DELETE", aliases: string[], snapshotOf?: Item): Tagged {
    const revision = layout.revisioned && snapshotOf ? (snapshotOf.revision as number | undefined) : undefined;
    const guarded = layout.revisioned === true && snapshotOf !== undefined;
    return tagged(`aliases:${index}`, {
      Update: {
        TableName: this.tableName,
        Key: layout.itemKey(index),
        UpdateExpression: `${action} aliases :aliases`,
        ConditionExpression: !guarded
          ? "attribute_exists(PK)"
          : revision === undefined
            ? "attribute_exists(PK) AND attribute_not_exists(revision)"
            : "attribute_exists(PK) AND revision = :revision",
        ExpressionAttributeValues: { ":aliases": new Set(aliases), ...(revision === undefined ? {} : { ":revision": revision }) },
      },
    });
  }

  private aliasEvents(
    layout: SequenceLayout,
    change: Change,
    index: number,
    holders: ReadonlyMap<string, number>,
    aliases: string[],
    details: Record<string, unknown> = {},
  ): Tagged[] {
    return aliases.map((alias) => {
      const from = holders.get(alias);
      return this.eventItem(layout.history, {
        action: from === undefined ? "alias.set" : "alias.moved",
        actor: change.actor,
        at: change.at,
        ...layout.context,
        alias,
        ...(from === undefined ? {} : { from: versionLabel(from) }),
        to: versionLabel(index),
        ...details,
      });
    });
  }

  /** The highest live item below `index` (item keys sort by index). */
  private async previousItem(layout: SequenceLayout, index: number): Promise<Item | undefined> {
    if (index === 0) return undefined;
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND SK BETWEEN :low AND :high",
        ExpressionAttributeValues: {
          ":pk": layout.partition,
          ":low": layout.itemKey(0).SK,
          ":high": layout.itemKey(index - 1).SK,
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return result.Items?.[0];
  }
}
