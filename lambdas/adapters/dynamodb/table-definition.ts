import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

/**
 * The one table that holds all metadata. The CDK stack and the local stack both build
 * their table from this object, so the deployed and the embedded layout cannot drift.
 */
export const tableDefinition = {
  partitionKey: "PK",
  sortKey: "SK",
  globalSecondaryIndexes: [
    { indexName: "GSI1", partitionKey: "GSI1PK", sortKey: "GSI1SK" },
    { indexName: "GSI2", partitionKey: "GSI2PK", sortKey: "GSI2SK" },
  ],
  timeToLiveAttribute: "ttl",
  streamViewType: "NEW_AND_OLD_IMAGES",
} as const;

export type IndexName = (typeof tableDefinition.globalSecondaryIndexes)[number]["indexName"];

export function createTableInput(tableName: string): CreateTableCommandInput {
  const keyAttributes = [
    tableDefinition.partitionKey,
    tableDefinition.sortKey,
    ...tableDefinition.globalSecondaryIndexes.flatMap((gsi) => [gsi.partitionKey, gsi.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: keyAttributes.map((name) => ({ AttributeName: name, AttributeType: "S" })),
    KeySchema: [
      { AttributeName: tableDefinition.partitionKey, KeyType: "HASH" },
      { AttributeName: tableDefinition.sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: tableDefinition.globalSecondaryIndexes.map((gsi) => ({
      IndexName: gsi.indexName,
      KeySchema: [
        { AttributeName: gsi.partitionKey, KeyType: "HASH" },
        { AttributeName: gsi.sortKey, KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "ALL" },
    })),
    StreamSpecification: { StreamEnabled: true, StreamViewType: tableDefinition.streamViewType },
  };
}
