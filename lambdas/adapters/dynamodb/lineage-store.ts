import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { NotFoundError } from "../../core/errors.js";
import { versionLabel, type Page, type PageRequest, type RunRecord, type RunRef, type VersionRecord, type VersionRef } from "../../core/model.js";
import type { LineageStore } from "../../core/ports.js";
import { DynamoTable, tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";
import { toVersion } from "./artifact-store.js";
import { upsertRunItem } from "./run-items.js";


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
      ":config": run.config,
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
      source: (cause) =>
        new NotFoundError(`${source.project}/${source.artifact} has no version ${versionLabel(source.index)}`, { cause }),
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

  async listVersionConsumers(version: VersionRef, page: PageRequest): Promise<Page<RunRef>> {
    const partition = keys.artifactPartition(version.project, version.artifact);
    const prefix = keys.usedByPrefix(version.index);
    return this.partitionPage(
      partition,
      prefix,
      page,
      (item) => ({ project: item.runProject as string, id: item.runId as string }),
    );
  }
}

function toVersionRef(item: Item): VersionRef {
  return { project: item.project as string, artifact: item.artifact as string, index: item.index as number };
}

function toRun(item: Item): RunRecord {
  return {
    project: item.project as string,
    id: item.id as string,
    ...(item.name === undefined ? {} : { name: item.name as string }),
    config: (item.config as Record<string, unknown> | undefined) ?? {},
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
  };
}
