import type { RunRef } from "../../core/model.js";
import { tagged, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * The run item as an upsert: a commit or an input naming an unknown run creates it (with
 * no name or config), so every lineage edge has a run at its end. An existing run keeps
 * who created it and when.
 */
export function upsertRunItem(tableName: string, run: RunRef, change: { actor: string; at: string }): Tagged {
  const upsert = runUpsertExpression(run, change);
  return tagged("run", {
    Update: {
      TableName: tableName,
      Key: keys.run(run.project, run.id),
      UpdateExpression: `SET ${upsert.sets}`,
      ExpressionAttributeNames: upsert.names,
      ExpressionAttributeValues: upsert.values,
    },
  });
}

/** The SET clauses (and their names and values) that create the run item or leave an existing one as it is. */
export function runUpsertExpression(
  run: RunRef,
  change: { actor: string; at: string },
): { sets: string; names: Record<string, string>; values: Record<string, unknown> } {
  return {
    sets:
      "#entity = :entity, #project = :project, #id = :id, #config = if_not_exists(#config, :config), " +
      "#createdAt = if_not_exists(#createdAt, :at), #createdBy = if_not_exists(#createdBy, :actor)",
    names: {
      "#entity": "entity",
      "#project": "project",
      "#id": "id",
      "#config": "config",
      "#createdAt": "createdAt",
      "#createdBy": "createdBy",
    },
    values: {
      ":entity": "run",
      ":project": run.project,
      ":id": run.id,
      ":config": {},
      ":at": change.at,
      ":actor": change.actor,
    },
  };
}

/**
 * The writes that record "run produced this version", for the commit's own transaction: the
 * edge exists exactly when the version does.
 */
export function runOutputItems(
  tableName: string,
  output: { project: string; artifact: string; index: number; runId: string; actor: string; at: string },
): Tagged[] {
  const run = { project: output.project, id: output.runId };
  return [
    upsertRunItem(tableName, run, output),
    tagged("runOutput", {
      Put: {
        TableName: tableName,
        Item: {
          ...keys.runOutput(output.project, output.runId, output.artifact, output.index),
          entity: "runOutput",
          project: output.project,
          artifact: output.artifact,
          index: output.index,
          at: output.at,
        },
      },
    }),
  ];
}
