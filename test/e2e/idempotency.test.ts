/**
 * `client_msg_id` dedupe over real sockets and the HTTP API: a retry, also one sent at the
 * same moment from another device of the same user, gets the first message_id back and
 * the recipient receives one `new_message`.
 * Run: npx tsx --test test/e2e/idempotency.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, pushesOf, sendCommand, settle } from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { historyMessages, postApi } from '../support/http.ts';
import {
  type FrameJson,
  startTestRuntime,
  tokenFor,
  usesEmbeddedDynamoDb,
} from '../support/local-runtime.ts';
import { createGroup } from '../support/replies.ts';

let runtime: LocalRuntime;
let phone: ChatConnection;
let laptop: ChatConnection;
let recipient: ChatConnection;

before(async () => {
  runtime = await startTestRuntime();
  [phone, laptop, recipient] = await connectEach(runtime, ['writer', 'writer', 'reader']);
});
after(() => runtime.stop());

const data = (clientMsgId: string) => ({
  to_user_id: 'reader',
  content: `text ${clientMsgId}`,
  client_msg_id: clientMsgId,
});

test('a retry gets the first message_id back, marked duplicate, and is not delivered again', async () => {
  const first = await sendCommand(phone.client, 'send_message', data('c-1'));
  const retry = await sendCommand(phone.client, 'send_message', data('c-1'));
  assert.equal(first.code, 0);
  assert.equal(first.data?.duplicate, undefined);
  assert.deepEqual(retry.data, { ...first.data, delivered: 0, failed: 0, duplicate: true });
  // The HTTP API shares the dedupe records.
  const token = await tokenFor(runtime, 'writer');
  const http = await postApi(runtime, '/api/ws/send-message', data('c-1'), token);
  assert.equal(http.body.data?.message_id, first.data?.message_id);
  assert.equal(http.body.data?.duplicate, true);

  await settle(recipient.client);
  const pushes = pushesOf(recipient.client, 'new_message').filter(
    (p) => p.message_id === first.data?.message_id,
  );
  assert.equal(pushes.length, 1);
});

test('two devices sending the same client_msg_id at once: one message stored and delivered', async () => {
  const [a, b] = await Promise.all([
    sendCommand(phone.client, 'send_message', data('c-race')),
    sendCommand(laptop.client, 'send_message', data('c-race')),
  ]);
  assert.equal(a.code, 0);
  assert.equal(b.code, 0);
  assert.equal(a.data?.message_id, b.data?.message_id);
  assert.equal([a, b].filter((reply) => reply.data?.duplicate === true).length, 1);

  await settle(recipient.client);
  assert.equal(
    pushesOf(recipient.client, 'new_message').filter((p) => p.content === 'text c-race').length,
    1,
  );
  const token = await tokenFor(runtime, 'reader');
  const stored = await historyMessages(runtime, token, 'private_reader_writer');
  assert.equal(stored.filter((m) => m.content === 'text c-race').length, 1);
});

// A private message reads its recipient before anything is stored (one BatchGetItem with
// the block row), so only a write that landed but answered an error can leave one stored
// and undelivered (test/unit/guards.test.ts builds that state). A group message reads its
// members' presence while it is stored: a failed read there is the same state, end to end.
test('a retry of a message stored by an attempt that then failed (5000) delivers it, once', async () => {
  const throttles = usesEmbeddedDynamoDb(
    runtime,
    'a retry after a throttled, failed attempt',
    'the runtime injects throttles on its embedded endpoint; the handlers call the external one directly',
  );
  if (!throttles) return;
  const groupId = await createGroup(phone, 'retries', ['reader']);
  await settle(recipient.client);
  const groupData = (clientMsgId: string) => ({
    group_id: groupId,
    content: `text ${clientMsgId}`,
    client_msg_id: clientMsgId,
  });
  // Every GetItem of the presence table is throttled: the first attempt claims its
  // client_msg_id and stores the message, then cannot read the other member's
  // connections and answers 5000.
  runtime.faults.configure({
    dynamoDbThrottleRate: 1,
    dynamoDbOperations: new Set(['GetItem', 'BatchGetItem']),
    dynamoDbTables: new Set([tableDefinitions.presence.localName]),
  });
  let failed: FrameJson | undefined;
  try {
    // The SDK backs off between its 4 throttled attempts: a generous wait for the reply.
    phone.client.send({ cmd: 'send_group_message', data: groupData('c-lost'), request_id: 'lost-1' });
    const reply = await phone.client.waitFor((f) => f.json?.request_id === 'lost-1', 30_000, 'the 5000');
    failed = reply.json;
  } finally {
    runtime.faults.configure({
      dynamoDbThrottleRate: 0,
      dynamoDbOperations: undefined,
      dynamoDbTables: undefined,
    });
  }
  assert.equal(failed?.code, 5000, JSON.stringify(failed));
  const token = await tokenFor(runtime, 'reader');
  const stored = await historyMessages(runtime, token, groupId);
  const lost = stored.find((m) => m.content === 'text c-lost');
  assert.ok(lost, 'the failed attempt stored the message');

  // The retry's content differs: what was stored is what is delivered.
  const retry = await sendCommand(phone.client, 'send_group_message', {
    ...groupData('c-lost'),
    content: 'edited before the retry',
  });
  assert.equal(retry.code, 0, JSON.stringify(retry));
  assert.equal(retry.data?.message_id, lost.message_id);
  assert.equal(retry.data?.duplicate, true);
  assert.equal(retry.data?.sent_count, 1);
  const again = await sendCommand(laptop.client, 'send_group_message', groupData('c-lost'));
  assert.deepEqual(again.data, { ...retry.data, sent_count: 0, failed: 0 });

  await settle(recipient.client);
  const pushes = pushesOf(recipient.client, 'group_message').filter((p) => p.message_id === lost.message_id);
  assert.equal(pushes.length, 1);
  assert.equal(pushes[0]?.content, 'text c-lost');
});
