import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  type IndexDefinition,
  type KeyAttribute,
  type TableId,
  tableDefinitions,
} from '../table-definitions.ts';
import { pascalCase } from './naming.ts';

export interface ChatTablesProps {
  /**
   * What happens to the tables when they leave the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One `TableV2` (AWS::DynamoDB::GlobalTable) per entry of `tableDefinitions`, so the
 * tables in AWS and in the local runtime come from the same description.
 */
export class ChatTables extends Construct {
  readonly tables: Readonly<Record<TableId, dynamodb.TableV2>>;

  constructor(scope: Construct, id: string, props: ChatTablesProps = {}) {
    super(scope, id);
    const tables = {} as Record<TableId, dynamodb.TableV2>;
    for (const [tableId, definition] of Object.entries(tableDefinitions) as [
      TableId,
      (typeof tableDefinitions)[TableId],
    ][]) {
      tables[tableId] = new dynamodb.TableV2(this, pascalCase(tableId), {
        partitionKey: attribute(definition.partitionKey),
        sortKey: definition.sortKey && attribute(definition.sortKey),
        // Traffic is spiky and small: pay per request rather than reserve capacity.
        billing: dynamodb.Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: definition.timeToLiveAttribute,
        globalSecondaryIndexes: definition.indexes.map(globalSecondaryIndex),
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
    }
    this.tables = tables;
  }

  /** The table's ARN followed by `/index/<name>`: grants one index, never `index/*`. */
  indexArn(tableId: TableId, indexName: string): string {
    const definition = tableDefinitions[tableId];
    if (!definition.indexes.some((index) => index.indexName === indexName)) {
      throw new Error(
        `Table "${tableId}" has no index "${indexName}"; its indexes are: ` +
          `${definition.indexes.map((index) => index.indexName).join(', ') || 'none'}. ` +
          'Fix lib/function-specs.ts or lib/table-definitions.ts.',
      );
    }
    return `${this.tables[tableId].tableArn}/index/${indexName}`;
  }
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

function globalSecondaryIndex(index: IndexDefinition): dynamodb.GlobalSecondaryIndexPropsV2 {
  const common = {
    indexName: index.indexName,
    partitionKey: attribute(index.partitionKey),
    sortKey: index.sortKey && attribute(index.sortKey),
  };
  if (index.projection === 'ALL') return { ...common, projectionType: dynamodb.ProjectionType.ALL };
  if (index.projection === 'KEYS_ONLY') {
    return { ...common, projectionType: dynamodb.ProjectionType.KEYS_ONLY };
  }
  return {
    ...common,
    projectionType: dynamodb.ProjectionType.INCLUDE,
    nonKeyAttributes: [...index.projection],
  };
}
