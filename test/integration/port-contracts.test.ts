import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe } from "vitest";
import { DynamoJobStore } from "../../lambdas/adapters/dynamodb/job-store.js";
import { DynamoArtifactStore } from "../../lambdas/adapters/dynamodb/artifact-store.js";
import { DynamoAutomationStore } from "../../lambdas/adapters/dynamodb/automation-store.js";
import { DynamoBlobLedger } from "../../lambdas/adapters/dynamodb/blob-ledger.js";
import { ensureTable } from "../../lambdas/adapters/dynamodb/ensure-table.js";
import { DynamoIdentityStore } from "../../lambdas/adapters/dynamodb/identity-store.js";
import { DynamoLineageStore } from "../../lambdas/adapters/dynamodb/lineage-store.js";
import { DynamoPromotionStore } from "../../lambdas/adapters/dynamodb/promotion-store.js";
import { DynamoRegistryStore } from "../../lambdas/adapters/dynamodb/registry-store.js";
import { startDynamoDbLocal, type DynamoDbLocal } from "../../local/dynamodb-local.js";
import { portContracts } from "../contract/index.js";
import type { Stores } from "../contract/stores.js";

// One DynamoDB Local (in memory) for every suite; each test gets a table of its own.
let dynamo: DynamoDbLocal;
let client: DynamoDBClient;
let document: DynamoDBDocumentClient;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: "contract", secretAccessKey: "contract" },
  });
  // The composition root's document-client settings (lambdas/composition.ts).
  document = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
});

afterAll(async () => {
  client?.destroy();
  await dynamo?.stop();
});

async function dynamoStores(): Promise<Stores> {
  const table = `contract-${++tables}`;
  await ensureTable(client, table);
  return {
    artifacts: new DynamoArtifactStore(document, table),
    ledger: new DynamoBlobLedger(document, table),
    identity: new DynamoIdentityStore(document, table),
    registries: new DynamoRegistryStore(document, table),
    promotions: new DynamoPromotionStore(document, table),
    lineage: new DynamoLineageStore(document, table),
    automations: new DynamoAutomationStore(document, table),
    jobs: new DynamoJobStore(document, table),
    ledgerFor: (options) => new DynamoBlobLedger(document, table, options),
  };
}

describe("DynamoDB stores on DynamoDB Local", () => {
  portContracts(dynamoStores);
});
