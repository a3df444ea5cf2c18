/** `CreateTable` input for a table definition: how the local runtime and tests create tables. */
import type { AttributeDefinition, CreateTableCommandInput, Projection } from '@aws-sdk/client-dynamodb';
import type { IndexDefinition, KeyAttribute, TableDefinition } from './table-definitions.ts';

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute) {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' as const },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
  ];
}

function projection(index: IndexDefinition): Projection {
  if (index.projection === 'ALL' || index.projection === 'KEYS_ONLY')
    return { ProjectionType: index.projection };
  return { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] };
}

export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, AttributeDefinition>();
  const keys = [
    definition.partitionKey,
    definition.sortKey,
    ...definition.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  for (const key of keys) {
    if (key) attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()],
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: definition.indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: projection(index),
          })),
        }
      : {}),
  };
}
