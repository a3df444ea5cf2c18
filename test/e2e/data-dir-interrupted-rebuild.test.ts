/**
 * A start that stopped in the middle of rebuilding a table for a new index (a crash, Ctrl-C
 * twice, a killed container) left the table in one of four states, with the rows in
 * `DATA_DIR/<table>.migrating.json`. The next start must end with every row back and the index
 * there, whichever state it finds. Also: an index with the right name and other keys is rebuilt.
 * These drive the tables' start-up (`ensureTables`) the way the embedded dynalite's runtime does,
 * against the runtime's DynamoDB (dynalite, or DynamoDB Local under `npm run test:dynamodb-local`).
 * Run: npx tsx --test test/e2e/data-dir-interrupted-rebuild.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { type TableDefinition, tableDefinitions } from '../../lib/table-definitions.ts';
import { createTableInput } from '../../lib/table-input.ts';
import { ensureTables } from '../../local/dynamodb.ts';
import { createLogger } from '../../local/log.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { serializeItems } from '../../local/table-migration.ts';
import { scanRawTable } from '../support/dynamo.ts';
import { dynamoDbClient, startTestRuntime } from '../support/local-runtime.ts';

const { groups } = tableDefinitions;
const TABLE = groups.localName;
const COPY = `${TABLE}.migrating.json`;
// Read before the runtime starts: it sets DYNAMODB_ENDPOINT for its handlers.
const onDynamoDbLocal = Boolean(process.env.DYNAMODB_ENDPOINT);

type Item = Record<string, AttributeValue>;

/** A group and its members as an older release stored them, one with a binary attribute. */
const ROWS: Item[] = [
  { groupId: { S: 'g-1' }, sk: { S: 'META' }, name: { S: 'Old timers' }, memberCount: { N: '2' } },
  { groupId: { S: 'g-1' }, sk: { S: 'MEMBER#alice' }, role: { S: 'admin' } },
  {
    groupId: { S: 'g-1' },
    sk: { S: 'MEMBER#bob' },
    role: { S: 'member' },
    avatar: { B: Uint8Array.of(0, 1, 254, 255) },
  },
  ...Array.from({ length: 40 }, (_, i) => ({
    groupId: { S: `g-${i + 2}` },
    sk: { S: 'META' },
    name: { S: `group ${i + 2}` },
    tags: { SS: ['a', 'b'] },
  })),
];

const withoutOnlineIndex: TableDefinition = {
  ...groups,
  indexes: groups.indexes.filter((index) => index.indexName !== 'byOnlineGroup'),
};

/** byOnlineGroup as a hypothetical earlier release keyed it: same name, another sort key. */
const withOtherOnlineKeys: TableDefinition = {
  ...groups,
  indexes: groups.indexes.map((index) =>
    index.indexName === 'byOnlineGroup' ? { ...index, sortKey: { name: 'sk', type: 'S' } } : index,
  ),
};

let runtime: LocalRuntime;
let client: DynamoDBClient;
let dataDir: string;
let lines: string[];

before(async () => {
  runtime = await startTestRuntime();
  client = dynamoDbClient(runtime);
});
after(async () => {
  client?.destroy();
  await runtime?.stop();
});
beforeEach(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  dataDir = await mkdtemp(join(tmpdir(), 'chat-e2e-rebuild-'));
  lines = [];
});

/**
 * The tables' start-up as the runtime runs it over an embedded dynalite persisted in `dataDir`,
 * or (`configured`) over a DYNAMODB_ENDPOINT it did not start.
 */
function startUp(host: 'embedded' | 'configured' = 'embedded'): Promise<void> {
  const endpoint = runtime.dynamoDbEndpoint;
  return ensureTables(
    endpoint,
    'local',
    runtime.adminCredentials,
    createLogger({ sink: (line) => lines.push(line) }),
    host === 'embedded' ? { kind: 'embedded', dataDir } : { kind: 'configured', endpoint },
  );
}

async function dropTable(): Promise<void> {
  try {
    await client.send(new DeleteTableCommand({ TableName: TABLE }));
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return;
    throw error;
  }
  await waitUntilTableNotExists({ client, maxWaitTime: 60 }, { TableName: TABLE });
}

async function createTable(definition: TableDefinition, rows: readonly Item[]): Promise<void> {
  await dropTable();
  await client.send(new CreateTableCommand(createTableInput(definition, TABLE)));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: TABLE });
  for (const Item of rows) await client.send(new PutItemCommand({ TableName: TABLE, Item }));
}

