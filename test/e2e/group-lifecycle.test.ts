/**
 * The group life cycle over real sockets and the HTTP API of the local runtime: listing,
 * info, adding and removing members, roles, leaving (ownership handed on), renaming,
 * deleting, the limits, bad input, and races that must leave consistent data.
 * Run: npx tsx --test test/e2e/group-lifecycle.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  type PushData,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { callApi, getApi, postApi, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { sendForCode, sendOk } from '../support/replies.ts';
import { groupItemCount } from '../support/runtime-tables.ts';

const MAX_GROUP_MEMBERS = 12;
const GROUP_CREATES_PER_MINUTE = 3;

let runtime: LocalRuntime;

before(async () => {
  runtime = await startTestRuntime({
    env: {
      MAX_GROUP_MEMBERS: String(MAX_GROUP_MEMBERS),
      GROUP_CREATES_PER_MINUTE: String(GROUP_CREATES_PER_MINUTE),
      MAX_GROUPS_PER_USER: '10',
    },
  });
});
after(() => runtime.stop());

const connect = (userId: string) => connectWelcomed(runtime, userId);

async function create(owner: ChatConnection, memberIds: string[], name = 'Crew'): Promise<string> {
  const created = await sendOk(owner, 'create_group', { group_name: name, member_ids: memberIds });
  assert.equal(created.role, 'owner');
  return String(created.group_id);
}

type Member = { user_id: string; role: string };

async function membersOf(connection: ChatConnection, groupId: string): Promise<Member[]> {
  const info = await sendOk(connection, 'group_info', { group_id: groupId });
  return (info.members as Member[]).map(({ user_id, role }) => ({ user_id, role }));
}

/** Every item left in the group's partition (meta and members), read from the table. */

const sorted = (members: Member[]) => [...members].sort((a, b) => (a.user_id < b.user_id ? -1 : 1));

describe('list_groups and group_info', () => {
  test('a member sees their groups (role, member count, last message, unread), page by page', async () => {
    const ann = await connect('lg-ann');
    const bob = await connect('lg-bob');
    const first = await create(ann, ['lg-bob'], 'First');
    const second = await create(bob, ['lg-ann', 'lg-cy'], 'Second');
    await sendOk(bob, 'send_group_message', { group_id: second, content: 'hi' });

    const page1 = await sendOk(ann, 'list_groups', { limit: 1 });
    assert.equal(page1.type, 'groups');
    const [newest] = page1.groups as PushData[];
    assert.deepEqual(
      { ...newest, last_message_id: undefined },
      {
        group_id: second,
        group_name: 'Second',
        role: 'member',
        member_count: 3,
        last_message_id: undefined,
        unread: 1,
      },
    );
    assert.equal(typeof page1.next_cursor, 'string');
    const page2 = await sendOk(ann, 'list_groups', { limit: 1, cursor: page1.next_cursor });
    assert.deepEqual(
      (page2.groups as PushData[]).map((g) => [g.group_id, g.role, g.member_count, g.unread]),
      [[first, 'owner', 2, 0]],
    );
    // The last page has no `next_cursor` (absent, not null: as every paged reply).
    const last =
      page2.next_cursor === undefined
        ? page2
        : await sendOk(ann, 'list_groups', { limit: 1, cursor: page2.next_cursor });
    assert.equal('next_cursor' in last, false, JSON.stringify(last));
    if (last !== page2) assert.deepEqual(last.groups, [], 'nothing after the two groups');

    const info = await sendOk(bob, 'group_info', { group_id: second });
    assert.equal(info.type, 'group_info');
    assert.equal(info.group_name, 'Second');
    assert.equal(info.owner_id, 'lg-bob');
    assert.equal(typeof info.created_at, 'string');
    assert.deepEqual(
      sorted(info.members as Member[]).map((m) => [m.user_id, m.role]),
      [
        ['lg-ann', 'member'],
        ['lg-bob', 'owner'],
        ['lg-cy', 'member'],
      ],
    );
  });

  test('bad input: 1001 for shapes and cursors, 3006 for group ids, 1403 for non-members', async () => {
    const dee = await connect('lg-dee');
    const eve = await connect('lg-eve');
    const groupId = await create(eve, ['lg-fay']);
    assert.equal(await sendForCode(dee, 'list_groups', { limit: 0 }), 1001);
    assert.equal(await sendForCode(dee, 'list_groups', { limit: 'ten' }), 1001);
    assert.equal(await sendForCode(dee, 'list_groups', { cursor: '!!!' }), 1001);
    assert.equal(await sendForCode(dee, 'list_groups', []), 1001);
    assert.equal(await sendForCode(dee, 'group_info', {}), 1001);
    assert.equal(await sendForCode(dee, 'group_info', { group_id: 7 }), 1001);
    assert.equal(await sendForCode(dee, 'group_info', { group_id: 'nope' }), 3006);
    assert.equal(await sendForCode(dee, 'group_info', { group_id: groupId }), 1403);
    assert.equal(await sendForCode(dee, 'group_info', { group_id: 'group_doesnotexist' }), 1403);
  });
});

