/**
 * One close path for a connection, whichever way in: a 410 handed over from a post (the
 * sweep function's `closeReportedGone`), the sweep, and `$disconnect` (`close`), in any
 * order, over the real stores on dynalite. The counters drop once, `connection.closed` is
 * published once, `offline` is pushed once (on the user's last connection) and the online
 * marks are cleared only where they hold the ended session's token. Also: DynamoDB's TTL
 * cannot take a presence record (and its counter increments) before the sweep sees it.
 * Run: npx tsx --test test/unit/close-path.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteCommand, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { PresenceStatus } from '../../functions/core/connections/connections.ts';
import {
  closeReportedGone,
  isGoneHandoff,
  sweepConnections,
} from '../../functions/core/connections/sweep.ts';
import type { AppEvent } from '../../functions/core/events/app-events.ts';
import { DynamoOnlineGroupMarks } from '../../functions/stores/online-groups.ts';
import {
  createGroupAs,
  identity,
  startTestStores,
  TEST_CONNECTION_TTL_SECONDS,
  type TestStores,
} from '../support/stores.ts';

let stores: TestStores;
let marks: DynamoOnlineGroupMarks;
const plenty = { remainingMs: () => 600_000 };
let connectionCount = 0;
const nextConnectionId = () => `cp-conn-${++connectionCount}`;

before(async () => {
  stores = await startTestStores();
  marks = new DynamoOnlineGroupMarks(stores.dynamo.client, stores.dynamo.tables.groups);
});
after(() => stores.stop());

/** What the registries of $disconnect, the sweep and the 410 hand-off did, recorded. */
function recording() {
  const pushes: [string, PresenceStatus][] = [];
  const events: AppEvent[] = [];
  const registry = stores.registry({
    onlineGroups: marks,
    handshakeWindowMs: 0,
    onPresenceChange: async (userId, status) => {
      pushes.push([userId, status]);
    },
    events: { publish: (event) => events.push(event) },
  });
  const closed = (connectionId: string) =>
    events.filter(
      (event) =>
        event.type === 'connection.closed' &&
        (event.detail as { connection_id?: string }).connection_id === connectionId,
    ).length;
  return { registry, pushes, events, closed };
}

/** A probe that says every connection is gone (GetConnection 410), except `open`. */
const probeSaying = (open: ReadonlySet<string> = new Set()) => ({
  isOpen: async (connectionId: string) => open.has(connectionId),
});

async function memberMark(groupId: string, userId: string): Promise<unknown> {
  const { Item } = await stores.dynamo.client.send(
    new GetCommand({
      TableName: stores.dynamo.tables.groups,
      Key: { groupId, sk: `member#${userId}` },
      ConsistentRead: true,
    }),
  );
  return Item?.onlineGroupId;
}

describe('a 410 goes through the close path of $disconnect and the sweep', () => {
  it('last connection: counters once, offline once, marks cleared, connection.closed once; a late $disconnect and a sweep change nothing', async () => {
    const group = await createGroupAs(stores.groups, 'cp-ann', ['cp-bob']);
    const run = recording();
    const connectionId = nextConnectionId();
    const baseline = await stores.presence.counts();
    await run.registry.open(connectionId, identity('cp-ann'));
    assert.equal(await memberMark(group.group_id, 'cp-ann'), group.group_id, 'marked while online');

    // A post answered 410: the connection is handed to the sweep function.
    const report = await closeReportedGone({ probe: probeSaying(), registry: run.registry }, [
      { connectionId, userId: 'cp-ann' },
    ]);
    assert.deepEqual(report, { checked: 1, removed: 1, kept: 0, failed: 0 });
    assert.deepEqual(await stores.presence.counts(), baseline);
    assert.deepEqual(run.pushes, [
      ['cp-ann', 'online'],
      ['cp-ann', 'offline'],
    ]);
    assert.equal(await memberMark(group.group_id, 'cp-ann'), undefined, 'the mark is cleared');
    assert.equal(run.closed(connectionId), 1);

    // The real $disconnect arrives late, then a sweep and another 410 of the same connection.
    await run.registry.close(connectionId, 'cp-ann');
    await sweepConnections(
      { presence: stores.presence, probe: probeSaying(), registry: run.registry },
      plenty,
    );
    await closeReportedGone({ probe: probeSaying(), registry: run.registry }, [
      { connectionId, userId: 'cp-ann' },
    ]);
    assert.deepEqual(await stores.presence.counts(), baseline, 'counted down once');
    assert.equal(run.pushes.filter(([, status]) => status === 'offline').length, 1, 'offline once');
    assert.equal(run.closed(connectionId), 1, 'connection.closed once');
  });

  it('not the last connection: counters once, connection.closed, no offline and the marks stay', async () => {
    const group = await createGroupAs(stores.groups, 'cp-cat', ['cp-dan']);
    const run = recording();
    const gone = nextConnectionId();
    const stays = nextConnectionId();
    await run.registry.open(gone, identity('cp-cat'));
    await run.registry.open(stays, identity('cp-cat'));
    const before = await stores.presence.counts();
    await closeReportedGone({ probe: probeSaying(), registry: run.registry }, [
      { connectionId: gone, userId: 'cp-cat' },
      { connectionId: gone, userId: 'cp-cat' }, // two 410s of one fan-out: one check
    ]);
    assert.deepEqual(await stores.presence.counts(), {
      users: before.users,
      connections: before.connections - 1,
    });
    assert.deepEqual(run.pushes, [['cp-cat', 'online']]);
    assert.equal(await memberMark(group.group_id, 'cp-cat'), group.group_id);
    assert.equal(run.closed(gone), 1);
    assert.deepEqual(await stores.presence.connectionIdsOf('cp-cat'), [stays]);
  });

  it('a hand-off of a connection GetConnection says is open closes nothing', async () => {
    const run = recording();
    const open = nextConnectionId();
    await run.registry.open(open, identity('cp-eve'));
    const before = await stores.presence.counts();
    const report = await closeReportedGone({ probe: probeSaying(new Set([open])), registry: run.registry }, [
      { connectionId: open, userId: 'cp-eve' },
    ]);
    assert.deepEqual(report, { checked: 1, removed: 0, kept: 1, failed: 0 });
    assert.deepEqual(await stores.presence.counts(), before);
    assert.deepEqual(await stores.presence.connectionIdsOf('cp-eve'), [open]);
    assert.equal(run.closed(open), 0);
  });

  it('malformed hand-offs are recognised as such', () => {
    for (const bad of [
      undefined,
      null,
      {},
      { gone: [] },
      { gone: 'x' },
      { gone: [{ connectionId: 'a' }] },
      { gone: [{ connectionId: '', userId: 'u' }] },
      { gone: [{ connectionId: 'a b', userId: 'u' }] },
      { gone: [{ connectionId: 'a', userId: '#stats' }] },
      { gone: Array.from({ length: 501 }, (_, i) => ({ connectionId: `c${i}`, userId: 'u' })) },
    ]) {
      assert.equal(isGoneHandoff(bad), false, JSON.stringify(bad)?.slice(0, 80));
    }
    assert.equal(isGoneHandoff({ gone: [{ connectionId: 'L0SM9cOFvHcCIhw=', userId: 'u-1' }] }), true);
  });
});

