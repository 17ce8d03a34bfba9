import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { MAX_METRIC_POINTS, MAX_RUN_METRIC_KEYS } from "../../contract/runs.js";
import { NotFoundError, TooManyRequestsError, UnprocessableError } from "../../core/errors.js";
import {
  versionLabel,
  type MetricPoint,
  type Page,
  type PageRequest,
  type RunRecord,
  type RunRef,
  type VersionRecord,
  type VersionRef,
} from "../../core/model.js";
import type { LineageStore, MetricBatch, MetricHistory } from "../../core/ports.js";
import { appendBounded } from "../../core/run-metrics.js";
import { DynamoTable, tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { storableJson } from "./user-json.js";
import { toVersion } from "./artifact-store.js";
import { runUpsertExpression, upsertRunItem } from "./run-items.js";

export class DynamoLineageStore extends DynamoTable implements LineageStore {
  async saveRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    const names: Record<string, string> = {
      "#entity": "entity",
      "#project": "project",
      "#id": "id",
      "#createdAt": "createdAt",
      "#createdBy": "createdBy",
      "#config": "config",
    };
    const values: Record<string, unknown> = {
      ":entity": "run",
      ":project": run.project,
      ":id": run.id,
      ":at": run.createdAt,
      ":actor": run.createdBy,
      ":config": storableJson(run.config),
    };
    const sets = [
      "#entity = :entity",
      "#project = :project",
      "#id = :id",
      "#createdAt = if_not_exists(#createdAt, :at)",
      "#createdBy = if_not_exists(#createdBy, :actor)",
    ];
    // Config and name are only replaced when given: a bare retry keeps what the first call set.
    sets.push(Object.keys(run.config).length > 0 ? "#config = :config" : "#config = if_not_exists(#config, :config)");
    if (run.name !== undefined) {
      names["#name"] = "name";
      values[":name"] = run.name;
      sets.push("#name = :name");
    }
    const result = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.run(run.project, run.id),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_OLD",
      }),
    );
    const old = result.Attributes;
    if (!old) return { created: true, run };
    return {
      created: false,
      run: {
        ...toRun(old),
        ...(run.name === undefined ? {} : { name: run.name }),
        ...(Object.keys(run.config).length > 0 ? { config: run.config } : {}),
      },
    };
  }

  async getRuns(refs: RunRef[]): Promise<RunRecord[]> {
    return (await this.batchGetItems(refs.map((ref) => keys.run(ref.project, ref.id)))).map(toRun);
  }

  async getVersions(refs: VersionRef[]): Promise<VersionRecord[]> {
    return (await this.batchGetItems(refs.map((ref) => keys.version(ref.project, ref.artifact, ref.index)))).map(toVersion);
  }

  async recordInput(run: RunRef, source: VersionRef, change: { actor: string; at: string }): Promise<void> {
    const items: Tagged[] = [
      upsertRunItem(this.tableName, run, change),
      // The version must still exist when the edge is written.
      tagged("source", {
        ConditionCheck: {
          TableName: this.tableName,
          Key: keys.version(source.project, source.artifact, source.index),
          ConditionExpression: "attribute_exists(PK)",
        },
      }),
      tagged("input", {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.runInput(run.project, run.id, source),
            entity: "runInput",
            project: source.project,
            artifact: source.artifact,
            index: source.index,
            at: change.at,
          },
        },
      }),
      tagged("usedBy", {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.usedBy(source, run.project, run.id),
            entity: "usedBy",
            runProject: run.project,
            runId: run.id,
            index: source.index,
            at: change.at,
          },
        },
      }),
    ];
    await this.transact(items, {
      source: (cause) => new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`, { cause }),
    });
  }

  async listRunInputs(run: RunRef, page: PageRequest): Promise<Page<VersionRef>> {
    const partition = keys.runPartition(run.project, run.id);
    return this.partitionPage(partition, keys.runInputPrefix, page, toVersionRef);
  }

  async listRunOutputs(run: RunRef, page: PageRequest): Promise<Page<VersionRef>> {
    const partition = keys.runPartition(run.project, run.id);
    return this.partitionPage(partition, keys.runOutputPrefix, page, toVersionRef);
  }

  async recordMetrics(run: RunRef, batch: MetricBatch, change: { actor: string; at: string }): Promise<Record<string, number>> {
    const summary = await this.updateSummary(run, batch.last, change);
    const series = [...batch.points];
    // Each key's history is its own item: one write each, a bounded number in flight.
    for (let i = 0; i < series.length; i += 25) {
      await Promise.all(series.slice(i, i + 25).map(([key, points]) => this.appendHistory(run, key, points)));
    }
    return summary;
  }

  async getMetricHistory(run: RunRef, key: string): Promise<MetricHistory | undefined> {
    const item = await this.get(keys.runMetric(run.project, run.id, key), false);
    return item ? { count: item.count as number, points: fromStored(item.points) } : undefined;
  }

  /**
   * The summary is a map on the run item. Keys are set in place when the map exists (the
   * common case, one write); the first metrics of a run create the map whole. A condition
   * on the write holds MAX_RUN_METRIC_KEYS: new keys are taken only while the map has room,
   * keys it holds always.
   */
  private async updateSummary(
    run: RunRef,
    last: Record<string, number>,
    change: { actor: string; at: string },
  ): Promise<Record<string, number>> {
    const upsert = runUpsertExpression(run, change);
    const metricKeys = Object.keys(last);
    const perKey = { names: {} as Record<string, string>, values: {} as Record<string, unknown> };
    metricKeys.forEach((key, i) => {
      perKey.names[`#k${i}`] = key;
      perKey.values[`:v${i}`] = last[key];
    });
    const update = (set: string, condition: string, names: Record<string, string>, values: Record<string, unknown>) =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(run.project, run.id),
          UpdateExpression: `SET ${upsert.sets}, ${set}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...upsert.names, "#summary": "summary", ...names },
          ExpressionAttributeValues: { ...upsert.values, ...values },
          ReturnValues: "ALL_NEW",
        }),
      );
    const held = metricKeys.map((_, i) => `attribute_exists(#summary.#k${i})`).join(" AND ");
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const result = await update(
          metricKeys.map((_, i) => `#summary.#k${i} = :v${i}`).join(", "),
          `attribute_exists(#summary) AND (size(#summary) <= :room OR (${held}))`,
          perKey.names,
          { ...perKey.values, ":room": MAX_RUN_METRIC_KEYS - metricKeys.length },
        );
        return result.Attributes?.summary as Record<string, number>;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      try {
        const result = await update("#summary = :summary", "attribute_not_exists(#summary)", {}, { ":summary": storableJson(last) });
        return result.Attributes?.summary as Record<string, number>;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      // The map exists and refused the keys: full, unless another request created it between the two writes.
      const item = await this.get(keys.run(run.project, run.id), true);
      const current = (item?.summary as Record<string, number> | undefined) ?? {};
      const added = metricKeys.filter((key) => !Object.hasOwn(current, key)).length;
      if (Object.keys(current).length + added > MAX_RUN_METRIC_KEYS) {
        throw new UnprocessableError(
          `run ${run.project}/${run.id} would hold more than ${MAX_RUN_METRIC_KEYS} metric keys; log fewer distinct keys`,
        );
      }
    }
    throw new TooManyRequestsError(`the summary of run ${run.project}/${run.id} is being written concurrently; retry`);
  }

  /**
   * Appends in place while the history has room (one write, conditioned on its length);
   * past MAX_METRIC_POINTS it is read, thinned and written back, conditioned on the count
   * it was read at, so concurrent appends are never lost.
   */
  private async appendHistory(run: RunRef, key: string, points: MetricPoint[]): Promise<void> {
    const itemKey = keys.runMetric(run.project, run.id, key);
    const names = { "#entity": "entity", "#key": "key", "#points": "points", "#count": "count" };
    if (points.length <= MAX_METRIC_POINTS) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression:
              "SET #entity = :entity, #key = :key, #points = list_append(if_not_exists(#points, :empty), :new), " +
              "#count = if_not_exists(#count, :zero) + :n",
            ConditionExpression: "attribute_not_exists(#points) OR size(#points) <= :room",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: {
              ":entity": "runMetric",
              ":key": key,
              ":empty": [],
              ":new": toStored(points),
              ":zero": 0,
              ":n": points.length,
              ":room": MAX_METRIC_POINTS - points.length,
            },
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    for (let attempt = 0; attempt < HISTORY_REWRITE_ATTEMPTS; attempt++) {
      const item = await this.get(itemKey, true);
      const count = (item?.count as number | undefined) ?? 0;
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...itemKey,
              entity: "runMetric",
              key,
              points: toStored(appendBounded(fromStored(item?.points), points)),
              count: count + points.length,
            },
            // `count` grows with every append: unchanged means nothing was written since the read.
            ConditionExpression: item ? "#count = :count" : "attribute_not_exists(PK)",
            ...(item ? { ExpressionAttributeNames: { "#count": "count" }, ExpressionAttributeValues: { ":count": count } } : {}),
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    throw new TooManyRequestsError(`metric ${key} of run ${run.project}/${run.id} is being written concurrently; retry`);
  }

  async listVersionConsumers(version: VersionRef, page: PageRequest): Promise<Page<RunRef>> {
    const partition = keys.artifactPartition(version.project, version.artifact);
    const prefix = keys.usedByPrefix(version.index);
    return this.partitionPage(partition, prefix, page, (item) => ({ project: item.runProject as string, id: item.runId as string }));
  }
}

/** Points are stored as `[step, value]` pairs (step NULL when none was given): a third of the size of maps. */
type StoredPoint = [number | null, number];

function toStored(points: MetricPoint[]): StoredPoint[] {
  return points.map((p) => [p.step, p.value]);
}

function fromStored(points: unknown): MetricPoint[] {
  return ((points as StoredPoint[] | undefined) ?? []).map(([step, value]) => ({ step: step ?? null, value }));
}

/** Attempts of the read-thin-write path before a key written that busily is answered with 429. */
const HISTORY_REWRITE_ATTEMPTS = 8;

function toVersionRef(item: Item): VersionRef {
  return { project: item.project as string, artifact: item.artifact as string, index: item.index as number };
}

function toRun(item: Item): RunRecord {
  return {
    project: item.project as string,
    id: item.id as string,
    ...(item.name === undefined ? {} : { name: item.name as string }),
    config: (item.config as Record<string, unknown> | undefined) ?? {},
    ...(item.summary === undefined ? {} : { summary: item.summary as Record<string, number> }),
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}
