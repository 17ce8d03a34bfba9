import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { AttributeType, BillingMode, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import { BlockPublicAccess, Bucket, BucketEncryption, HttpMethods, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { tableDefinition } from "../../lambdas/adapters/dynamodb/table-definition.js";
import { BUCKET_LIFECYCLE } from "../../lambdas/settings.js";
import type { Settings } from "../settings.js";

export interface StatefulStackProps extends StackProps {
  settings: Settings;
}

/**
 * What the stateless stack imports, under explicit export names: the contract between the
 * two stacks is named here rather than derived from construct paths and hashes.
 */
export function dataExportNames(stackPrefix: string) {
  return {
    tableName: `${stackPrefix}-TableName`,
    tableStreamArn: `${stackPrefix}-TableStreamArn`,
    bucketName: `${stackPrefix}-BucketName`,
    bucketArn: `${stackPrefix}-BucketArn`,
  };
}

export type DataExportNames = ReturnType<typeof dataExportNames>;

/**
 * The data: one DynamoDB table for all metadata, one S3 bucket for file bytes. Both are
 * retained when the stack is deleted; the stateless stack can be replaced freely.
 */
export class StatefulStack extends Stack {
  readonly table: Table;
  readonly bucket: Bucket;
  readonly exportNames: DataExportNames;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);

    const key = (name: string) => ({ name, type: AttributeType.STRING });
    this.table = new Table(this, "Metadata", {
      partitionKey: key(tableDefinition.partitionKey),
      sortKey: key(tableDefinition.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: StreamViewType[tableDefinition.streamViewType],
      timeToLiveAttribute: tableDefinition.timeToLiveAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
    for (const index of tableDefinition.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
      });
    }

    this.bucket = new Bucket(this, "Blobs", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Blobs are content-addressed and never overwritten in place, so versioning would only
      // keep superseded staging uploads; PITR of the table plus RETAIN protect the registry.
      versioned: false,
      cors: [
        {
          // Browsers PUT parts and files and GET downloads through presigned URLs; they need
          // the ETag of every part to complete a multipart upload.
          allowedMethods: [HttpMethods.PUT, HttpMethods.GET, HttpMethods.HEAD],
          allowedOrigins: props.settings.corsOrigins,
          allowedHeaders: ["*"],
          exposedHeaders: ["ETag"],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        {
          id: "abort-incomplete-multipart",
          abortIncompleteMultipartUploadAfter: Duration.days(BUCKET_LIFECYCLE.abortIncompleteMultipartDays),
        },
        { id: "expire-staging", prefix: "staging/", expiration: Duration.days(BUCKET_LIFECYCLE.stagingExpiryDays) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.exportNames = dataExportNames(props.settings.stackPrefix);
    const output = (id: string, value: string, exportName: string, description: string) =>
      new CfnOutput(this, id, { value, exportName, description });
    output("TableName", this.table.tableName, this.exportNames.tableName, "mreg metadata table");
    output("TableStreamArn", this.table.tableStreamArn!, this.exportNames.tableStreamArn, "stream of the metadata table");
    output("BucketName", this.bucket.bucketName, this.exportNames.bucketName, "mreg blob bucket");
    output("BucketArn", this.bucket.bucketArn, this.exportNames.bucketArn, "ARN of the blob bucket");
  }
}
