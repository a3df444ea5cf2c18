/**
 * Read receipts and unread counts through the local runtime: `mark_read` from one device,
 * `unread_count` on the reader's other device, `message_read` on the other participants,
 * and `GET /api/ws/unread` before and after, for a private chat and a group.
 * Run: npx tsx --test test/e2e/read-receipts.test.ts
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
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { sendMessageId } from '../support/replies.ts';

interface Unread {
  readonly conversations: { room_id: string; unread: number; last_message_id: string; peer_id?: string }[];
  readonly total: number;
}

let runtime: LocalRuntime;
/** amy reads on her phone and has a laptop; bob writes to her; cat shares a group with both. */
let amyPhone: ChatConnection;
let amyLaptop: ChatConnection;
let bob: ChatConnection;
let cat: ChatConnection;
let groupId: string;
const privateRoom = 'private_rr-amy_rr-bob';
/** bob → amy, in order. */
const privateIds: string[] = [];
/** bob, bob, cat in the group, in order. */
const groupIds: string[] = [];
/** amy's own group message, after those. */
let amysGroupMessage: string;

async function unreadOf(userId: string): Promise<Unread> {
  const { status, body } = await getApi<Unread>(runtime, '/api/ws/unread', await tokenFor(runtime, userId));
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.code, 0);
  return body.data as Unread;
}

before(async () => {
  runtime = await startTestRuntime();
  [amyPhone, amyLaptop, bob, cat] = await connectEach(runtime, ['rr-amy', 'rr-amy', 'rr-bob', 'rr-cat']);
  for (const content of ['one', 'two', 'three']) {
    privateIds.push(await sendMessageId(bob, 'send_message', { to_user_id: 'rr-amy', content }));
  }
  const created = await sendCommand(amyPhone.client, 'create_group', {
    group_name: 'Readers',
    member_ids: ['rr-bob', 'rr-cat'],
  });
  groupId = String(created.data?.group_id);
  groupIds.push(await sendMessageId(bob, 'send_group_message', { group_id: groupId, content: 'g1' }));
  groupIds.push(await sendMessageId(bob, 'send_group_message', { group_id: groupId, content: 'g2' }));
  groupIds.push(await sendMessageId(cat, 'send_group_message', { group_id: groupId, content: 'g3' }));
  amysGroupMessage = await sendMessageId(amyLaptop, 'send_group_message', {
    group_id: groupId,
    content: 'mine',
  });
});
after(() => runtime.stop());

describe('GET /api/ws/unread', () => {
  test('counts every unread conversation, newest unread first, without the reader’s own messages', async () => {
    assert.deepEqual(await unreadOf('rr-amy'), {
      conversations: [
        { room_id: groupId, unread: 3, last_message_id: groupIds[2] },
        // The private chat names the peer; the group has none.
        { room_id: privateRoom, unread: 3, last_message_id: privateIds[2], peer_id: 'rr-bob' },
      ],
      total: 6,
    });
    assert.deepEqual(await unreadOf('rr-bob'), {
      conversations: [{ room_id: groupId, unread: 2, last_message_id: amysGroupMessage }],
      total: 2,
    });
    assert.deepEqual(await unreadOf('rr-nobody'), { conversations: [], total: 0 });
  });

  test('needs a token (HTTP 401, 1401)', async () => {
    const { status, body } = await getApi(runtime, '/api/ws/unread');
    assert.equal(status, 401);
    assert.equal(body.code, 1401);
  });
});

