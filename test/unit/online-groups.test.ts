/**
 * The online marks on group member rows (functions/core/groups/online-members.ts) through
 * the real registry and stores on dynalite: the first connection marks, the last
 * disconnect clears, a reconnect racing the clear ends marked, an older session's token
 * never overwrites or clears a newer one, and the backfill marks users online at deploy.
 * Run: npx tsx --test test/unit/online-groups.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { backfillOnlineGroups } from '../../functions/core/groups/online-backfill.ts';
import { type OnlineGroupMarks, onlineSessionToken } from '../../functions/core/groups/online-members.ts';
import { DynamoOnlineGroupMarks } from '../../functions/stores/online-groups.ts';
import { createGroupAs, identity, startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let marks: DynamoOnlineGroupMarks;
/** A clock one second further on each read, so every session's token is newer than the last. */
let clockMs = Date.now();
const now = () => {
  clockMs += 1000;
  return new Date(clockMs);
};
let connectionCount = 0;
const nextConnectionId = () => `og-conn-${++connectionCount}`;

before(async () => {
  stores = await startTestStores();
  marks = new DynamoOnlineGroupMarks(stores.dynamo.client, stores.dynamo.tables.groups);
});

after(async () => {
  await stores.stop();
});

function registry(onlineGroups: Pick<OnlineGroupMarks, 'markAll' | 'clearAll'> = marks): ConnectionRegistry {
  return stores.registry({ onlineGroups, now, handshakeWindowMs: 0 });
}

async function open(reg: ConnectionRegistry, userId: string): Promise<string> {
  const connectionId = nextConnectionId();
  await reg.open(connectionId, identity(userId));
  return connectionId;
}

async function memberRow(groupId: string, userId: string) {
  const { Item } = await stores.dynamo.client.send(
    new GetCommand({
      TableName: stores.dynamo.tables.groups,
      Key: { groupId, sk: `member#${userId}` },
      ConsistentRead: true,
    }),
  );
  return Item;
}

const sorted = (ids: string[]) => [...ids].sort();

