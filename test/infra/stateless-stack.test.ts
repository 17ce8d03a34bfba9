import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Stack } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lambdas/config.js";
import { ERROR_STATUS } from "../../lambdas/contract/errors.js";
import { MULTIPART_THRESHOLD, PART_SIZE } from "../../lambdas/settings.js";
import { routes, type RouteDefinition } from "../../lambdas/contract/routes.js";
import { accessOf, tableActions } from "../../infra/function-access.js";
import { JOB_RUNNER, STREAM_CONSUMER } from "../../infra/stacks/stateless-stack.js";
import { deployedEnvironment, environmentOf, logicalId, statementsOf, synthesize, type SynthesizedApp } from "./synth.js";

// One synth with real esbuild bundling for the whole file.
let synth: SynthesizedApp;
let api: Template;

beforeAll(() => {
  synth = synthesize();
  api = synth.api;
});

const apiFunctions = [...new Set(routes.map((route) => route.function))];

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/** What active tracing grants: sending traces, which names no resource. */
const XRAY_STATEMENT = { Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Effect: "Allow", Resource: "*" };

/** Full path of every API Gateway resource, from PathPart and ParentId. */
function resourcePaths(template: Template): Map<string, string> {
  const resources = template.findResources("AWS::ApiGateway::Resource") as Resources;
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const { ParentId, PathPart } = resources[id]!.Properties;
    const parent = ParentId.Ref ? pathOf(ParentId.Ref) : "";
    paths.set(id, `${parent}/${PathPart}`);
    return paths.get(id)!;
  };
  for (const id of Object.keys(resources)) pathOf(id);
  return paths;
}

function functionLogicalId(name: string): string {
  const fn = name === STREAM_CONSUMER ? synth.stateless.streamConsumer : synth.stateless.functions.get(name)!;
  return logicalId(fn.function);
}

