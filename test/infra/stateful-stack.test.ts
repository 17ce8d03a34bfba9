import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { createTableInput, tableDefinition } from "../../lambdas/adapters/dynamodb/table-definition.js";
import { logicalId, synthesize, type SynthesizedApp } from "./synth.js";

let synth: SynthesizedApp;
let data: Template;

beforeAll(() => {
  synth = synthesize({ bundle: false });
  data = synth.data;
});

function tableProperties(): Record<string, unknown> {
  const tables = data.findResources("AWS::DynamoDB::Table");
  return Object.values(tables)[0]!.Properties as Record<string, unknown>;
}

const byName = <T extends { AttributeName?: string; IndexName?: string }>(items: T[]) =>
  [...items].sort((a, b) => String(a.IndexName ?? a.AttributeName).localeCompare(String(b.IndexName ?? b.AttributeName)));

describe("metadata table", () => {
  it("has exactly the keys and indexes of the shared table definition (the local CreateTable input)", () => {
    const local = createTableInput("any");
    const table = tableProperties() as {
      KeySchema: unknown[];
      AttributeDefinitions: { AttributeName: string }[];
      GlobalSecondaryIndexes: { IndexName: string }[];
    };
    expect(table.KeySchema).toEqual(local.KeySchema);
    expect(byName(table.AttributeDefinitions)).toEqual(byName(local.AttributeDefinitions!));
    expect(byName(table.GlobalSecondaryIndexes)).toEqual(byName(local.GlobalSecondaryIndexes!));
  });

  it("is on demand, with point-in-time recovery, a NEW_AND_OLD_IMAGES stream and the TTL attribute", () => {
    data.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
      TimeToLiveSpecification: { AttributeName: tableDefinition.timeToLiveAttribute, Enabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it("is retained when the stack is deleted or the table replaced", () => {
    data.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });
});

describe("blob bucket", () => {
  it("blocks all public access, enforces object ownership and encrypts with S3-managed keys", () => {
    data.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
  });

  it("aborts incomplete multipart uploads after one day and expires staged uploads under staging/", () => {
    data.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: "Enabled" }),
          Match.objectLike({ Prefix: "staging/", ExpirationInDays: 3, Status: "Enabled" }),
        ]),
      },
    });
    // Nothing expires blobs or manifests: a lifecycle rule without a prefix would.
    const rules = (
      Object.values(data.findResources("AWS::S3::Bucket"))[0]!.Properties as {
        LifecycleConfiguration: { Rules: { Prefix?: string; ExpirationInDays?: number }[] };
      }
    ).LifecycleConfiguration.Rules;
    expect(rules.filter((rule) => rule.ExpirationInDays !== undefined).map((rule) => rule.Prefix)).toEqual(["staging/"]);
  });

  it("lets browsers PUT and GET through presigned URLs and read the ETag of each part", () => {
    data.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedMethods: Match.arrayWith(["PUT", "GET"]),
            AllowedOrigins: ["*"],
            ExposedHeaders: ["ETag"],
          }),
        ],
      },
    });
  });

  it("refuses requests without TLS and below TLS 1.2", () => {
    const bucket = { "Fn::GetAtt": [logicalId(synth.stateful.bucket), "Arn"] };
    data.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
            Resource: [bucket, { "Fn::Join": ["", [bucket, "/*"]] }],
          }),
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } },
          }),
        ]),
      },
    });
  });

  it("is retained when the stack is deleted", () => {
    data.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });
});

describe("exports", () => {
  it("names what the stateless stack imports, and the stateless stack imports exactly those", () => {
    const names = synth.stateful.exportNames;
    for (const name of Object.values(names)) data.hasOutput("*", { Export: { Name: name } });
    const imported = new Set(JSON.stringify(synth.api.toJSON()).match(/"Fn::ImportValue":"[^"]+"/g));
    expect([...imported].map((s) => s.slice('"Fn::ImportValue":"'.length, -1)).sort()).toEqual(Object.values(names).sort());
  });
});

describe("deployment settings", () => {
  it("takes CORS origins from context", () => {
    const { data: custom } = synthesize({ bundle: false, context: { "mreg:corsOrigins": "https://a.example,https://b.example" } });
    custom.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedOrigins: ["https://a.example", "https://b.example"] })] },
    });
  });

  it("refuses a URL lifetime longer than Lambda's credentials can carry, naming the setting", () => {
    expect(() => synthesize({ bundle: false, context: { "mreg:urlExpirySeconds": 7 * 24 * 3600 } })).toThrow(/mreg:urlExpirySeconds/);
  });
});
