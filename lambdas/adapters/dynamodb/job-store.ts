import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { ConflictError } from "../../core/errors.js";
import type { JobRecord } from "../../core/model.js";
import type { JobStore } from "../../core/ports.js";
import { DynamoTable, TransactionLost, tagged, type Item } from "./dynamo-table.js";
import { keys } from "./keys.js";

const ACTIVE = new Set(["queued", "running"]);

/**
 * Jobs (core/jobs.ts): one item each, `JOB#<id>` / `JOB`. While queued or running it sits in
 * the sparse GSI1 partition `JOBS#ACTIVE` (sorted by creation), which runners query; each
 * step's write expects the step before it and the runner's lease, so two runners never
 * both advance one job. Its creation and its end are audit events in the history of its
 * artifact (a project delete: of its project).
 */
export class DynamoJobStore extends DynamoTable implements JobStore {
  async createJob(job: JobRecord): Promise<void> {
    await this.transact(
      [
        tagged("job", { Put: { TableName: this.tableName, Item: jobItem(job), ConditionExpression: "attribute_not_exists(PK)" } }),
        this.eventItem(historyOf(job), {
          action: "job.created",
          actor: job.createdBy,
          at: job.createdAt,
          job: job.id,
          kind: job.kind,
          project: job.project,
          ...(job.artifact === undefined ? {} : { artifact: job.artifact }),
          ...(job.filter === undefined ? {} : { filter: job.filter }),
          force: job.force,
        }),
      ],
      { job: () => new ConflictError(`job ${job.id} exists`) },
    );
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const result = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.job(id), ConsistentRead: true }));
    return result.Item && toJob(result.Item);
  }

  async activeJobs(limit: number): Promise<string[]> {
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: "GSI1",
        KeyConditionExpression: "GSI1PK = :pk",
        ExpressionAttributeValues: { ":pk": keys.activeJobsIndex },
        ProjectionExpression: "id",
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => item.id as string);
  }

  async claimJob(id: string, holder: string, now: string, leaseUntil: string): Promise<JobRecord | undefined> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.job(id),
          UpdateExpression: "SET leaseHolder = :holder, leaseUntil = :until, #status = :running",
          ConditionExpression:
            "attribute_exists(PK) AND #status IN (:queued, :running) AND " +
            "(attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseHolder = :holder)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":holder": holder, ":until": leaseUntil, ":now": now, ":queued": "queued", ":running": "running" },
          ReturnValues: "ALL_NEW",
        }),
      );
      return result.Attributes && toJob(result.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async saveJob(job: JobRecord, holder: string): Promise<boolean> {
    const finished = !ACTIVE.has(job.status);
    try {
      await this.transact([
        tagged("job", {
          Put: {
            TableName: this.tableName,
            Item: jobItem(job),
            ConditionExpression: "#step = :previous AND leaseHolder = :holder",
            ExpressionAttributeNames: { "#step": "step" },
            ExpressionAttributeValues: { ":previous": job.step - 1, ":holder": holder },
          },
        }),
        ...(finished
          ? [
              this.eventItem(historyOf(job), {
                action: "job.finished",
                actor: job.createdBy,
                at: job.updatedAt,
                job: job.id,
                kind: job.kind,
                status: job.status,
                progress: job.progress,
              }),
            ]
          : []),
      ]);
      return true;
    } catch (error) {
      // Another runner took the job over (its lease ran out) or wrote this step: it goes on from there.
      if (error instanceof TransactionLost) return false;
      throw error;
    }
  }
}

function historyOf(job: JobRecord): string {
  return job.artifact === undefined ? keys.projectHistory(job.project) : keys.artifactHistory(job.project, job.artifact);
}

function jobItem(job: JobRecord): Item {
  const active = ACTIVE.has(job.status);
  return {
    ...keys.job(job.id),
    entity: "job",
    ...(active ? { GSI1PK: keys.activeJobsIndex, GSI1SK: `${job.createdAt}#${job.id}` } : {}),
    ...(JSON.parse(JSON.stringify(job)) as Item),
  };
}

function toJob(item: Item): JobRecord {
  return {
    id: item.id as string,
    kind: item.kind as JobRecord["kind"],
    status: item.status as JobRecord["status"],
    project: item.project as string,
    ...(item.artifact === undefined ? {} : { artifact: item.artifact as string }),
    ...(item.filter === undefined ? {} : { filter: item.filter as JobRecord["filter"] }),
    force: item.force as boolean,
    createdBy: item.createdBy as string,
    orgRole: item.orgRole as JobRecord["orgRole"],
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    progress: item.progress as JobRecord["progress"],
    cursor: (item.cursor as JobRecord["cursor"] | undefined) ?? {},
    skipped: (item.skipped as JobRecord["skipped"] | undefined) ?? [],
    errors: (item.errors as string[] | undefined) ?? [],
    step: item.step as number,
    ...(item.leaseHolder === undefined ? {} : { leaseHolder: item.leaseHolder as string }),
    ...(item.leaseUntil === undefined ? {} : { leaseUntil: item.leaseUntil as string }),
  };
}
