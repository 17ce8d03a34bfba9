import { App, Stack, type CfnElement } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import type { RegistryFunction } from "../../infra/constructs/registry-function.js";
import { routes, type RouteDefinition } from "../../lambdas/contract/routes.js";
import { buildMregApp, type MregStacks } from "../../infra/mreg-app.js";

export interface SynthesizedApp extends MregStacks {
  app: App;
  data: Template;
  api: Template;
}

/**
 * Builds the app as `npm run synth` does (cdk-nag included: a finding fails the synth) and
 * returns both templates. `bundle: false` skips esbuild (a second or more per function) for
 * the synths that do not look at code.
 */
export function synthesize(
  options: { context?: Record<string, unknown>; bundle?: boolean; routes?: readonly RouteDefinition[] } = {},
): SynthesizedApp {
  const app = new App({
    context: {
      ...(options.bundle === false ? { "aws:cdk:bundling-stacks": [] } : {}),
      ...options.context,
    },
  });
  const stacks = buildMregApp(app, { routes: options.routes ?? routes });
  return {
    app,
    ...stacks,
    data: Template.fromStack(stacks.stateful),
    api: Template.fromStack(stacks.stateless),
  };
}

/** The logical id CloudFormation knows a construct's resource by. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/** The environment variables a function is deployed with, tokens resolved to CloudFormation. */
export function environmentOf(fn: RegistryFunction): Record<string, unknown> {
  const cfn = fn.function.node.defaultChild as CfnFunction;
  return (Stack.of(cfn).resolve(cfn.environment) as { variables: Record<string, unknown> }).variables;
}

/** The variables as the function sees them once deployed: imported values become plain names. */
export function deployedEnvironment(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, typeof value === "string" ? value : `deployed-${name.toLowerCase()}`]),
  );
}

/** The statements of every policy attached to a function's role. */
export function statementsOf(template: Template, fn: RegistryFunction): Record<string, unknown>[] {
  const policies = Object.values(template.findResources("AWS::IAM::Policy") as Resources).filter((p) =>
    (p.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === logicalId(fn.role)),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}
