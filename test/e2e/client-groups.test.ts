/**
 * The client SDK's group lifecycle and conversation list against the real local runtime,
 * over real sockets (`ws`): alice creates a group and adds bob, who hears of it through a
 * typed `group_updated` event; both chat; the lists (WebSocket and HTTP) show the group by
 * name with the server's unread counts; bob's `markRead` reaches alice as `message_read`;
 * alice removes bob, who is told and is refused from then on (1403) — typed errors all the
 * way. A member leaves through the HTTP client (`leaveGroup`).
 * Run: npx tsx --test test/e2e/client-groups.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChatRequestError } from '../../client/src/errors.ts';
import { ChatHttpClient, ChatHttpError } from '../../client/src/http.ts';
import type { GroupUpdatedPush, MessageReadPush } from '../../client/src/types.ts';
import { sessions, until } from '../../client/test/e2e-support.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
const made = sessions(() => runtime);

before(async () => {
  runtime = await startTestRuntime();
});
after(async () => {
  made.closeAll();
  await runtime.stop();
});

const refused = (code: number) => (error: unknown) => {
  assert.ok(error instanceof ChatRequestError, String(error));
  assert.equal(error.code, code);
  return true;
};

describe('a group over its whole life through the SDK', () => {
  test('create, add, chat, list, read, remove: each side sees what it should', async () => {
    const alice = made.open('alice');
    const bob = made.open('bob');
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    const bobUpdates: GroupUpdatedPush[] = [];
    bob.client.on('group_updated', (push) => bobUpdates.push(push));
    const aliceReads: MessageReadPush[] = [];
    alice.client.on('message_read', (push) => aliceReads.push(push));

    const created = await alice.client.createGroup({ group_name: 'Book club', member_ids: ['carol'] });
    const groupId = created.group_id;
    const added = await alice.client.addGroupMembers({
      group_id: groupId,
      member_ids: ['bob', 'bob', 'carol'],
    });
    assert.deepEqual(added.added, ['bob'], 'duplicates and members already in are left out');
    await until(
      bob.client,
      'group_updated',
      () => bobUpdates.some((u) => u.change === 'members_added' && u.user_ids.includes('bob')),
      () => `bob's group_updated members_added (saw ${JSON.stringify(bobUpdates)})`,
    );
    assert.equal(bobUpdates[0]?.group_name, 'Book club');
    assert.equal(bobUpdates[0]?.by, 'alice');

    const info = await bob.client.groupInfo({ group_id: groupId });
    assert.equal(info.group_name, 'Book club');
    assert.equal(info.owner_id, 'alice');
    assert.deepEqual(info.members.map((m) => [m.user_id, m.role]).sort(), [
      ['alice', 'owner'],
      ['bob', 'member'],
      ['carol', 'member'],
    ]);

    const sent = await alice.client.sendGroupMessage({ group_id: groupId, content: 'First book: Dune?' });
    await until(
      bob.client,
      'message',
      () => bob.messages.some((m) => m.message_id === sent.message_id),
      () => 'the group message at bob',
    );

    // bob's lists: the group by name, its newest message, one unread.
    const groups = await bob.client.listGroups();
    const mine = groups.groups.find((g) => g.group_id === groupId);
    assert.deepEqual(
      mine && [mine.group_name, mine.role, mine.member_count, mine.last_message_id, mine.unread],
      ['Book club', 'member', 3, sent.message_id, 1],
    );
    const conversations = await bob.client.listConversations();
    const first = conversations.conversations[0];
    assert.equal(first?.kind, 'group');
    assert.equal(first?.kind === 'group' && first.group_name, 'Book club');
    assert.equal(first?.last_message?.content, 'First book: Dune?');
    assert.equal(first?.unread, 1);

    // The HTTP client lists the same.
    const http = new ChatHttpClient({ baseUrl: runtime.httpUrl, token: () => tokenFor(runtime, 'bob') });
    const overHttp = await http.listConversations({ limit: 5 });
    assert.equal(overHttp.conversations[0]?.room_id, groupId);
    assert.equal((await http.groupInfo(groupId)).group_name, 'Book club');

    // bob reads: his count drops to 0, alice hears of it.
    const read = await bob.client.markRead({ room_id: groupId, message_id: sent.message_id });
    assert.equal(read.unread, 0);
    await until(
      alice.client,
      'message_read',
      () => aliceReads.some((r) => r.user_id === 'bob' && r.message_id === sent.message_id),
      () => "alice's message_read from bob",
    );
    assert.equal((await bob.client.listConversations()).conversations[0]?.unread, 0);

    // Only the owner and admins remove; the owner is never removed.
    await assert.rejects(
      bob.client.removeGroupMember({ group_id: groupId, user_id: 'carol' }),
      refused(1403),
    );
    await assert.rejects(alice.client.removeGroupMember({ group_id: groupId, user_id: 'alice' }));

    const removed = await alice.client.removeGroupMember({ group_id: groupId, user_id: 'bob' });
    assert.deepEqual(removed, { type: 'group_member_removed', group_id: groupId, user_id: 'bob' });
    await until(
      bob.client,
      'group_updated',
      () => bobUpdates.some((u) => u.change === 'member_removed' && u.user_ids.includes('bob')),
      () => "bob's group_updated member_removed",
    );
    await assert.rejects(
      bob.client.sendGroupMessage({ group_id: groupId, content: 'still here?' }),
      refused(1403),
    );
    await assert.rejects(bob.client.groupInfo({ group_id: groupId }), refused(1403));
    assert.equal(
      (await bob.client.listGroups()).groups.some((g) => g.group_id === groupId),
      false,
      'the group is gone from his list',
    );

    const renamed = await alice.client.updateGroup({ group_id: groupId, group_name: 'Sci-fi club' });
    assert.equal(renamed.group_name, 'Sci-fi club');
    const deleted = await alice.client.deleteGroup({ group_id: groupId });
    assert.deepEqual(deleted, { type: 'group_deleted', group_id: groupId });
    await assert.rejects(alice.client.groupInfo({ group_id: groupId }), refused(1403));
  });

  test('a member leaves over HTTP (leaveGroup): gone from the members and from their list', async () => {
    const alice = made.open('alice');
    await alice.client.connect();
    const { group_id: groupId } = await alice.client.createGroup({
      group_name: 'Leavers',
      member_ids: ['dan', 'erin'],
    });
    const dan = new ChatHttpClient({ baseUrl: runtime.httpUrl, token: () => tokenFor(runtime, 'dan') });
    assert.equal((await dan.leaveGroup(groupId)).group_id, groupId);

    const info = await alice.client.groupInfo({ group_id: groupId });
    assert.deepEqual(info.members.map((m) => m.user_id).sort(), ['alice', 'erin']);
    assert.equal(
      (await dan.listGroups()).groups.some((g) => g.group_id === groupId),
      false,
      'the group is gone from his list',
    );
    // No longer a member: leaving again is refused, with the server's code.
    await assert.rejects(dan.leaveGroup(groupId), (error: unknown) => {
      assert.ok(error instanceof ChatHttpError, String(error));
      assert.deepEqual([error.status, error.code], [403, 1403]);
      return true;
    });
  });
});
