import { Aws, CfnOutput, Duration, Fn, Stack, type StackProps } from "aws-cdk-lib";
import { LambdaIntegration } from "aws-cdk-lib/aws-apigateway";
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Table } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { FilterCriteria, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { AUDIT_EVENT_FILTER } from "../../lambdas/adapters/dynamodb/audit-event-filter.js";
import { configEnvironment } from "../../lambdas/config.js";
import type { RouteDefinition } from "../../lambdas/contract/routes.js";
import { STREAM_CONSUMPTION } from "../../lambdas/settings.js";
import { RegistryApi } from "../constructs/registry-api.js";
import { RegistryFunction } from "../constructs/registry-function.js";
import { WebApp } from "../constructs/web-app.js";
import {
  accessOf,
  deliverySweeperAccess,
  garbageCollectorAccess,
  jobRunnerAccess,
  streamConsumerAccess,
  type FunctionAccess,
} from "../function-access.js";
import { statementsFor } from "../grant-statements.js";
import { handlerEntry } from "../paths.js";
import type { Settings } from "../settings.js";
import type { StatefulStack } from "./stateful-stack.js";

/** The function that reads the table's stream; not an API route, so not in the route table. */
export const STREAM_CONSUMER = "stream-consumer";
/** Attempts the webhook deliveries whose retry is due; scheduled, not in the route table. */
export const DELIVERY_SWEEPER = "webhook-sweeper";
/** Advances bulk delete jobs; scheduled, not in the route table. */
export const JOB_RUNNER = "job-runner";
/** Deletes blobs nothing has referenced for the grace period; scheduled, not in the route table. */
export const GARBAGE_COLLECTOR = "garbage-collector";

export interface StatelessStackProps extends StackProps {
  /** The data stack; its resources are imported through its named exports. */
  data: StatefulStack;
  routes: readonly RouteDefinition[];
  settings: Settings;
}

/**
 * Everything that can be replaced without losing data: one Lambda function per function
 * name of the route table, the REST API wired from that table, the stream consumer, alarms.
 */
export class StatelessStack extends Stack {
  readonly functions = new Map<string, RegistryFunction>();
  readonly api: RegistryApi;
  readonly streamConsumer: RegistryFunction;
  readonly streamFailures: Queue;
  readonly deliverySweeper: RegistryFunction;
  readonly jobRunner: RegistryFunction;
  readonly garbageCollector: RegistryFunction;
  readonly webApp: WebApp;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { routes, settings } = props;
    this.addStackDependency(props.data);
    const names = props.data.exportNames;
    const table = Table.fromTableAttributes(this, "Metadata", {
      tableName: Fn.importValue(names.tableName),
      tableStreamArn: Fn.importValue(names.tableStreamArn),
    });
    const bucket = Bucket.fromBucketAttributes(this, "Blobs", {
      bucketName: Fn.importValue(names.bucketName),
      bucketArn: Fn.importValue(names.bucketArn),
    });

    // What lambdas/config.ts reads; every other setting keeps the default lambdas/settings.ts
    // gives it. SHA-256 checksums are signed into PUTs because S3 verifies them.
    const environment = configEnvironment({
      tableName: table.tableName,
      bucket: bucket.bucketName,
      urlExpirySeconds: settings.urlExpirySeconds,
      signChecksums: true,
    });
    const grantTargets = { table, bucket, referenceBuckets: settings.referenceBuckets };
    // Every declaration is looked up before any function is built, so a missing one fails at once.
    const declared = [...new Set(routes.map((route) => route.function))].map((name) => [name, accessOf(name)] as const);
    for (const [name, access] of declared) {
      const authenticates = routes.some((route) => route.function === name && route.permission !== "public");
      this.functions.set(
        name,
        new RegistryFunction(this, name, {
          entry: handlerEntry(name),
          description: `mreg ${name}: ${routes.filter((r) => r.function === name).length} API routes`,
          environment,
          statements: statementsFor(name, access, authenticates, grantTargets),
          ...sizing(access),
        }),
      );
    }

    const integrations = new Map<string, LambdaIntegration>();
    this.api = new RegistryApi(this, "Api", {
      restApiName: `${settings.stackPrefix.toLowerCase()}-registry`,
      routes,
      integrationFor: (name) => {
        let integration = integrations.get(name);
        if (!integration) {
          // One permission per function for the whole API instead of two per method: a
          // function serving dozens of routes would otherwise outgrow Lambda's 20 KB policy.
          integration = new LambdaIntegration(this.functions.get(name)!.function, { scopePermissionToMethod: false });
          integrations.set(name, integration);
        }
        return integration;
      },
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
    });

    this.streamFailures = new Queue(this, "StreamFailures", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The stream keeps records 24 h; the failure note (shard and sequence numbers) lives longer.
      retentionPeriod: Duration.days(14),
    });
    this.streamConsumer = new RegistryFunction(this, STREAM_CONSUMER, {
      entry: handlerEntry(STREAM_CONSUMER),
      description: "mreg stream-consumer: audit events from the table stream",
      // The same configuration as the API functions: webhook delivery builds its services from it.
      environment,
      statements: statementsFor(STREAM_CONSUMER, streamConsumerAccess, false, grantTargets),
      ...sizing(streamConsumerAccess),
    });
    this.streamConsumer.function.addEventSource(
      new DynamoEventSource(table, {
        // From the oldest record kept: nothing written before the mapping existed is skipped.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: STREAM_CONSUMPTION.batchSize,
        bisectBatchOnError: true,
        retryAttempts: STREAM_CONSUMPTION.retryAttempts,
        maxRecordAge: Duration.hours(STREAM_CONSUMPTION.maxRecordAgeHours),
        reportBatchItemFailures: true,
        // Per-shard order is the order of changes to one item; one batch at a time keeps it.
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.streamFailures),
        // Only new audit events invoke the function; every other write costs nothing here.
        filters: [FilterCriteria.filter(AUDIT_EVENT_FILTER)],
      }),
    );

    // Webhook retries wait in the table until due; a sweep every minute attempts them.
    this.deliverySweeper = new RegistryFunction(this, DELIVERY_SWEEPER, {
      entry: handlerEntry(DELIVERY_SWEEPER),
      description: "mreg webhook-sweeper: webhook deliveries whose next attempt is due",
      environment,
      statements: statementsFor(DELIVERY_SWEEPER, deliverySweeperAccess, false, grantTargets),
      ...sizing(deliverySweeperAccess),
    });
    new Rule(this, "DeliverySweep", {
      description: "mreg: attempt the webhook deliveries whose retry is due",
      schedule: Schedule.rate(Duration.minutes(1)),
      // A missed sweep is made up by the next one a minute later.
      targets: [new LambdaFunction(this.deliverySweeper.function, { retryAttempts: 0 })],
    });

    // Bulk delete jobs are items in the table: a run every minute advances them step by step,
    // and one that ran out of time or crashed is resumed by the next from its last step written.
    this.jobRunner = new RegistryFunction(this, JOB_RUNNER, {
      entry: handlerEntry(JOB_RUNNER),
      description: "mreg job-runner: steps of the bulk delete jobs",
      environment,
      statements: statementsFor(JOB_RUNNER, jobRunnerAccess, false, grantTargets),
      ...sizing(jobRunnerAccess),
    });
    new Rule(this, "JobRuns", {
      description: "mreg: advance the queued and running bulk delete jobs",
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.jobRunner.function, { retryAttempts: 0 })],
    });

    // Unreferenced blobs wait out MREG_GC_GRACE_HOURS (24 by default); an hourly round is soon enough.
    this.garbageCollector = new RegistryFunction(this, GARBAGE_COLLECTOR, {
      entry: handlerEntry(GARBAGE_COLLECTOR),
      description: "mreg garbage-collector: releases of deleted versions, then blobs nothing references",
      environment,
      statements: statementsFor(GARBAGE_COLLECTOR, garbageCollectorAccess, false, grantTargets),
      ...sizing(garbageCollectorAccess),
    });
    new Rule(this, "GarbageCollection", {
      description: "mreg: delete blobs nothing has referenced for the grace period",
      schedule: Schedule.rate(Duration.hours(1)),
      // A missed round is made up by the next; rounds never need to overlap.
      targets: [new LambdaFunction(this.garbageCollector.function, { retryAttempts: 0 })],
    });

    // The browser app and the API on one CloudFront origin (outputs AppUrl).
    this.webApp = new WebApp(this, "WebApp", { api: this.api.api });

    this.addAlarms(settings);
    new CfnOutput(this, "ApiUrl", { value: this.api.api.url, description: "mreg API base URL (append v1/…)" });
    // Repeated here so that one stack's outputs hold everything a client and an operator need.
    new CfnOutput(this, "BucketName", { value: bucket.bucketName });
    new CfnOutput(this, "TableName", { value: table.tableName });
    new CfnOutput(this, "CreateAdminCommand", {
      value: `npm run admin:create -- --table ${table.tableName} --region ${Aws.REGION}`,
      description: "creates the first org admin and prints its API key once",
    });
  }

  private addAlarms(settings: Settings): void {
    const topic = settings.alarmTopicArn ? Topic.fromTopicArn(this, "AlarmTopic", settings.alarmTopicArn) : undefined;
    const alarm = (id: string, description: string, metric: IMetric, threshold = 1) => {
      const created = new Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (topic) created.addAlarmAction(new SnsAction(topic));
    };
    const period = Duration.minutes(5);
    // Handlers turn every failure into a response, so a 5xx is an unexpected internal error.
    alarm("Api5xx", "mreg API answered 5xx", this.api.api.metricServerError({ period, statistic: "Sum" }));
    // Lambda errors are what handlers cannot catch: a bad configuration at cold start, timeouts, crashes.
    const workers = [
      [STREAM_CONSUMER, this.streamConsumer],
      [DELIVERY_SWEEPER, this.deliverySweeper],
      [JOB_RUNNER, this.jobRunner],
      [GARBAGE_COLLECTOR, this.garbageCollector],
    ] as const;
    for (const [name, fn] of [...this.functions, ...workers]) {
      alarm(`Errors-${name}`, `mreg function ${name} failed`, fn.function.metricErrors({ period, statistic: "Sum" }));
    }
    alarm(
      "StreamFailuresVisible",
      "stream batches gave up after their retries; records are in the stream for 24 h",
      this.streamFailures.metricApproximateNumberOfMessagesVisible({ period, statistic: "Maximum" }),
    );
    alarm(
      "StreamIteratorAge",
      "the stream consumer is more than 5 minutes behind",
      this.streamConsumer.function.metric("IteratorAge", { period, statistic: "Maximum" }),
      5 * 60 * 1000,
    );
  }
}

/** Memory and timeout a declaration asks for; RegistryFunction's defaults otherwise. */
function sizing(access: FunctionAccess): { memorySize?: number; timeout?: Duration } {
  return {
    memorySize: access.memorySize,
    timeout: access.timeoutSeconds === undefined ? undefined : Duration.seconds(access.timeoutSeconds),
  };
}
