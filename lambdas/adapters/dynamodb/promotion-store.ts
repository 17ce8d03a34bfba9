import { ConflictError, NotFoundError } from "../../core/errors.js";
import { versionLabel, type Page, type PromotionDecision, type PromotionRecord } from "../../core/model.js";
import type { PromotionKey, PromotionQuery, PromotionStore } from "../../core/ports.js";
import { tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { linksOf } from "./registry-store.js";
import { SequenceStore } from "./sequence.js";

/**
 * Promotion requests, one item each in their collection's partition (`PROMO#<id>`), and the
 * alias moves approving them makes. Every decision is one transaction conditioned on the
 * request as read (still pending, with the approvals counted), so two admins deciding at
 * once cannot both count; the approval that completes the count moves the alias in that
 * same transaction, conditioned on the alias still naming what it named at the request.
 */
export class DynamoPromotionStore extends SequenceStore implements PromotionStore {
  async createPromotion(promotion: PromotionRecord): Promise<void> {
    await this.withTransactionRetries(() =>
      this.transact(
        [
          tagged("promotion", {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.promotion(promotion.registry, promotion.collection, promotion.id), entity: "promotion", ...promotion },
              ConditionExpression: "attribute_not_exists(PK)",
            },
          }),
          this.eventItem(keys.collectionHistory(promotion.registry, promotion.collection), {
            action: "promotion.requested",
            actor: promotion.requestedBy,
            at: promotion.requestedAt,
            ...eventFields(promotion),
            ...(promotion.note === undefined ? {} : { note: promotion.note }),
          }),
        ],
        { promotion: (cause) => new ConflictError(`promotion ${promotion.id} already exists`, { cause }) },
      ),
    );
  }

  async getPromotion(key: PromotionKey): Promise<PromotionRecord | undefined> {
    const item = await this.get(keys.promotion(key.registry, key.collection, key.id), true);
    return item && toPromotion(item);
  }

  async listPromotions(registry: string, collection: string, query: PromotionQuery): Promise<Page<PromotionRecord>> {
    const partition = keys.collectionPartition(registry, collection);
    return this.queryPage(
      {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ScanIndexForward: false,
        ...(query.status === undefined
          ? { ExpressionAttributeValues: { ":pk": partition, ":prefix": keys.promotionPrefix } }
          : {
              FilterExpression: "#status = :status",
              ExpressionAttributeNames: { "#status": "status" },
              ExpressionAttributeValues: { ":pk": partition, ":prefix": keys.promotionPrefix, ":status": query.status },
            }),
      },
      partition,
      query,
      toPromotion,
      keys.promotionPrefix,
    );
  }

  async aliasHolder(registry: string, collection: string, alias: string): Promise<number | undefined> {
    const item = await this.get(keys.collectionAlias(registry, collection, alias), true);
    return item?.index as number | undefined;
  }

  async approvePromotion(key: PromotionKey, approval: PromotionDecision, required: number): Promise<PromotionRecord> {
    return this.withTransactionRetries(async () => {
      const promotion = await this.pending(key, approval.by);
      if (promotion.status !== "pending" || promotion.approvals.some((a) => a.by === approval.by)) return promotion;
      const layout = linksOf(key.registry, key.collection);
      const read = await this.batchGetItems([layout.aliasKey(promotion.alias), layout.itemKey(promotion.index)], { consistent: true });
      const aliasItem = read.find((item) => item.entity === "alias");
      const target = read.find((item) => item.entity === "link");
      const holder = aliasItem?.index as number | undefined;
      const history = keys.collectionHistory(key.registry, key.collection);
      const counted = promotion.approvals.length;
      if (holder !== promotion.from || !target) {
        const staleReason = !target
          ? `${versionLabel(promotion.index)} was unlinked`
          : `${promotion.alias} names ${holder === undefined ? "nothing" : versionLabel(holder)} now, ` +
            `not ${promotion.from === undefined ? "nothing" : versionLabel(promotion.from)} as when the promotion was requested`;
        const stale: PromotionRecord = { ...promotion, status: "stale", staleReason, decidedAt: approval.at };
        await this.transact([
          this.decide(key, counted, "SET #status = :stale, staleReason = :reason, decidedAt = :at", {
            ":stale": "stale",
            ":reason": staleReason,
            ":at": approval.at,
          }),
          this.eventItem(history, {
            action: "promotion.stale",
            actor: approval.by,
            at: approval.at,
            ...eventFields(promotion),
            reason: staleReason,
          }),
        ]);
        return stale;
      }
      const approvals = [...promotion.approvals, approval];
      const append = { ":approval": [approval], ":at": approval.at };
      if (approvals.length < required) {
        await this.transact([
          this.decide(key, counted, "SET approvals = list_append(approvals, :approval), updatedAt = :at", append),
          this.eventItem(history, {
            action: "promotion.approval",
            actor: approval.by,
            at: approval.at,
            ...eventFields(promotion),
            approvals: approvals.map((a) => a.by),
            required,
            ...(approval.note === undefined ? {} : { note: approval.note }),
          }),
        ]);
        return { ...promotion, approvals };
      }
      const holders = new Map(promotion.from === undefined ? [] : [[promotion.alias, promotion.from] as const]);
      await this.transact([
        this.decide(key, counted, "SET approvals = list_append(approvals, :approval), #status = :approved, decidedAt = :at", {
          ...append,
          ":approved": "approved",
        }),
        // The move itself, conditioned on the alias naming what it named at the request (sequence.ts).
        ...this.aliasMoveItems(layout, { actor: approval.by, at: approval.at }, promotion.index, target, holders, [promotion.alias], {
          promotion: promotion.id,
        }),
        this.eventItem(history, {
          action: "promotion.approved",
          actor: approval.by,
          at: approval.at,
          ...eventFields(promotion),
          approvals: approvals.map((a) => a.by),
          required,
          ...(approval.note === undefined ? {} : { note: approval.note }),
        }),
      ]);
      return { ...promotion, approvals, status: "approved", decidedAt: approval.at };
    });
  }

  async rejectPromotion(key: PromotionKey, rejection: PromotionDecision): Promise<PromotionRecord> {
    return this.withTransactionRetries(async () => {
      const promotion = await this.get(keys.promotion(key.registry, key.collection, key.id), true).then(
        (item) => item && toPromotion(item),
      );
      if (!promotion) throw new NotFoundError(`${key.registry}/${key.collection} has no promotion ${key.id}`);
      if (promotion.status === "rejected" && promotion.rejection?.by === rejection.by) return promotion;
      if (promotion.status !== "pending") throw decided(promotion);
      await this.transact([
        this.decide(key, undefined, "SET #status = :rejected, rejection = :rejection, decidedAt = :at", {
          ":rejected": "rejected",
          ":rejection": rejection,
          ":at": rejection.at,
        }),
        this.eventItem(keys.collectionHistory(key.registry, key.collection), {
          action: "promotion.rejected",
          actor: rejection.by,
          at: rejection.at,
          ...eventFields(promotion),
          ...(rejection.note === undefined ? {} : { note: rejection.note }),
        }),
      ]);
      return { ...promotion, status: "rejected", rejection, decidedAt: rejection.at };
    });
  }

  /**
   * The request as read; one the approver already approved comes back as it is (a retried
   * approval changes nothing), a decided one is a ConflictError.
   */
  private async pending(key: PromotionKey, approver: string): Promise<PromotionRecord> {
    const item = await this.get(keys.promotion(key.registry, key.collection, key.id), true);
    if (!item) throw new NotFoundError(`${key.registry}/${key.collection} has no promotion ${key.id}`);
    const promotion = toPromotion(item);
    const approved = promotion.approvals.some((a) => a.by === approver);
    if (approved && (promotion.status === "pending" || promotion.status === "approved")) return promotion;
    if (promotion.status !== "pending") throw decided(promotion);
    return promotion;
  }

  /**
   * A decision on the request, written only while it is still pending and, with `count`,
   * holds the approvals read: a concurrent decision makes the write lose and read again.
   */
  private decide(key: PromotionKey, count: number | undefined, update: string, values: Record<string, unknown>): Tagged {
    const condition = count === undefined ? "#status = :pending" : "#status = :pending AND size(approvals) = :count";
    return tagged("promotion", {
      Update: {
        TableName: this.tableName,
        Key: keys.promotion(key.registry, key.collection, key.id),
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ...values, ":pending": "pending", ...(count === undefined ? {} : { ":count": count }) },
      },
    });
  }
}

