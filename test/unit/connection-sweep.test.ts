/**
 * The stale-connection sweep's rules against the real stores on dynalite: expired records
 * are removed without asking the Management API, gone connections through the registry's
 * close path (offline, events, counters once), open ones are left, a failed check removes
 * nothing, and a run out of time says so. The Management API's answers come from a fake
 * probe here; test/e2e/stale-connection-sweep.test.ts runs the real GetConnection.
 * Run: npx tsx --test test/unit/connection-sweep.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  PRESENCE_EXPIRY_GRACE_SECONDS,
  type PresenceStatus,
} from '../../functions/core/connections/connections.ts';
import { type SweepDependencies, sweepConnections } from '../../functions/core/connections/sweep.ts';
import type { AppEvent } from '../../functions/core/events/app-events.ts';
import {
  ConnectionOpener,
  startTestStores,
  TEST_CONNECTION_TTL_SECONDS,
  type TestStores,
} from '../support/stores.ts';

let stores: TestStores;
const opener = new ConnectionOpener('sweep');
const plenty = { remainingMs: () => 600_000 };
/** Past the 30 s handshake window, so a 410 means the connection is gone. */
const minuteAgo = () => new Date(Date.now() - 60_000);

before(async () => {
  stores = await startTestStores();
});
after(() => stores.stop());

/** A sweep whose probe says `open` for the ids in `open`, 410 otherwise; records what it did. */
function sweepWith(open: ReadonlySet<string>, probeFails: ReadonlySet<string> = new Set()) {
  const probed: string[] = [];
  const presence: [string, PresenceStatus][] = [];
  const events: AppEvent[] = [];
  const deps: SweepDependencies = {
    presence: stores.presence,
    probe: {
      isOpen: async (connectionId) => {
        probed.push(connectionId);
        if (probeFails.has(connectionId)) throw new Error('TooManyRequestsException');
        return open.has(connectionId);
      },
    },
    registry: stores.registry({
      onPresenceChange: async (userId, status) => {
        presence.push([userId, status]);
      },
      events: { publish: (event) => events.push(event) },
    }),
    pageUsers: 2,
  };
  return { deps, probed, presence, events };
}

describe('sweepConnections', () => {
  it('removes gone connections once, leaves open ones, and skips GetConnection for expired records', async () => {
    const old = stores.registry({ now: minuteAgo });
    const gone = await opener.open(old, 'sweep-gone');
    const kept = await opener.open(old, 'sweep-open');
    // Opened 27 h ago: its record expired (row TTL + the presence grace; the connection
    // cannot be open past 2 h).
    const expired = await opener.open(
      stores.registry({
        now: () =>
          new Date(Date.now() - (TEST_CONNECTION_TTL_SECONDS + PRESENCE_EXPIRY_GRACE_SECONDS + 60) * 1000),
      }),
      'sweep-expired',
    );
    const before = await stores.presence.counts();

    const run = sweepWith(new Set([kept]));
    const report = await sweepConnections(run.deps, plenty, 5);
    assert.equal(report.complete, true);
    assert.equal(report.shards, 16);
    assert.equal(report.failed, 0);
    assert.ok(report.removed >= 2);
    assert.ok(run.probed.includes(gone) && run.probed.includes(kept));
    assert.ok(!run.probed.includes(expired), 'an expired record needs no GetConnection');
    assert.deepEqual(run.presence.filter(([userId]) => userId.startsWith('sweep-')).sort(), [
      ['sweep-expired', 'offline'],
      ['sweep-gone', 'offline'],
    ]);
    const closed = run.events.filter((event) => event.type === 'connection.closed').map((e) => e.detail);
    assert.deepEqual(
      closed.map((detail) => (detail as { connection_id: string }).connection_id).sort(),
      [expired, gone].sort(),
    );
    assert.deepEqual(await stores.presence.counts(), {
      users: before.users - 2,
      connections: before.connections - 2,
    });
    assert.deepEqual(await stores.presence.connectionIdsOf('sweep-open'), [kept]);
    assert.equal(await stores.connections.get(gone), undefined);

    // A second run finds nothing more to do and changes no count.
    const again = sweepWith(new Set([kept]));
    await sweepConnections(again.deps, plenty);
    assert.deepEqual(await stores.presence.counts(), {
      users: before.users - 2,
      connections: before.connections - 2,
    });
    assert.equal(again.presence.filter(([userId]) => userId.startsWith('sweep-')).length, 0);
  });

  it('a check that fails removes nothing and is counted; the next run removes it', async () => {
    const old = stores.registry({ now: minuteAgo });
    const throttled = await opener.open(old, 'sweep-throttled');
    const run = sweepWith(new Set(), new Set([throttled]));
    const report = await sweepConnections(run.deps, plenty);
    assert.equal(report.failed, 1);
    assert.deepEqual(await stores.presence.connectionIdsOf('sweep-throttled'), [throttled]);

    const next = sweepWith(new Set());
    await sweepConnections(next.deps, plenty);
    assert.deepEqual(await stores.presence.connectionIdsOf('sweep-throttled'), []);
    assert.deepEqual(next.presence, [['sweep-throttled', 'offline']]);
  });

  it('stops before a page it has no time for, and says it did not finish', async () => {
    const old = stores.registry({ now: minuteAgo });
    const late = await opener.open(old, 'sweep-late');
    const run = sweepWith(new Set());
    const report = await sweepConnections(run.deps, { remainingMs: () => 1_000 });
    assert.equal(report.complete, false);
    assert.equal(report.users, 0);
    assert.deepEqual(run.probed, []);
    assert.deepEqual(await stores.presence.connectionIdsOf('sweep-late'), [late]);
    await sweepConnections(sweepWith(new Set()).deps, plenty);
  });
});
