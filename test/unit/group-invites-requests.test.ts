/**
 * DynamoDB requests of the invitation commands (`GROUP_INVITES=required`), counted on the
 * real stores over an in-memory dynalite: what docs/architecture.md states for
 * `accept_group_invite` (7 + ⌈M/100⌉) and `list_group_invites`, and that refused answers
 * write nothing.
 * Run: npx tsx --test test/unit/group-invites-requests.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GroupService } from '../../functions/core/groups/group-service.ts';
import { ChatError } from '../../functions/core/shared/errors.ts';
import { DynamoUserGroupLimits } from '../../functions/stores/groups.ts';
import { startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let service: GroupService;
let requests: string[] = [];

const as = (userId: string) => ({ userId, roles: [] as string[] });

/** The commands `run` sent, by name (GetItem, PutItem, …), sorted. */
async function counted(run: () => Promise<unknown>): Promise<string[]> {
  requests = [];
  await run();
  return requests.map((name) => name.replace(/Command$/, '')).sort();
}

before(async () => {
  stores = await startTestStores();
  stores.dynamo.client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
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
      invites: 'required',
    },
  });
});
after(() => stores.stop());

test('accept_group_invite: 7 + ⌈M/100⌉ requests; a refused accept or decline writes nothing', async () => {
  const { group_id } = await service.createGroup(as('rq-own'), {
    group_name: 'Count',
    member_ids: ['rq-a', 'rq-b', 'rq-c'],
  });
  await service.acceptInvite(as('rq-a'), { group_id });
  // Two members now; the third: meta and invitation reads, the invitation's delete, the
  // member item, the slot counts, the meta re-read, the members Query, one presence read.
  assert.deepEqual(await counted(() => service.acceptInvite(as('rq-b'), { group_id })), [
    'BatchGetItem',
    'DeleteItem',
    'GetItem',
    'GetItem',
    'GetItem',
    'PutItem',
    'Query',
    'UpdateItem',
  ]);
  assert.deepEqual(await counted(() => service.declineInvite(as('rq-c'), { group_id })), [
    'BatchGetItem',
    'DeleteItem',
    'Query',
    'UpdateItem',
  ]);
  for (const answer of [
    () => service.acceptInvite(as('rq-c'), { group_id }),
    () => service.declineInvite(as('rq-c'), { group_id }),
  ]) {
    const sent = await counted(() =>
      answer().then(
        () => assert.fail('answered without an invitation'),
        (error: unknown) => assert.ok(error instanceof ChatError && error.code === 3010, String(error)),
      ),
    );
    // Reads, or a conditional delete that found nothing: no item written.
    assert.ok(
      sent.every((name) => ['GetItem', 'DeleteItem'].includes(name)),
      String(sent),
    );
  }
});

test('list_group_invites: one byInvitee Query and one BatchGetItem per page', async () => {
  for (const name of ['L1', 'L2']) {
    await service.createGroup(as('rq-lister'), { group_name: name, member_ids: ['rq-listed'] });
  }
  let page: Awaited<ReturnType<GroupService['listInvites']>> | undefined;
  assert.deepEqual(
    await counted(async () => {
      page = await service.listInvites(as('rq-listed'), { limit: 10 });
    }),
    ['BatchGetItem', 'Query'],
  );
  assert.deepEqual(
    page?.invites.map((invite) => invite.group_name),
    ['L2', 'L1'],
  );
});
