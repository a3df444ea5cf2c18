/**
 * Issue 14, target 3: a connection whose `$disconnect` never arrives (API Gateway sends it
 * best effort) stops counting as online once the stale-connection sweep has run, and its
 * presence peers hear `offline` then. The runtime drops sockets without `$disconnect`
 * (`dropWithoutDisconnect`, as AWS sometimes does) and runs the sweep on demand, as its
 * EventBridge schedule would. Waits end on frames or state, never on sleeps.
 * Run: npx tsx --test test/e2e/stale-connection-sweep.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SweepReport } from '../../functions/core/connections/sweep.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { getApi, onlineCount, pollUntil } from '../support/http.ts';
import { managementClient, startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { backdateConnection, presenceIdsOf } from '../support/runtime-tables.ts';
import { type EventCollector, startEventCollector } from '../support/webhook-receiver.ts';

let runtime: LocalRuntime;
/** Hears about everyone below: each of them sends it a private message first (consent). */
let watcher: ChatConnection;
/** The application events the runtime POSTed to EVENTS_WEBHOOK_URL. */
let receiver: EventCollector;

before(async () => {
  receiver = await startEventCollector();
  runtime = await startTestRuntime({ env: { EVENTS_WEBHOOK_URL: receiver.url } });
  watcher = await connectWelcomed(runtime, 'sw-watcher');
});
after(async () => {
  await runtime.stop();
  await receiver.close();
});

/**
 * Connects `userId`, makes the watcher their presence peer (they write to it) and backdates
 * the connection past the 30 s handshake window, inside which a 410 may only mean that
 * `$connect` has not returned yet, so the sweep keeps such a connection.
 */