describe("API wired from the route table", () => {
  it("has one method per route, at the route's path, integrated with the route's function", () => {
    const paths = resourcePaths(api);
    const methods = api.findResources("AWS::ApiGateway::Method") as Resources;
    const functionByLogicalId = new Map(apiFunctions.map((name) => [functionLogicalId(name), name]));
    const deployed = Object.values(methods).map(({ Properties: m }) => {
      const target = JSON.stringify(m.Integration.Uri).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)![1]!;
      return `${m.HttpMethod} ${paths.get(m.ResourceId.Ref)} -> ${functionByLogicalId.get(target)}`;
    });
    const expected = routes.map((route) => `${route.method} ${route.path} -> ${route.function}`);
    expect(deployed.sort()).toEqual(expected.sort());
  });

  it("uses Lambda proxy integrations (the handlers speak the REST v1 event)", () => {
    api.allResourcesProperties("AWS::ApiGateway::Method", {
      Integration: { Type: "AWS_PROXY", IntegrationHttpMethod: "POST" },
    });
  });

  it("makes API Gateway refuse requests without an Authorization header on every non-public route, and only there", () => {
    const paths = resourcePaths(api);
    const methods = Object.values(api.findResources("AWS::ApiGateway::Method") as Resources).map((r) => r.Properties);
    const validator = Object.keys(api.findResources("AWS::ApiGateway::RequestValidator"))[0]!;
    for (const route of routes) {
      const method = methods.find((m) => m.HttpMethod === route.method && paths.get(m.ResourceId.Ref) === route.path)!;
      if (route.permission === "public") {
        expect(method.RequestParameters, route.path).toBeUndefined();
      } else {
        expect(method.RequestParameters, `${route.method} ${route.path}`).toEqual({
          "method.request.header.Authorization": true,
        });
        expect(method.RequestValidatorId).toEqual({ Ref: validator });
      }
    }
    api.hasResourceProperties("AWS::ApiGateway::RequestValidator", { ValidateRequestParameters: true });
  });

  it("deploys a route added to the table without any change to infra", () => {
    const extra: RouteDefinition = {
      method: "GET",
      path: "/v1/projects/{project}/artifacts/{name}/stats",
      function: "artifacts",
      operation: "stats",
      permission: "project:read",
    };
    const { api: template } = synthesize({ bundle: false, routes: [...routes, extra] });
    const paths = [...resourcePaths(template).values()];
    expect(paths).toContain(extra.path);
  });

  it("stops the synth when a route names a function infra/function-access.ts does not declare", () => {
    const undeclared: RouteDefinition = {
      method: "GET",
      path: "/v1/things",
      function: "things",
      operation: "list",
      permission: "org:admin" as RouteDefinition["permission"],
    };
    expect(() => synthesize({ bundle: false, routes: [...routes, undeclared] })).toThrow(
      /"things" .* no declaration in infra\/function-access\.ts/,
    );
  });

  it("gives each function one invoke permission for the whole API instead of two per method", () => {
    const permissions = Object.values(api.findResources("AWS::Lambda::Permission") as Resources).map((r) => r.Properties);
    for (const name of apiFunctions) {
      const mine = permissions.filter((p) => p.FunctionName["Fn::GetAtt"]?.[0] === functionLogicalId(name));
      expect(mine, name).toHaveLength(1);
      expect(mine[0]!.Principal).toBe("apigateway.amazonaws.com");
      expect(JSON.stringify(mine[0]!.SourceArn)).toContain(`{"Ref":"${logicalId(synth.stateless.api.api)}"},"/*/*/*"`);
    }
  });

  it("is regional, throttled, logs errors but never bodies, and writes JSON access logs", () => {
    api.hasResourceProperties("AWS::ApiGateway::RestApi", { EndpointConfiguration: { Types: ["REGIONAL"] } });
    api.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "prod",
      MethodSettings: [
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
          LoggingLevel: "ERROR",
          DataTraceEnabled: false,
        }),
      ],
      AccessLogSetting: { DestinationArn: { "Fn::GetAtt": [logicalId(synth.stateless.api.accessLogs), "Arn"] } },
    });
    const stage = Object.values(api.findResources("AWS::ApiGateway::Stage") as Resources)[0]!.Properties;
    // Every $context variable becomes a JSON value: the line parses once API Gateway fills it in.
    const line = (stage.AccessLogSetting.Format as string)
      .replace(/\$context\.error\.messageString/g, '"boom \\"quoted\\""')
      .replace(/\$context\.[A-Za-z.]+/g, "x");
    expect(JSON.parse(line)).toMatchObject({ requestId: "x", status: "x", resource: "x", error: 'boom "quoted"' });
  });

  it("answers API Gateway's own refusals in the registry's error shape", () => {
    const responses = Object.values(api.findResources("AWS::ApiGateway::GatewayResponse") as Resources).map((r) => r.Properties);
    const byType = new Map(responses.map((r) => [r.ResponseType as string, r]));
    expect(byType.get("BAD_REQUEST_PARAMETERS")?.StatusCode).toBe("401");
    expect(byType.get("MISSING_AUTHENTICATION_TOKEN")?.StatusCode).toBe("404");
    expect(byType.get("THROTTLED")?.StatusCode).toBe("429");
    for (const response of responses) {
      const body = (response.ResponseTemplates["application/json"] as string)
        .replace("$context.error.messageString", '"a message"')
        .replace("$context.requestId", "req-1");
      const parsed = JSON.parse(body) as { error: { code: string; message: string } };
      expect(parsed.error.code, response.ResponseType).toMatch(/^[a-z_]+$/);
      expect(parsed.error.message.length).toBeGreaterThan(0);
    }
    expect(JSON.parse(byType.get("THROTTLED")!.ResponseTemplates["application/json"].replace("$context.requestId", "r"))).toEqual({
      error: { code: "too_many_requests", message: "the registry is busy; retry shortly", requestId: "r" },
    });
    // Each status is the one the handlers answer the same code with (lambdas/contract/errors.ts).
    for (const response of responses) {
      const { code } = JSON.parse(
        (response.ResponseTemplates["application/json"] as string)
          .replace("$context.error.messageString", '"m"')
          .replace("$context.requestId", "r"),
      ).error as { code: keyof typeof ERROR_STATUS };
      expect(code in ERROR_STATUS, code).toBe(true);
      if (response.StatusCode !== undefined) expect(response.StatusCode, code).toBe(String(ERROR_STATUS[code]));
    }
    expect(byType.get("INTEGRATION_TIMEOUT")?.StatusCode).toBe("504");
    expect(byType.get("REQUEST_TOO_LARGE")?.StatusCode).toBe("413");
  });
});