describe('mark_read', () => {
  test('in a private chat: the reply, unread_count on the other device, message_read for the peer', async () => {
    const reply = await sendCommand(
      amyPhone.client,
      'mark_read',
      { room_id: privateRoom, message_id: privateIds[1] },
      'read-1',
    );
    assert.equal(reply.code, 0);
    assert.equal(reply.request_id, 'read-1');
    const { time, ...rest } = reply.data ?? {};
    assert.deepEqual(rest, {
      type: 'read_marked',
      room_id: privateRoom,
      message_id: privateIds[1],
      unread: 1,
      peer_id: 'rr-bob',
    });
    assertIsoTime(time);

    assert.deepEqual(await nextPush(amyLaptop.client, 'unread_count'), {
      type: 'unread_count',
      room_id: privateRoom,
      unread: 1,
      peer_id: 'rr-bob',
      time,
    });
    assert.deepEqual(await nextPush(bob.client, 'message_read'), {
      type: 'message_read',
      room_id: privateRoom,
      user_id: 'rr-amy',
      peer_id: 'rr-amy',
      message_id: privateIds[1],
      time,
    });
    await Promise.all([settle(amyPhone.client), settle(cat.client), settle(bob.client)]);
    assert.deepEqual(pushesOf(amyPhone.client, 'unread_count'), [], 'the asking device has the reply');
    assert.deepEqual(pushesOf(cat.client, 'message_read'), [], 'not someone outside the chat');
    assert.deepEqual(pushesOf(bob.client, 'unread_count'), [], 'the peer’s counts did not change');

    assert.deepEqual((await unreadOf('rr-amy')).conversations, [
      { room_id: groupId, unread: 3, last_message_id: groupIds[2] },
      { room_id: privateRoom, unread: 1, last_message_id: privateIds[2], peer_id: 'rr-bob' },
    ]);
  });

  test('reading the last message drops the chat from the unread list', async () => {
    const reply = await sendCommand(amyPhone.client, 'mark_read', {
      room_id: privateRoom,
      message_id: privateIds[2],
    });
    assert.equal(reply.data?.unread, 0);
    assert.equal((await nextPush(amyLaptop.client, 'unread_count')).unread, 0);
    await nextPush(bob.client, 'message_read', (data) => data.message_id === privateIds[2]);
    assert.deepEqual(await unreadOf('rr-amy'), {
      conversations: [{ room_id: groupId, unread: 3, last_message_id: groupIds[2] }],
      total: 3,
    });
  });

  test('marking an older message keeps the position and tells no one', async () => {
    const before = [amyLaptop, bob].map((c) => c.client.frames.length);
    const reply = await sendCommand(amyPhone.client, 'mark_read', {
      room_id: privateRoom,
      message_id: privateIds[0],
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.message_id, privateIds[2], 'the stored position');
    assert.equal(reply.data?.unread, 0);
    await Promise.all([settle(amyLaptop.client), settle(bob.client)]);
    assert.deepEqual(
      [amyLaptop, bob].map((c, i) => c.client.frames.slice(before[i]).map((f) => f.json?.data?.type)),
      [['pong'], ['pong']],
    );
  });

  test('in a group: every other member hears it, the reader’s other device gets the count', async () => {
    const reply = await sendCommand(amyLaptop.client, 'mark_read', {
      room_id: groupId,
      message_id: groupIds[0],
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.unread, 2);
    const expected = {
      type: 'message_read',
      room_id: groupId,
      user_id: 'rr-amy',
      message_id: groupIds[0],
      time: reply.data?.time,
    };
    assert.deepEqual(await nextPush(bob.client, 'message_read', (d) => d.room_id === groupId), expected);
    assert.deepEqual(await nextPush(cat.client, 'message_read', (d) => d.room_id === groupId), expected);
    assert.deepEqual(await nextPush(amyPhone.client, 'unread_count'), {
      type: 'unread_count',
      room_id: groupId,
      unread: 2,
      time: reply.data?.time,
    });
    assert.equal((await unreadOf('rr-amy')).total, 2);

    await sendCommand(amyLaptop.client, 'mark_read', { room_id: groupId, message_id: groupIds[2] });
    assert.equal((await nextPush(amyPhone.client, 'unread_count')).unread, 0);
    assert.deepEqual(await unreadOf('rr-amy'), { conversations: [], total: 0 });
    assert.equal((await unreadOf('rr-bob')).total, 2, 'bob’s position is his own');
  });

  test('refuses what is not the reader’s to mark', async () => {
    const cases: readonly [string, unknown, number][] = [
      ['a private chat of others', { room_id: privateRoom, message_id: privateIds[0] }, 1403],
      ['a group of others', { room_id: 'group_01ZZZZZZZZZZZZZZZZZZZZZZZZ', message_id: privateIds[0] }, 1403],
      ['a public room', { room_id: 'lobby', message_id: privateIds[0] }, 1403],
      ['a malformed room id', { room_id: 'lob by!', message_id: privateIds[0] }, 2001],
      ['a malformed group id', { room_id: 'group_a/b', message_id: privateIds[0] }, 2001],
      ['no room id', { message_id: privateIds[0] }, 2002],
      ['no data', undefined, 2002],
      ['a message id that is no ULID', { room_id: privateRoom, message_id: '42' }, 1001],
      ['no message id', { room_id: privateRoom }, 1001],
    ];
    for (const [description, data, code] of cases) {
      const reply = await sendCommand(cat.client, 'mark_read', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
    }
    const unknown = await sendCommand(amyPhone.client, 'mark_read', {
      room_id: privateRoom,
      message_id: groupIds[0],
    });
    assertErrorReply(unknown, 2001, 'a message of another conversation');
  });
});
