/**
 * Groups: `create_group`, `send_group_message` and reading a group's history, driven
 * over real WebSocket connections and the HTTP API of the local runtime.
 * Run: npx tsx --test test/e2e/groups.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  assertIsoTime,
  type ChatConnection,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  ULID,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { historyMessages, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { createGroup } from '../support/replies.ts';

const GROUP_ID = /^group_[A-Za-z0-9_-]{1,64}$/;

let runtime: LocalRuntime;
/** ann posts from her phone and also has a laptop; ben is on two devices; cy is a member offline; dee is no member. */
let annPhone: ChatConnection;
let annLaptop: ChatConnection;
let benPhone: ChatConnection;
let benLaptop: ChatConnection;
let dee: ChatConnection;
let groupId: string;

before(async () => {
  runtime = await startTestRuntime();
  [annPhone, annLaptop, benPhone, benLaptop, dee] = await connectEach(runtime, [
    'ann',
    'ann',
    'ben',
    'ben',
    'dee',
  ]);
  groupId = await createGroup(annPhone, 'Climbing', ['ben', 'cy']);
});
after(() => runtime.stop());

/** Every connection but the sender's, for "nobody received anything" checks. */
const onlookers = () => [annLaptop, benPhone, benLaptop, dee];

async function groupPushCounts(): Promise<number[]> {
  await Promise.all(onlookers().map((c) => settle(c.client)));
  return onlookers().map((c) => pushesOf(c.client, 'group_message').length);
}

describe('create_group', () => {
  test('answers group_created: trimmed name, the creator first, duplicates dropped, ids as strings', async () => {
    const reply = await sendCommand(
      benPhone.client,
      'create_group',
      { group_name: '  Book club  ', member_ids: ['cy', 'ben', 'ann', 'cy', 7, 'ann'] },
      'create-1',
    );
    assert.equal(reply.code, 0);
    assert.equal(reply.request_id, 'create-1');
    const { group_id, ...rest } = reply.data ?? {};
    assert.match(String(group_id), GROUP_ID);
    assert.deepEqual(rest, {
      type: 'group_created',
      group_name: 'Book club',
      member_ids: ['ben', 'cy', 'ann', '7'],
      role: 'owner',
    });
  });

  test('members are not notified of a new group', async () => {
    const before = onlookers().map((c) => c.client.frames.length);
    const reply = await sendCommand(annPhone.client, 'create_group', {
      group_name: 'Quiet',
      member_ids: ['ben'],
    });
    assert.equal(reply.code, 0);
    await Promise.all(onlookers().map((c) => settle(c.client)));
    const receivedSince = onlookers().map((c, i) =>
      c.client.frames.slice(before[i]).map((frame) => frame.json?.data?.type),
    );
    assert.deepEqual(receivedSince, [['pong'], ['pong'], ['pong'], ['pong']], 'only the barrier’s pong');
  });

  test('the creator alone (member_ids only naming them) makes a group of one', async () => {
    const reply = await sendCommand(dee.client, 'create_group', {
      group_name: 'Notes to self',
      member_ids: ['dee'],
    });
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.data?.member_ids, ['dee']);
  });

  test('invalid requests answer 3001, 3002 or 3003', async () => {
    const tooManyMembers = Array.from({ length: 500 }, (_, i) => `member-${i}`);
    const invalid: readonly [string, unknown, number][] = [
      ['no group_name', { member_ids: ['ben'] }, 3002],
      ['empty group_name', { group_name: '', member_ids: ['ben'] }, 3002],
      ['blank group_name', { group_name: '   ', member_ids: ['ben'] }, 3002],
      ['no member_ids', { group_name: 'G' }, 3003],
      ['empty member_ids', { group_name: 'G', member_ids: [] }, 3003],
      ['member_ids a string', { group_name: 'G', member_ids: 'ben' }, 3001],
      ['member_ids holding an object', { group_name: 'G', member_ids: [{ id: 'ben' }] }, 3001],
      ['member_ids holding an empty id', { group_name: 'G', member_ids: ['ben', ''] }, 3001],
      ['member_ids holding a blank id', { group_name: 'G', member_ids: ['ben', '  '] }, 3001],
      ['group_name a number', { group_name: 12, member_ids: ['ben'] }, 3001],
      ['group_name over 100 characters', { group_name: 'n'.repeat(101), member_ids: ['ben'] }, 3001],
      ['501 members with the creator', { group_name: 'G', member_ids: tooManyMembers }, 3001],
    ];
    for (const [description, data, code] of invalid) {
      const reply = await sendCommand(annPhone.client, 'create_group', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
    }
  });

  test('500 members including the creator is allowed', async () => {
    const others = Array.from({ length: 499 }, (_, i) => `member-${i}`);
    const reply = await sendCommand(
      annPhone.client,
      'create_group',
      { group_name: 'Big', member_ids: others },
      'big-group',
      30_000,
    );
    assert.equal(reply.code, 0, JSON.stringify(reply).slice(0, 200));
    const memberIds = reply.data?.member_ids as string[];
    assert.equal(memberIds.length, 500);
    assert.equal(memberIds[0], 'ann', 'the creator first');
  });
});

