/**
 * What checking a new group's members for blocks costs (issue 14): a user may not put
 * someone who blocked them into a group (1403, nothing written), and finding out reads who
 * blocked the adder (one `byBlocked` Query), not one row per invitee, so a group of 1,000
 * costs about 0.5 RRU for the check instead of 10 `BatchGetItem`s and 500 RRU. One
 * invitee is read by key; an adder blocked by very many users has the invitees read by key.
 * The local runtime runs the real handlers against a dynalite that records every request;
 * DYNAMODB_CAPACITY=report gives each request's consumed capacity (units, not time).
 * Run: npx tsx --test test/e2e/group-block-check-cost.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoDbRequestRecord, onDynamoDbRequest } from '../../functions/runtime/capacity.ts';
import { BLOCKERS_READ_PER_CANDIDATE } from '../../functions/stores/blocks.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, type ChatConnection, connectWelcomed, sendCommand } from '../support/chat.ts';
import {
  type CountingDynamo,
  localTableLabel,
  startCountingDynamo,
  tally,
} from '../support/counting-dynamo.ts';
import { type FrameJson, startTestRuntime } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const INVITEES = 1_000;
/** Commands that write 1,000 rows take a while on a loaded machine. */
const BIG_WAIT_MS = 120_000;
const BLOCKS_TABLE = tableDefinitions.blocks.localName;

let dynamo: CountingDynamo;
let runtime: LocalRuntime;
let tables: RuntimeTables;
let pest: ChatConnection;
let recorded: DynamoDbRequestRecord[] | undefined;
const stopListening = onDynamoDbRequest((record) => recorded?.push(record));

before(async () => {
  dynamo = await startCountingDynamo();
  runtime = await startTestRuntime({
    env: {
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      DYNAMODB_CAPACITY: 'report',
      MAX_GROUP_MEMBERS: String(INVITEES + 1),
    },
  });
  tables = runtimeTables(runtime);
  pest = await connectWelcomed(runtime, 'bcc-pest');
  // The victim and three users who are never invited block the pest, over real sockets.
  for (const blocker of ['bcc-victim', 'bcc-outsider-1', 'bcc-outsider-2', 'bcc-outsider-3']) {
    const connection = await connectWelcomed(runtime, blocker);
    const reply = await sendCommand(connection.client, 'block_user', { user_id: 'bcc-pest' });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    await connection.client.close();
  }
});

after(async () => {
  stopListening();
  tables.destroy();
  await runtime.stop();
  await dynamo.close();
});

interface Cost {
  /** Requests by operation and table id, e.g. `{ 'Query blocks': 1 }`. */
  readonly requests: Record<string, number>;
  /** Read units the `blocks` requests consumed, as the endpoint reported them. */
  readonly blocksReadUnits: number;
  /** How many `blocks` requests the handlers reported (so the units above are not vacuous). */
  readonly blocksReported: number;
}

/** `act`'s reply and what it set off in DynamoDB (the endpoint's count, the handlers' reports). */
async function costOf(act: () => Promise<FrameJson>): Promise<Cost & { readonly reply: FrameJson }> {
  await dynamo.idle(300, 60_000);
  dynamo.start();
  recorded = [];
  const reply = await act();
  await dynamo.idle(300, 60_000);
  const requests = tally(dynamo.stop(), localTableLabel);
  const reports = recorded;
  recorded = undefined;
  const blocks = reports.filter((record) => record.tables.includes(BLOCKS_TABLE));
  const blocksReadUnits = blocks.reduce((sum, record) => sum + record.readUnits, 0);
  return { reply, requests, blocksReadUnits, blocksReported: blocks.length };
}

const invitees = (prefix: string) => Array.from({ length: INVITEES }, (_, i) => `${prefix}-${i}`);

