import { Tags, Validations, type App } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { routes, type RouteDefinition } from "../lambdas/contract/routes.js";
import { acknowledgeAcceptedFindings } from "./nag-suppressions.js";
import { readSettings } from "./settings.js";
import { StatefulStack } from "./stacks/stateful-stack.js";
import { StatelessStack } from "./stacks/stateless-stack.js";

export interface MregStacks {
  stateful: StatefulStack;
  stateless: StatelessStack;
}

export interface BuildOptions {
  /** The route table to deploy; the real one unless a test supplies another. */
  routes?: readonly RouteDefinition[];
  /** Tests turn this off to check that every acknowledgement matches a real finding. */
  acknowledgeFindings?: boolean;
}

/**
 * Both stacks with the cdk-nag AwsSolutions checks; `npm run synth`, the infra tests and
 * the bundle measurement all build the app through here.
 */
export function buildMregApp(app: App, options: BuildOptions = {}): MregStacks {
  const settings = readSettings(app.node);
  // Environment-agnostic unless the CLI knows the account: synth needs no credentials.
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const stateful = new StatefulStack(app, `${settings.stackPrefix}Data`, {
    env,
    settings,
    description: "mreg: metadata table and blob bucket (retained on delete)",
  });
  const stateless = new StatelessStack(app, `${settings.stackPrefix}Api`, {
    env,
    data: stateful,
    routes: options.routes ?? routes,
    settings,
    description: "mreg: API, functions, stream consumer, alarms",
  });
  Tags.of(app).add("app", "mreg");
  if (options.acknowledgeFindings !== false) acknowledgeAcceptedFindings(stateful, stateless, settings);
  // Findings fail the synth; accepted ones are acknowledged with reasons, which are also
  // written into the templates' metadata as an audit trail.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
  return { stateful, stateless };
}