describe("functions", () => {
  it("run Node 24 on ARM64 from a bundled ES module, with their own log group and no managed policy", () => {
    for (const name of [...apiFunctions, STREAM_CONSUMER, JOB_RUNNER]) {
      const fn =
        name === STREAM_CONSUMER
          ? synth.stateless.streamConsumer
          : name === JOB_RUNNER
            ? synth.stateless.jobRunner
            : synth.stateless.functions.get(name)!;
      api.hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: Match.absent(),
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        Role: { "Fn::GetAtt": [logicalId(fn.role), "Arn"] },
        LoggingConfig: { LogGroup: { Ref: logicalId(fn.logGroup) } },
        Description: Match.stringLikeRegexp(name),
      });
      api.hasResourceProperties("AWS::IAM::Role", {
        RoleName: Match.absent(),
        ManagedPolicyArns: Match.absent(),
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: "lambda.amazonaws.com" } })],
        },
      });
    }
  });

  it("get exactly the environment lambdas/config.ts reads, and it passes that validation", () => {
    for (const name of apiFunctions) {
      const variables = environmentOf(synth.stateless.functions.get(name)!);
      expect(variables, name).toEqual({
        NODE_OPTIONS: "--enable-source-maps",
        MREG_TABLE_NAME: { "Fn::ImportValue": "Mreg-TableName" },
        MREG_BUCKET: { "Fn::ImportValue": "Mreg-BucketName" },
        MREG_URL_EXPIRY_SECONDS: "3600",
        MREG_SIGN_CHECKSUMS: "true",
      });
      const config = loadConfig(deployedEnvironment(variables));
      expect(config.signChecksums).toBe(true);
      expect(config.urlExpirySeconds).toBe(3600);
      // Left to the defaults of lambdas/settings.ts: 64 MiB and 16 MiB.
      expect(config.multipartThreshold).toBe(MULTIPART_THRESHOLD.default);
      expect(config.multipartThreshold).toBe(64 * 1024 * 1024);
      expect(config.partSize).toBe(PART_SIZE.default);
      expect(config.partSize).toBe(16 * 1024 * 1024);
      expect(config.logLevel).toBe("info");
    }
  });

  it("trace every invocation with X-Ray, and may send the traces", () => {
    const all = [
      ...synth.stateless.functions.values(),
      synth.stateless.streamConsumer,
      synth.stateless.deliverySweeper,
      synth.stateless.jobRunner,
      synth.stateless.garbageCollector,
    ];
    expect(all).toHaveLength(apiFunctions.length + 4);
    for (const fn of all) {
      const cfn = fn.function.node.defaultChild as CfnFunction;
      expect(Stack.of(cfn).resolve(cfn.tracingConfig), fn.node.id).toEqual({ mode: "Active" });
      expect(statementsOf(api, fn), fn.node.id).toContainEqual(XRAY_STATEMENT);
    }
  });

  it("give the multipart-verifying artifacts function a full vCPU and a timeout beyond API Gateway's", () => {
    api.hasResourceProperties("AWS::Lambda::Function", {
      Role: { "Fn::GetAtt": [logicalId(synth.stateless.functions.get("artifacts")!.role), "Arn"] },
      MemorySize: 1769,
      Timeout: 900,
    });
  });

  it("are bundles under 1 MB minified that a bare node imports, exporting a handler", () => {
    for (const name of [...apiFunctions, STREAM_CONSUMER, JOB_RUNNER]) {
      const fn =
        name === STREAM_CONSUMER
          ? synth.stateless.streamConsumer
          : name === JOB_RUNNER
            ? synth.stateless.jobRunner
            : synth.stateless.functions.get(name)!;
      const code = Stack.of(fn).resolve((fn.function.node.defaultChild as CfnFunction).code) as { s3Key: string };
      const bundle = path.join(synth.app.outdir, `asset.${code.s3Key.replace(/\.zip$/, "")}`, "index.mjs");
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      // The bundle size budget (the import-time budget is measured by npm run measure:bundles).
      expect(statSync(bundle).size, name).toBeLessThan(1_000_000);
      // A fresh process, as Lambda loads it: nothing from this repository's node_modules is
      // resolved, and the configuration and services are built at import, from the deployed variables.
      const exported = execFileSync(
        process.execPath,
        ["--input-type=module", "-e", "process.stdout.write(typeof (await import(process.argv[1])).handler)", pathToFileURL(bundle).href],
        {
          cwd: path.dirname(bundle),
          encoding: "utf8",
          env: {
            PATH: process.env.PATH ?? "",
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
            ...deployedEnvironment(environmentOf(fn)),
          },
        },
      );
      expect(exported, name).toBe("function");
    }
  });
});

