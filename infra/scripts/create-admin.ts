/**
 * `npm run admin:create -- --table <name> [--region <region>]`: creates the first org admin
 * of a deployed registry and prints its API key once, on stdout alone (messages go to
 * stderr), so `KEY=$(npm run -s admin:create -- …)` captures it. With MREG_ADMIN_KEY set,
 * that key is registered instead of a generated one. Every run also creates the default
 * registries (`model`, `dataset`) that are missing. Uses the caller's AWS credentials.
 */
import { parseArgs } from "node:util";
import { DynamoDBClient, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { monotonicFactory } from "ulid";
import { DynamoIdentityStore } from "../../lambdas/adapters/dynamodb/identity-store.js";
import { DynamoRegistryStore } from "../../lambdas/adapters/dynamodb/registry-store.js";
import { bootstrapAdmin } from "../../lambdas/core/bootstrap-admin.js";

const usage = "usage: npm run admin:create -- --table <table name> [--region <region>]";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { table: { type: "string" }, region: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.error(usage);
    return 0;
  }
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!values.table || !region) {
    console.error(`${usage}\n(the table name is the TableName output of the stacks; the region may come from AWS_REGION)`);
    return 2;
  }
  // The same document-client settings as the Lambda composition root (lambdas/composition.ts).
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const ulid = monotonicFactory();
  const result = await bootstrapAdmin(
    {
      identity: new DynamoIdentityStore(client, values.table),
      registries: new DynamoRegistryStore(client, values.table),
      clock: { now: () => new Date() },
      ids: { next: () => ulid() },
    },
    process.env.MREG_ADMIN_KEY || undefined,
  );
  if (result.registries.length > 0) {
    console.error(`created the default registries ${result.registries.join(", ")} in ${values.table} (${region})`);
  }
  if (result.secret) {
    console.error(`created the admin user in ${values.table} (${region}); its API key, shown only now:`);
    console.log(result.secret);
    return 0;
  }
  if (process.env.MREG_ADMIN_KEY) {
    console.error(`MREG_ADMIN_KEY is registered for the admin user in ${values.table} (${region})`);
    return 0;
  }
  console.error(
    `${values.table} already has its admin; no key was created. Create more keys with POST /v1/api-keys, ` +
      "or set MREG_ADMIN_KEY to register a chosen key for the admin.",
  );
  // Adding the default registries to an existing deployment is what this run was for.
  return result.registries.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message =
      error instanceof ResourceNotFoundException
        ? "table not found: check --table and --region (see the TableName stack output)"
        : error instanceof Error
          ? error.message
          : String(error);
    console.error(`admin:create: ${message}`);
    process.exit(1);
  },
);
