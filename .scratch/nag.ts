import { App } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { buildMregApp } from "../infra/mreg-app.js";
const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
buildMregApp(app, { acknowledgeFindings: false });
const v = new AwsSolutionsChecks(undefined, { verbose: false }).validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
console.log(v.filter((x) => !/Api\/Rest|Api\/(admin|artifacts|automations|health|lineage|registries|stream-consumer|webhook-sweeper)|StreamFailures|MregData/.test(x)).join("\n"));
