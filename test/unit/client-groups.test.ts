/**
 * The SDK's group lifecycle and conversation list on a fake WebSocket and a fake fetch:
 * the frames each method sends, the replies it resolves with, refusals (1403) as typed
 * errors, which commands are resent after a dropped connection and which are not, the
 * `group_updated` event, and the HTTP routes.
 * Run: npx tsx --test test/unit/client-groups.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { ChatConnectionLostError, ChatRequestError } from '../../client/src/errors.ts';
import { ChatHttpClient } from '../../client/src/http.ts';
import type { GroupUpdatedPush } from '../../client/src/types.ts';
import { connected, FakeWebSocket, flush, record } from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

const GROUP = 'group_01M8ZQ3V4H6Y5J8K9M0N1P2Q3R';

test('listGroups and listConversations send limit and cursor and resolve with the page', async () => {
  const { client, ws } = await connected();
  const groups = client.listGroups({ limit: 20, cursor: 'c1' });
  const groupsFrame = ws.lastOf('list_groups');
  assert.deepEqual(groupsFrame.data, { limit: 20, cursor: 'c1' });
  const page = {
    type: 'groups',
    groups: [
      {
        group_id: GROUP,
        group_name: 'Trip',
        role: 'owner',
        member_count: 3,
        last_message_id: '01M8ZQ3V4H6Y5J8K9M0N1P2Q3S',
        unread: 2,
      },
    ],
    next_cursor: 'c2',
  };
  ws.reply(groupsFrame, page);
  assert.deepEqual(await groups, page);

  const conversations = client.listConversations();
  const conversationsFrame = ws.lastOf('list_conversations');
  assert.deepEqual(conversationsFrame.data, {});
  const list = {
    type: 'conversations',
    conversations: [
      {
        room_id: 'private_alice_bob',
        kind: 'private',
        peer_id: 'bob',
        last_message: {
          message_id: '01M8ZQ3V4H6Y5J8K9M0N1P2Q3T',
          from_user_id: 'bob',
          content: 'hi',
          message_type: 1,
          time: '2026-11-21T10:00:01.000Z',
        },
        unread: 1,
      },
    ],
  };
  ws.reply(conversationsFrame, list);
  assert.deepEqual(await conversations, list);
  client.close();
});

test('each group command sends its own cmd and data', async () => {
  const { client, ws } = await connected();
  const calls: Array<[string, () => Promise<unknown>, unknown, Record<string, unknown>]> = [
    ['group_info', () => client.groupInfo({ group_id: GROUP }), { group_id: GROUP }, { type: 'group_info' }],
    [
      'add_group_members',
      () => client.addGroupMembers({ group_id: GROUP, member_ids: ['bob', 'carol'] }),
      { group_id: GROUP, member_ids: ['bob', 'carol'] },
      { type: 'group_members_added', group_id: GROUP, added: ['bob', 'carol'] },
    ],
    [
      'remove_group_member',
      () => client.removeGroupMember({ group_id: GROUP, user_id: 'bob' }),
      { group_id: GROUP, user_id: 'bob' },
      { type: 'group_member_removed', group_id: GROUP, user_id: 'bob' },
    ],
    [
      'leave_group',
      () => client.leaveGroup({ group_id: GROUP }),
      { group_id: GROUP },
      { type: 'group_left', group_id: GROUP },
    ],
    [
      'update_group',
      () => client.updateGroup({ group_id: GROUP, group_name: 'Hike' }),
      { group_id: GROUP, group_name: 'Hike' },
      { type: 'group_updated', group_id: GROUP, change: 'renamed', group_name: 'Hike' },
    ],
    [
      'set_group_role',
      () => client.setGroupRole({ group_id: GROUP, user_id: 'bob', role: 'admin' }),
      { group_id: GROUP, user_id: 'bob', role: 'admin' },
      { type: 'group_role_set', group_id: GROUP, user_id: 'bob', role: 'admin' },
    ],
    [
      'delete_group',
      () => client.deleteGroup({ group_id: GROUP }),
      { group_id: GROUP },
      { type: 'group_deleted', group_id: GROUP },
    ],
  ];
  for (const [cmd, call, data, reply] of calls) {
    const result = call();
    const frame = ws.lastOf(cmd);
    assert.deepEqual(frame.data, data, cmd);
    ws.reply(frame, reply);
    assert.deepEqual(await result, reply, cmd);
  }
  client.close();
});

test('a refusal (not an admin) rejects with ChatRequestError 1403 and its command', async () => {
  const { client, ws } = await connected();
  const removal = client.removeGroupMember({ group_id: GROUP, user_id: 'carol' });
  ws.replyError(ws.lastOf('remove_group_member'), 1403, 'only the owner and admins may remove members');
  await assert.rejects(removal, (error: unknown) => {
    assert.ok(error instanceof ChatRequestError);
    assert.equal(error.code, 1403);
    assert.equal(error.cmd, 'remove_group_member');
    return true;
  });
  client.close();
});

test('after a dropped connection, reads are resent; remove, leave and delete are not (a retry would be refused)', async () => {
  const { client, ws, timers } = await connected({ reconnect: { initialDelayMs: 1000, maxDelayMs: 1000 } });
  const info = client.groupInfo({ group_id: GROUP });
  const leave = client.leaveGroup({ group_id: GROUP });
  ws.drop();
  await assert.rejects(leave, ChatConnectionLostError);
  await timers.advance(1000);
  const next = FakeWebSocket.last;
  assert.notEqual(next, ws);
  next.open().welcome();
  await flush();
  const resent = next.lastOf('group_info');
  assert.deepEqual(resent.data, { group_id: GROUP });
  assert.equal(next.sentOf('leave_group').length, 0);
  next.reply(resent, { type: 'group_info', group_id: GROUP });
  assert.equal((await info).group_id, GROUP);
  client.close();
});

test('group_updated pushes become typed group_updated events', async () => {
  const { client, ws } = await connected();
  const updates = record<GroupUpdatedPush>((l) => client.on('group_updated', l));
  const push = {
    type: 'group_updated',
    group_id: GROUP,
    change: 'member_removed',
    user_ids: ['alice'],
    by: 'bob',
    group_name: 'Trip',
    time: '2026-11-21T10:00:02.000Z',
  } as const;
  ws.push(push);
  assert.deepEqual(updates, [push]);
  client.close();
});

test('HTTP: group routes and the conversation list use the documented methods and paths', async () => {
  const requests: Array<{ method: string; path: string; body: unknown }> = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    requests.push({
      method: init?.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    });
    return new Response(JSON.stringify({ code: 0, message: 'success', data: { ok: true } }));
  }) as typeof globalThis.fetch;
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch });
  await http.listGroups({ limit: 5 });
  await http.groupInfo(GROUP);
  await http.createGroup({ group_name: 'Trip', member_ids: ['bob'] });
  await http.addGroupMembers(GROUP, ['carol']);
  await http.removeGroupMember(GROUP, 'carol/x');
  await http.updateGroup(GROUP, 'Hike');
  await http.leaveGroup(GROUP);
  await http.deleteGroup(GROUP);
  await http.listConversations({ cursor: 'c 1' });
  assert.deepEqual(requests, [
    { method: 'GET', path: '/api/ws/groups?limit=5', body: undefined },
    { method: 'GET', path: `/api/ws/groups/${GROUP}`, body: undefined },
    { method: 'POST', path: '/api/ws/groups', body: { group_name: 'Trip', member_ids: ['bob'] } },
    { method: 'POST', path: `/api/ws/groups/${GROUP}/members`, body: { member_ids: ['carol'] } },
    { method: 'DELETE', path: `/api/ws/groups/${GROUP}/members/carol%2Fx`, body: undefined },
    { method: 'PATCH', path: `/api/ws/groups/${GROUP}`, body: { group_name: 'Hike' } },
    { method: 'POST', path: `/api/ws/groups/${GROUP}/leave`, body: undefined },
    { method: 'DELETE', path: `/api/ws/groups/${GROUP}`, body: undefined },
    { method: 'GET', path: '/api/ws/conversations?cursor=c+1', body: undefined },
  ]);
});
