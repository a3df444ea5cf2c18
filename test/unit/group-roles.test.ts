/**
 * GroupService's role rules against the real group stores on an in-memory dynalite: who
 * may add, remove, rename, change roles and delete; what the owner cannot do to itself;
 * who inherits when the owner leaves; the last member leaving deletes the group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GroupService } from '../../functions/core/groups/group-service.ts';
import { ChatError, ErrorCode } from '../../functions/core/shared/errors.ts';
import { DynamoUserGroupLimits } from '../../functions/stores/groups.ts';
import { startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let service: GroupService;
let clock = Date.parse('2026-01-01T00:00:00Z');

const as = (userId: string) => ({ userId, roles: [] as string[] });

/** Asserts that `run` is refused with `code`. */
async function refused(run: () => Promise<unknown>, code: number, what: string): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof ChatError, `${what}: ${String(error)}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return true;
  });
}

/** The roles group_info reports, by user. */
async function rolesOf(groupId: string, reader: string): Promise<Record<string, string>> {
  const info = await service.groupInfo(as(reader), { group_id: groupId });
  return Object.fromEntries(info.members.map((member) => [member.user_id, member.role]));
}

/** A group `owner` created with `members`, each joining a second after the previous. */
async function groupOf(owner: string, members: string[]): Promise<string> {
  const created = await service.createGroup(as(owner), {
    group_name: 'roles',
    member_ids: [members[0] as string],
  });
  for (const member of members.slice(1)) {
    clock += 1000;
    await service.addMembers(as(owner), { group_id: created.group_id, member_ids: [member] });
  }
  return created.group_id;
}

before(async () => {
  stores = await startTestStores();
  service = new GroupService({
    notifier: { post: async () => {} },
    registry: stores.registry(),
    fanOutConcurrency: 4,
    directory: stores.groups,
    limits: new DynamoUserGroupLimits(stores.dynamo.client, stores.dynamo.tables.groups),
    presence: stores.presence,
    settings: {
      maxGroupMembers: 10,
      maxGroupsPerUser: 10,
      maxGroupMembershipsPerUser: 0,
      groupCreatesPerMinute: 0,
    },
    now: () => new Date(clock),
  });
});

after(() => stores.stop());

describe('group roles', () => {
  test('a member may not add, remove, rename, change roles or delete', async () => {
    const groupId = await groupOf('own1', ['mem1', 'mem1b']);
    const group_id = groupId;
    await refused(() => service.addMembers(as('mem1'), { group_id, member_ids: ['x'] }), 1403, 'add');
    await refused(() => service.removeMember(as('mem1'), { group_id, user_id: 'mem1b' }), 1403, 'remove');
    await refused(() => service.rename(as('mem1'), { group_id, group_name: 'n' }), 1403, 'rename');
    await refused(
      () => service.setRole(as('mem1'), { group_id, user_id: 'mem1b', role: 'admin' }),
      1403,
      'set role',
    );
    await refused(() => service.deleteGroup(as('mem1'), { group_id }), 1403, 'delete');
    assert.deepEqual(await rolesOf(groupId, 'mem1'), { own1: 'owner', mem1: 'member', mem1b: 'member' });
    assert.equal((await service.groupInfo(as('mem1'), { group_id })).group_name, 'roles');
  });

  test('an admin adds, removes members and renames, but changes no role, removes no owner, deletes nothing', async () => {
    const group_id = await groupOf('own2', ['adm2', 'mem2']);
    await service.setRole(as('own2'), { group_id, user_id: 'adm2', role: 'admin' });
    assert.deepEqual((await service.addMembers(as('adm2'), { group_id, member_ids: ['new2'] })).added, [
      'new2',
    ]);
    await service.removeMember(as('adm2'), { group_id, user_id: 'new2' });
    await service.rename(as('adm2'), { group_id, group_name: 'by admin' });
    await refused(
      () => service.setRole(as('adm2'), { group_id, user_id: 'mem2', role: 'admin' }),
      1403,
      'set role',
    );
    await refused(
      () => service.removeMember(as('adm2'), { group_id, user_id: 'own2' }),
      1403,
      'remove owner',
    );
    await refused(() => service.deleteGroup(as('adm2'), { group_id }), 1403, 'delete');
    const info = await service.groupInfo(as('mem2'), { group_id });
    assert.equal(info.group_name, 'by admin');
    assert.deepEqual(await rolesOf(group_id, 'mem2'), { own2: 'owner', adm2: 'admin', mem2: 'member' });
  });

  test('the owner cannot change its own role or remove itself; an unknown target is 3001', async () => {
    const group_id = await groupOf('own3', ['mem3']);
    await refused(
      () => service.setRole(as('own3'), { group_id, user_id: 'own3', role: 'member' }),
      1403,
      'own role',
    );
    await refused(
      () => service.removeMember(as('own3'), { group_id, user_id: 'own3' }),
      ErrorCode.badRequest,
      'remove self',
    );
    await refused(
      () => service.setRole(as('own3'), { group_id, user_id: 'stranger', role: 'admin' }),
      ErrorCode.groupInvalid,
      'set role of a non-member',
    );
    await service.setRole(as('own3'), { group_id, user_id: 'mem3', role: 'admin' });
    await service.setRole(as('own3'), { group_id, user_id: 'mem3', role: 'member' });
    assert.deepEqual(await rolesOf(group_id, 'own3'), { own3: 'owner', mem3: 'member' });
  });

  test('a leaving owner hands the group to the longest-standing admin, before older members', async () => {
    const group_id = await groupOf('own4', ['old4', 'adm4a', 'adm4b']);
    await service.setRole(as('own4'), { group_id, user_id: 'adm4b', role: 'admin' });
    await service.setRole(as('own4'), { group_id, user_id: 'adm4a', role: 'admin' });
    await service.leave(as('own4'), { group_id });
    const info = await service.groupInfo(as('old4'), { group_id });
    assert.equal(info.owner_id, 'adm4a');
    assert.deepEqual(await rolesOf(group_id, 'old4'), { old4: 'member', adm4a: 'owner', adm4b: 'admin' });
    // The new owner has the owner's rights; the old one is out.
    await service.setRole(as('adm4a'), { group_id, user_id: 'old4', role: 'admin' });
    await refused(() => service.groupInfo(as('own4'), { group_id }), 1403, 'the old owner reads');
  });

  test('without admins the longest-standing member inherits; the last member leaving deletes the group', async () => {
    const group_id = await groupOf('own5', ['first5', 'second5']);
    await service.leave(as('own5'), { group_id });
    assert.equal((await service.groupInfo(as('second5'), { group_id })).owner_id, 'first5');
    await service.leave(as('second5'), { group_id });
    await service.leave(as('first5'), { group_id });
    await refused(() => service.groupInfo(as('first5'), { group_id }), 1403, 'a deleted group');
    assert.deepEqual((await service.listGroups(as('first5'), {})).groups, []);
  });
});