describe('connection.closed exactly once per connection', () => {
  it('the sweep closed it first: the late $disconnect publishes nothing more', async () => {
    const run = recording();
    const connectionId = nextConnectionId();
    await run.registry.open(connectionId, identity('cp-fay'));
    await sweepConnections(
      { presence: stores.presence, probe: probeSaying(), registry: run.registry },
      plenty,
    );
    assert.equal(run.closed(connectionId), 1);
    await run.registry.close(connectionId, 'cp-fay');
    assert.equal(run.closed(connectionId), 1);
  });

  it('$disconnect first: a later sweep or 410 publishes nothing more', async () => {
    const run = recording();
    const connectionId = nextConnectionId();
    await run.registry.open(connectionId, identity('cp-gil'));
    await run.registry.close(connectionId, 'cp-gil');
    await run.registry.closeLost(connectionId, 'cp-gil');
    await run.registry.close(connectionId, 'cp-gil'); // a repeated $disconnect
    assert.equal(run.closed(connectionId), 1);
  });

  it('the row is already gone (TTL): $disconnect still publishes it once', async () => {
    const run = recording();
    const connectionId = nextConnectionId();
    await run.registry.open(connectionId, identity('cp-hal'));
    await stores.dynamo.client.send(
      new DeleteCommand({ TableName: stores.dynamo.tables.connections, Key: { connectionId } }),
    );
    await run.registry.close(connectionId, 'cp-hal');
    await run.registry.close(connectionId, 'cp-hal');
    assert.equal(run.closed(connectionId), 1);
  });
});

describe('DynamoDB TTL and the online counters', () => {
  /**
   * What DynamoDB's TTL may do at `nowSeconds` at the earliest: delete every item of the
   * table whose `expiresAt` has passed (dynalite never does; a Scan is fine in a test).
   */
  async function expireItems(table: string, key: string, nowSeconds: number): Promise<number> {
    const { Items = [] } = await stores.dynamo.client.send(new ScanCommand({ TableName: table }));
    let deleted = 0;
    for (const item of Items) {
      if (typeof item.expiresAt === 'number' && item.expiresAt <= nowSeconds) {
        await stores.dynamo.client.send(new DeleteCommand({ TableName: table, Key: { [key]: item[key] } }));
        deleted++;
      }
    }
    return deleted;
  }

  it('the row expired and TTL took it; the presence record is still there for the sweep, which counts it down', async () => {
    const baseline = await stores.presence.counts();
    // Opened just over a row's lifetime ago and dropped without $disconnect (API Gateway
    // closed it at 2 h at the latest): DynamoDB may now delete its row.
    const openedAt = new Date(Date.now() - (TEST_CONNECTION_TTL_SECONDS + 60) * 1000);
    const old = stores.registry({ now: () => openedAt });
    const connectionId = nextConnectionId();
    await old.open(connectionId, identity('cp-ida'));
    assert.deepEqual(await stores.presence.counts(), {
      users: baseline.users + 1,
      connections: baseline.connections + 1,
    });
    const nowSeconds = Math.floor(Date.now() / 1000);
    assert.equal(await expireItems(stores.dynamo.tables.connections, 'connectionId', nowSeconds), 1);
    await expireItems(stores.dynamo.tables.presence, 'userId', nowSeconds);

    const run = recording();
    const report = await sweepConnections(
      { presence: stores.presence, probe: probeSaying(), registry: run.registry },
      plenty,
    );
    assert.ok(report.removed >= 1);
    assert.deepEqual(await stores.presence.counts(), baseline, 'no increment left behind');
    assert.deepEqual(run.pushes, [['cp-ida', 'offline']]);
    assert.equal(run.closed(connectionId), 1);
  });
});
