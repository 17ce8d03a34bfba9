import { App, Stack } from "aws-cdk-lib";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { buildMregApp } from "../../infra/mreg-app.js";
import { acceptedFindings } from "../../infra/nag-suppressions.js";
import { readSettings } from "../../infra/settings.js";
import { synthesize, type SynthesizedApp } from "./synth.js";

const findingsOf = (scope: App | Stack) =>
  new AwsSolutionsChecks(undefined, { verbose: false })
    .validateScope(scope)
    .violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? "" })));

// Reference buckets add acknowledgements of their own: include one so those are checked too.
const context = { "aws:cdk:bundling-stacks": [], "mreg:referenceBuckets": "team-datasets" };
let synth: SynthesizedApp;

beforeAll(() => {
  synth = synthesize({ bundle: false, context });
});

describe("cdk-nag AwsSolutions", () => {
  it("reports no unacknowledged finding on the app as deployed", () => {
    expect(findingsOf(synth.app)).toEqual([]);
  });

  it("is applied to the app: the synth fails on a finding", () => {
    const app = new App({ context });
    buildMregApp(app);
    new Bucket(Stack.of(app.node.findChild("MregData")), "Careless");
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
  });

  it("gives every acknowledgement a reason", () => {
    const settings = readSettings(synth.app.node);
    for (const finding of acceptedFindings(synth.stateful, synth.stateless, settings)) {
      expect(finding.reason.length, finding.id).toBeGreaterThanOrEqual(60);
    }
  });

  it("acknowledges nothing that is not found, and nothing beyond the construct each finding is on", () => {
    const app = new App({ context });
    const stacks = buildMregApp(app, { acknowledgeFindings: false });
    const found = findingsOf(app);
    const accepted = acceptedFindings(stacks.stateful, stacks.stateless, readSettings(app.node));
    for (const { id, scope } of accepted) {
      const matching = found.filter((f) => f.id === id && f.path.startsWith(`${scope.node.path}/`));
      expect(matching.length, `${id} on ${scope.node.path}`).toBeGreaterThan(0);
    }
    for (const finding of found) {
      const covered = accepted.some((a) => a.id === finding.id && finding.path.startsWith(`${a.scope.node.path}/`));
      expect(covered, `${finding.id} at ${finding.path}`).toBe(true);
    }
  });

  it("writes each acknowledgement with its reason into the template metadata", () => {
    const bucket = Object.values(synth.data.findResources("AWS::S3::Bucket"))[0] as {
      Metadata: { cdk_nag: { rules_to_suppress: { id: string; reason: string }[] } };
    };
    expect(bucket.Metadata.cdk_nag.rules_to_suppress).toEqual([{ id: "AwsSolutions-S1", reason: expect.stringContaining("audit event") }]);
  });
});