describe('membership changes', () => {
  test('owner adds (duplicates, self and members skipped), promotes; admin adds and removes; the removed are cut off', async () => {
    const own = await connect('mc-own');
    const adm = await connect('mc-adm');
    const mem = await connect('mc-mem');
    const groupId = await create(own, ['mc-adm', 'mc-mem']);

    const added = await sendOk(own, 'add_group_members', {
      group_id: groupId,
      member_ids: ['mc-new', 'mc-new', 'mc-own', 'mc-mem', 'mc-new2'],
    });
    assert.deepEqual(added, { type: 'group_members_added', group_id: groupId, added: ['mc-new', 'mc-new2'] });
    const push = await nextPush(mem.client, 'group_updated', (d) => d.change === 'members_added');
    assert.deepEqual(
      { ...push, time: undefined },
      {
        type: 'group_updated',
        group_id: groupId,
        change: 'members_added',
        user_ids: ['mc-new', 'mc-new2'],
        by: 'mc-own',
        group_name: 'Crew',
        time: undefined,
      },
    );

    // A plain member may not add, remove, rename, change roles or delete; nothing changes.
    const before = await membersOf(own, groupId);
    assert.equal(
      await sendForCode(mem, 'add_group_members', { group_id: groupId, member_ids: ['mc-x'] }),
      1403,
    );
    assert.equal(
      await sendForCode(mem, 'remove_group_member', { group_id: groupId, user_id: 'mc-new' }),
      1403,
    );
    assert.equal(await sendForCode(mem, 'update_group', { group_id: groupId, group_name: 'Mine' }), 1403);
    assert.equal(
      await sendForCode(mem, 'set_group_role', { group_id: groupId, user_id: 'mc-mem', role: 'admin' }),
      1403,
    );
    assert.equal(await sendForCode(mem, 'delete_group', { group_id: groupId }), 1403);
    assert.deepEqual(await membersOf(own, groupId), before);

    const roleSet = await sendOk(own, 'set_group_role', {
      group_id: groupId,
      user_id: 'mc-adm',
      role: 'admin',
    });
    assert.deepEqual(roleSet, {
      type: 'group_role_set',
      group_id: groupId,
      user_id: 'mc-adm',
      role: 'admin',
    });
    const rolePush = await nextPush(adm.client, 'group_updated', (d) => d.change === 'role_changed');
    assert.equal(rolePush.role, 'admin');

    assert.deepEqual(
      (await sendOk(adm, 'add_group_members', { group_id: groupId, member_ids: ['mc-late'] })).added,
      ['mc-late'],
    );
    assert.equal(
      await sendForCode(adm, 'remove_group_member', { group_id: groupId, user_id: 'mc-own' }),
      1403,
    );
    assert.equal(
      await sendForCode(adm, 'set_group_role', { group_id: groupId, user_id: 'mc-mem', role: 'admin' }),
      1403,
    );
    assert.equal(await sendForCode(adm, 'delete_group', { group_id: groupId }), 1403);
    assert.equal(
      await sendForCode(adm, 'remove_group_member', { group_id: groupId, user_id: 'mc-nobody' }),
      3001,
    );

    const removed = await sendOk(adm, 'remove_group_member', { group_id: groupId, user_id: 'mc-mem' });
    assert.deepEqual(removed, { type: 'group_member_removed', group_id: groupId, user_id: 'mc-mem' });
    const told = await nextPush(mem.client, 'group_updated', (d) => d.change === 'member_removed');
    assert.deepEqual([told.user_ids, told.by], [['mc-mem'], 'mc-adm']);

    // Cut off at once: posting, history, group_info, list_groups, and no further messages.
    assert.equal(
      await sendForCode(mem, 'send_group_message', { group_id: groupId, content: 'still here?' }),
      1403,
    );
    assert.equal(await sendForCode(mem, 'group_info', { group_id: groupId }), 1403);
    const history = await readHistory(runtime, await tokenFor(runtime, 'mc-mem'), groupId);
    assert.equal(history.status, 403);
    assert.ok(
      !((await sendOk(mem, 'list_groups', {})).groups as PushData[]).some((g) => g.group_id === groupId),
    );
    const sent = await sendOk(own, 'send_group_message', { group_id: groupId, content: 'after' });
    await nextPush(adm.client, 'group_message', (d) => d.message_id === sent.message_id);
    await settle(mem.client);
    assert.ok(!pushesOf(mem.client, 'group_message').some((d) => d.message_id === sent.message_id));
    assert.equal(
      await sendForCode(mem, 'mark_read', { room_id: groupId, message_id: sent.message_id }),
      1403,
    );
  });

  test('rename tells members; later messages carry the new name', async () => {
    const own = await connect('rn-own');
    const mem = await connect('rn-mem');
    const groupId = await create(own, ['rn-mem'], 'Old');
    const reply = await sendOk(own, 'update_group', { group_id: groupId, group_name: '  New name ' });
    assert.equal(reply.type, 'group_updated');
    assert.equal(reply.change, 'renamed');
    assert.equal(reply.group_name, 'New name');
    const push = await nextPush(mem.client, 'group_updated', (d) => d.change === 'renamed');
    assert.equal(push.group_name, 'New name');
    const sent = await sendOk(own, 'send_group_message', { group_id: groupId, content: 'x' });
    const message = await nextPush(mem.client, 'group_message', (d) => d.message_id === sent.message_id);
    assert.equal(message.group_name, 'New name');
    assert.equal(await sendForCode(own, 'update_group', { group_id: groupId, group_name: '   ' }), 1001);
    assert.equal(
      await sendForCode(own, 'update_group', { group_id: groupId, group_name: 'x'.repeat(101) }),
      1001,
    );
    assert.equal(await sendForCode(own, 'update_group', { group_id: 'bad id', group_name: 'x' }), 3006);
  });

  test('an owner who leaves hands ownership to an admin, else the oldest member; the last one deletes the group', async () => {
    const own = await connect('lv-own');
    const old = await connect('lv-old');
    const adm = await connect('lv-adm');
    const groupId = await create(own, ['lv-old', 'lv-adm']);
    await sendOk(own, 'set_group_role', { group_id: groupId, user_id: 'lv-adm', role: 'admin' });
    assert.deepEqual(await sendOk(own, 'leave_group', { group_id: groupId }), {
      type: 'group_left',
      group_id: groupId,
    });
    const push = await nextPush(old.client, 'group_updated', (d) => d.change === 'member_left');
    assert.deepEqual([push.user_ids, push.owner_id], [['lv-own'], 'lv-adm']);
    assert.deepEqual(sorted(await membersOf(old, groupId)), [
      { user_id: 'lv-adm', role: 'owner' },
      { user_id: 'lv-old', role: 'member' },
    ]);
    assert.equal(await sendForCode(own, 'leave_group', { group_id: groupId }), 1403);

    // No admin left: the oldest member.
    await sendOk(adm, 'leave_group', { group_id: groupId });
    assert.deepEqual(await membersOf(old, groupId), [{ user_id: 'lv-old', role: 'owner' }]);
    // The last member: the group goes (their other devices are told `deleted`).
    const oldLaptop = await connect('lv-old');
    assert.deepEqual(await sendOk(old, 'leave_group', { group_id: groupId }), {
      type: 'group_left',
      group_id: groupId,
    });
    const gone = await nextPush(oldLaptop.client, 'group_updated', (d) => d.change === 'deleted');
    assert.deepEqual([gone.group_id, gone.user_ids], [groupId, ['lv-old']]);
    assert.equal(await groupItemCount(runtime, groupId), 0);
  });

  test('delete_group tells every member and leaves nothing behind', async () => {
    const own = await connect('dl-own');
    const mem = await connect('dl-mem');
    const groupId = await create(own, ['dl-mem', 'dl-off']);
    assert.deepEqual(await sendOk(own, 'delete_group', { group_id: groupId }), {
      type: 'group_deleted',
      group_id: groupId,
    });
    const push = await nextPush(mem.client, 'group_updated', (d) => d.change === 'deleted');
    assert.deepEqual([...(push.user_ids as string[])].sort(), ['dl-mem', 'dl-off', 'dl-own']);
    assert.equal(await sendForCode(mem, 'send_group_message', { group_id: groupId, content: 'x' }), 1403);
    assert.equal(await sendForCode(own, 'group_info', { group_id: groupId }), 1403);
    assert.equal(await sendForCode(own, 'delete_group', { group_id: groupId }), 1403);
    assert.equal(await groupItemCount(runtime, groupId), 0);
  });

  test('bad input to the changing commands answers 1001, 3006 or 1403 and changes nothing', async () => {
    const own = await connect('bi-own');
    const groupId = await create(own, ['bi-mem']);
    const before = await membersOf(own, groupId);
    const cases: [string, unknown, number][] = [
      ['add_group_members', { group_id: groupId }, 1001],
      ['add_group_members', { group_id: groupId, member_ids: [] }, 1001],
      ['add_group_members', { group_id: groupId, member_ids: [''] }, 1001],
      ['add_group_members', { group_id: groupId, member_ids: ['#x'] }, 1001],
      [
        'add_group_members',
        { group_id: groupId, member_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) },
        1001,
      ],
      [
        'add_group_members',
        { group_id: groupId, member_ids: Array.from({ length: 50 }, (_, i) => `u${i}`) },
        3001,
      ],
      ['add_group_members', { group_id: 'x', member_ids: ['a'] }, 3006],
      ['add_group_members', 'nope', 1001],
      ['remove_group_member', { group_id: groupId }, 1001],
      ['remove_group_member', { group_id: groupId, user_id: {} }, 1001],
      ['remove_group_member', { group_id: groupId, user_id: 'bi-own' }, 1001],
      ['remove_group_member', { group_id: 'group_!', user_id: 'bi-mem' }, 3006],
      ['leave_group', {}, 1001],
      ['leave_group', { group_id: 'group_unknown' }, 1403],
      ['update_group', { group_id: groupId }, 1001],
      ['set_group_role', { group_id: groupId, user_id: 'bi-mem', role: 'owner' }, 1001],
      ['set_group_role', { group_id: groupId, user_id: 'bi-own', role: 'member' }, 1403],
      ['delete_group', { group_id: ['x'] }, 1001],
    ];
    for (const [cmd, data, expected] of cases) {
      assert.equal(
        await sendForCode(own, cmd, data),
        expected,
        `${cmd} ${JSON.stringify(data).slice(0, 80)}`,
      );
    }
    assert.deepEqual(await membersOf(own, groupId), before);
  });
});

