import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AutomationRecord, DeliveryRecord, Page, PageRequest } from "../../core/model.js";
import type { AutomationStore, DeliveryKey } from "../../core/ports.js";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { DynamoTable, TransactionLost, tagged, type Item } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { registryGenerationItem } from "./registry-store.js";

/** Deliveries are kept this long (the table's TTL removes them), pending, failed or delivered. */
export const DELIVERY_RETENTION_DAYS = 30;

export class DynamoAutomationStore extends DynamoTable implements AutomationStore {
  async createAutomation(automation: AutomationRecord): Promise<void> {
    const create = () =>
      this.transact(
        [
          tagged("automation", {
            Put: {
              TableName: this.tableName,
              Item: { ...keys.automation(automation.registry, automation.id), entity: "automation", ...automation },
              ConditionExpression: "attribute_not_exists(PK)",
            },
          }),
          // The registry must exist, and a deletion of it that read the generation before loses.
          registryGenerationItem(this.tableName, automation.registry),
          // The registry's history names the automation, never its URL (which may hold a token) or secret.
          this.eventItem(keys.registryHistory(automation.registry), {
            action: "automation.created",
            actor: automation.createdBy,
            at: automation.createdAt,
            registry: automation.registry,
            automation: automation.id,
            name: automation.name,
            event: automation.event,
          }),
        ],
        {
          automation: (cause) => new ConflictError(`automation ${automation.id} already exists`, { cause }),
          registry: (cause) => new NotFoundError(`registry ${automation.registry} does not exist`, { cause }),
        },
      );
    await this.withTransactionRetries(create);
  }

  async getAutomation(registry: string, id: string): Promise<AutomationRecord | undefined> {
    const item = await this.get(keys.automation(registry, id), true);
    return item && toAutomation(item);
  }

  async listAutomations(registry: string, page: PageRequest): Promise<Page<AutomationRecord>> {
    const partition = keys.registryPartition(registry);
    return this.partitionPage(partition, keys.automationPrefix, page, toAutomation);
  }

  async automationsOf(registry: string): Promise<AutomationRecord[]> {
    return (await this.queryAll(keys.registryPartition(registry), keys.automationPrefix)).map(toAutomation);
  }

  async deleteAutomation(registry: string, id: string, change: { actor: string; at: string }): Promise<boolean> {
    try {
      await this.transact([
        tagged("automation", {
          Delete: {
            TableName: this.tableName,
            Key: keys.automation(registry, id),
            // Deleted once: the event is written only when an automation went.
            ConditionExpression: "attribute_exists(PK)",
          },
        }),
        this.eventItem(keys.registryHistory(registry), {
          action: "automation.deleted",
          actor: change.actor,
          at: change.at,
          registry,
          automation: id,
        }),
      ]);
      return true;
    } catch (error) {
      if (error instanceof TransactionLost && error.tags.includes("automation")) return false;
      throw error;
    }
  }

