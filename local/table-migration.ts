/**
 * Indexes a release added to a table that already exists (an older `.chat-data`, or a
 * DynamoDB Local the runtime was pointed at): creating the missing tables leaves these as they are,
 * so this brings the existing ones up to `tableDefinitions`. Startup only, never per request.
 * - the embedded dynalite cannot add an index (its UpdateTable changes throughput only):
 *   the table is read whole (paginated Scan), deleted, created from its definition and
 *   written back;
 * - DynamoDB Local adds it with UpdateTable (one index per call), then builds it;
 * - anywhere else (LocalStack, AWS) nothing is changed: a warning says what is missing.
 * Indexes the table has and the definition lacks are left alone.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AttributeDefinition,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
  UpdateTableCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { delay } from '../functions/core/shared/concurrency.ts';
import type { IndexDefinition, TableDefinition } from '../lib/table-definitions.ts';
import { createTableInput } from '../lib/table-input.ts';
import type { Logger } from './log.ts';

/** Where the tables live, which decides how a missing index is added (if at all). */
export type TableHost =
  /** The runtime's own dynalite; `dataDir` when persisted (the copy is saved there while the table is rebuilt). */
  | { readonly kind: 'embedded'; readonly dataDir: string | undefined }
  /** A DYNAMODB_ENDPOINT the runtime did not start. */
  | { readonly kind: 'configured'; readonly endpoint: string };

const BATCH_WRITE_LIMIT = 25;
const WAIT_LIMIT_MS = 120_000;

export function missingIndexes(definition: TableDefinition, table: TableDescription): IndexDefinition[] {
  const present = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  return definition.indexes.filter((index) => !present.has(index.indexName));
}

/**
 * DynamoDB Local names its tables `arn:aws:dynamodb:ddblocal:000000000000:table/…`;
 * dynalite and LocalStack use a real-looking region, AWS a real one.
 */
function isDynamoDbLocal(table: TableDescription): boolean {
  return (table.TableArn ?? '').split(':')[3] === 'ddblocal';
}

/**
 * Adds the indexes of `definition` the existing table `name` (described as `Table`) lacks,
 * as its host allows; a table it changed is ACTIVE again, every index built, on return.
 */
export async function addMissingIndexes(
  client: DynamoDBClient,
  definition: TableDefinition,
  name: string,
  Table: TableDescription,
  host: TableHost,
  logger: Logger,
): Promise<void> {
  const missing = missingIndexes(definition, Table);
  if (missing.length === 0) return;
  const names = missing.map((index) => index.indexName).join(', ');
  if (host.kind === 'embedded') {
    const copied = await recreateTable(client, definition, name, host.dataDir);
    logger.info(`DDB table ${name} gained index ${names} (${copied} items copied)`);
  } else if (isDynamoDbLocal(Table)) {
    for (const index of missing) {
      await createIndex(client, definition, name, index);
      logger.info(`DDB table ${name} gained index ${index.indexName} (UpdateTable on DynamoDB Local)`);
    }
  } else {
    logger.warn(
      `DDB table ${name} at ${host.endpoint} lacks index ${names}; this runtime changes no table it did not create there. ` +
        `Add each index (UpdateTable with GlobalSecondaryIndexUpdates Create, one per table at a time; lib/table-definitions.ts has their keys), ` +
        'or delete the table so the next start creates it; until then the requests that Query it fail.',
    );
  }
}

async function recreateTable(
  client: DynamoDBClient,
  definition: TableDefinition,
  name: string,
  dataDir: string | undefined,
): Promise<number> {
  const items = await scanAll(client, name);
  // While the table is gone its rows live only in this process: a copy on disk survives a crash.
  const copyFile = dataDir ? join(dataDir, `${name}.migrating.json`) : undefined;
  if (copyFile) writeFileSync(copyFile, JSON.stringify(items));
  await client.send(new DeleteTableCommand({ TableName: name }));
  await waitUntilGone(client, name);
  await client.send(new CreateTableCommand(createTableInput(definition, name)));
  await waitUntilActive(client, name);
  for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
    const batch = items.slice(start, start + BATCH_WRITE_LIMIT).map((Item) => ({ PutRequest: { Item } }));
    await batchWriteAll(client, name, batch);
  }
  if (copyFile) rmSync(copyFile, { force: true });
  return items.length;
}

type Item = NonNullable<NonNullable<WriteRequest['PutRequest']>['Item']>;

async function scanAll(client: DynamoDBClient, name: string): Promise<Item[]> {
  const items: Item[] = [];
  let ExclusiveStartKey: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

async function batchWriteAll(client: DynamoDBClient, name: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await delay(Math.min(1_000, 50 * 2 ** attempt));
    const result: BatchWriteItemCommandOutput = await client.send(
      new BatchWriteItemCommand({ RequestItems: { [name]: pending } }),
    );
    pending = result.UnprocessedItems?.[name] ?? [];
    if (attempt > 20 && pending.length > 0)
      throw new Error(`${pending.length} items of ${name} stayed unprocessed after ${attempt} attempts.`);
  }
}

async function createIndex(
  client: DynamoDBClient,
  definition: TableDefinition,
  name: string,
  index: IndexDefinition,
): Promise<void> {
  const full = createTableInput(definition, name);
  const created = full.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexName === index.indexName);
  if (!created) return;
  // Only the attributes the new index keys on (unused definitions are refused).
  const keyNames = new Set(created.KeySchema?.map((key) => key.AttributeName));
  const attributes: AttributeDefinition[] = (full.AttributeDefinitions ?? []).filter((attribute) =>
    keyNames.has(attribute.AttributeName),
  );
  await client.send(
    new UpdateTableCommand({
      TableName: name,
      AttributeDefinitions: attributes,
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            IndexName: created.IndexName,
            KeySchema: created.KeySchema,
            Projection: created.Projection,
          },
        },
      ],
    }),
  );
  await waitUntilActive(client, name);
}

async function waitUntilGone(client: DynamoDBClient, name: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    try {
      await client.send(new DescribeTableCommand({ TableName: name }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw error;
    }
    if (Date.now() > deadline) throw new Error(`Table ${name} was not deleted within 120 s.`);
    await delay(100);
  }
}

/** Until the table and every index are ACTIVE (an index being built is CREATING); its description then. */
export async function waitUntilActive(client: DynamoDBClient, name: string): Promise<TableDescription> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const indexesReady = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesReady) return Table;
    if (Date.now() > deadline) throw new Error(`Table ${name} did not become ACTIVE within 120 s.`);
    await delay(100);
  }
}
