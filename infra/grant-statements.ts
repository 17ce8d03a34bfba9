import { Aws } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { keys } from "../lambdas/adapters/dynamodb/keys.js";
import { tableDefinition } from "../lambdas/adapters/dynamodb/table-definition.js";
import { bucketActionsByPrefix, referenceActions, tableActions, type FunctionAccess } from "./function-access.js";

export interface GrantTargets {
  table: ITable;
  bucket: IBucket;
  referenceBuckets: readonly string[];
}

/**
 * The IAM statements for one function's declared access. Each index is named rather than
 * `index/*`, each bucket statement is confined to one key prefix.
 */
export function statementsFor(
  functionName: string,
  access: FunctionAccess,
  authenticates: boolean,
  targets: GrantTargets,
): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  const { table, bucket } = targets;
  if (authenticates && access.table === "none") {
    throw new Error(
      `function "${functionName}" serves authenticated routes, so it reads API keys and users: ` +
        `declare table "read" or "readwrite" for it in infra/function-access.ts`,
    );
  }
  if (access.table !== "none") {
    statements.push(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...tableActions[access.table]],
        resources: [table.tableArn, ...tableDefinition.globalSecondaryIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`)],
      }),
    );
  }
  if (authenticates && access.table === "read") {
    // Authentication records when a key was last used; a read-only function may update
    // API key items and nothing else.
    statements.push(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ["dynamodb:UpdateItem"],
        resources: [table.tableArn],
        conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [keys.apiKey("*").PK] } },
      }),
    );
  }
  for (const [prefix, actions] of bucketActionsByPrefix(access.bucket)) {
    statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions, resources: [bucket.arnForObjects(`${prefix}*`)] }));
  }
  if (access.bucket.includes("readReferences") && targets.referenceBuckets.length > 0) {
    statements.push(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...referenceActions],
        resources: targets.referenceBuckets.map((name) => `arn:${Aws.PARTITION}:s3:::${name}/*`),
      }),
    );
  }
  return statements;
}
