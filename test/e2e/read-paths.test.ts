/**
 * Reading conversations end to end: paging a 250-message conversation with cursors over
 * HTTP and over the `history` command, and an outsider refused on every path that reads
 * a private chat or a group (history over HTTP and WebSocket, sync, unread, mark_read).
 * Run: npx tsx --test test/e2e/read-paths.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, type ChatConnection, sendCommand } from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const CONVERSATION_SIZE = 250;

let runtime: LocalRuntime;
let alice: ChatConnection;
let bob: ChatConnection;
let outsider: ChatConnection;
let groupId: string;
/** Ids of the private conversation's messages, oldest first. */
const sentIds: string[] = [];
let groupMessageId: string;

before(async () => {
  runtime = await startTestRuntime();
  [alice, bob, outsider] = await connectEach(runtime, ['rp-alice', 'rp-bob', 'rp-outsider']);
  // Sent in order, each after the previous reply, so ids are the conversation's order.
  for (let i = 0; i < CONVERSATION_SIZE; i++) {
    const reply = await sendCommand(alice.client, 'send_message', { to_user_id: 'rp-bob', content: `m${i}` });
    sentIds.push(String(reply.data?.message_id));
  }
  const group = await sendCommand(alice.client, 'create_group', { group_name: 'rp', member_ids: ['rp-bob'] });
  groupId = String(group.data?.group_id);
  const groupMessage = await sendCommand(alice.client, 'send_group_message', {
    group_id: groupId,
    content: 'g',
  });
  groupMessageId = String(groupMessage.data?.message_id);
});

after(async () => {
  await runtime.stop();
});

const ROOM = 'private_rp-alice_rp-bob';

describe(`history of a ${CONVERSATION_SIZE}-message conversation`, () => {
  test('pages over HTTP, 100 at most per page, newest first, with no gap or repeat', async () => {
    const token = await tokenFor(runtime, 'rp-bob');
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | undefined;
    do {
      const { status, body } = await readHistory(runtime, token, ROOM, {
        limit: '500',
        ...(cursor ? { cursor } : {}),
      });
      assert.equal(status, 200);
      const page = body.data;
      assert.ok(page);
      pageSizes.push(page.messages.length);
      seen.push(...page.messages.map((message) => message.message_id));
      cursor = page.next_cursor;
    } while (cursor);
    // A limit of 500 is capped at 100; the last full page may be followed by an empty one.
    assert.deepEqual(pageSizes.slice(0, 3), [100, 100, 50]);
    assert.deepEqual(seen, [...sentIds].reverse());
  });

  test('pages over the history command with the same cursors', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const reply = await sendCommand(bob.client, 'history', {
        room_id: ROOM,
        limit: 40,
        ...(cursor ? { cursor } : {}),
      });
      assert.equal(reply.code, 0, JSON.stringify(reply));
      const messages = reply.data?.messages as { message_id: string }[];
      assert.ok(messages.length <= 40);
      seen.push(...messages.map((message) => message.message_id));
      cursor = reply.data?.next_cursor as string | undefined;
      pages++;
    } while (cursor);
    assert.ok(pages >= 7, `${pages} pages`);
    assert.deepEqual(seen, [...sentIds].reverse());
  });
});

describe('an outsider', () => {
  test('is refused history over HTTP, for the private chat and the group', async () => {
    const token = await tokenFor(runtime, 'rp-outsider');
    for (const roomId of [ROOM, groupId]) {
      const { status, body } = await readHistory(runtime, token, roomId);
      assert.equal(status, 403, roomId);
      assert.equal(body.code, 1403);
      assert.equal(body.data, null);
    }
  });

  test('is refused the history command, for the private chat and the group', async () => {
    for (const roomId of [ROOM, groupId]) {
      assertErrorReply(await sendCommand(outsider.client, 'history', { room_id: roomId }), 1403, roomId);
    }
  });

  test('cannot mark either conversation read', async () => {
    assertErrorReply(
      await sendCommand(outsider.client, 'mark_read', { room_id: ROOM, message_id: sentIds.at(-1) }),
      1403,
    );
    assertErrorReply(
      await sendCommand(outsider.client, 'mark_read', { room_id: groupId, message_id: groupMessageId }),
      1403,
    );
  });

  test('gets none of their messages from sync, and no unread counts for them', async () => {
    const reply = await sendCommand(outsider.client, 'sync', { limit: 100 });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    assert.deepEqual(reply.data?.messages, []);
    assert.equal(reply.data?.has_more, false);

    const unread = await getApi<{ conversations: { room_id: string }[]; total: number }>(
      runtime,
      '/api/ws/unread',
      await tokenFor(runtime, 'rp-outsider'),
    );
    assert.equal(unread.status, 200);
    assert.deepEqual(unread.body.data?.conversations, []);
    assert.equal(unread.body.data?.total, 0);
  });

  test('while the participants do read them (the same paths are open to them)', async () => {
    const sync = await sendCommand(bob.client, 'sync', { since: sentIds.at(-2), limit: 10 });
    const ids = (sync.data?.messages as { message_id: string }[] | undefined)?.map(
      (message) => message.message_id,
    );
    assert.deepEqual(ids, [sentIds.at(-1), groupMessageId]);
    const unread = await getApi<{ conversations: { room_id: string; unread: number }[] }>(
      runtime,
      '/api/ws/unread',
      await tokenFor(runtime, 'rp-bob'),
    );
    const counts = Object.fromEntries(
      (unread.body.data?.conversations ?? []).map((c) => [c.room_id, c.unread]),
    );
    assert.equal(counts[ROOM], 100, 'capped at 100: "100 or more"');
    assert.equal(counts[groupId], 1);
  });
});