describe('limits', () => {
  test(`MAX_GROUP_MEMBERS holds for create and add`, async () => {
    const own = await connect('lim-own');
    const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    assert.equal(
      await sendForCode(own, 'create_group', { group_name: 'g', member_ids: ids(MAX_GROUP_MEMBERS, 'a') }),
      3001,
    );
    const groupId = await create(own, ids(MAX_GROUP_MEMBERS - 3, 'b'));
    assert.equal(
      await sendForCode(own, 'add_group_members', { group_id: groupId, member_ids: ids(3, 'c') }),
      3001,
    );
    assert.equal((await membersOf(own, groupId)).length, MAX_GROUP_MEMBERS - 2);
    // Already-members do not count against the room left.
    const added = await sendOk(own, 'add_group_members', {
      group_id: groupId,
      member_ids: [...ids(5, 'b'), ...ids(2, 'c')],
    });
    assert.deepEqual(added.added, ['c0', 'c1']);
  });

  test('create_group is rate limited (1029); groups one was added to do not count as created', async () => {
    const busy = await connect('rl-busy');
    const codes: number[] = [];
    // Fixed one-minute windows: within two windows at most twice the limit pass.
    for (let i = 0; i < 2 * GROUP_CREATES_PER_MINUTE + 1 && !codes.includes(1029); i++) {
      codes.push(await sendForCode(busy, 'create_group', { group_name: `g${i}`, member_ids: ['rl-target'] }));
    }
    assert.ok(codes.includes(1029), JSON.stringify(codes));
    const created = codes.filter((c) => c === 0).length;
    const target = await connect('rl-target');
    assert.equal(((await sendOk(target, 'list_groups', { limit: 50 })).groups as unknown[]).length, created);
    // rl-target was added to groups but owns none: it may still create.
    await create(target, ['rl-busy']);
  });
});

