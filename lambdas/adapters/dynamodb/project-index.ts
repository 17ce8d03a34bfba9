import { GetCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ProjectRecord } from "../../core/model.js";
import { tagged, type Item, type Tagged } from "./dynamo-table.js";
import { keys } from "./keys.js";

/**
 * The projects index: one item per project (`PROJ#<project>` / `PROJECT`) in the GSI1
 * partition `PROJECTS`, sorted by name, carrying the project's artifact count. The commit
 * that creates an artifact writes it in its own transaction (`projectCountItem`), so
 * listing projects is one query, never a scan, and a project is listed exactly when it
 * holds an artifact.
 */
const ENTITY = "project";

/** Creates the project item on a project's first artifact, and counts every further one. */
export function projectCountItem(tableName: string, project: string, change: { actor: string; at: string }): Tagged {
  return tagged("project", {
    Update: {
      TableName: tableName,
      Key: keys.project(project),
      UpdateExpression:
        "SET #entity = :entity, #name = :name, GSI1PK = :index, GSI1SK = :name, " +
        "#createdAt = if_not_exists(#createdAt, :at), #createdBy = if_not_exists(#createdBy, :actor) ADD artifactCount :one",
      ExpressionAttributeNames: { "#entity": "entity", "#name": "name", "#createdAt": "createdAt", "#createdBy": "createdBy" },
      ExpressionAttributeValues: {
        ":entity": ENTITY,
        ":name": project,
        ":index": keys.projectsIndex,
        ":at": change.at,
        ":actor": change.actor,
        ":one": 1,
      },
    },
  });
}

export function toProject(item: Item): ProjectRecord {
  return {
    name: item.name as string,
    artifactCount: (item.artifactCount as number | undefined) ?? 0,
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
    ...(item.ttlDays === undefined ? {} : { ttlDays: item.ttlDays as number }),
  };
}

const BACKFILL = "project-index";

/**
 * Indexes the projects of a table written before the index existed: one scan for artifact
 * items (a one-time migration, never a request's path), then one project item per project
 * with its count and the earliest artifact's creation. A marker item makes a second run a
 * no-op. Run it before the API takes traffic (`npm start` does): an artifact created while it
 * runs could be counted once too few. Answers how many projects it indexed.
 */
export async function ensureProjectIndex(client: DynamoDBDocumentClient, tableName: string): Promise<number | undefined> {
  const marker = await client.send(new GetCommand({ TableName: tableName, Key: keys.migration(BACKFILL), ConsistentRead: true }));
  if (marker.Item) return undefined;
  const projects = new Map<string, ProjectRecord>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "#entity = :artifact",
        ProjectionExpression: "#project, #createdAt, #createdBy",
        ExpressionAttributeNames: { "#entity": "entity", "#project": "project", "#createdAt": "createdAt", "#createdBy": "createdBy" },
        ExpressionAttributeValues: { ":artifact": "artifact" },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const name = item.project as string;
      const seen = projects.get(name);
      const createdAt = item.createdAt as string;
      if (!seen) projects.set(name, { name, artifactCount: 1, createdAt, createdBy: item.createdBy as string });
      else {
        seen.artifactCount++;
        if (createdAt < seen.createdAt) Object.assign(seen, { createdAt, createdBy: item.createdBy as string });
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  for (const project of projects.values()) {
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...keys.project(project.name), entity: ENTITY, GSI1PK: keys.projectsIndex, GSI1SK: project.name, ...project },
      }),
    );
  }
  await client.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...keys.migration(BACKFILL), entity: "migration", at: new Date().toISOString(), indexed: projects.size },
    }),
  );
  return projects.size;
}
