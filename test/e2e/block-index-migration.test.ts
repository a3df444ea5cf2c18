/**
 * A `blocks` table from before the `byBlocked` index (a deployed table while the deploy is
 * still building the index, or a local data directory from an earlier version): the block
 * check of a group add finds no index to Query and reads the invitees' rows by key, so
 * blocks still hold and nothing answers 500. The runtime runs against a dynalite where the
 * table was created without the index before the runtime started (it creates missing
 * tables only, and changes no table at an endpoint it did not start).
 * Run: npx tsx --test test/e2e/block-index-migration.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { createTableInput } from '../../lib/table-input.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, connectWelcomed, sendCommand } from '../support/chat.ts';
import {
  type CountingDynamo,
  localTableLabel,
  startCountingDynamo,
  tally,
} from '../support/counting-dynamo.ts';
import { startTestRuntime } from '../support/local-runtime.ts';

let dynamo: CountingDynamo;
let runtime: LocalRuntime;
const startLog: string[] = [];

before(async () => {
  dynamo = await startCountingDynamo();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const { blocks } = tableDefinitions;
  await client.send(new CreateTableCommand(createTableInput({ ...blocks, indexes: [] }, blocks.localName)));
  client.destroy();
  runtime = await startTestRuntime({
    env: { DYNAMODB_ENDPOINT: dynamo.endpoint },
    log: (line) => startLog.push(line),
  });
});

test('the runtime leaves a table at a DYNAMODB_ENDPOINT as it is, and says which index is missing', () => {
  const warnings = startLog.filter((line) => line.includes('WARN DDB table chat-blocks'));
  assert.equal(warnings.length, 1, startLog.join('\n'));
  assert.match(warnings[0] as string, /lacks index byBlocked/);
});

after(async () => {
  await runtime.stop();
  await dynamo.close();
});

test('without the byBlocked index, create_group reads the invitees by key: a blocker is refused (1403), others are added', async () => {
  const victim = await connectWelcomed(runtime, 'bim-victim');
  const pest = await connectWelcomed(runtime, 'bim-pest');
  assert.equal((await sendCommand(victim.client, 'block_user', { user_id: 'bim-pest' })).code, 0);

  await dynamo.idle();
  dynamo.start();
  const refused = await sendCommand(pest.client, 'create_group', {
    group_name: 'Trap',
    member_ids: ['bim-friend', 'bim-victim'],
  });
  await dynamo.idle();
  assertErrorReply(refused, 1403, 'create_group with a blocker');
  assert.match(String(refused.message), /bim-victim/);
  // The Query the table cannot answer, then the two rows by key.
  assert.deepEqual(tally(dynamo.stop(), localTableLabel), { 'BatchGetItem blocks': 1, 'Query blocks': 1 });

  const made = await sendCommand(pest.client, 'create_group', {
    group_name: 'Fine',
    member_ids: ['bim-friend', 'bim-other'],
  });
  assert.equal(made.code, 0, JSON.stringify(made));
  await Promise.all([victim.client.close(), pest.client.close()]);
});
