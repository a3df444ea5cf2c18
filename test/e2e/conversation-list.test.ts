/**
 * The conversation list (`list_conversations`, `GET /api/ws/conversations`) through the
 * local runtime over real sockets and HTTP: order after new messages, previews, unread
 * counts after `mark_read`, a recalled last message, groups without messages, paging
 * through many conversations, and what an outsider or a forged cursor gets.
 * Run: npx tsx --test test/e2e/conversation-list.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type {
  ConversationEntry,
  ConversationListPage,
} from '../../functions/core/conversations/conversation-list.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, type ChatConnection, connectWelcomed, sendCommand } from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { createGroup, sendMessageId } from '../support/replies.ts';

let runtime: LocalRuntime;
let amy: ChatConnection;
let bob: ChatConnection;
let cat: ChatConnection;

before(async () => {
  runtime = await startTestRuntime();
  [amy, bob, cat] = await connectEach(runtime, ['cl-amy', 'cl-bob', 'cl-cat']);
});
after(() => runtime.stop());

async function list(who: ChatConnection, data: Record<string, unknown> = {}): Promise<ConversationListPage> {
  const reply = await sendCommand(who.client, 'list_conversations', data);
  assert.equal(reply.code, 0, JSON.stringify(reply));
  assert.equal(reply.data?.type, 'conversations');
  const { type: _type, ...page } = reply.data as unknown as ConversationListPage & { type: string };
  return page;
}

async function listOverHttp(userId: string, query = ''): Promise<ConversationListPage> {
  const { status, body } = await getApi<ConversationListPage>(
    runtime,
    `/api/ws/conversations${query}`,
    await tokenFor(runtime, userId),
  );
  assert.equal(status, 200, JSON.stringify(body));
  return body.data as ConversationListPage;
}

const rooms = (page: ConversationListPage) => page.conversations.map((entry) => entry.room_id);
const entryOf = (page: ConversationListPage, roomId: string): ConversationEntry => {
  const entry = page.conversations.find((candidate) => candidate.room_id === roomId);
  assert.ok(entry, `${roomId} is listed`);
  return entry;
};

describe('list_conversations', () => {
  let groupId: string;
  let quietGroupId: string;
  const amyBob = 'private_cl-amy_cl-bob';
  const amyCat = 'private_cl-amy_cl-cat';

  test('lists private chats and groups, most recent activity first, with peer, name and last message', async () => {
    quietGroupId = await createGroup(cat, 'Quiet', ['cl-amy']);
    const hi = await sendMessageId(amy, 'send_message', { to_user_id: 'cl-bob', content: 'hi bob' });
    await sendMessageId(cat, 'send_message', { to_user_id: 'cl-amy', content: 'hello amy' });
    groupId = await createGroup(amy, 'Trio', ['cl-bob', 'cl-cat']);
    const g1 = await sendMessageId(bob, 'send_group_message', { group_id: groupId, content: 'g1' });

    const page = await list(amy);
    // The quiet group has no message: it stands where it was created, before everything else.
    assert.deepEqual(rooms(page), [groupId, amyCat, amyBob, quietGroupId]);
    assert.equal(page.next_cursor, undefined);
    assert.deepEqual(entryOf(page, groupId), {
      room_id: groupId,
      kind: 'group',
      group_id: groupId,
      group_name: 'Trio',
      last_message: {
        message_id: g1,
        from_user_id: 'cl-bob',
        content: 'g1',
        message_type: 1,
        time: entryOf(page, groupId).last_message?.time,
      },
      unread: 1,
    });
    const withBob = entryOf(page, amyBob);
    assert.equal(withBob.kind, 'private');
    assert.equal(withBob.kind === 'private' && withBob.peer_id, 'cl-bob');
    assert.equal(withBob.last_message?.message_id, hi);
    // Amy's own message is not unread for her.
    assert.equal(withBob.unread, 0);
    assert.deepEqual(entryOf(page, quietGroupId), {
      room_id: quietGroupId,
      kind: 'group',
      group_id: quietGroupId,
      group_name: 'Quiet',
      last_message: null,
      unread: 0,
    });
    // Bob's list names Amy, and shows it unread for him.
    const bobsView = entryOf(await list(bob), amyBob);
    assert.equal(bobsView.kind === 'private' && bobsView.peer_id, 'cl-amy');
    assert.equal(bobsView.unread, 1);
  });

  test('a new message moves its conversation to the top', async () => {
    await sendMessageId(bob, 'send_message', { to_user_id: 'cl-amy', content: 'back to you' });
    assert.deepEqual(rooms(await list(amy)), [amyBob, groupId, amyCat, quietGroupId]);
    await sendMessageId(amy, 'send_group_message', { group_id: quietGroupId, content: 'not so quiet' });
    assert.deepEqual(rooms(await list(amy)), [quietGroupId, amyBob, groupId, amyCat]);
    // The HTTP route lists the same.
    assert.deepEqual(rooms(await listOverHttp('cl-amy')), [quietGroupId, amyBob, groupId, amyCat]);
  });

  test('previews are at most 200 characters, never cutting a character in two', async () => {
    await sendMessageId(cat, 'send_message', { to_user_id: 'cl-amy', content: 'x'.repeat(300) });
    let entry = entryOf(await list(amy), amyCat);
    assert.equal(entry.last_message?.content, 'x'.repeat(200));
    await sendMessageId(cat, 'send_message', { to_user_id: 'cl-amy', content: '🙂'.repeat(250) });
    entry = entryOf(await list(amy), amyCat);
    assert.equal(entry.last_message?.content, '🙂'.repeat(200));
    await sendMessageId(cat, 'send_message', { to_user_id: 'cl-amy', content: 'short' });
    assert.equal(entryOf(await list(amy), amyCat).last_message?.content, 'short');
  });

  test('unread counts follow mark_read, in private chats and groups', async () => {
    let page = await list(amy);
    // hello amy, 300 x, 250 smileys, short.
    assert.equal(entryOf(page, amyCat).unread, 4);
    assert.equal(entryOf(page, amyBob).unread, 1);
    assert.equal(entryOf(page, groupId).unread, 1);
    const catsLast = entryOf(page, amyCat).last_message?.message_id;
    const groupLast = entryOf(page, groupId).last_message?.message_id;
    assert.equal(
      (await sendCommand(amy.client, 'mark_read', { room_id: amyCat, message_id: catsLast })).code,
      0,
    );
    assert.equal(
      (await sendCommand(amy.client, 'mark_read', { room_id: groupId, message_id: groupLast })).code,
      0,
    );
    page = await list(amy);
    assert.equal(entryOf(page, amyCat).unread, 0);
    assert.equal(entryOf(page, groupId).unread, 0);
    assert.equal(entryOf(page, amyBob).unread, 1, 'other conversations are unchanged');
    await sendMessageId(cat, 'send_group_message', { group_id: groupId, content: 'after you read' });
    assert.equal(entryOf(await list(amy), groupId).unread, 1);
  });

  test('a recalled last message shows as deleted, with empty content', async () => {
    const oops = await sendMessageId(bob, 'send_message', { to_user_id: 'cl-amy', content: 'oops' });
    const recalled = await sendCommand(bob.client, 'delete_message', { room_id: amyBob, message_id: oops });
    assert.equal(recalled.code, 0, JSON.stringify(recalled));
    const entry = entryOf(await list(amy), amyBob);
    assert.deepEqual(entry.last_message, {
      message_id: oops,
      from_user_id: 'cl-bob',
      content: '',
      message_type: 1,
      time: entry.last_message?.time,
      deleted: true,
    });
    assert.equal(entry.unread, 1, 'a recalled message is not unread');
  });

  test('a removed member no longer lists the group, and a deleted group leaves every list', async () => {
    const groupId = await createGroup(amy, 'leaving soon', ['cl-bob', 'cl-cat']);
    await sendMessageId(amy, 'send_group_message', { group_id: groupId, content: 'hello all' });
    assert.ok(rooms(await list(cat)).includes(groupId));
    const removed = await sendCommand(amy.client, 'remove_group_member', {
      group_id: groupId,
      user_id: 'cl-cat',
    });
    assert.equal(removed.code, 0, JSON.stringify(removed));
    assert.ok(!rooms(await list(cat)).includes(groupId), 'the removed member still lists the group');
    assert.ok(rooms(await list(bob)).includes(groupId));
    const deleted = await sendCommand(amy.client, 'delete_group', { group_id: groupId });
    assert.equal(deleted.code, 0, JSON.stringify(deleted));
    assert.ok(!rooms(await list(bob)).includes(groupId), 'a deleted group is still listed');
    assert.ok(!rooms(await list(amy)).includes(groupId), 'a deleted group is still listed');
  });

  test('system notifications are not conversations', async () => {
    const admin = await tokenFor(runtime, 'cl-ops', { role: 'admin' });
    const before = rooms(await list(amy));
    const response = await postApi(
      runtime,
      '/api/ws/notify',
      { user_ids: ['cl-amy'], type: 'order.shipped', data: { order: 1 } },
      admin,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(rooms(await list(amy)), before);
  });

  test('an outsider sees none of it, and cannot use someone else’s cursor', async () => {
    const outsider = await connectWelcomed(runtime, 'cl-outsider');
    assert.deepEqual(await list(outsider), { conversations: [] });
    const amysPage = await list(amy, { limit: 1 });
    assert.ok(amysPage.next_cursor);
    assertErrorReply(
      await sendCommand(outsider.client, 'list_conversations', { cursor: amysPage.next_cursor }),
      1001,
    );
    const { status, body } = await getApi(
      runtime,
      `/api/ws/conversations?cursor=${amysPage.next_cursor}`,
      await tokenFor(runtime, 'cl-outsider'),
    );
    assert.equal(status, 400);
    assert.equal(body.code, 1001);
  });

  test('bad limits and forged cursors are refused with 1001', async () => {
    const forged = Buffer.from(JSON.stringify(['cl-amy', 'not-a-ulid', 'private_x_y'])).toString('base64url');
    for (const data of [
      { limit: 0 },
      { limit: 51 },
      { limit: 2.5 },
      { limit: '5' },
      { cursor: 'garbage!' },
      { cursor: 'e30' },
      { cursor: forged },
      { cursor: 42 },
    ]) {
      assertErrorReply(await sendCommand(amy.client, 'list_conversations', data), 1001, JSON.stringify(data));
    }
    const token = await tokenFor(runtime, 'cl-amy');
    for (const query of ['?limit=0', '?limit=abc', '?limit=51', `?cursor=${forged}`]) {
      const { status, body } = await getApi(runtime, `/api/ws/conversations${query}`, token);
      assert.equal(status, 400, query);
      assert.equal(body.code, 1001, query);
    }
    const anonymous = await getApi(runtime, '/api/ws/conversations');
    assert.equal(anonymous.status, 401);
  });
});

describe('paging', () => {
  const PEERS = 23;
  let pager: ChatConnection;
  let expected: string[];

  before(async () => {
    pager = await connectWelcomed(runtime, 'cl-pager');
    const activity: string[] = [];
    const emptyGroup = await createGroup(pager, 'Empty', ['cl-bob']);
    activity.push(emptyGroup);
    for (let i = 0; i < PEERS; i++) {
      const peer = `cl-peer-${String(i).padStart(2, '0')}`;
      await sendMessageId(pager, 'send_message', { to_user_id: peer, content: `to ${peer}` });
      activity.push(`private_cl-pager_${peer}`);
      if (i === 10) {
        const group = await createGroup(pager, 'Busy', ['cl-cat']);
        await sendMessageId(cat, 'send_group_message', { group_id: group, content: 'busy' });
        activity.push(group);
      }
    }
    expected = activity.reverse();
  });

  test('pages over WebSocket and HTTP list every conversation once, in order', async () => {
    for (const limit of [1, 4, 7]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page: ConversationListPage = await list(pager, cursor ? { limit, cursor } : { limit });
        assert.ok(page.conversations.length <= limit);
        seen.push(...rooms(page));
        cursor = page.next_cursor;
        assert.ok(++pages <= expected.length + 1, 'paging ends');
      } while (cursor);
      assert.deepEqual(seen, expected, `limit ${limit}`);
    }
    const overHttp: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listOverHttp('cl-pager', `?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      overHttp.push(...rooms(page));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(overHttp, expected);
    assert.deepEqual(rooms(await list(pager, { limit: 50 })), expected);
  });

  test('a message during paging moves that conversation to the top without duplicating what follows', async () => {
    const first = await list(pager, { limit: 5 });
    assert.deepEqual(rooms(first), expected.slice(0, 5));
    // The oldest private chat becomes the newest: pages after the cursor no longer hold it.
    const oldest = 'private_cl-pager_cl-peer-00';
    assert.equal(expected.at(-2), oldest);
    await sendMessageId(pager, 'send_message', { to_user_id: 'cl-peer-00', content: 'again' });
    const rest: string[] = [];
    let cursor = first.next_cursor;
    while (cursor) {
      const page: ConversationListPage = await list(pager, { limit: 5, cursor });
      rest.push(...rooms(page));
      cursor = page.next_cursor;
    }
    assert.deepEqual(
      rest,
      expected.slice(5).filter((roomId) => roomId !== oldest),
    );
    assert.equal(rooms(await list(pager, { limit: 1 }))[0], oldest);
  });
});
