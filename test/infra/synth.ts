import { App, Stack, type CfnElement } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { Template } from "aws-cdk-lib/assertions";
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