/** A promise and the function that resolves it. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('online marks on member rows', () => {
  it('the first connection marks every group of the user; a second device changes nothing; the last disconnect clears them', async () => {
    const reg = registry();
    const first = await createGroupAs(stores.groups, 'og-ann', ['og-bob']);
    const second = await createGroupAs(stores.groups, 'og-cy', ['og-ann']);
    assert.deepEqual(await marks.onlineMemberIds(first.group_id), []);

    const phone = await open(reg, 'og-ann');
    assert.deepEqual(await marks.onlineMemberIds(first.group_id), ['og-ann']);
    assert.deepEqual(await marks.onlineMemberIds(second.group_id), ['og-ann']);
    const token = (await stores.presence.connectionsOf(['og-ann']))[0]?.onlineSince;
    assert.equal((await memberRow(first.group_id, 'og-ann'))?.onlineSince, token);

    const laptop = await open(reg, 'og-ann');
    await reg.close(phone);
    assert.deepEqual(await marks.onlineMemberIds(first.group_id), ['og-ann'], 'one device is still open');

    await reg.close(laptop);
    assert.deepEqual(await marks.onlineMemberIds(first.group_id), []);
    assert.deepEqual(await marks.onlineMemberIds(second.group_id), []);
    const row = await memberRow(first.group_id, 'og-ann');
    assert.equal(row?.onlineSince, undefined);
    assert.equal(row?.memberUserId, 'og-ann', 'the membership itself stays');
  });

  it('a reconnect while the last disconnect is still clearing ends marked, with the new session’s token', async () => {
    const group = await createGroupAs(stores.groups, 'og-dee', ['og-eve', 'og-fay']);
    const clearing = gate();
    const clearHeld = gate();
    // The old session's clear stops after it began, until the new session has marked.
    const slowClear = {
      markAll: (userId: string, token: string) => marks.markAll(userId, token),
      clearAll: async (userId: string, token: string) => {
        clearing.open();
        await clearHeld.opened;
        await marks.clearAll(userId, token);
      },
    };
    const reg = registry(slowClear);
    const old = await open(reg, 'og-dee');
    const closing = reg.close(old);
    await clearing.opened;
    await open(reg, 'og-dee');
    clearHeld.open();
    await closing;

    assert.deepEqual(await marks.onlineMemberIds(group.group_id), ['og-dee']);
    const [online] = await stores.presence.connectionsOf(['og-dee']);
    assert.ok(online?.onlineSince);
    assert.equal((await memberRow(group.group_id, 'og-dee'))?.onlineSince, online.onlineSince);
  });

  it('a reconnect whose marking finishes before the old clear even starts also ends marked', async () => {
    const group = await createGroupAs(stores.groups, 'og-gus', ['og-hal']);
    const reg = registry();
    const old = await open(reg, 'og-gus');
    // The presence item goes first (the old session ends), the new one marks, the old clear runs last.
    const { onlineSince } = await stores.presence.removeConnection('og-gus', old);
    assert.ok(onlineSince, 'the ended session’s token comes back with its last removal');
    await open(reg, 'og-gus');
    await marks.clearAll('og-gus', onlineSince);
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), ['og-gus']);
  });

  it('an older session’s token neither overwrites nor clears a newer mark', async () => {
    const group = await createGroupAs(stores.groups, 'og-ivy', ['og-jon']);
    const older = onlineSessionToken('2026-12-03T10:00:00.000Z', 'a');
    const newer = onlineSessionToken('2026-12-03T10:00:05.000Z', 'b');
    await marks.mark(group.group_id, 'og-jon', newer);
    await marks.mark(group.group_id, 'og-jon', older);
    assert.equal((await memberRow(group.group_id, 'og-jon'))?.onlineSince, newer);
    await marks.clearAll('og-jon', older);
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), ['og-jon']);
    await marks.clearAll('og-jon', newer);
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), []);
  });

  it('marking never recreates the row of someone who is not (or no longer) a member', async () => {
    const group = await createGroupAs(stores.groups, 'og-kim', ['og-lou']);
    await marks.mark(group.group_id, 'og-stranger', onlineSessionToken(now().toISOString(), 'x'));
    assert.equal(await memberRow(group.group_id, 'og-stranger'), undefined);
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), []);
  });

  it('a claim is refused once the user is offline again, so nothing is marked for an ended session', async () => {
    const reg = registry();
    const connectionId = await open(reg, 'og-max');
    await reg.close(connectionId);
    assert.equal(
      await stores.presence.claimOnlineSession('og-max', onlineSessionToken(now().toISOString(), 'y')),
      false,
    );
  });
});

describe('backfill of users online at deploy', () => {
  it('marks the rows of every online user (byShard pages), none of an offline one; their last disconnect clears them', async () => {
    const group = await createGroupAs(stores.groups, 'bf-owner', [
      'bf-online-1',
      'bf-online-2',
      'bf-offline',
    ]);
    // Connected before the upgrade: presence entries, no token, no marks.
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    await stores.presence.addConnection('bf-online-1', 'bf-c1', expiresAt);
    await stores.presence.addConnection('bf-online-2', 'bf-c2', expiresAt);
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), []);

    const result = await backfillOnlineGroups({ presence: stores.presence, marks, now, pageSize: 1 });
    assert.ok(result.marked >= 2, JSON.stringify(result));
    assert.deepEqual(sorted(await marks.onlineMemberIds(group.group_id)), ['bf-online-1', 'bf-online-2']);

    // Their $disconnect, after the upgrade: the backfill's token is cleared like a session's.
    await registry().close('bf-c1', 'bf-online-1');
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), ['bf-online-2']);

    // Running it again changes nothing.
    await backfillOnlineGroups({ presence: stores.presence, marks, now });
    assert.deepEqual(await marks.onlineMemberIds(group.group_id), ['bf-online-2']);
  });
});