  async createDelivery(delivery: DeliveryRecord): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.delivery(delivery.registry, delivery.automationId, delivery.id),
            entity: "delivery",
            ...deliveryAttributes(delivery),
            ...(delivery.status === "pending" && delivery.nextAttemptAt ? dueIndexKeys(delivery.nextAttemptAt, delivery.id) : {}),
            ttl: Math.floor(Date.parse(delivery.createdAt) / 1000) + DELIVERY_RETENTION_DAYS * 24 * 3600,
          },
          // One delivery per event and automation, however often the stream hands the event over.
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async getDelivery(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const item = await this.get(keys.delivery(key.registry, key.automationId, key.id), true);
    return item && toDelivery(item);
  }

  async listDeliveries(registry: string, automationId: string, page: PageRequest): Promise<Page<DeliveryRecord>> {
    const partition = keys.deliveryPartition(registry, automationId);
    return this.partitionPage(partition, keys.deliveryPrefix, page, toDelivery, "descending");
  }

  /**
   * The lease is the next-attempt time itself, moved to the lease's end: nobody else finds
   * the delivery due meanwhile, and if this worker dies it is due again when the lease ends.
   */
  async claimDelivery(key: DeliveryKey, now: string, leaseUntil: string): Promise<DeliveryRecord | undefined> {
    return this.claim(key, {
      UpdateExpression: "SET nextAttemptAt = :lease, GSI1SK = :dueSk",
      ConditionExpression: "#status = :pending AND nextAttemptAt <= :now",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":lease": leaseUntil,
        ":dueSk": dueIndexKeys(leaseUntil, key.id).GSI1SK,
        ":pending": "pending",
        ":now": now,
      },
    });
  }

  async claimForReplay(key: DeliveryKey, _now: string, leaseUntil: string): Promise<DeliveryRecord | undefined> {
    const due = dueIndexKeys(leaseUntil, key.id);
    return this.claim(key, {
      // A replay is one more attempt than have been made.
      UpdateExpression:
        "SET #status = :pending, nextAttemptAt = :lease, GSI1PK = :duePk, GSI1SK = :dueSk, maxAttempts = attemptCount + :one",
      ConditionExpression: "#status IN (:delivered, :failed)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":pending": "pending",
        ":lease": leaseUntil,
        ":duePk": due.GSI1PK,
        ":dueSk": due.GSI1SK,
        ":one": 1,
        ":delivered": "delivered",
        ":failed": "failed",
      },
    });
  }

  async finishAttempt(delivery: DeliveryRecord, leaseUntil: string): Promise<boolean> {
    const pending = delivery.status === "pending" && delivery.nextAttemptAt !== undefined;
    const values: Record<string, unknown> = {
      ":status": delivery.status,
      ":attemptCount": delivery.attemptCount,
      ":attempts": delivery.attempts,
      ":updatedAt": delivery.updatedAt,
      ":lease": leaseUntil,
    };
    const sets = ["#status = :status", "attemptCount = :attemptCount", "attempts = :attempts", "updatedAt = :updatedAt"];
    const removes: string[] = [];
    if (pending) {
      const due = dueIndexKeys(delivery.nextAttemptAt!, delivery.id);
      sets.push("nextAttemptAt = :next", "GSI1PK = :duePk", "GSI1SK = :dueSk");
      Object.assign(values, { ":next": delivery.nextAttemptAt, ":duePk": due.GSI1PK, ":dueSk": due.GSI1SK });
    } else {
      // Finished deliveries leave the sparse due index.
      removes.push("nextAttemptAt", "GSI1PK", "GSI1SK");
    }
    if (delivery.error === undefined) removes.push("#error");
    else {
      sets.push("#error = :error");
      values[":error"] = delivery.error;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(delivery.registry, delivery.automationId, delivery.id),
          UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
          // Still ours: nobody took the delivery over after our lease ran out.
          ConditionExpression: "nextAttemptAt = :lease",
          ExpressionAttributeNames: { "#status": "status", "#error": "error" },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async dueDeliveries(now: string, limit: number): Promise<DeliveryKey[]> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: "GSI1",
        KeyConditionExpression: "GSI1PK = :pk AND GSI1SK <= :bound",
        // `~` sorts after the `#` that ends the time part: everything due up to `now` inclusive.
        ExpressionAttributeValues: { ":pk": keys.deliveriesDueIndex, ":bound": `${now}~` },
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => ({
      registry: item.registry as string,
      automationId: item.automationId as string,
      id: item.id as string,
    }));
  }

  private async claim(
    key: DeliveryKey,
    update: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      "UpdateExpression" | "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"
    >,
  ): Promise<DeliveryRecord | undefined> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(key.registry, key.automationId, key.id),
          ...update,
          ReturnValues: "ALL_NEW",
        }),
      );
      return result.Attributes && toDelivery(result.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

function dueIndexKeys(nextAttemptAt: string, id: string) {
  return { GSI1PK: keys.deliveriesDueIndex, GSI1SK: `${nextAttemptAt}#${id}` };
}

function deliveryAttributes(delivery: DeliveryRecord): Item {
  return { ...delivery };
}

function toAutomation(item: Item): AutomationRecord {
  return {
    id: item.id as string,
    registry: item.registry as string,
    name: item.name as string,
    event: item.event as AutomationRecord["event"],
    ...(item.collection === undefined ? {} : { collection: item.collection as string }),
    ...(item.aliasPattern === undefined ? {} : { aliasPattern: item.aliasPattern as string }),
    url: item.url as string,
    ...(item.secret === undefined ? {} : { secret: item.secret as string }),
    ...(item.payloadTemplate === undefined ? {} : { payloadTemplate: item.payloadTemplate as string }),
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}

function toDelivery(item: Item): DeliveryRecord {
  return {
    id: item.id as string,
    registry: item.registry as string,
    automationId: item.automationId as string,
    event: item.event as DeliveryRecord["event"],
    body: item.body as string,
    status: item.status as DeliveryRecord["status"],
    attemptCount: item.attemptCount as number,
    maxAttempts: item.maxAttempts as number,
    attempts: (item.attempts as DeliveryRecord["attempts"] | undefined) ?? [],
    ...(item.nextAttemptAt === undefined ? {} : { nextAttemptAt: item.nextAttemptAt as string }),
    ...(item.error === undefined ? {} : { error: item.error as string }),
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
