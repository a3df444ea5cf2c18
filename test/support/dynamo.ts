/** An in-memory dynalite on a free port with the product's tables, for tests of the real stores. */
import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { createTableInput } from '../../lib/table-input.ts';

export interface TestDynamo {
  readonly client: DynamoDBDocumentClient;
  readonly endpoint: string;
  readonly tables: Record<TableId, string>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startTestDynamo(): Promise<TestDynamo> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const suffix = `t${++counter}`;
  const tables = {} as Record<TableId, string>;
  for (const [id, definition] of Object.entries(tableDefinitions) as [
    TableId,
    (typeof tableDefinitions)[TableId],
  ][]) {
    tables[id] = `${definition.localName}-${suffix}`;
    await raw.send(new CreateTableCommand(createTableInput(definition, tables[id])));
  }
  return {
    client: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    endpoint,
    tables,
    stop: async () => {
      raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every row of a table as DynamoDB returns it (paginated Scan): for tests that check a whole table. */
export async function scanRawTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}
