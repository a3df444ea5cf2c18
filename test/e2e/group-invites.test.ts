/**
 * `GROUP_INVITES=required` over real sockets and the HTTP API of the local runtime:
 * create_group and add_group_members invite instead of adding; the invitee accepts,
 * declines or lists invitations; an invitee is no member (no messages, history or
 * group_info); invitations count against MAX_GROUP_MEMBERS; a blocker cannot be invited;
 * an invitation to a deleted group is gone. (`off`, the default, is what the other group
 * tests run with.)
 * Run: npx tsx --test test/e2e/group-invites.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChatRequestError } from '../../client/src/errors.ts';
import { ChatHttpClient } from '../../client/src/http.ts';
import type { GroupUpdatedPush } from '../../client/src/types.ts';
import { sessions, until } from '../../client/test/e2e-support.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  type PushData,
  pushesOf,
  settle,
} from '../support/chat.ts';
import { callApi, getApi, postApi, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { sendForCode, sendOk } from '../support/replies.ts';
import { groupItemCount } from '../support/runtime-tables.ts';

const MAX_GROUP_MEMBERS = 4;

let runtime: LocalRuntime;
const made = sessions(() => runtime);

before(async () => {
  runtime = await startTestRuntime({
    env: { GROUP_INVITES: 'required', MAX_GROUP_MEMBERS: String(MAX_GROUP_MEMBERS) },
  });
});
after(async () => {
  made.closeAll();
  await runtime.stop();
});

const connect = (userId: string) => connectWelcomed(runtime, userId);

const memberIds = async (connection: ChatConnection, groupId: string) =>
  ((await sendOk(connection, 'group_info', { group_id: groupId })).members as PushData[])
    .map((member) => String(member.user_id))
    .sort();

const invitesOf = async (connection: ChatConnection) =>
  (await sendOk(connection, 'list_group_invites', {})).invites as PushData[];

describe('GROUP_INVITES=required', () => {
  test('create_group invites; the invitee is told, sees the invitation, and is no member until accepting', async () => {
    const own = await connect('iv-own');
    const bea = await connect('iv-bea');
    const created = await sendOk(own, 'create_group', {
      group_name: 'Crew',
      member_ids: ['iv-bea', 'iv-cy'],
    });
    assert.deepEqual(created.member_ids, ['iv-own']);
    assert.deepEqual(created.invited, ['iv-bea', 'iv-cy']);
    const groupId = String(created.group_id);

    const told = await nextPush(bea.client, 'group_updated', (d) => d.group_id === groupId);
    assert.deepEqual(
      { change: told.change, user_ids: told.user_ids, by: told.by, group_name: told.group_name },
      { change: 'invited', user_ids: ['iv-bea'], by: 'iv-own', group_name: 'Crew' },
      'an invitee is told of their own invitation only',
    );
    const [invite, ...others] = await invitesOf(bea);
    assert.deepEqual(others, []);
    assert.deepEqual(
      { ...invite, invited_at: undefined },
      { group_id: groupId, group_name: 'Crew', invited_by: 'iv-own', member_count: 1, invited_at: undefined },
    );
    assert.equal(typeof invite?.invited_at, 'string');

    // Not a member: no messages, no history, no group_info, not listed, cannot post.
    const before = await sendOk(own, 'send_group_message', { group_id: groupId, content: 'before' });
    assert.equal(await sendForCode(bea, 'group_info', { group_id: groupId }), 1403);
    assert.equal((await readHistory(runtime, await tokenFor(runtime, 'iv-bea'), groupId)).status, 403);
    assert.equal(await sendForCode(bea, 'send_group_message', { group_id: groupId, content: 'me?' }), 1403);
    assert.ok(
      !((await sendOk(bea, 'list_groups', {})).groups as PushData[]).some((g) => g.group_id === groupId),
    );
    await settle(bea.client);
    assert.deepEqual(pushesOf(bea.client, 'group_message'), [], 'no message before accepting');
    assert.deepEqual(await memberIds(own, groupId), ['iv-own']);
    const listed = (await sendOk(own, 'list_groups', {})).groups as PushData[];
    assert.equal(listed.find((g) => g.group_id === groupId)?.member_count, 1);

    const accepted = await sendOk(bea, 'accept_group_invite', { group_id: groupId });
    assert.deepEqual(accepted, {
      type: 'group_invite_accepted',
      group_id: groupId,
      group_name: 'Crew',
      role: 'member',
    });
    const joined = await nextPush(own.client, 'group_updated', (d) => d.change === 'members_added');
    assert.deepEqual([joined.user_ids, joined.by], [['iv-bea'], 'iv-bea']);
    assert.deepEqual(await memberIds(bea, groupId), ['iv-bea', 'iv-own']);
    assert.deepEqual(await invitesOf(bea), []);
    const after = await sendOk(own, 'send_group_message', { group_id: groupId, content: 'after' });
    assert.equal(
      (await nextPush(bea.client, 'group_message', (d) => d.message_id === after.message_id)).content,
      'after',
    );
    // The history a member reads is the group's (messages from before the invitation included).
    const history = await readHistory(runtime, await tokenFor(runtime, 'iv-bea'), groupId);
    assert.equal(history.status, 200);
    assert.ok(history.body.data?.messages.some((m) => m.message_id === before.message_id));
    // Answered: a second accept or a decline has nothing to act on.
    assert.equal(await sendForCode(bea, 'accept_group_invite', { group_id: groupId }), 3010);
    assert.equal(await sendForCode(bea, 'decline_group_invite', { group_id: groupId }), 3010);
  });

  test('decline drops the invitation, tells the owner, frees the slot; a new invitation is allowed', async () => {
    const own = await connect('dc-own');
    const dan = await connect('dc-dan');
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Dec', member_ids: ['dc-dan'] })).group_id,
    );
    await nextPush(dan.client, 'group_updated', (d) => d.change === 'invited');
    const declined = await sendOk(dan, 'decline_group_invite', { group_id: groupId });
    assert.deepEqual(declined, { type: 'group_invite_declined', group_id: groupId });
    const told = await nextPush(own.client, 'group_updated', (d) => d.change === 'invite_declined');
    assert.deepEqual([told.user_ids, told.by], [['dc-dan'], 'dc-dan']);
    assert.deepEqual(await invitesOf(dan), []);
    assert.equal(await sendForCode(dan, 'accept_group_invite', { group_id: groupId }), 3010);

    // Invited again (the slot was freed: 3 more fit), then accepted.
    const again = await sendOk(own, 'add_group_members', {
      group_id: groupId,
      member_ids: ['dc-dan', 'dc-x', 'dc-y'],
    });
    assert.deepEqual(again, {
      type: 'group_members_added',
      group_id: groupId,
      added: [],
      invited: ['dc-dan', 'dc-x', 'dc-y'],
    });
    await nextPush(dan.client, 'group_updated', (d) => d.change === 'invited' && d.group_id === groupId);
    // Naming pending invitees again invites nobody twice.
    const repeat = await sendOk(own, 'add_group_members', { group_id: groupId, member_ids: ['dc-dan'] });
    assert.deepEqual(repeat.invited, []);
    await sendOk(dan, 'accept_group_invite', { group_id: groupId });
    assert.deepEqual(await memberIds(own, groupId), ['dc-dan', 'dc-own']);
  });

  test('an owner or admin withdraws an invitation with remove_group_member; a member cannot', async () => {
    const own = await connect('wd-own');
    const wes = await connect('wd-wes');
    const mia = await connect('wd-mia');
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Wd', member_ids: ['wd-wes', 'wd-mia'] })).group_id,
    );
    await sendOk(mia, 'accept_group_invite', { group_id: groupId });
    await nextPush(wes.client, 'group_updated', (d) => d.change === 'invited');
    assert.equal(
      await sendForCode(mia, 'remove_group_member', { group_id: groupId, user_id: 'wd-wes' }),
      1403,
    );
    const removed = await sendOk(own, 'remove_group_member', { group_id: groupId, user_id: 'wd-wes' });
    assert.deepEqual(removed, { type: 'group_member_removed', group_id: groupId, user_id: 'wd-wes' });
    for (const told of [wes, mia]) {
      const push = await nextPush(told.client, 'group_updated', (d) => d.change === 'invite_withdrawn');
      assert.deepEqual([push.user_ids, push.by], [['wd-wes'], 'wd-own']);
    }
    assert.deepEqual(await invitesOf(wes), []);
    assert.equal(await sendForCode(wes, 'accept_group_invite', { group_id: groupId }), 3010);
    assert.equal(
      await sendForCode(own, 'remove_group_member', { group_id: groupId, user_id: 'wd-wes' }),
      3001,
    );
    // Its place is free again: two members and two new invitations fit MAX_GROUP_MEMBERS (4).
    const again = await sendOk(own, 'add_group_members', { group_id: groupId, member_ids: ['wd-x', 'wd-y'] });
    assert.deepEqual(again.invited, ['wd-x', 'wd-y']);
  });

  test('invitations count against MAX_GROUP_MEMBERS', async () => {
    const own = await connect('cap-own');
    assert.equal(
      await sendForCode(own, 'create_group', {
        group_name: 'Big',
        member_ids: ['cap-1', 'cap-2', 'cap-3', 'cap-4'],
      }),
      3001,
    );
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Cap', member_ids: ['cap-1', 'cap-2'] })).group_id,
    );
    // One member and two invitations: one slot left.
    assert.equal(
      await sendForCode(own, 'add_group_members', { group_id: groupId, member_ids: ['cap-3', 'cap-4'] }),
      3001,
    );
    assert.deepEqual(
      (await sendOk(own, 'add_group_members', { group_id: groupId, member_ids: ['cap-3'] })).invited,
      ['cap-3'],
    );
    assert.equal(
      await sendForCode(own, 'add_group_members', { group_id: groupId, member_ids: ['cap-4'] }),
      3001,
    );
    // Accepting keeps the slot; declining frees it.
    const one = await connect('cap-1');
    const two = await connect('cap-2');
    await sendOk(one, 'accept_group_invite', { group_id: groupId });
    assert.equal(
      await sendForCode(own, 'add_group_members', { group_id: groupId, member_ids: ['cap-4'] }),
      3001,
    );
    await sendOk(two, 'decline_group_invite', { group_id: groupId });
    assert.deepEqual(
      (await sendOk(own, 'add_group_members', { group_id: groupId, member_ids: ['cap-4'] })).invited,
      ['cap-4'],
    );
  });

  test('a user who blocked the inviter cannot be invited (1403, nothing written)', async () => {
    const own = await connect('bk-own');
    const vic = await connect('bk-vic');
    await sendOk(vic, 'block_user', { user_id: 'bk-own' });
    assert.equal(await sendForCode(own, 'create_group', { group_name: 'No', member_ids: ['bk-vic'] }), 1403);
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Other', member_ids: ['bk-else'] })).group_id,
    );
    assert.equal(
      await sendForCode(own, 'add_group_members', { group_id: groupId, member_ids: ['bk-vic'] }),
      1403,
    );
    await settle(vic.client);
    assert.deepEqual(pushesOf(vic.client, 'group_updated'), []);
    assert.deepEqual(await invitesOf(vic), []);
  });

  test('deleting the group ends its invitations: the invitee is told, accepting answers 3010', async () => {
    const own = await connect('del-own');
    const eve = await connect('del-eve');
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Gone', member_ids: ['del-eve'] })).group_id,
    );
    await nextPush(eve.client, 'group_updated', (d) => d.change === 'invited');
    await sendOk(own, 'delete_group', { group_id: groupId });
    const told = await nextPush(eve.client, 'group_updated', (d) => d.change === 'deleted');
    assert.deepEqual([told.group_id, told.user_ids], [groupId, []]);
    assert.deepEqual(await invitesOf(eve), []);
    assert.equal(await sendForCode(eve, 'accept_group_invite', { group_id: groupId }), 3010);
    assert.equal(await sendForCode(eve, 'decline_group_invite', { group_id: groupId }), 3010);
    assert.equal(await sendForCode(eve, 'group_info', { group_id: groupId }), 1403);
  });

  test('bad input: 1001 for shapes, 3006 for a malformed group id, 3010 without an invitation', async () => {
    const someone = await connect('bad-one');
    assert.equal(await sendForCode(someone, 'accept_group_invite', {}), 1001);
    assert.equal(await sendForCode(someone, 'accept_group_invite', { group_id: 'nope' }), 3006);
    assert.equal(await sendForCode(someone, 'decline_group_invite', { group_id: 'group_unknown1' }), 3010);
    assert.equal(await sendForCode(someone, 'list_group_invites', { limit: 0 }), 1001);
    assert.equal(await sendForCode(someone, 'list_group_invites', { cursor: '!!!' }), 1001);
  });

  test('list_group_invites pages, newest group first', async () => {
    const own = await connect('pg-own');
    const pia = await connect('pg-pia');
    const ids: string[] = [];
    for (const name of ['A', 'B', 'C']) {
      ids.push(
        String((await sendOk(own, 'create_group', { group_name: name, member_ids: ['pg-pia'] })).group_id),
      );
    }
    const first = await sendOk(pia, 'list_group_invites', { limit: 2 });
    assert.deepEqual(
      (first.invites as PushData[]).map((i) => i.group_name),
      ['C', 'B'],
    );
    assert.equal(typeof first.next_cursor, 'string');
    const second = await sendOk(pia, 'list_group_invites', { limit: 2, cursor: first.next_cursor });
    assert.deepEqual(
      (second.invites as PushData[]).map((i) => i.group_id),
      [ids[0]],
    );
    assert.equal(second.next_cursor, undefined, 'absent on the last page');
  });
});

/** Items left in the group's partition (meta, members, invitations), read from the table. */

