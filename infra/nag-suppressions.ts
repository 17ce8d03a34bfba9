import { Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { webAppFindings } from "./constructs/web-app.js";
import {
  accessOf,
  bucketActionsByPrefix,
  garbageCollectorAccess,
  jobRunnerAccess,
  streamConsumerAccess,
  type KeyPrefix,
} from "./function-access.js";
import type { Settings } from "./settings.js";
import type { StatefulStack } from "./stacks/stateful-stack.js";
import type { StatelessStack } from "./stacks/stateless-stack.js";

/** Every cdk-nag finding the design accepts, each on the narrowest construct it concerns. */
export interface AcceptedFinding {
  scope: IConstruct;
  id: string;
  reason: string;
}

const XRAY_REASON =
  "xray:PutTraceSegments and xray:PutTelemetryRecords, which CDK grants for active tracing, support no resource-level permission.";

const prefixReasons: Record<KeyPrefix, string> = {
  "blobs/":
    "Blobs are keyed by their SHA-256 (blobs/<sha256>), so any blob may be addressed; the grant is confined to the prefix and to the actions declared for this function in infra/function-access.ts.",
  "staging/":
    "Single-PUT uploads land at staging/<sha256> (or staging/open/<uploadId> when sent before their hash was known) until a commit verifies them; the grant is confined to the prefix and to the actions declared for this function in infra/function-access.ts.",
  "manifests/":
    "Manifests are keyed by their digest (manifests/<digest>.json); the grant is confined to the prefix and to the actions declared for this function in infra/function-access.ts.",
};

export function acceptedFindings(stateful: StatefulStack, stateless: StatelessStack, settings: Settings): AcceptedFinding[] {
  const api = stateless.api;
  const findings: AcceptedFinding[] = [
    {
      scope: stateful.bucket,
      id: "AwsSolutions-S1",
      reason:
        "Server access logs would need a second bucket and are billed per request. Every registry change is an audit event in the table and every request that hands out a presigned URL is in the API access log; enable CloudTrail S3 data events where per-object auditing is required.",
    },
    {
      scope: api,
      id: "AwsSolutions-APIG4",
      reason:
        "Callers authenticate with registry API keys (Bearer tokens stored as SHA-256 hashes in the table), which the handler verifies on every request against the permission the route table names; the gateway already refuses requests without an Authorization header. GET /v1/health is public by design.",
    },
    {
      scope: api,
      id: "AwsSolutions-COG4",
      reason:
        "No Cognito user pool: identities are registry users holding API keys that CLIs and training jobs send as Bearer tokens (see AwsSolutions-APIG4).",
    },
    {
      scope: api,
      id: "AwsSolutions-APIG2",
      reason:
        "The gateway validates request parameters (the Authorization header). Bodies are validated by the handlers with the same zod schemas the client imports; API Gateway models would be a second, draft-4 JSON Schema copy of them that could drift.",
    },
    {
      scope: api,
      id: "AwsSolutions-APIG3",
      reason:
        "A WAF web ACL has a monthly fee per ACL and rule that an idle registry should not carry; stage throttling bounds abuse and every route but health needs a key. Associate an ACL with the stage when the API faces the open internet.",
    },
    {
      scope: api,
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      reason:
        "API Gateway writes access and execution logs through one account-level role; AmazonAPIGatewayPushToCloudWatchLogs is the AWS-managed policy made for exactly that role.",
    },
    {
      scope: stateless.streamFailures,
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is itself the on-failure destination of the stream consumer; a queue behind it would hold the same failure notes again.",
    },
    {
      scope: stateless.streamConsumer.role,
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: `dynamodb:ListStreams, granted by the DynamoDB event source, supports no resource-level permission, nor do ${XRAY_REASON} Every other action of this role names the stream, the queue or the log group.`,
    },
  ];
  // Active tracing on every function (infra/constructs/registry-function.ts).
  for (const fn of [...stateless.functions.values(), stateless.deliverySweeper, stateless.jobRunner, stateless.garbageCollector]) {
    findings.push({
      scope: fn.role,
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: `Active X-Ray tracing: ${XRAY_REASON} Every other action of this role names the table, a bucket prefix or the log group.`,
    });
  }

  findings.push(...webAppFindings(stateless.webApp));

  const bucketArn = stateful.exportNames.bucketArn;
  const declared = [
    ...[...stateless.functions].map(([name, fn]) => [fn, accessOf(name)] as const),
    [stateless.streamConsumer, streamConsumerAccess] as const,
    [stateless.garbageCollector, garbageCollectorAccess] as const,
    [stateless.jobRunner, jobRunnerAccess] as const,
  ];
  for (const [fn, access] of declared) {
    for (const prefix of bucketActionsByPrefix(access.bucket).keys()) {
      findings.push({ scope: fn.role, id: `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`, reason: prefixReasons[prefix] });
    }
    if (access.bucket.includes("readReferences")) {
      for (const bucket of settings.referenceBuckets) {
        findings.push({
          scope: fn.role,
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/*]`,
          reason: `Reference entries (s3://${bucket}/<key>) may name any key of this operator-listed bucket (mreg:referenceBuckets); the grant is read-only.`,
        });
      }
    }
  }
  return findings;
}

export function acknowledgeAcceptedFindings(stateful: StatefulStack, stateless: StatelessStack, settings: Settings): void {
  for (const { scope, id, reason } of acceptedFindings(stateful, stateless, settings)) {
    Validations.of(scope).acknowledge({ id, reason });
  }
}