describe('send_group_message', () => {
  test('members’ devices get group_message with the group name; the sender’s other device does not', async () => {
    const reply = await sendCommand(
      annPhone.client,
      'send_group_message',
      { group_id: groupId, content: 'Saturday at 9?', message_type: 1, client_msg_id: 'g-1' },
      'group-1',
    );
    assert.equal(reply.code, 0);
    assert.equal(reply.request_id, 'group-1');
    const sent = reply.data ?? {};
    assert.deepEqual(Object.keys(sent).sort(), [
      'failed',
      'group_id',
      'message_id',
      'sent_count',
      'time',
      'type',
    ]);
    assert.equal(sent.type, 'group_message_sent');
    assert.equal(sent.group_id, groupId);
    assert.match(String(sent.message_id), ULID);
    assert.equal(sent.sent_count, 2, 'ben’s two connections; cy is offline');
    assertIsoTime(sent.time);

    const expectedPush = {
      type: 'group_message',
      group_id: groupId,
      group_name: 'Climbing',
      message_id: sent.message_id,
      from_user_id: 'ann',
      content: 'Saturday at 9?',
      message_type: 1,
      time: sent.time,
    };
    for (const device of [benPhone, benLaptop]) {
      assert.deepEqual(await nextPush(device.client, 'group_message'), expectedPush);
    }
    await Promise.all([settle(annPhone.client), settle(annLaptop.client), settle(dee.client)]);
    assert.deepEqual(pushesOf(annPhone.client, 'group_message'), [], 'not to the sending device');
    assert.deepEqual(pushesOf(annLaptop.client, 'group_message'), [], 'not to the sender’s other device');
    assert.deepEqual(pushesOf(dee.client, 'group_message'), [], 'not to a non-member');
  });

  test('a member who was offline reads the message from history', async () => {
    const reply = await sendCommand(benLaptop.client, 'send_group_message', {
      group_id: groupId,
      content: 'count me in',
      message_type: 1,
    });
    assert.equal(reply.data?.sent_count, 2, 'ann’s two connections');
    const messages = await historyMessages(runtime, await tokenFor(runtime, 'cy'), groupId);
    assert.deepEqual(messages[0], {
      message_id: reply.data?.message_id,
      room_id: groupId,
      from_user_id: 'ben',
      group_id: groupId,
      content: 'count me in',
      message_type: 1,
      time: reply.data?.time,
    });
    assert.equal(messages[1]?.content, 'Saturday at 9?', 'newest first');
    for (const device of [annPhone, annLaptop]) await nextPush(device.client, 'group_message');
  });

  test('a non-member is refused with 1403; nothing is delivered or stored', async () => {
    const annToken = await tokenFor(runtime, 'ann');
    const historyBefore = await historyMessages(runtime, annToken, groupId);
    const countsBefore = await groupPushCounts();

    const reply = await sendCommand(
      dee.client,
      'send_group_message',
      { group_id: groupId, content: 'let me in' },
      'x',
    );
    assertErrorReply(reply, 1403);
    assert.equal(reply.request_id, 'x');

    assert.deepEqual(await groupPushCounts(), countsBefore);
    assert.deepEqual(await historyMessages(runtime, annToken, groupId), historyBefore);
  });

  test('a group that does not exist answers 1403 too (ids cannot be probed)', async () => {
    const reply = await sendCommand(annPhone.client, 'send_group_message', {
      group_id: 'group_01ZZZZZZZZZZZZZZZZZZZZZZZZ',
      content: 'anyone?',
    });
    assertErrorReply(reply, 1403);
  });

  test('invalid requests answer 3005, 3006, 1001 or 1002 and deliver nothing', async () => {
    const countsBefore = await groupPushCounts();
    const invalid: readonly [string, unknown, number][] = [
      ['no group_id', { content: 'hi' }, 3005],
      ['empty group_id', { group_id: '', content: 'hi' }, 3005],
      ['no content', { group_id: groupId }, 3005],
      ['blank content', { group_id: groupId, content: '   ' }, 3005],
      ['no data', undefined, 3005],
      ['data a string', 'hi', 3005],
      ['a group id without the prefix', { group_id: 'climbing', content: 'hi' }, 3006],
      ['a group id with a bad character', { group_id: 'group_a/b', content: 'hi' }, 3006],
      ['a group id over 64 characters', { group_id: `group_${'a'.repeat(65)}`, content: 'hi' }, 3006],
      ['message_type 9', { group_id: groupId, content: 'hi', message_type: 9 }, 1001],
      ['group_id a number', { group_id: 5, content: 'hi' }, 1001],
      ['content over 4,000 characters', { group_id: groupId, content: 'x'.repeat(4001) }, 1002],
    ];
    for (const [description, data, code] of invalid) {
      const reply = await sendCommand(annPhone.client, 'send_group_message', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
    }
    assert.deepEqual(await groupPushCounts(), countsBefore);
  });
});

describe('group history over HTTP', () => {
  test('members read it; a non-member gets HTTP 403 with 1403', async () => {
    const member = await readHistory(runtime, await tokenFor(runtime, 'ben'), groupId);
    assert.equal(member.status, 200);
    assert.equal(member.body.code, 0);
    assert.equal(member.body.data?.room_id, groupId);
    assert.ok((member.body.data?.messages.length ?? 0) >= 2);

    const outsider = await readHistory(runtime, await tokenFor(runtime, 'dee'), groupId);
    assert.equal(outsider.status, 403);
    assert.deepEqual({ ...outsider.body, message: '' }, { code: 1403, message: '', data: null });
  });

  test('a malformed group room id is HTTP 400 with 2001', async () => {
    const response = await readHistory(runtime, await tokenFor(runtime, 'ann'), 'group_bad!id');
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 2001);
  });
});