describe('GROUP_INVITES=required: races', () => {
  test('of accepts and declines sent at once, exactly one wins', async () => {
    const own = await connect('rc-own');
    const devices = await Promise.all([connect('rc-ron'), connect('rc-ron'), connect('rc-ron')]);
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Race', member_ids: ['rc-ron'] })).group_id,
    );
    const commands = ['accept_group_invite', 'decline_group_invite', 'accept_group_invite'];
    const codes = await Promise.all(
      devices.map((device, i) => sendForCode(device, commands[i] as string, { group_id: groupId })),
    );
    assert.equal(codes.filter((c) => c === 0).length, 1, `codes ${codes}`);
    assert.ok(
      codes.every((c) => c === 0 || c === 3010),
      `codes ${codes}`,
    );
    const winner = commands[codes.indexOf(0)];
    const members = await memberIds(own, groupId);
    assert.deepEqual(members, winner === 'accept_group_invite' ? ['rc-own', 'rc-ron'] : ['rc-own']);
    assert.deepEqual(await invitesOf(devices[0] as ChatConnection), []);
    // The meta and one item per member: no invitation left.
    assert.equal(await groupItemCount(runtime, groupId), 1 + members.length);
  });

  test('an accept racing the delete of its group leaves nothing behind', async () => {
    const own = await connect('rd-own');
    const sue = await connect('rd-sue');
    const groupId = String(
      (await sendOk(own, 'create_group', { group_name: 'Doomed', member_ids: ['rd-sue'] })).group_id,
    );
    const [accepted, deleted] = await Promise.all([
      sendForCode(sue, 'accept_group_invite', { group_id: groupId }),
      sendForCode(own, 'delete_group', { group_id: groupId }),
    ]);
    assert.equal(deleted, 0);
    assert.ok(accepted === 0 || accepted === 3010, `accept answered ${accepted}`);
    assert.equal(await groupItemCount(runtime, groupId), 0);
    assert.deepEqual(await invitesOf(sue), []);
    assert.ok(
      !((await sendOk(sue, 'list_groups', {})).groups as PushData[]).some((g) => g.group_id === groupId),
    );
  });
});