test('one of 1,000 invitees blocked the creator: 1403 naming only them, from one blocks Query (≤ 0.5 RRU) and nothing else', async () => {
  const memberIds = invitees('bcc-m');
  memberIds.splice(INVITEES / 2, 1, 'bcc-victim');
  const cost = await costOf(() =>
    sendCommand(
      pest.client,
      'create_group',
      { group_name: 'Trap', member_ids: memberIds },
      undefined,
      BIG_WAIT_MS,
    ),
  );
  const { reply } = cost;
  assertErrorReply(reply, 1403, 'create_group with a blocker among 1,000');
  assert.match(String(reply.message), /bcc-victim/);
  assert.doesNotMatch(String(reply.message), /bcc-outsider/, 'blockers who were not invited are not named');
  // The refusal comes before anything is written: the blocks read is the only request.
  assert.deepEqual(cost.requests, { 'Query blocks': 1 });
  assert.equal(cost.blocksReported, 1, 'the handler reported the Query and its capacity');
  assert.ok(cost.blocksReadUnits <= 0.5, `blocks read units: ${cost.blocksReadUnits}`);
  assert.deepEqual((await sendCommand(pest.client, 'list_groups')).data?.groups, [], 'no group made');
});

test('nobody invited blocked the creator: a group of 1,000 is made, its block check one Query (≤ 0.5 RRU)', async () => {
  const cost = await costOf(() =>
    sendCommand(
      pest.client,
      'create_group',
      { group_name: 'Big', member_ids: invitees('bcc-n') },
      undefined,
      BIG_WAIT_MS,
    ),
  );
  const { reply } = cost;
  assert.equal(reply.code, 0, JSON.stringify(reply));
  assert.equal((reply.data?.member_ids as unknown[] | undefined)?.length, INVITEES + 1);
  const blockRequests = Object.entries(cost.requests).filter(([key]) => key.endsWith(' blocks'));
  // Was 10 BatchGetItems (100 keys each) and 500 RRU.
  assert.deepEqual(blockRequests, [['Query blocks', 1]], JSON.stringify(cost.requests));
  assert.ok(cost.blocksReadUnits <= 0.5, `blocks read units: ${cost.blocksReadUnits}`);

  // One new member is read by key: as cheap as the Query, and no index lag.
  const groupId = reply.data?.group_id;
  const one = await costOf(() =>
    sendCommand(pest.client, 'add_group_members', { group_id: groupId, member_ids: ['bcc-victim'] }),
  );
  assertErrorReply(one.reply, 1403, 'add_group_members of the one blocker');
  assert.deepEqual(one.requests['BatchGetItem blocks'], 1, JSON.stringify(one.requests));
  assert.equal(one.requests['Query blocks'], undefined, JSON.stringify(one.requests));
  assert.ok(one.blocksReadUnits <= 0.5, `blocks read units: ${one.blocksReadUnits}`);
  const info = await sendCommand(pest.client, 'group_info', { group_id: groupId }, undefined, BIG_WAIT_MS);
  const members = (info.data?.members ?? []) as { user_id: string }[];
  assert.equal(members.length, INVITEES + 1, 'nobody added');
  assert.ok(!members.some((member) => member.user_id === 'bcc-victim'));
});

test('an adder blocked by very many users: the invitees are read by key instead, and a blocker is still refused', async () => {
  const invited = ['bcc-fan-3', 'bcc-stranger'];
  // More blockers than the Query may read for two invitees (rows as block_user writes them).
  const fans = BLOCKERS_READ_PER_CANDIDATE * invited.length + 1;
  for (let i = 0; i < fans; i++) {
    await tables.client.send(
      new PutCommand({
        TableName: BLOCKS_TABLE,
        Item: { userId: `bcc-fan-${i}`, blockedUserId: 'bcc-spammer', blockedAt: new Date().toISOString() },
      }),
    );
  }
  const spammer = await connectWelcomed(runtime, 'bcc-spammer');
  const cost = await costOf(() =>
    sendCommand(spammer.client, 'create_group', { group_name: 'Spam', member_ids: invited }),
  );
  const refused = cost.reply;
  assertErrorReply(refused, 1403, 'create_group by a much-blocked user');
  assert.match(String(refused.message), /bcc-fan-3/);
  assert.doesNotMatch(String(refused.message), /bcc-stranger/);
  // One bounded Query page, then the two rows by key.
  assert.deepEqual(cost.requests, { 'BatchGetItem blocks': 1, 'Query blocks': 1 });
  assert.ok(cost.blocksReadUnits <= 1.5, `blocks read units: ${cost.blocksReadUnits}`);

  const made = await sendCommand(spammer.client, 'create_group', {
    group_name: 'Fine',
    member_ids: ['bcc-stranger', 'bcc-other'],
  });
  assert.equal(made.code, 0, JSON.stringify(made));
  await spammer.client.close();
});
