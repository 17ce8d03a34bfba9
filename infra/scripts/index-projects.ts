/**
 * `npm run admin:index-projects -- --table <name> [--region <region>]`: indexes the projects of
 * a table written before the projects index existed (lambdas/adapters/dynamodb/project-index.ts),
 * once per table: one scan for artifact items, then one item per project; running it again
 * changes nothing. Run it right after deploying, before clients log new artifacts. Uses the
 * caller's AWS credentials.
 */
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureProjectIndex } from "../../lambdas/adapters/dynamodb/project-index.js";

const usage = "usage: npm run admin:index-projects -- --table <table name> [--region <region>]";

const { values } = parseArgs({ options: { table: { type: "string" }, region: { type: "string" } } });
const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
if (!values.table || !region) {
  console.error(usage);
  process.exit(2);
}
const indexed = await ensureProjectIndex(DynamoDBDocumentClient.from(new DynamoDBClient({ region })), values.table);
console.error(indexed === undefined ? `${values.table}: already indexed` : `${values.table}: indexed ${indexed} projects`);