describe('races leave consistent data', () => {
  test('two admins removing each other: at most one succeeds, and the data says so', async () => {
    const own = await connect('rc-own');
    const a = await connect('rc-a');
    const b = await connect('rc-b');
    const groupId = await create(own, ['rc-a', 'rc-b']);
    await sendOk(own, 'set_group_role', { group_id: groupId, user_id: 'rc-a', role: 'admin' });
    await sendOk(own, 'set_group_role', { group_id: groupId, user_id: 'rc-b', role: 'admin' });
    const [ra, rb] = await Promise.all([
      sendCommand(a.client, 'remove_group_member', { group_id: groupId, user_id: 'rc-b' }),
      sendCommand(b.client, 'remove_group_member', { group_id: groupId, user_id: 'rc-a' }),
    ]);
    assert.ok(!(ra.code === 0 && rb.code === 0), 'both cannot win');
    const left = (await membersOf(own, groupId)).map((m) => m.user_id).sort();
    const expected = ['rc-a', 'rc-b', 'rc-own'].filter(
      (id) => !(id === 'rc-b' && ra.code === 0) && !(id === 'rc-a' && rb.code === 0),
    );
    assert.deepEqual(left, expected);
    const info = await sendOk(own, 'list_groups', {});
    const summary = (info.groups as PushData[]).find((g) => g.group_id === groupId);
    assert.equal(summary?.member_count, left.length);
  });

  test('concurrent adds cannot pass MAX_GROUP_MEMBERS', async () => {
    const own = await connect('ca-own');
    const adm = await connect('ca-adm');
    const groupId = await create(own, ['ca-adm']);
    await sendOk(own, 'set_group_role', { group_id: groupId, user_id: 'ca-adm', role: 'admin' });
    const batch = (prefix: string) => Array.from({ length: 6 }, (_, i) => `${prefix}${i}`);
    const replies = await Promise.all([
      sendCommand(own.client, 'add_group_members', { group_id: groupId, member_ids: batch('x') }),
      sendCommand(adm.client, 'add_group_members', { group_id: groupId, member_ids: batch('y') }),
    ]);
    // 2 + 6 + 6 > 12: exactly one fits.
    assert.deepEqual(replies.map((r) => r.code).sort(), [0, 3001]);
    const members = await membersOf(own, groupId);
    assert.equal(members.length, 8);
    const summary = ((await sendOk(own, 'list_groups', {})).groups as PushData[]).find(
      (g) => g.group_id === groupId,
    );
    assert.equal(summary?.member_count, 8);
  });

  test('an add racing a delete leaves no member behind', async () => {
    const own = await connect('ad-own');
    const adm = await connect('ad-adm');
    const groupId = await create(own, ['ad-adm']);
    await sendOk(own, 'set_group_role', { group_id: groupId, user_id: 'ad-adm', role: 'admin' });
    const [added, deleted] = await Promise.all([
      sendCommand(adm.client, 'add_group_members', {
        group_id: groupId,
        member_ids: Array.from({ length: 9 }, (_, i) => `ad-${i}`),
      }),
      sendCommand(own.client, 'delete_group', { group_id: groupId }),
    ]);
    assert.equal(deleted.code, 0);
    assert.ok([0, 1403].includes(Number(added.code)), JSON.stringify(added));
    assert.equal(await groupItemCount(runtime, groupId), 0);
    const late = await connect('ad-3');
    assert.ok(
      !((await sendOk(late, 'list_groups', {})).groups as PushData[]).some((g) => g.group_id === groupId),
    );
  });

  test("an owner's leave racing the other member's leave deletes the group once, consistently", async () => {
    const own = await connect('ol-own');
    const mem = await connect('ol-mem');
    const groupId = await create(own, ['ol-mem']);
    const replies = await Promise.all([
      sendCommand(own.client, 'leave_group', { group_id: groupId }),
      sendCommand(mem.client, 'leave_group', { group_id: groupId }),
    ]);
    assert.deepEqual(
      replies.map((r) => r.code),
      [0, 0],
    );
    assert.equal(await groupItemCount(runtime, groupId), 0);
  });
});

