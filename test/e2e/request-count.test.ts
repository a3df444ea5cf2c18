/**
 * What one `send_message` costs in DynamoDB requests, end to end: the local runtime with
 * the real handlers (the `$connect` authorizer included) runs against a dynalite that
 * records every request it answers, whoever sends it. The recipient has two devices and
 * the rate limit is on (RATE_LIMIT_PER_MINUTE=60).
 * - no client_msg_id: 3 requests (one BatchGetItem of the recipient's presence and the block
 *   row, rate window UpdateItem, one BatchWriteItem of the message and both participants'
 *   conversation-list rows); the sender comes from the authorizer context, not from a read;
 * - with a client_msg_id: 4 (the dedupe claim PutItem on top).
 * Set REQUEST_COUNT_REPORT=1 to print the requests of each case.
 * Run: npx tsx --test test/e2e/request-count.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, sendCommand } from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import {
  type CountingDynamo,
  type DynamoRequest,
  localTableLabel,
  startCountingDynamo,
  tally,
} from '../support/counting-dynamo.ts';
import { startTestRuntime } from '../support/local-runtime.ts';

let dynamo: CountingDynamo;
let runtime: LocalRuntime;
let alice: ChatConnection;
let bobPhone: ChatConnection;
let bobLaptop: ChatConnection;

before(async () => {
  dynamo = await startCountingDynamo();
  runtime = await startTestRuntime({
    env: { DYNAMODB_ENDPOINT: dynamo.endpoint, RATE_LIMIT_PER_MINUTE: '60' },
  });
  [alice, bobPhone, bobLaptop] = await connectEach(runtime, ['count-alice', 'count-bob', 'count-bob']);
});
after(async () => {
  await runtime.stop();
  await dynamo.close();
});

/** The requests while alice sends one message to bob and both of bob's devices get it. */
async function requestsOfOneSend(data: Record<string, unknown>): Promise<DynamoRequest[]> {
  await dynamo.idle();
  dynamo.start();
  const reply = await sendCommand(alice.client, 'send_message', { to_user_id: 'count-bob', ...data });
  assert.equal(reply.code, 0, JSON.stringify(reply));
  assert.equal(reply.data?.delivered, 2, 'both devices of the recipient got it');
  for (const device of [bobPhone, bobLaptop]) {
    const push = await device.client.waitForType('new_message');
    assert.equal(push.json?.data?.message_id, reply.data?.message_id);
  }
  // Anything the send set off afterwards counts too.
  await dynamo.idle();
  return dynamo.stop();
}

function report(name: string, requests: readonly DynamoRequest[]): Record<string, number> {
  const counts = tally(requests, localTableLabel);
  if (process.env.REQUEST_COUNT_REPORT === '1') {
    console.log(`${name}: ${requests.length} DynamoDB requests ${JSON.stringify(counts)}`);
  }
  return counts;
}

test('send_message to a user with 2 devices, rate limit on, no client_msg_id: 3 DynamoDB requests', async () => {
  const requests = await requestsOfOneSend({ content: 'three requests' });
  // One BatchGetItem: the recipient's presence item and whether they blocked the sender.
  assert.deepEqual(report('send_message', requests), {
    'BatchGetItem blocks,presence': 1,
    'BatchWriteItem conversations,messages': 1,
    'UpdateItem guards': 1,
  });
  assert.equal(requests.length, 3);
  assert.ok(
    !requests.some((r) => localTableLabel(r.table) === 'connections'),
    'the sender is not read from its connection row',
  );
});