function decided(promotion: PromotionRecord): ConflictError {
  return new ConflictError(
    `promotion ${promotion.id} is ${promotion.status}${promotion.staleReason ? ` (${promotion.staleReason})` : ""}: it can no longer be decided`,
  );
}

/** What every event of a request names. */
function eventFields(promotion: PromotionRecord): Record<string, unknown> {
  return {
    registry: promotion.registry,
    collection: promotion.collection,
    promotion: promotion.id,
    alias: promotion.alias,
    version: versionLabel(promotion.index),
    ...(promotion.from === undefined ? {} : { from: versionLabel(promotion.from) }),
  };
}

function toPromotion(item: Item): PromotionRecord {
  return {
    id: item.id as string,
    registry: item.registry as string,
    collection: item.collection as string,
    alias: item.alias as string,
    index: item.index as number,
    ...(item.from === undefined ? {} : { from: item.from as number }),
    ...(item.note === undefined ? {} : { note: item.note as string }),
    requestedBy: item.requestedBy as string,
    requestedAt: item.requestedAt as string,
    status: item.status as PromotionRecord["status"],
    approvals: (item.approvals as PromotionDecision[] | undefined) ?? [],
    ...(item.rejection === undefined ? {} : { rejection: item.rejection as PromotionDecision }),
    ...(item.decidedAt === undefined ? {} : { decidedAt: item.decidedAt as string }),
    ...(item.staleReason === undefined ? {} : { staleReason: item.staleReason as string }),
  };
}
