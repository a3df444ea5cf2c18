/**
 * online-count through the local runtime while many users connect and disconnect at once:
 * the count stays exact although the counters are spread over shard items, and those
 * items never show up as users in online-users.
 * Run: npx tsx --test test/e2e/online-count-shards.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, disconnect } from '../support/chat.ts';
import { getApi, onlineCount, pollUntil } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  runtime = await startTestRuntime();
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

async function onlineUsers(): Promise<string[]> {
  const token = await tokenFor(runtime, 'count-reader');
  const users: string[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const response = await getApi<{ users: string[]; next_cursor?: string }>(
      runtime,
      `/api/ws/online-users?${query}`,
      token,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    users.push(...(response.body.data?.users ?? []));
    cursor = response.body.data?.next_cursor;
  } while (cursor);
  return users.sort();
}

describe('online-count with sharded counters', () => {
  test('stays exact across concurrent connects and disconnects; counters are never users', async () => {
    const start = await onlineCount(runtime);
    const users = Array.from({ length: 20 }, (_, i) => `crowd-${i}`);
    // 20 users at once, the first 5 on a second device too.
    const connections: ChatConnection[] = await Promise.all([
      ...users.map((userId) => connectWelcomed(runtime, userId)),
      ...users.slice(0, 5).map((userId) => connectWelcomed(runtime, userId)),
    ]);
    assert.deepEqual(await onlineCount(runtime), {
      count: start.count + 20,
      connections: start.connections + 25,
    });

    const counterKeys = (await tables.scan('presence'))
      .map((item) => String(item.userId))
      .filter((key) => key.startsWith('#stats#'));
    assert.ok(counterKeys.length > 1, `the counts are spread: ${counterKeys.join()}`);
    assert.deepEqual(await onlineUsers(), [...users].sort(), 'online-users lists the users and nothing else');

    // Half the users leave at once, the second devices among them.
    // $disconnect deletes the connection row before it updates presence: wait for the count.
    await disconnect(runtime, ...connections.slice(10));
    const half = { count: start.count + 10, connections: start.connections + 10 };
    await pollUntil(
      () => onlineCount(runtime),
      (now) => now.connections === half.connections,
      '15 connections fewer',
    );
    assert.deepEqual(await onlineCount(runtime), half);

    await disconnect(runtime, ...connections.slice(0, 10));
    await pollUntil(
      () => onlineCount(runtime),
      (now) => now.connections === start.connections,
      'every connection closed',
    );
    assert.deepEqual(await onlineCount(runtime), start);
    assert.deepEqual(await onlineUsers(), []);
  });
});
