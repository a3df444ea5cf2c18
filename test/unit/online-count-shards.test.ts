/**
 * The online counters spread over `#stats#0` … `#stats#15` (no item written by every
 * connect), summed with the legacy `#stats` item into exact counts, against the real
 * presence store on dynalite.
 * Run: npx tsx --test test/unit/online-count-shards.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { STATS_SHARDS, statsKeyOf } from '../../functions/stores/presence.ts';
import { startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
const expiresAt = () => Math.floor(Date.now() / 1000) + 3600;

before(async () => {
  stores = await startTestStores();
});
after(() => stores.stop());

/** Every counter item by key, read straight from the table. */
async function counterItems(): Promise<Map<string, { onlineUsers: number; connections: number }>> {
  const { Items = [] } = await stores.dynamo.client.send(
    new ScanCommand({ TableName: stores.dynamo.tables.presence, ConsistentRead: true }),
  );
  const counters = new Map<string, { onlineUsers: number; connections: number }>();
  for (const item of Items) {
    if (String(item.userId).startsWith('#stats')) {
      counters.set(String(item.userId), {
        onlineUsers: Number(item.onlineUsers),
        connections: Number(item.connections),
      });
    }
  }
  return counters;
}

describe('online counters in shards', () => {
  const users = Array.from({ length: 48 }, (_, i) => `shard-user-${i}`);
  let baseline: { users: number; connections: number };
  beforeEach(async () => {
    baseline = await stores.presence.counts();
  });

  it('concurrent connects and disconnects count each user in its own shard; the sum is exact', async () => {
    // Every user twice (two devices), all at once.
    await Promise.all(
      users.flatMap((userId) => [
        stores.presence.addConnection(userId, `${userId}-a`, expiresAt()),
        stores.presence.addConnection(userId, `${userId}-b`, expiresAt()),
      ]),
    );
    assert.deepEqual(await stores.presence.counts(), {
      users: baseline.users + users.length,
      connections: baseline.connections + 2 * users.length,
    });

    const counters = await counterItems();
    assert.equal(counters.has('#stats'), false, 'the legacy item is never written');
    const expected = new Map<string, number>();
    for (const userId of users) expected.set(statsKeyOf(userId), (expected.get(statsKeyOf(userId)) ?? 0) + 1);
    assert.ok(
      expected.size >= STATS_SHARDS / 2,
      `48 users land in ${expected.size} of ${STATS_SHARDS} shards`,
    );
    for (const [key, count] of expected) {
      assert.deepEqual(counters.get(key), { onlineUsers: count, connections: 2 * count }, key);
    }
    const busiest = Math.max(...[...counters.values()].map((c) => c.connections));
    assert.ok(busiest < users.length, `no shard takes every write (the busiest holds ${busiest} of 96)`);

    await Promise.all(
      users.flatMap((userId) => [
        stores.presence.removeConnection(userId, `${userId}-a`),
        stores.presence.removeConnection(userId, `${userId}-b`),
        stores.presence.removeConnection(userId, `${userId}-b`), // a repeated $disconnect
      ]),
    );
    assert.deepEqual(await stores.presence.counts(), baseline);
    for (const key of expected.keys()) {
      assert.deepEqual((await counterItems()).get(key), { onlineUsers: 0, connections: 0 }, key);
    }
  });

  it('a connection counted in the legacy #stats item by an earlier version nets to zero when it closes', async () => {
    // What an earlier version left: the user's presence item and the single counter item.
    const { client, tables } = stores.dynamo;
    await client.send(
      new PutCommand({
        TableName: tables.presence,
        Item: {
          userId: 'legacy-user',
          connectionIds: new Set(['legacy-conn']),
          connectionCount: 1,
          expiresAt: expiresAt(),
        },
      }),
    );
    await client.send(
      new UpdateCommand({
        TableName: tables.presence,
        Key: { userId: '#stats' },
        UpdateExpression: 'ADD onlineUsers :one, #connections :one',
        ExpressionAttributeNames: { '#connections': 'connections' },
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
    assert.deepEqual(await stores.presence.counts(), {
      users: baseline.users + 1,
      connections: baseline.connections + 1,
    });

    assert.deepEqual(await stores.presence.removeConnection('legacy-user', 'legacy-conn'), {
      removed: true,
      wentOffline: true,
    });
    assert.deepEqual(await stores.presence.counts(), baseline, 'old increment + new decrement = 0');
    const { Item: shard } = await client.send(
      new GetCommand({ TableName: tables.presence, Key: { userId: statsKeyOf('legacy-user') } }),
    );
    assert.equal(shard?.onlineUsers, -1, 'the shard went below zero, unclamped');
    assert.equal(shard?.connections, -1);
  });

  it('a counter item is never a user: not listed online, not found by user id', async () => {
    await stores.presence.addConnection('listed-user', 'listed-conn', expiresAt());
    const keys = [...(await counterItems()).keys()];
    assert.ok(keys.length > 1);
    const listed: string[] = [];
    for await (const page of stores.presence.allOnline(7)) listed.push(...page.map((u) => u.userId));
    assert.ok(listed.includes('listed-user'));
    assert.deepEqual(
      listed.filter((userId) => userId.startsWith('#')),
      [],
    );
    assert.deepEqual(await stores.presence.connectionsOf(keys), []);
    assert.deepEqual(await stores.presence.connectionsOf([keys[0] as string]), []);
    await stores.presence.removeConnection('listed-user', 'listed-conn');
  });
});
