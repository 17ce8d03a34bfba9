import { spawnSync } from "node:child_process";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTable } from "../../lambdas/adapters/dynamodb/ensure-table.js";
import { DynamoIdentityStore } from "../../lambdas/adapters/dynamodb/identity-store.js";
import { DynamoRegistryStore } from "../../lambdas/adapters/dynamodb/registry-store.js";
import { authenticate } from "../../lambdas/core/api-keys.js";
import { startDynamoDbLocal, type DynamoDbLocal } from "../../local/dynamodb-local.js";
import { projectRoot } from "../../infra/paths.js";

// `npm run admin:create` against a real table: DynamoDB Local stands in for the deployed one.
let dynamo: DynamoDbLocal;
const credentials = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" };

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  const client = localClient();
  for (const table of ["first", "chosen", "older"]) await ensureTable(client, table);
});

afterAll(async () => {
  await dynamo?.stop();
});

function localClient(): DynamoDBClient {
  return new DynamoDBClient({
    region: "eu-west-1",
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

function createAdmin(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(
    path.join(projectRoot, "node_modules", ".bin", "tsx"),
    [path.join(projectRoot, "infra", "scripts", "create-admin.ts"), ...args],
    {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...credentials,
        ...env,
      },
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function authenticates(table: string, key: string) {
  const client = DynamoDBDocumentClient.from(localClient());
  const identity = new DynamoIdentityStore(client, table);
  return authenticate({ identity, clock: { now: () => new Date() } }, `Bearer ${key}`);
}

function registryStore(table: string) {
  return new DynamoRegistryStore(DynamoDBDocumentClient.from(localClient()), table);
}

describe("npm run admin:create", () => {
  it("creates the admin once and prints its key alone on stdout; the key authenticates as an org admin", async () => {
    const first = createAdmin(["--table", "first", "--region", "eu-west-1"]);
    expect(first.status, first.stderr).toBe(0);
    const key = first.stdout.trim();
    expect(key).toMatch(/^mreg_[A-Za-z0-9_-]{43}$/);
    await expect(authenticates("first", key)).resolves.toMatchObject({ userId: "admin", orgRole: "admin" });

    const registries = registryStore("first");
    expect((await registries.getRegistryAccess("model", undefined)).registry).toMatchObject({
      artifactTypes: ["model"],
      protectedAliases: ["production"],
    });
    expect((await registries.getRegistryAccess("dataset", undefined)).registry).toMatchObject({ artifactTypes: ["dataset"] });

    const second = createAdmin(["--table", "first", "--region", "eu-west-1"]);
    expect(second.status).toBe(1);
    expect(second.stdout).toBe("");
    expect(second.stderr).toMatch(/already has its admin/);
  });

  it("registers a chosen key from MREG_ADMIN_KEY, idempotently", async () => {
    const chosen = "team-admin-key-0123456789";
    for (let attempt = 1; attempt <= 2; attempt++) {
      const run = createAdmin(["--table", "chosen", "--region", "eu-west-1"], { MREG_ADMIN_KEY: chosen });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toBe("");
    }
    await expect(authenticates("chosen", chosen)).resolves.toMatchObject({ orgRole: "admin" });
  });

  it("gives a deployment that has its admin the default registries it lacks, and exits 0 for it", async () => {
    const client = DynamoDBDocumentClient.from(localClient());
    await new DynamoIdentityStore(client, "older").createUser({
      id: "admin",
      name: "Administrator",
      orgRole: "admin",
      status: "active",
      createdAt: new Date().toISOString(),
    });
    const run = createAdmin(["--table", "older", "--region", "eu-west-1"]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/created the default registries model, dataset/);
    expect((await registryStore("older").getRegistryAccess("dataset", undefined)).registry).toMatchObject({ visibility: "organization" });
    expect(createAdmin(["--table", "older", "--region", "eu-west-1"]).status).toBe(1);
  });

  it("names the missing table and the missing arguments", () => {
    const missing = createAdmin(["--table", "nope", "--region", "eu-west-1"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/table not found/);
    const usage = createAdmin([]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--table/);
  });
});