describe('GROUP_INVITES=required over HTTP', () => {
  test('POST /api/ws/groups invites; GET /api/ws/group-invites lists; accept and decline routes', async () => {
    const ownToken = await tokenFor(runtime, 'h-own');
    const annToken = await tokenFor(runtime, 'h-ann');
    const benToken = await tokenFor(runtime, 'h-ben');
    const created = await postApi(
      runtime,
      '/api/ws/groups',
      { group_name: 'Http', member_ids: ['h-ann'] },
      ownToken,
    );
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.data?.invited, ['h-ann']);
    const groupId = String(created.body.data?.group_id);
    const added = await postApi(
      runtime,
      `/api/ws/groups/${groupId}/members`,
      { member_ids: ['h-ben'] },
      ownToken,
    );
    assert.deepEqual(added.body.data?.invited, ['h-ben']);

    const listed = await getApi<{ invites: PushData[] }>(runtime, '/api/ws/group-invites?limit=5', annToken);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.data?.invites.map((i) => [i.group_id, i.invited_by]),
      [[groupId, 'h-own']],
    );
    const accepted = await postApi(runtime, `/api/ws/groups/${groupId}/invite/accept`, {}, annToken);
    assert.equal(accepted.status, 200);
    assert.equal(accepted.body.data?.type, 'group_invite_accepted');
    const declined = await postApi(runtime, `/api/ws/groups/${groupId}/invite/decline`, {}, benToken);
    assert.equal(declined.status, 200);
    assert.equal(declined.body.data?.type, 'group_invite_declined');
    const again = await postApi(runtime, `/api/ws/groups/${groupId}/invite/decline`, {}, benToken);
    assert.deepEqual([again.status, again.body.code], [400, 3010]);

    const info = await callApi<{ members: PushData[] }>(runtime, 'GET', `/api/ws/groups/${groupId}`, {
      token: annToken,
    });
    assert.deepEqual(info.body.data?.members.map((m) => m.user_id).sort(), ['h-ann', 'h-own']);
    const unauthenticated = await getApi(runtime, '/api/ws/group-invites');
    assert.equal(unauthenticated.status, 401);
  });
});