const scanAll = () => scanRawTable(client, TABLE);

/** Rows in a comparable form: attributes in name order, binary values as arrays of bytes, rows sorted. */
function normalized(items: readonly Item[]): string[] {
  const text = (item: Item) =>
    JSON.stringify(
      Object.entries(item).sort(([a], [b]) => a.localeCompare(b)),
      (_key, value: unknown) => (value instanceof Uint8Array ? [...value] : value),
    );
  return items.map(text).sort();
}

async function assertUpgradedWithEveryRow(): Promise<void> {
  assert.deepEqual(normalized(await scanAll()), normalized(ROWS));
  const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
  const online = Table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === 'byOnlineGroup');
  assert.deepEqual(online?.KeySchema, [
    { AttributeName: 'onlineGroupId', KeyType: 'HASH' },
    { AttributeName: 'memberUserId', KeyType: 'RANGE' },
  ]);
  assert.deepEqual(
    (await readdir(dataDir)).filter((name) => name.includes('.migrating')),
    [],
    'no copy is left behind',
  );
}

const restoredLine = `DDB table ${TABLE}: an earlier start stopped while rebuilding it; ${ROWS.length} items restored from its copy`;

/** Starts over the copy an interrupted rebuild left, and checks every row and the index are back. */
async function startWithCopyLeft(): Promise<void> {
  await writeFile(join(dataDir, COPY), serializeItems(ROWS));
  await startUp();
  await assertUpgradedWithEveryRow();
  assert.ok(
    lines.some((line) => line.includes(restoredLine)),
    lines.join('\n'),
  );
}

test('stopped after saving the copy, before deleting the table: every row is there and the index added', async () => {
  await createTable(withoutOnlineIndex, ROWS);
  await startWithCopyLeft();
  assert.ok(
    lines.some((line) => line.includes(`DDB table ${TABLE} gained index byOnlineGroup`)),
    lines.join('\n'),
  );
});

test('stopped after deleting the table: it is created and its rows come back from the copy', async () => {
  await dropTable();
  await startWithCopyLeft();
});

test('stopped while writing the rows back: the rows still missing come back from the copy', async () => {
  await createTable(groups, ROWS.slice(0, 10));
  await startWithCopyLeft();
});

test('stopped while saving the copy: the table was never deleted, the half-written copy is dropped', async () => {
  await createTable(withoutOnlineIndex, ROWS);
  const half = serializeItems(ROWS);
  await writeFile(join(dataDir, `${COPY}.partial`), half.slice(0, half.length / 2));
  await startUp();
  await assertUpgradedWithEveryRow();
  assert.ok(!lines.some((line) => line.includes('restored')), lines.join('\n'));
  assert.ok(!existsSync(join(dataDir, `${COPY}.partial`)));
});

test('an index with the right name and other keys is rebuilt from its definition, rows kept', async () => {
  await createTable(withOtherOnlineKeys, ROWS);
  await startUp();
  await assertUpgradedWithEveryRow();
  assert.ok(
    lines.some((line) =>
      line.includes(
        `DDB table ${TABLE} gained index byOnlineGroup (${ROWS.length} items copied; byOnlineGroup had other keys or projection)`,
      ),
    ),
    lines.join('\n'),
  );
  // Nothing is left to change at the next start.
  lines.length = 0;
  await startUp();
  assert.deepEqual(
    lines.filter((line) => line.includes('DDB table')),
    [],
  );
});

test('on an endpoint it did not start: DynamoDB Local gets the index dropped and created again, anything else a warning', async () => {
  await createTable(withOtherOnlineKeys, ROWS);
  await startUp('configured');
  if (onDynamoDbLocal) {
    await assertUpgradedWithEveryRow();
    assert.ok(
      lines.some((line) =>
        line.includes(
          `DDB table ${TABLE} rebuilt index byOnlineGroup with the keys of its definition (UpdateTable on DynamoDB Local)`,
        ),
      ),
      lines.join('\n'),
    );
  } else {
    // dynalite stands in for LocalStack or AWS here: nothing changed, and the log says what to do.
    assert.deepEqual(normalized(await scanAll()), normalized(ROWS));
    assert.ok(
      lines.some((line) =>
        line.includes(
          `WARN DDB table ${TABLE} at ${runtime.dynamoDbEndpoint} lacks index byOnlineGroup (or has it with other keys`,
        ),
      ),
      lines.join('\n'),
    );
  }
});
