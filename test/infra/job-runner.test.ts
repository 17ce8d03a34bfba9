import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { tableActions } from "../../infra/function-access.js";
import { environmentOf, logicalId, statementsOf, synthesize, type SynthesizedApp } from "./synth.js";

/** The scheduled job runner (lambdas/functions/job-runner.ts): its schedule, grants, sizing and alarm. */
let synth: SynthesizedApp;
let api: Template;

beforeAll(() => {
  synth = synthesize();
  api = synth.api;
});

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

describe("job runner", () => {
  it("runs every minute, a missed run made up by the next one", () => {
    const arn = { "Fn::GetAtt": [logicalId(synth.stateless.jobRunner.function), "Arn"] };
    const rules = Object.values(api.findResources("AWS::Events::Rule") as Resources).filter((rule) =>
      JSON.stringify(rule.Properties.Targets).includes(JSON.stringify(arn)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties).toMatchObject({
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [{ Arn: arn, RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    api.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: arn,
      Principal: "events.amazonaws.com",
    });
  });

  it("reads and writes the table and its indexes, reads manifests (to release deleted versions' blobs), nothing else but logs and traces", () => {
    const statements = statementsOf(api, synth.stateless.jobRunner);
    const table = statements.filter((s) => [s.Action].flat().some((a) => tableActions.readwrite.includes(String(a))));
    expect(table).toHaveLength(1);
    expect(table[0]!.Action).toEqual([...tableActions.readwrite]);
    const s3 = statements.filter((s) => JSON.stringify(s.Action).includes("s3:"));
    expect(s3).toHaveLength(1);
    expect(s3[0]!.Action).toEqual("s3:GetObject");
    expect(JSON.stringify(s3[0]!.Resource)).toContain("manifests/");
    expect(statements).toHaveLength(4);
  });

  it("has the API's configuration, five minutes and an alarm on its errors", () => {
    expect(environmentOf(synth.stateless.jobRunner)).toEqual(environmentOf(synth.stateless.functions.get("artifacts")!));
    api.hasResourceProperties("AWS::Lambda::Function", {
      Description: "mreg job-runner: steps of the bulk delete jobs",
      Timeout: 300,
      MemorySize: 512,
    });
    api.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: logicalId(synth.stateless.jobRunner.function) } }],
    });
  });
});