describe('GROUP_INVITES=required through the SDK', () => {
  test('invited event, listGroupInvites after connecting, accept, decline (3010 as a typed error), HTTP', async () => {
    const owner = made.open('sdk-own');
    const guest = made.open('sdk-guest');
    await Promise.all([owner.client.connect(), guest.client.connect()]);
    const updates: GroupUpdatedPush[] = [];
    guest.client.on('group_updated', (push) => updates.push(push));

    const created = await owner.client.createGroup({ group_name: 'Sdk', member_ids: ['sdk-guest'] });
    assert.deepEqual([created.member_ids, created.invited], [['sdk-own'], ['sdk-guest']]);
    await until(
      guest.client,
      'group_updated',
      () => updates.some((u) => u.change === 'invited' && u.group_id === created.group_id),
      () => `the invited event (saw ${JSON.stringify(updates)})`,
    );
    const page = await guest.client.listGroupInvites({ limit: 10 });
    assert.deepEqual(
      page.invites.map((i) => [i.group_id, i.group_name, i.invited_by, i.member_count]),
      [[created.group_id, 'Sdk', 'sdk-own', 1]],
    );
    assert.equal(page.next_cursor, undefined);
    const accepted = await guest.client.acceptGroupInvite({ group_id: created.group_id });
    assert.equal(accepted.role, 'member');
    await assert.rejects(
      guest.client.declineGroupInvite({ group_id: created.group_id }),
      (error: unknown) => {
        assert.ok(error instanceof ChatRequestError, String(error));
        assert.equal(error.code, 3010);
        return true;
      },
    );

    const second = await owner.client.createGroup({ group_name: 'Sdk 2', member_ids: ['sdk-guest'] });
    const http = new ChatHttpClient({
      baseUrl: runtime.httpUrl,
      token: () => tokenFor(runtime, 'sdk-guest'),
    });
    const listed = await http.listGroupInvites();
    assert.deepEqual(
      listed.invites.map((i) => i.group_id),
      [second.group_id],
    );
    assert.equal((await http.declineGroupInvite(second.group_id)).group_id, second.group_id);
    assert.deepEqual((await http.listGroupInvites()).invites, []);
  });
});
