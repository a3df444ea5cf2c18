/**
 * Indexes a release added to a table that already exists (an older `.chat-data`, or a
 * DynamoDB Local the runtime was pointed at): creating the missing tables leaves these as they are,
 * so this brings the existing ones up to `tableDefinitions`. Startup only, never per request.
 * - the embedded dynalite cannot add an index (its UpdateTable changes throughput only):
 *   the table is read whole (paginated Scan), deleted, created from its definition and
 *   written back;
 * - DynamoDB Local adds it with UpdateTable (one index per call), then builds it;
 * - anywhere else (LocalStack, AWS) nothing is changed: a warning says what is missing.
 * An index whose keys or projection differ from its definition counts as missing (and is
 * dropped first on DynamoDB Local). Indexes the table has and the definition lacks are left alone.
 * A rebuild that a crash interrupted is finished at the next start from the copy it saved.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** How an index is keyed and projected, as one comparable string. */
function indexShape(index: {
  readonly KeySchema?: readonly { AttributeName?: string; KeyType?: string }[];
  readonly Projection?: { ProjectionType?: string; NonKeyAttributes?: readonly string[] };
}): string {
  const keys = (index.KeySchema ?? []).map((key) => `${key.KeyType}:${key.AttributeName}`).join(',');
  const attributes = [...(index.Projection?.NonKeyAttributes ?? [])].sort().join(',');
  return `${keys}|${index.Projection?.ProjectionType}|${attributes}`;
}

/** The definition's indexes the table lacks, or has under the same name with other keys or projection. */
export function missingIndexes(definition: TableDefinition, table: TableDescription): IndexDefinition[] {
  const present = new Map(
    (table.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, indexShape(index)]),
  );
  const wanted = new Map(
    (createTableInput(definition, table.TableName ?? '').GlobalSecondaryIndexes ?? []).map((index) => [
      index.IndexName,
      indexShape(index),
    ]),
  );
  return definition.indexes.filter((index) => present.get(index.indexName) !== wanted.get(index.indexName));
}

/** Whether the table has an index of that name (which then has other keys or projection). */
function hasIndex(table: TableDescription, indexName: string): boolean {
  return (table.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === indexName);
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
    const replaced = missing
      .filter((index) => hasIndex(Table, index.indexName))
      .map((index) => index.indexName);
    const why = replaced.length > 0 ? `; ${replaced.join(', ')} had other keys or projection` : '';
    logger.info(`DDB table ${name} gained index ${names} (${copied} items copied${why})`);
  } else if (isDynamoDbLocal(Table)) {
    for (const index of missing) {
      const replaced = hasIndex(Table, index.indexName);
      if (replaced) await deleteIndex(client, name, index.indexName);
      await createIndex(client, definition, name, index);
      const what = replaced
        ? `rebuilt index ${index.indexName} with the keys of its definition`
        : `gained index ${index.indexName}`;
      logger.info(`DDB table ${name} ${what} (UpdateTable on DynamoDB Local)`);
    }
  } else {
    logger.warn(
      `DDB table ${name} at ${host.endpoint} lacks index ${names} (or has it with other keys or projection); this runtime changes no table it did not create there. ` +
        `Add each index (UpdateTable with GlobalSecondaryIndexUpdates Create, one per table at a time, after a Delete of an index of that name; lib/table-definitions.ts has their keys), ` +
        'or delete the table so the next start creates it; until then the requests that Query it fail.',
    );
  }
}

/** Where a rebuild keeps the table's rows while the table is gone. */
function copyFileOf(dataDir: string, name: string): string {
  return join(dataDir, `${name}.migrating.json`);
}

async function recreateTable(
  client: DynamoDBClient,
  definition: TableDefinition,
  name: string,
  dataDir: string | undefined,
): Promise<number> {
  const items = await scanAll(client, name);
  // While the table is gone its rows live only in this process: a copy on disk survives a crash.
  // Written aside and renamed, so a copy under its name is always whole.
  const copyFile = dataDir ? copyFileOf(dataDir, name) : undefined;
  if (copyFile) {
    writeFileSync(`${copyFile}.partial`, serializeItems(items));
    renameSync(`${copyFile}.partial`, copyFile);
  }
  await client.send(new DeleteTableCommand({ TableName: name }));
  await waitUntilGone(client, name);
  await client.send(new CreateTableCommand(createTableInput(definition, name)));
  await waitUntilActive(client, name);
  await putAll(client, name, items);
  if (copyFile) rmSync(copyFile, { force: true });
  return items.length;
}

/**
 * Finishes a rebuild of `name` that a crash interrupted: its copy is still in `dataDir`.
 * The table (created from its definition if it was gone, by the caller) gets every saved row
 * back, which also puts the same rows back when the crash came before the delete; then the
 * copy goes. A `.partial` copy was never renamed, so the table was never deleted: it is dropped.
 * Returns how many rows were restored, undefined when there was nothing to finish.
 */
export async function finishInterruptedRebuild(
  client: DynamoDBClient,
  name: string,
  dataDir: string,
): Promise<number | undefined> {
  const copyFile = copyFileOf(dataDir, name);
  rmSync(`${copyFile}.partial`, { force: true });
  if (!existsSync(copyFile)) return undefined;
  const items = deserializeItems(readFileSync(copyFile, 'utf8'));
  await putAll(client, name, items);
  rmSync(copyFile, { force: true });
  return items.length;
}

type Item = NonNullable<NonNullable<WriteRequest['PutRequest']>['Item']>;

const BINARY_TAG = '$base64';

/** JSON of raw items; binary values (B, BS) as base64, which plain JSON would turn into index maps. */
export function serializeItems(items: readonly Item[]): string {
  return JSON.stringify(items, function replacer(this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return original instanceof Uint8Array
      ? { [BINARY_TAG]: Buffer.from(original).toString('base64') }
      : value;
  });
}

export function deserializeItems(text: string): Item[] {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && BINARY_TAG in value) {
      const encoded = (value as Record<string, unknown>)[BINARY_TAG];
      if (typeof encoded === 'string') return new Uint8Array(Buffer.from(encoded, 'base64'));
    }
    return value;
  }) as Item[];
}

async function putAll(client: DynamoDBClient, name: string, items: readonly Item[]): Promise<void> {
  for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
    const batch = items.slice(start, start + BATCH_WRITE_LIMIT).map((Item) => ({ PutRequest: { Item } }));
    await batchWriteAll(client, name, batch);
  }
}

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

async function deleteIndex(client: DynamoDBClient, name: string, indexName: string): Promise<void> {
  await client.send(
    new UpdateTableCommand({
      TableName: name,
      GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: indexName } }],
    }),
  );
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE' && Table && !hasIndex(Table, indexName)) return;
    if (Date.now() > deadline) throw new Error(`Index ${indexName} of ${name} was not deleted within 120 s.`);
    await delay(100);
  }
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