async function connectedPeer(userId: string, backdate = true): Promise<ChatConnection> {
  const connection = await connectWelcomed(runtime, userId);
  const sent = await sendCommand(connection.client, 'send_message', {
    to_user_id: watcher.userId,
    content: `hello from ${userId}`,
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  await nextPush(watcher.client, 'new_message', (data) => data.from_user_id === userId);
  if (backdate) await backdateConnection(runtime, connection.connectionId);
  return connection;
}

async function isOnline(userId: string): Promise<boolean> {
  const token = await tokenFor(runtime, 'sw-asker');
  const { status, body } = await getApi<{ is_online: boolean }>(
    runtime,
    `/api/ws/online/check?user_id=${encodeURIComponent(userId)}`,
    token,
  );
  assert.equal(status, 200);
  return body.data?.is_online ?? false;
}

async function onlineUsers(): Promise<string[]> {
  const token = await tokenFor(runtime, 'sw-asker');
  const { status, body } = await getApi<{ users: string[] }>(
    runtime,
    '/api/ws/online-users?limit=1000',
    token,
  );
  assert.equal(status, 200);
  return body.data?.users ?? [];
}

/** The presence pushes about `userId` the watcher has received, after a barrier. */
async function watcherHeard(userId: string, status: string): Promise<number> {
  await settle(watcher.client);
  return pushesOf(watcher.client, 'presence').filter((p) => p.user_id === userId && p.status === status)
    .length;
}

describe('the stale-connection sweep', () => {
  test('a connection dropped without $disconnect stops counting once the sweep ran; peers hear offline; reconnecting works', async () => {
    const ann = await connectedPeer('sw-ann');
    const before = await onlineCount(runtime);

    assert.equal(runtime.dropWithoutDisconnect(ann.connectionId), true);
    const closed = await ann.client.waitForClose();
    assert.equal(closed.code, 1006, 'cut, no close frame');
    // As on AWS: the Management API knows the connection is gone...
    const management = managementClient(runtime);
    await assert.rejects(
      management.send(new GetConnectionCommand({ ConnectionId: ann.connectionId })),
      (error) => error instanceof GoneException,
    );
    management.destroy();
    // ...but without $disconnect nothing else does.
    assert.equal(await isOnline('sw-ann'), true);
    assert.deepEqual(await onlineCount(runtime), before);

    const report = (await runtime.sweepConnections()) as SweepReport;
    assert.equal(report.complete, true);
    assert.equal(report.failed, 0);
    assert.ok(report.removed >= 1, JSON.stringify(report));

    const offline = await nextPush(
      watcher.client,
      'presence',
      (p) => p.user_id === 'sw-ann' && p.status === 'offline',
    );
    assert.equal(offline.type, 'presence');
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
    assert.equal(await isOnline('sw-ann'), false);
    assert.equal((await onlineUsers()).includes('sw-ann'), false);
    assert.equal(await presenceIdsOf(runtime, 'sw-ann'), undefined);
    // The watcher's own connection answered GetConnection and was left alone.
    assert.equal(await isOnline(watcher.userId), true);
    // What $disconnect would have published, the sweep did.
    const closedEvents = await pollUntil(
      async () => receiver.about('connection.closed', 'connection_id', ann.connectionId),
      (found) => found.length > 0,
      'connection.closed for the dropped connection',
    );
    assert.equal(closedEvents[0]?.detail.user_id, 'sw-ann');
    const offlineEvents = await pollUntil(
      async () =>
        receiver.about('presence.changed', 'user_id', 'sw-ann').filter((e) => e.detail.status === 'offline'),
      (found) => found.length > 0,
      'presence.changed offline for sw-ann',
    );
    assert.equal(offlineEvents.length, 1);

    const again = await connectWelcomed(runtime, 'sw-ann');
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'sw-ann' && p.status === 'online');
    assert.deepEqual(await onlineCount(runtime), before);
    const sent = await sendCommand(again.client, 'send_message', {
      to_user_id: watcher.userId,
      content: 'back',
    });
    assert.equal(sent.code, 0);
    await nextPush(watcher.client, 'new_message', (data) => data.content === 'back');
    await again.client.close();
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'sw-ann' && p.status === 'offline');
    assert.equal(await watcherHeard('sw-ann', 'offline'), 2, 'one offline per time ann went away');
  });

  test('a sweep racing real $disconnects decrements each connection once', async () => {
    const users = ['sw-r1', 'sw-r2', 'sw-r3', 'sw-r4'];
    const connections = await Promise.all(users.map((userId) => connectedPeer(userId)));
    const before = await onlineCount(runtime);

    // The closes run $disconnect while the sweep finds the same connections gone (410).
    const closing = connections.map((connection) => connection.client.close());
    const sweeps = [runtime.sweepConnections(), runtime.sweepConnections()];
    await Promise.all([...closing, ...sweeps]);
    for (const userId of users) {
      await pollUntil(
        () => presenceIdsOf(runtime, userId),
        (ids) => ids === undefined,
        `${userId} out of presence`,
      );
    }
    for (const userId of users) {
      await nextPush(watcher.client, 'presence', (p) => p.user_id === userId && p.status === 'offline');
    }
    await runtime.sweepConnections();
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - users.length,
      connections: before.connections - users.length,
    });
    for (const userId of users) assert.equal(await watcherHeard(userId, 'offline'), 1, userId);
  });

  test('two sweeps at once remove a dropped connection once', async () => {
    const bea = await connectedPeer('sw-bea');
    const before = await onlineCount(runtime);
    assert.equal(runtime.dropWithoutDisconnect(bea.connectionId), true);
    await bea.client.waitForClose();

    await Promise.all([runtime.sweepConnections(), runtime.sweepConnections()]);
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'sw-bea' && p.status === 'offline');
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
    assert.equal(await watcherHeard('sw-bea', 'offline'), 1);
  });

  test('of a user with two devices, the dropped one goes quietly; the user stays online', async () => {
    const phone = await connectedPeer('sw-duo');
    const laptop = await connectWelcomed(runtime, 'sw-duo');
    const before = await onlineCount(runtime);
    assert.equal(runtime.dropWithoutDisconnect(phone.connectionId), true);
    await phone.client.waitForClose();

    await runtime.sweepConnections();
    assert.deepEqual(await presenceIdsOf(runtime, 'sw-duo'), [laptop.connectionId]);
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count,
      connections: before.connections - 1,
    });
    assert.equal(await isOnline('sw-duo'), true);
    assert.equal(await watcherHeard('sw-duo', 'offline'), 0);
    await laptop.client.close();
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'sw-duo' && p.status === 'offline');
  });

  test('a connection younger than the handshake window is kept (its 410 may be a $connect still running), and swept once older', async () => {
    const cal = await connectedPeer('sw-cal', false);
    assert.equal(runtime.dropWithoutDisconnect(cal.connectionId), true);
    await cal.client.waitForClose();

    await runtime.sweepConnections();
    assert.deepEqual(await presenceIdsOf(runtime, 'sw-cal'), [cal.connectionId]);
    assert.equal(await watcherHeard('sw-cal', 'offline'), 0);

    await backdateConnection(runtime, cal.connectionId);
    await runtime.sweepConnections();
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'sw-cal' && p.status === 'offline');
    assert.equal(await presenceIdsOf(runtime, 'sw-cal'), undefined);
  });
});
