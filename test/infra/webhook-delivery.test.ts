import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lambdas/config.js";
import { tableActions } from "../../infra/function-access.js";
import type { RegistryFunction } from "../../infra/constructs/registry-function.js";
import {
  deployedEnvironment,
  environmentOf,
  logicalId,
  statementsOf as statementsOfFunction,
  synthesize,
  type SynthesizedApp,
} from "./synth.js";

/** The wiring of webhook delivery: the stream consumer's configuration and grants, the scheduled sweeper. */
let synth: SynthesizedApp;
let api: Template;

beforeAll(() => {
  synth = synthesize();
  api = synth.api;
});

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

const statementsOf = (fn: RegistryFunction) => statementsOfFunction(api, fn);

/** Statements on the table's items (the consumer's stream statements are the event source's). */
const tableStatement = (statements: Record<string, unknown>[]) =>
  statements.filter((s) => [s.Action].flat().some((a) => tableActions.readwrite.includes(String(a))));

describe("webhook delivery", () => {
  it("gives the stream consumer and the sweeper the API's configuration, which lambdas/config.ts accepts", () => {
    const apiEnvironment = environmentOf(synth.stateless.functions.get("automations")!);
    for (const fn of [synth.stateless.streamConsumer, synth.stateless.deliverySweeper]) {
      const variables = environmentOf(fn);
      expect(variables).toEqual(apiEnvironment);
      const config = loadConfig(deployedEnvironment(variables));
      // Deployed deliveries refuse loopback and private targets.
      expect(config.webhookAllowLoopback).toBe(false);
      expect(config.webhookAllowPrivate).toBe(false);
    }
  });

  it("lets both read and write the table (automations, links, deliveries) and touch no bucket", () => {
    for (const fn of [synth.stateless.streamConsumer, synth.stateless.deliverySweeper]) {
      const statements = statementsOf(fn);
      const dynamo = tableStatement(statements);
      expect(dynamo).toHaveLength(1);
      expect(dynamo[0]!.Action).toEqual([...tableActions.readwrite]);
      expect(JSON.stringify(statements)).not.toContain("s3:");
    }
    // The sweeper reads no stream and sends to no queue: its table grant, its logs and its traces are all.
    expect(statementsOf(synth.stateless.deliverySweeper)).toHaveLength(3);
    expect(statementsOf(synth.stateless.deliverySweeper)).toContainEqual({
      Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
      Effect: "Allow",
      Resource: "*",
    });
  });

  it("sweeps every minute, without retries of a missed sweep (the next one makes up for it)", () => {
    // The job runner and the garbage collector have schedules of their own.
    const sweeperArn = { "Fn::GetAtt": [logicalId(synth.stateless.deliverySweeper.function), "Arn"] };
    const rules = Object.values(api.findResources("AWS::Events::Rule") as Resources).filter((rule) =>
      (rule.Properties.Targets as { Arn: unknown }[]).some((target) => JSON.stringify(target.Arn) === JSON.stringify(sweeperArn)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties).toMatchObject({
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        {
          Arn: { "Fn::GetAtt": [logicalId(synth.stateless.deliverySweeper.function), "Arn"] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        },
      ],
    });
    api.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [logicalId(synth.stateless.deliverySweeper.function), "Arn"] },
      Principal: "events.amazonaws.com",
    });
  });

  it("alarms when the sweeper fails", () => {
    api.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: logicalId(synth.stateless.deliverySweeper.function) } }],
    });
  });

  it("bundles the sweeper into a module a bare node imports, exporting a handler", () => {
    const fn = synth.stateless.deliverySweeper;
    const code = Stack.of(fn).resolve((fn.function.node.defaultChild as CfnFunction).code) as { s3Key: string };
    const bundle = path.join(synth.app.outdir, `asset.${code.s3Key.replace(/\.zip$/, "")}`, "index.mjs");
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
    expect(exported).toBe("function");
  });
});
