/**
 * Private room ids are ambiguous when user ids contain `_`: `a_b`+`c` and `a`+`b_c` are
 * both `private_a_b_c`. Every frame that carries a private room id also carries `peer_id`,
 * the other participant as the receiver sees it, taken from the message and never from
 * the room id: message_sent, new_message, history and sync items, read_marked,
 * message_read, unread_count, and message_deleted (reply and pushes).
 * Run: npx tsx --test test/e2e/private-peer-ids.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  sendCommand,
  withMessageId,
} from '../support/chat.ts';
import { historyMessages } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { okData } from '../support/replies.ts';

let runtime: LocalRuntime;
before(async () => {
  runtime = await startTestRuntime();
});
after(() => runtime.stop());

const ROOM = 'private_a_b_c';

async function send(from: ChatConnection, to: string, content: string) {
  return okData(await sendCommand(from.client, 'send_message', { to_user_id: to, content }));
}

describe('peer_id in every private frame, with the colliding room private_a_b_c', () => {
  test('message_sent, new_message, history, sync, read receipts and recall name the right peer', async () => {
    const [ab, c, a, bc] = (await Promise.all(
      ['a_b', 'c', 'a', 'b_c'].map((user) => connectWelcomed(runtime, user)),
    )) as [ChatConnection, ChatConnection, ChatConnection, ChatConnection];
    const abAndC = await send(ab as ChatConnection, 'c', 'from a_b to c');
    const aAndBc = await send(a as ChatConnection, 'b_c', 'from a to b_c');
    assert.equal(abAndC.room_id, ROOM);
    assert.equal(aAndBc.room_id, ROOM, 'the same room id for both pairs');
    assert.equal(abAndC.peer_id, 'c');
    assert.equal(aAndBc.peer_id, 'b_c');

    const toC = await nextPush(c.client, 'new_message', withMessageId(abAndC.message_id));
    const toBc = await nextPush(bc.client, 'new_message', withMessageId(aAndBc.message_id));
    assert.equal(toC.peer_id, 'a_b');
    assert.equal(toBc.peer_id, 'a');

    // History (WebSocket and HTTP): each reader sees only their own conversation, with its peer.
    const history = await sendCommand(c.client, 'history', { room_id: ROOM });
    const items = (history.data?.messages ?? []) as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => [item.content, item.peer_id]),
      [['from a_b to c', 'a_b']],
    );
    const overHttp = await historyMessages(runtime, await tokenFor(runtime, 'a'), ROOM);
    assert.deepEqual(
      overHttp.map((item) => [item.content, item.peer_id]),
      [['from a to b_c', 'b_c']],
    );

    // Sync: the sender's own message from another device's point of view names the recipient.
    const sync = await sendCommand(ab.client, 'sync', {});
    const synced = ((sync.data?.messages ?? []) as Record<string, unknown>[]).filter(
      (item) => item.room_id === ROOM,
    );
    assert.deepEqual(
      synced.map((item) => [item.content, item.peer_id]),
      [['from a_b to c', 'c']],
    );

    // Read receipts: c reads; a_b is told (its peer is the reader), c's other connection learns its count.
    const cOther = await connectWelcomed(runtime, 'c');
    const marked = await sendCommand(c.client, 'mark_read', {
      room_id: ROOM,
      message_id: abAndC.message_id,
    });
    assert.equal(marked.code, 0, JSON.stringify(marked));
    assert.equal(marked.data?.peer_id, 'a_b');
    const read = await nextPush(ab.client, 'message_read');
    assert.equal(read.user_id, 'c');
    assert.equal(read.peer_id, 'c');
    const count = await nextPush(cOther.client, 'unread_count');
    assert.equal(count.peer_id, 'a_b');

    // Recall: the sender's reply and its other connection name the recipient, the recipient's push the sender.
    const abOther = await connectWelcomed(runtime, 'a_b');
    const deleted = await sendCommand(ab.client, 'delete_message', {
      room_id: ROOM,
      message_id: abAndC.message_id,
    });
    assert.equal(deleted.code, 0, JSON.stringify(deleted));
    assert.equal(deleted.data?.peer_id, 'c');
    assert.equal((await nextPush(c.client, 'message_deleted')).peer_id, 'a_b');
    assert.equal((await nextPush(abOther.client, 'message_deleted')).peer_id, 'c');

    for (const connection of [ab, c, a, bc, cOther, abOther]) connection.client.close();
  });

  test('rooms and groups carry no peer_id', async () => {
    const g = await connectWelcomed(runtime, 'g1');
    const created = await sendCommand(g.client, 'create_group', { group_name: 'peers', member_ids: ['g2'] });
    const groupId = created.data?.group_id;
    await sendCommand(g.client, 'send_group_message', { group_id: groupId, content: 'hi group' });
    const history = await sendCommand(g.client, 'history', { room_id: groupId });
    const items = (history.data?.messages ?? []) as Record<string, unknown>[];
    assert.equal(items.length, 1);
    assert.equal('peer_id' in (items[0] ?? {}), false);
    g.client.close();
  });
});