test('with a client_msg_id: 4 (the dedupe claim); its retry: 4, and nothing is delivered twice', async () => {
  const first = await requestsOfOneSend({ content: 'deduplicated', client_msg_id: 'count-msg-1' });
  assert.deepEqual(report('send_message with client_msg_id', first), {
    'BatchGetItem blocks,presence': 1,
    'BatchWriteItem conversations,messages': 1,
    'PutItem guards': 1,
    'UpdateItem guards': 1,
  });
  assert.equal(first.length, 4);

  await dynamo.idle();
  dynamo.start();
  const retry = await sendCommand(alice.client, 'send_message', {
    to_user_id: 'count-bob',
    content: 'deduplicated',
    client_msg_id: 'count-msg-1',
  });
  assert.equal(retry.data?.duplicate, true);
  await dynamo.idle();
  // The recipient lookup, then the claim fails, the first message's id is read from it,
  // and its conditional store fails (already stored: a duplicate, so no conversation rows
  // either). The reply needs no content, so the message is not read back.
  assert.deepEqual(report('send_message retry of a client_msg_id', dynamo.stop()), {
    'BatchGetItem blocks,presence': 1,
    'GetItem guards': 1,
    'PutItem guards': 1,
    'PutItem messages': 1,
  });
});

/** The requests of one command of `connection` (and whatever it set off), recorded by the counting dynalite. */
async function requestsOf(
  connection: ChatConnection,
  cmd: string,
  data: Record<string, unknown>,
): Promise<{ reply: Record<string, unknown>; requests: DynamoRequest[] }> {
  await dynamo.idle();
  dynamo.start();
  const reply = await sendCommand(connection.client, cmd, data);
  assert.equal(reply.code, 0, JSON.stringify(reply));
  await dynamo.idle();
  return { reply: reply.data as Record<string, unknown>, requests: dynamo.stop() };
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

test('typing makes no DynamoDB write: the peer’s presence and block row are all it reads', async () => {
  const { reply, requests } = await requestsOf(alice, 'typing', {
    room_id: 'private_count-alice_count-bob',
    state: 'start',
  });
  assert.equal(reply.delivered, 2);
  assert.deepEqual(report('typing (private)', requests), { 'GetItem blocks': 1, 'GetItem presence': 1 });
  assert.deepEqual(
    requests.filter((r) => WRITES.has(r.operation)),
    [],
  );
  // A throttled repeat reads nothing at all.
  const repeat = await requestsOf(alice, 'typing', {
    room_id: 'private_count-alice_count-bob',
    state: 'start',
  });
  assert.equal(repeat.reply.throttled, true);
  assert.deepEqual(repeat.requests, []);
});

test('edit_message of a private message: 5 requests (message, presence, block row, rate window, the edit)', async () => {
  const sent = await sendCommand(alice.client, 'send_message', {
    to_user_id: 'count-bob',
    content: 'edit me',
  });
  const { requests } = await requestsOf(alice, 'edit_message', {
    room_id: 'private_count-alice_count-bob',
    message_id: sent.data?.message_id,
    content: 'edited',
  });
  assert.deepEqual(report('edit_message (private)', requests), {
    'BatchGetItem presence': 1,
    'GetItem blocks': 1,
    'GetItem messages': 1,
    'UpdateItem guards': 1,
    'UpdateItem messages': 1,
  });
});

test('react on a private message: 6 requests; history then reads no extra item for the counts', async () => {
  const sent = await sendCommand(alice.client, 'send_message', { to_user_id: 'count-bob', content: 'react' });
  const target = { room_id: 'private_count-alice_count-bob', message_id: sent.data?.message_id };
  // The first reaction creates the counts map; the second adds to it: one write each.
  for (const emoji of ['👍', '🎉']) {
    const { requests } = await requestsOf(bobPhone, 'react', { ...target, emoji });
    assert.deepEqual(report(`react ${emoji} (private)`, requests), {
      'BatchGetItem presence': 1,
      'GetItem blocks': 1,
      'GetItem messages': 1,
      'UpdateItem guards': 1,
      // The user's reaction row (conditional), then the count on the message item.
      'UpdateItem messages': 2,
    });
  }
  const history = await requestsOf(alice, 'history', { room_id: target.room_id, limit: 5 });
  const shown = (history.reply.messages as Record<string, unknown>[]).find(
    (m) => m.message_id === target.message_id,
  );
  assert.deepEqual(shown?.reactions, { '👍': 1, '🎉': 1 });
  assert.deepEqual(report('history', history.requests), { 'Query messages': 1 });
});
