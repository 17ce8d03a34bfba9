import { existsSync } from "node:fs";
import { Stack } from "aws-cdk-lib";
import { Table, AttributeType } from "aws-cdk-lib/aws-dynamodb";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { describe, expect, it } from "vitest";
import { functionNames, routes, type RouteDefinition } from "../../lambdas/contract/routes.js";
import { assertNoSiblingVariables } from "../../infra/constructs/registry-api.js";
import { accessOf, bucketActionsByPrefix, functionAccess, type FunctionAccess } from "../../infra/function-access.js";
import { statementsFor } from "../../infra/grant-statements.js";
import { handlerEntry } from "../../infra/paths.js";

describe("function declarations", () => {
  it.each(functionNames)("%s, named in the route table, declares what it may touch", (name) => {
    expect(() => accessOf(name)).not.toThrow();
  });

  it.each(functionNames)("%s has its entry module lambdas/handlers/%s.ts", (name) => {
    expect(existsSync(handlerEntry(name))).toBe(true);
  });

  it("refuses an undeclared function, naming the file to edit", () => {
    expect(() => accessOf("reports")).toThrow(/"reports".*infra\/function-access\.ts/);
  });

  it("gives the public health function nothing but its configuration", () => {
    expect(functionAccess.health).toMatchObject({ table: "none", bucket: [] });
    expect(routes.filter((r) => r.function === "health").every((r) => r.permission === "public")).toBe(true);
  });
});

describe("bucket capabilities", () => {
  it("merge into one sorted action list per key prefix", () => {
    expect(Object.fromEntries(bucketActionsByPrefix(["download", "readManifests", "upload"]))).toEqual({
      "blobs/": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      "staging/": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      "manifests/": ["s3:GetObject"],
    });
  });

  it("grant nothing on the bucket for references: those are other buckets", () => {
    expect(bucketActionsByPrefix(["readReferences"]).size).toBe(0);
  });
});

describe("grant statements", () => {
  const stack = new Stack();
  const targets = {
    table: new Table(stack, "T", { partitionKey: { name: "PK", type: AttributeType.STRING } }),
    bucket: new Bucket(stack, "B"),
    referenceBuckets: ["refs-a"],
  };
  const json = (access: FunctionAccess, authenticates: boolean) =>
    statementsFor("f", access, authenticates, targets).map((s) => stack.resolve(s.toStatementJson()));

  it("let a read-only function that authenticates update API key items only (lastUsedAt)", () => {
    const statements = json({ table: "read", bucket: [] }, true);
    expect(statements).toHaveLength(2);
    expect(statements[0].Action).toEqual(["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]);
    expect(statements[1]).toMatchObject({
      Action: "dynamodb:UpdateItem",
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["APIKEY#*"] } },
    });
  });

  it("give a read-only public function no write at all", () => {
    const statements = json({ table: "read", bucket: [] }, false);
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain("dynamodb:UpdateItem");
  });

  it("refuse a function that authenticates but may not read the table", () => {
    expect(() => json({ table: "none", bucket: [] }, true)).toThrow(/authenticated routes/);
  });

  it("name each index of the table definition instead of index/*", () => {
    const [table] = json({ table: "readwrite", bucket: [] }, false);
    const resources = JSON.stringify(table.Resource);
    expect(resources).toContain("/index/GSI1");
    expect(resources).toContain("/index/GSI2");
    expect(resources).not.toContain("/index/*");
  });

  it("read reference buckets only when the function declares it", () => {
    const without = json({ table: "readwrite", bucket: ["download"] }, false);
    expect(JSON.stringify(without)).not.toContain("refs-a");
    const withRefs = json({ table: "readwrite", bucket: ["download", "readReferences"] }, false);
    expect(withRefs.at(-1)).toEqual({
      Action: ["s3:GetObject", "s3:GetObjectVersion"],
      Effect: "Allow",
      Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::refs-a/*"]] },
    });
  });
});

describe("route table shape", () => {
  it("names each path variable position one way, as API Gateway requires", () => {
    expect(() => assertNoSiblingVariables(routes)).not.toThrow();
  });

  it("catches two names for one position at synth instead of at deploy", () => {
    const conflicting: RouteDefinition[] = [
      { method: "GET", path: "/v1/registries/{registry}", function: "registries", operation: "a", permission: "public" },
      { method: "GET", path: "/v1/registries/{name}/members", function: "registries", operation: "b", permission: "public" },
    ];
    expect(() => assertNoSiblingVariables(conflicting)).toThrow(/\{registry\} vs \{name\}/);
  });
});
