import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionSpecs } from '../../lib/function-specs.ts';
import { type KeyAttribute, type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import { resourcesOfType } from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute) {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
  ];
}

describe('DynamoDB tables', () => {
  it('creates one table per definition', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', Object.keys(tableDefinitions).length);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  for (const [tableId, definition] of Object.entries(tableDefinitions) as [
    TableId,
    (typeof tableDefinitions)[TableId],
  ][]) {
    describe(tableId, () => {
      const table = resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')[
        logicalId(stack.tables.tables[tableId])
      ];
      const properties = table?.Properties ?? {};
      const replicas = properties.Replicas as Record<string, unknown>[];

      it('has the key schema and attribute types of the definition', () => {
        assert.deepEqual(properties.KeySchema, keySchema(definition.partitionKey, definition.sortKey));
        const keys = [
          definition.partitionKey,
          definition.sortKey,
          ...definition.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
        ].filter((key) => key !== undefined);
        const expected = new Map(keys.map((key) => [key.name, key.type]));
        assert.deepEqual(
          new Map(
            (properties.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map(
              (a) => [a.AttributeName, a.AttributeType],
            ),
          ),
          expected,
        );
      });

      it('has the global secondary indexes of the definition', () => {
        const expected = definition.indexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: keySchema(index.partitionKey, index.sortKey),
          Projection:
            typeof index.projection === 'string'
              ? { ProjectionType: index.projection }
              : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
        }));
        assert.deepEqual(properties.GlobalSecondaryIndexes ?? [], expected);
      });

      it(
        definition.timeToLiveAttribute ? `expires items by ${definition.timeToLiveAttribute}` : 'has no TTL',
        () => {
          assert.deepEqual(
            properties.TimeToLiveSpecification,
            definition.timeToLiveAttribute
              ? { AttributeName: definition.timeToLiveAttribute, Enabled: true }
              : undefined,
          );
        },
      );

      it('bills on demand, with point-in-time recovery, in one region', () => {
        assert.equal(properties.BillingMode, 'PAY_PER_REQUEST');
        assert.equal(replicas.length, 1);
        assert.deepEqual(replicas[0]?.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      });

      it('is retained when it leaves the stack', () => {
        assert.equal(table?.DeletionPolicy, 'Retain');
        assert.equal(table?.UpdateReplacePolicy, 'Retain');
      });
    });
  }

  it('is destroyed with the stack, like log groups and the secret, when retainData is false', () => {
    const { template } = synthChatStack({ retainData: false });
    const tables = Object.values(resourcesOfType(template, 'AWS::DynamoDB::GlobalTable'));
    assert.equal(tables.length, Object.keys(tableDefinitions).length);
    for (const table of tables) assert.equal(table.DeletionPolicy, 'Delete');
    const logGroups = Object.values(resourcesOfType(template, 'AWS::Logs::LogGroup'));
    // One per function, plus the WebSocket and HTTP API access logs.
    assert.equal(logGroups.length, Object.keys(functionSpecs).length + 2);
    for (const logGroup of logGroups) assert.equal(logGroup.DeletionPolicy, 'Delete');
    const secrets = Object.values(resourcesOfType(template, 'AWS::SecretsManager::Secret'));
    assert.equal(secrets.length, 1);
    assert.equal(secrets[0]?.DeletionPolicy, 'Delete');
  });
});