describe('over HTTP', () => {
  test('create, list, info, add, rename, set role, remove, leave, delete', async () => {
    const own = await tokenFor(runtime, 'h-own');
    const mem = await tokenFor(runtime, 'h-mem');
    const watcher = await connect('h-mem');
    const created = await postApi(
      runtime,
      '/api/ws/groups',
      { group_name: 'Web', member_ids: ['h-mem'] },
      own,
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const groupId = String(created.body.data?.group_id);
    assert.equal(created.body.data?.role, 'owner');

    const listed = await getApi(runtime, '/api/ws/groups?limit=5', mem);
    assert.deepEqual(
      ((listed.body.data?.groups as PushData[] | undefined) ?? []).map((g) => [g.group_id, g.role]),
      [[groupId, 'member']],
    );
    const path = `/api/ws/groups/${groupId}`;
    assert.equal((await getApi(runtime, path, mem)).body.data?.owner_id, 'h-own');
    const added = await callApi(runtime, 'POST', `${path}/members`, {
      token: own,
      body: { member_ids: ['h-x', 'h-y'] },
    });
    assert.deepEqual(added.body.data?.added, ['h-x', 'h-y']);
    await nextPush(watcher.client, 'group_updated', (d) => d.change === 'members_added');
    const renamed = await callApi(runtime, 'PATCH', path, { token: own, body: { group_name: 'Renamed' } });
    assert.equal(renamed.body.data?.group_name, 'Renamed');
    const role = await callApi(runtime, 'PATCH', `${path}/members/h-x`, {
      token: own,
      body: { role: 'admin' },
    });
    assert.equal(role.body.data?.role, 'admin');
    const removed = await callApi(runtime, 'DELETE', `${path}/members/h-y`, { token: own });
    assert.deepEqual(removed.body.data, { type: 'group_member_removed', group_id: groupId, user_id: 'h-y' });
    const left = await callApi(runtime, 'POST', `${path}/leave`, { token: mem });
    assert.equal(left.body.data?.type, 'group_left');
    assert.equal((await getApi(runtime, path, mem)).status, 403);

    // Errors: status and code.
    const bad = await getApi(runtime, '/api/ws/groups/not-a-group', own);
    assert.deepEqual([bad.status, bad.body.code], [400, 3006]);
    const badLimit = await getApi(runtime, '/api/ws/groups?limit=x', own);
    assert.deepEqual([badLimit.status, badLimit.body.code], [400, 1001]);
    const notJson = await callApi(runtime, 'POST', `${path}/members`, { token: own, body: 'nope' });
    assert.deepEqual([notJson.status, notJson.body.code], [400, 1001]);
    const anonymous = await getApi(runtime, '/api/ws/groups');
    assert.equal(anonymous.status, 401);
    const forbidden = await callApi(runtime, 'DELETE', path, { token: mem });
    assert.deepEqual([forbidden.status, forbidden.body.code], [403, 1403]);

    const deleted = await callApi(runtime, 'DELETE', path, { token: own });
    assert.deepEqual(deleted.body.data, { type: 'group_deleted', group_id: groupId });
    assert.equal(await groupItemCount(runtime, groupId), 0);
  });

  test('CORS preflight allows PATCH and DELETE', async () => {
    const response = await fetch(`${runtime.httpUrl}/api/ws/groups/group_x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PATCH' },
    });
    const allowed = response.headers.get('access-control-allow-methods') ?? '';
    assert.ok(allowed.includes('PATCH') && allowed.includes('DELETE'), allowed);
  });
});