describe("least privilege", () => {
  const tableArn = (suffix = "") => ({
    "Fn::Join": [
      "",
      [
        "arn:",
        { Ref: "AWS::Partition" },
        ":dynamodb:",
        { Ref: "AWS::Region" },
        ":",
        { Ref: "AWS::AccountId" },
        ":table/",
        { "Fn::ImportValue": "Mreg-TableName" },
        ...(suffix ? [suffix] : []),
      ],
    ],
  });
  const objects = (prefix: string) => ({ "Fn::Join": ["", [{ "Fn::ImportValue": "Mreg-BucketArn" }, `/${prefix}*`]] });
  const table = {
    Action: [...tableActions.readwrite],
    Effect: "Allow",
    Resource: [tableArn(), tableArn("/index/GSI1"), tableArn("/index/GSI2")],
  };

  function statementsOf(name: string): unknown[] {
    const fn = name === STREAM_CONSUMER ? synth.stateless.streamConsumer : synth.stateless.functions.get(name)!;
    const policies = Object.values(api.findResources("AWS::IAM::Policy") as Resources).filter((p) =>
      (p.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === logicalId(fn.role)),
    );
    expect(policies, name).toHaveLength(1);
    const statements = policies[0]!.Properties.PolicyDocument.Statement as Record<string, unknown>[];
    // Only the log-write and trace-sending statements are common to all: drop them after
    // checking the first names the function's own group and the last only sends traces.
    expect(statements[0]).toEqual({
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Effect: "Allow",
      Resource: { "Fn::GetAtt": [logicalId(fn.logGroup), "Arn"] },
    });
    expect(statements.filter((statement) => JSON.stringify(statement).includes("xray:"))).toEqual([XRAY_STATEMENT]);
    return statements.slice(1).filter((statement) => !JSON.stringify(statement).includes("xray:"));
  }

  const expected: Record<string, unknown[]> = {
    health: [],
    artifacts: [
      table,
      { Action: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], Effect: "Allow", Resource: objects("staging/") },
      {
        Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        Effect: "Allow",
        Resource: objects("blobs/"),
      },
      { Action: ["s3:GetObject", "s3:PutObject"], Effect: "Allow", Resource: objects("manifests/") },
    ],
    registries: [
      table,
      { Action: "s3:GetObject", Effect: "Allow", Resource: objects("blobs/") },
      { Action: "s3:GetObject", Effect: "Allow", Resource: objects("manifests/") },
    ],
    admin: [table],
  };
  // The Hugging Face protocol uploads, commits and downloads exactly as the artifacts function does.
  expected.hf = expected.artifacts!;

  it.each(Object.keys(expected))("%s may do exactly what it declares", (name) => {
    if (!apiFunctions.includes(name as never)) return;
    expect(statementsOf(name)).toEqual(expected[name]);
  });

  it("every function's actions are named (no wildcards) and its table grant matches its declaration", () => {
    for (const name of apiFunctions) {
      const statements = statementsOf(name) as { Action: string | string[]; Resource: unknown }[];
      for (const statement of statements) {
        for (const action of [statement.Action].flat()) expect(action, name).not.toContain("*");
        expect(statement.Resource).not.toBe("*");
      }
      const access = accessOf(name);
      const dynamo = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith("dynamodb:")));
      expect(
        dynamo.flatMap((s) => [s.Action].flat()),
        name,
      ).toEqual([...tableActions[access.table]]);
    }
  });

  it("the stream consumer reads the stream, reports failures to its queue, writes webhook deliveries, and touches nothing else", () => {
    expect(statementsOf(STREAM_CONSUMER)).toEqual([
      // Automations and links are read, deliveries written.
      table,
      {
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Effect: "Allow",
        Resource: { "Fn::GetAtt": [logicalId(synth.stateless.streamFailures), "Arn"] },
      },
      { Action: "dynamodb:ListStreams", Effect: "Allow", Resource: "*" },
      {
        Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
        Effect: "Allow",
        Resource: { "Fn::ImportValue": "Mreg-TableStreamArn" },
      },
    ]);
  });

  it("reference buckets listed in context are readable by the functions that resolve references, and only by them", () => {
    const { stateless, api: template } = synthesize({ bundle: false, context: { "mreg:referenceBuckets": "team-datasets" } });
    const readers = Object.values(template.findResources("AWS::IAM::Policy") as Resources).filter((policy) =>
      JSON.stringify(policy.Properties).includes("team-datasets"),
    );
    const readerRoles = readers.flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).sort();
    const declared = [...stateless.functions]
      .filter(([name]) => accessOf(name).bucket.includes("readReferences"))
      .map(([, fn]) => logicalId(fn.role))
      .sort();
    expect(readerRoles).toEqual(declared);
    for (const reader of readers) {
      expect(reader.Properties.PolicyDocument.Statement).toContainEqual({
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Effect: "Allow",
        Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::team-datasets/*"]] },
      });
    }
  });
});

describe("stream consumer", () => {
  it("reads new audit events from the table stream with bisection, bounded retries, a record age limit and a failure queue", () => {
    api.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionLogicalId(STREAM_CONSUMER) },
      EventSourceArn: { "Fn::ImportValue": "Mreg-TableStreamArn" },
      StartingPosition: "TRIM_HORIZON",
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 6 * 3600,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [logicalId(synth.stateless.streamFailures), "Arn"] } },
      },
    });
    const mapping = Object.values(api.findResources("AWS::Lambda::EventSourceMapping") as Resources)[0]!.Properties;
    const pattern = JSON.parse(mapping.FilterCriteria.Filters[0].Pattern as string);
    expect(pattern).toEqual({ eventName: ["INSERT"], dynamodb: { NewImage: { entity: { S: ["event"] } } } });
  });

  it("has an encrypted, TLS-only failure queue that keeps notes for 14 days", () => {
    api.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    api.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]),
      },
    });
  });
});

describe("alarms and outputs", () => {
  it("alarm on API 5xx, on each function's errors, on visible failure notes and on stream lag", () => {
    api.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/ApiGateway",
      MetricName: "5XXError",
      Dimensions: [{ Name: "ApiName", Value: "mreg-registry" }],
      Threshold: 1,
    });
    for (const name of [...apiFunctions, STREAM_CONSUMER]) {
      api.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/Lambda",
        MetricName: "Errors",
        Dimensions: [{ Name: "FunctionName", Value: { Ref: functionLogicalId(name) } }],
        Threshold: 1,
      });
    }
    api.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [logicalId(synth.stateless.streamFailures), "QueueName"] } }],
    });
    api.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "IteratorAge", Threshold: 300_000 });
  });

  it("notify an existing SNS topic when one is given", () => {
    const topic = "arn:aws:sns:eu-west-1:123456789012:ops";
    const { api: template } = synthesize({ bundle: false, context: { "mreg:alarmTopicArn": topic } });
    template.allResourcesProperties("AWS::CloudWatch::Alarm", { AlarmActions: [topic] });
  });

  it("output the API URL, the bucket and the table", () => {
    api.hasOutput("ApiUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["https://", "/"])] } });
    api.hasOutput("BucketName", { Value: { "Fn::ImportValue": "Mreg-BucketName" } });
    api.hasOutput("TableName", { Value: { "Fn::ImportValue": "Mreg-TableName" } });
  });
});
