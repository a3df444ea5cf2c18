/**
 * Upgrading over an older data directory: its `groups` table predates the `byOnlineGroup`
 * index. The runtime adds the index at start (embedded dynalite: the table is rebuilt with
 * its rows; under `npm run test:dynamodb-local`: UpdateTable on DynamoDB Local), the old
 * group and its history are still there, and a group message reaches the online member.
 * Run: npx tsx --test test/e2e/data-dir-index-migration.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { createTableInput } from '../../lib/table-input.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed, disconnect, nextPush, sendCommand } from '../support/chat.ts';
import { scanRawTable } from '../support/dynamo.ts';
import { historyMessages } from '../support/http.ts';
import { dynamoDbClient, startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const { groups } = tableDefinitions;
const TABLE = groups.localName;
const onExternalDynamoDb = Boolean(process.env.DYNAMODB_ENDPOINT);

let dataDir: string;
let runtime: LocalRuntime;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'chat-e2e-index-'));
});
after(async () => {
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

type Item = Record<string, AttributeValue>;

const scanAll = (client: DynamoDBClient) => scanRawTable(client, TABLE);

function sortedByKey(items: Item[]): Item[] {
  const key = (item: Item) => `${item.groupId?.S}\u0000${item.sk?.S}`;
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

/** The table as a release before `byOnlineGroup` left it: same rows, no index, no online marks. */
async function reshapeAsOldRelease(client: DynamoDBClient): Promise<Item[]> {
  const rows = (await scanAll(client)).map(({ onlineGroupId: _g, onlineSince: _s, ...row }) => row);
  await client.send(new DeleteTableCommand({ TableName: TABLE }));
  await waitUntilTableNotExists({ client, maxWaitTime: 60 }, { TableName: TABLE });
  const old = { ...groups, indexes: groups.indexes.filter((index) => index.indexName !== 'byOnlineGroup') };
  await client.send(new CreateTableCommand(createTableInput(old, TABLE)));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: TABLE });
  for (const Item of rows) await client.send(new PutItemCommand({ TableName: TABLE, Item }));
  return rows;
}

test('an old data directory gains byOnlineGroup at start: the group and its history stay, group messages reach online members', async () => {
  runtime = await startTestRuntime({ dataDir });
  const alice = await connectWelcomed(runtime, 'mig-alice');
  const bob = await connectWelcomed(runtime, 'mig-bob');
  const created = await sendCommand(alice.client, 'create_group', {
    group_name: 'Old timers',
    member_ids: ['mig-bob'],
  });
  assert.equal(created.code, 0, JSON.stringify(created));
  const groupId = String(created.data?.group_id);
  const before = await sendCommand(alice.client, 'send_group_message', {
    group_id: groupId,
    content: 'before the upgrade',
  });
  assert.equal(before.code, 0, JSON.stringify(before));
  await disconnect(runtime, alice, bob);

  let client = dynamoDbClient(runtime);
  const oldRows = await reshapeAsOldRelease(client);
  client.destroy();
  assert.ok(oldRows.length >= 3, `a group row and two member rows: ${JSON.stringify(oldRows)}`);
  await runtime.stop();

  const lines: string[] = [];
  runtime = await startTestRuntime({ dataDir, log: (line) => lines.push(line) });
  const how = onExternalDynamoDb ? 'UpdateTable on DynamoDB Local' : `${oldRows.length} items copied`;
  assert.ok(
    lines.some((line) => line.includes(`DDB table ${TABLE} gained index byOnlineGroup (${how})`)),
    lines.join('\n'),
  );
  client = dynamoDbClient(runtime);
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
    assert.deepEqual(indexes, groups.indexes.map((index) => index.indexName).sort());
    assert.deepEqual(sortedByKey(await scanAll(client)), sortedByKey(oldRows));
  } finally {
    client.destroy();
  }
  if (!onExternalDynamoDb) {
    const leftovers = (await readdir(dataDir)).filter((name) => name.endsWith('.migrating.json'));
    assert.deepEqual(leftovers, [], 'the copy kept while the table was rebuilt is removed');
  }

  const history = await historyMessages(runtime, await tokenFor(runtime, 'mig-bob'), groupId);
  assert.deepEqual(
    history.map((message) => message.content),
    ['before the upgrade'],
  );
  const aliceAgain = await connectWelcomed(runtime, 'mig-alice');
  const bobAgain = await connectWelcomed(runtime, 'mig-bob');
  const sent = await sendCommand(aliceAgain.client, 'send_group_message', {
    group_id: groupId,
    content: 'after the upgrade',
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  assert.equal(sent.data?.sent_count, 1);
  const push = await nextPush(bobAgain.client, 'group_message');
  assert.equal(push.group_name, 'Old timers');
  assert.equal(push.content, 'after the upgrade');
  await Promise.all([aliceAgain.client.close(), bobAgain.client.close()]);

  // A second start finds nothing to add.
  await runtime.stop();
  lines.length = 0;
  runtime = await startTestRuntime({ dataDir, log: (line) => lines.push(line) });
  assert.deepEqual(
    lines.filter((line) => line.includes('gained index')),
    [],
  );
});
