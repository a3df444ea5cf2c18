/**
 * A 410 met by a fan-out worker (the audience was above FANOUT_WORKER_THRESHOLD) takes the
 * same close path as one met inline: the worker hands the connection to the sweep
 * function, the user's peers hear `offline` and the counters drop once. Real sockets on
 * the local runtime; waits end on frames or state, never on sleeps.
 * Run: npx tsx --test test/e2e/gone-close-path-workers.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed, nextPush, pushesOf, sendCommand, settle } from '../support/chat.ts';
import { onlineCount } from '../support/http.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import { backdateConnection } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;

before(async () => {
  // Any fan-out to more than one connection goes to fan-out workers; no scheduled sweep.
  runtime = await startTestRuntime({
    env: { FANOUT_WORKER_THRESHOLD: '1' },
    sweepIntervalSeconds: 0,
  });
});
after(() => runtime.stop());

describe('a 410 met by a fan-out worker', () => {
  test('goes through the close path: offline to peers, counters once', async () => {
    const watcher = await connectWelcomed(runtime, 'gw-watcher');
    const other = await connectWelcomed(runtime, 'gw-other');
    const ann = await connectWelcomed(runtime, 'gw-ann');
    // ann posts in the group, so its online members are her presence peers.
    const created = await sendCommand(ann.client, 'create_group', {
      group_name: 'gw-group',
      member_ids: ['gw-watcher', 'gw-other'],
    });
    assert.equal(created.code, 0, JSON.stringify(created));
    const groupId = created.data?.group_id;
    const hello = await sendCommand(ann.client, 'send_group_message', { group_id: groupId, content: 'hi' });
    assert.equal(hello.code, 0, JSON.stringify(hello));
    await nextPush(watcher.client, 'group_message', (data) => data.content === 'hi');
    // Past the 30 s handshake window, inside which a 410 keeps the connection.
    await backdateConnection(runtime, ann.connectionId);
    const before = await onlineCount(runtime);

    assert.equal(runtime.dropWithoutDisconnect(ann.connectionId), true);
    await ann.client.waitForClose();
    const sent = await sendCommand(other.client, 'send_group_message', {
      group_id: groupId,
      content: 'there?',
    });
    assert.equal(sent.code, 0, JSON.stringify(sent));
    assert.ok(Number(sent.data?.queued ?? 0) > 0, `handed to workers: ${JSON.stringify(sent.data)}`);

    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'gw-ann' && p.status === 'offline');
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
    await runtime.sweepConnections();
    await settle(watcher.client);
    assert.equal(
      pushesOf(watcher.client, 'presence').filter((p) => p.user_id === 'gw-ann' && p.status === 'offline')
        .length,
      1,
    );
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
  });
});
