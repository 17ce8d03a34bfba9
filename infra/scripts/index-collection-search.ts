/**
 * `npm run admin:index-search -- --table <name> [--region <region>]`: indexes the names of
 * collections created before the name search index existed (lambdas/adapters/dynamodb/
 * collection-search.ts), once per table; running it again changes nothing. Uses the caller's
 * AWS credentials.
 */
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureCollectionSearchIndex } from "../../lambdas/adapters/dynamodb/collection-search.js";

const usage = "usage: npm run admin:index-search -- --table <table name> [--region <region>]";

const { values } = parseArgs({ options: { table: { type: "string" }, region: { type: "string" } } });
const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
if (!values.table || !region) {
  console.error(usage);
  process.exit(2);
}
const indexed = await ensureCollectionSearchIndex(DynamoDBDocumentClient.from(new DynamoDBClient({ region })), values.table);
console.error(indexed === undefined ? `${values.table}: already indexed` : `${values.table}: indexed ${indexed} collections`);
