import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lambdas/config.js";
import { GC_GRACE_HOURS } from "../../lambdas/settings.js";
import { tableActions } from "../../infra/function-access.js";
import { deployedEnvironment, environmentOf, logicalId, statementsOf, synthesize, type SynthesizedApp } from "./synth.js";

/** The scheduled garbage collector (lambdas/handlers/garbage-collector.ts): its schedule and least-privilege grants. */
let synth: SynthesizedApp;
let api: Template;

beforeAll(() => {
  synth = synthesize();
  api = synth.api;
});

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

describe("garbage collector", () => {
  it("runs every hour, without retries of a missed round", () => {
    const arn = { "Fn::GetAtt": [logicalId(synth.stateless.garbageCollector.function), "Arn"] };
    const rules = Object.values(api.findResources("AWS::Events::Rule") as Resources).filter((rule) =>
      (rule.Properties.Targets as { Arn: unknown }[]).some((target) => JSON.stringify(target.Arn) === JSON.stringify(arn)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties).toMatchObject({
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Targets: [{ Arn: arn, RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    api.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: arn,
      Principal: "events.amazonaws.com",
    });
  });

  it("may delete blobs/ objects and read manifests, and nothing else in the bucket", () => {
    const statements = statementsOf(api, synth.stateless.garbageCollector);
    const s3 = statements.filter((s) => [s.Action].flat().some((a) => String(a).startsWith("s3:")));
    expect(s3).toHaveLength(2);
    const byAction = Object.fromEntries(s3.map((s) => [[s.Action].flat().join(","), JSON.stringify(s.Resource)]));
    expect(Object.keys(byAction).sort()).toEqual(["s3:DeleteObject", "s3:GetObject"]);
    expect(byAction["s3:DeleteObject"]).toContain("/blobs/*");
    expect(byAction["s3:GetObject"]).toContain("/manifests/*");
    const dynamo = statements.filter((s) => [s.Action].flat().some((a) => tableActions.readwrite.includes(String(a))));
    expect(dynamo).toHaveLength(1);
    expect(dynamo[0]!.Action).toEqual([...tableActions.readwrite]);
  });

  it("gets the API's configuration, with the default grace period", () => {
    const variables = environmentOf(synth.stateless.garbageCollector);
    expect(variables).toEqual(environmentOf(synth.stateless.functions.get("artifacts")!));
    expect(loadConfig(deployedEnvironment(variables)).gcGraceHours).toBe(GC_GRACE_HOURS.default);
  });

  it("alarms when a round fails", () => {
    api.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: logicalId(synth.stateless.garbageCollector.function) } }],
    });
  });
});
