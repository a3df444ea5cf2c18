/**
 * State over time: connections whose `$disconnect` never came are cleaned up by the
 * first delivery that meets their 410, and messages and groups survive a restart of the
 * local runtime on the same data directory while connections do not.
 * Run: npx tsx --test test/e2e/cleanup-and-persistence.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ConnectionRecord } from '../../functions/core/shared/ports.ts';
import { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, connectWelcomed, nextPush, sendCommand } from '../support/chat.ts';
import { getApi, historyMessages, onlineCount, pollUntil } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

let dataDir: string;
let runtime: LocalRuntime;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'chat-e2e-'));
  runtime = await startTestRuntime({ dataDir });
});
after(async () => {
  await runtime.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('connections whose $disconnect never came', () => {
  let tables: RuntimeTables;
  let connectionStore: DynamoConnectionStore;
  let presenceStore: DynamoPresenceStore;
  before(() => {
    tables = runtimeTables(runtime);
    connectionStore = new DynamoConnectionStore(tables.client, tables.names.connections);
    presenceStore = new DynamoPresenceStore(tables.client, tables.names.presence);
  });
  after(() => tables.destroy());

  /** What `$connect` writes for a connection, for an id the gateway does not know (410). */
  async function registerStaleConnection(
    userId: string,
    connectionId: string,
    options: { withRow: boolean },
  ) {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + 7800;
    if (options.withRow) {
      await connectionStore.put({
        connectionId,
        userId,
        roles: [],
        // Connected long ago: a 410 from a connection still in its handshake window is kept.
        connectedAt: new Date(Date.now() - 3_600_000).toISOString(),
        expiresAt,
        tokenExpiresAt: now + 3600,
      });
    }
    await presenceStore.addConnection(userId, connectionId, expiresAt);
  }

  test('a private message to the user reaches the live device; the stale row and presence entry go', async () => {
    const live = await connectWelcomed(runtime, 'stale-owner');
    const sender = await connectWelcomed(runtime, 'stale-sender');
    const staleId = 'staleConnection=';
    await registerStaleConnection('stale-owner', staleId, { withRow: true });
    assert.deepEqual(await tables.presenceOf('stale-owner'), [live.connectionId, staleId].sort());
    const senderRow = await tables.connectionRow(sender.connectionId);
    assert.ok(senderRow, 'the sender has a connection row');
    const countBefore = await onlineCount(runtime);

    const reply = await sendCommand(sender.client, 'send_message', {
      to_user_id: 'stale-owner',
      content: 'still there?',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.delivered, 1, 'only the live connection accepted the push');
    const push = await nextPush(live.client, 'new_message');
    assert.equal(push.message_id, reply.data?.message_id);

    // The reply comes after the 410s went to the sweep function, which closes them.
    await pollUntil(
      () => tables.presenceOf('stale-owner'),
      (ids) => JSON.stringify(ids) === JSON.stringify([live.connectionId]),
      'the stale presence entry removed',
    );
    assert.equal(await tables.connectionRow(staleId), undefined, 'the stale row is deleted');
    assert.deepEqual(
      await tables.connectionRow(sender.connectionId),
      senderRow,
      'the sender’s row is untouched',
    );
    assert.equal(
      (await tables.connectionRow(live.connectionId))?.userId,
      'stale-owner',
      'the live row stays',
    );
    assert.deepEqual(await onlineCount(runtime), {
      count: countBefore.count,
      connections: countBefore.connections - 1,
    });
  });

  test('a group message cleans a presence entry whose row already expired away', async () => {
    const member = await connectWelcomed(runtime, 'expired-member');
    const poster = await connectWelcomed(runtime, 'poster');
    const created = await sendCommand(poster.client, 'create_group', {
      group_name: 'Stale check',
      member_ids: ['expired-member'],
    });
    const staleId = 'expiredRowConnA=';
    await registerStaleConnection('expired-member', staleId, { withRow: false });
    const countBefore = await onlineCount(runtime);

    const reply = await sendCommand(poster.client, 'send_group_message', {
      group_id: created.data?.group_id,
      content: 'hello group',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 1);
    assert.equal((await nextPush(member.client, 'group_message')).message_id, reply.data?.message_id);
    await pollUntil(
      () => tables.presenceOf('expired-member'),
      (ids) => JSON.stringify(ids) === JSON.stringify([member.connectionId]),
      'the stale presence entry removed',
    );
    assert.deepEqual(await onlineCount(runtime), {
      count: countBefore.count,
      connections: countBefore.connections - 1,
    });
  });

  test('a user whose only connection is stale goes offline at the first delivery', async () => {
    const sender = await connectWelcomed(runtime, 'gone-sender');
    const staleId = 'onlyStaleConnAB=';
    await registerStaleConnection('gone-user', staleId, { withRow: true });
    const countBefore = await onlineCount(runtime);
    const readerToken = await tokenFor(runtime, 'gone-sender');
    const check = () => getApi(runtime, '/api/ws/online/check?user_id=gone-user', readerToken);
    assert.equal((await check()).body.data?.is_online, true, 'presence still claims the user');

    const reply = await sendCommand(sender.client, 'send_message', {
      to_user_id: 'gone-user',
      content: 'hello?',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.delivered, 0);

    await pollUntil(
      () => tables.presenceOf('gone-user'),
      (ids) => ids === undefined,
      'the presence record gone',
    );
    assert.equal(await tables.connectionRow(staleId), undefined);
    assert.equal((await check()).body.data?.is_online, false);
    assert.deepEqual(await onlineCount(runtime), {
      count: countBefore.count - 1,
      connections: countBefore.connections - 1,
    });
  });

  test('deliveries that meet the same stale connection at once remove it once', async () => {
    const live = await connectWelcomed(runtime, 'raced-owner');
    const senders = await Promise.all(
      ['race-1', 'race-2', 'race-3'].map((id) => connectWelcomed(runtime, id)),
    );
    await registerStaleConnection('raced-owner', 'racedStaleConnA=', { withRow: true });
    const countBefore = await onlineCount(runtime);

    const replies = await Promise.all(
      senders.map((sender) =>
        sendCommand(sender.client, 'send_message', { to_user_id: 'raced-owner', content: 'at once' }),
      ),
    );
    assert.deepEqual(
      replies.map((reply) => reply.data?.delivered),
      [1, 1, 1],
    );
    for (const _ of replies) await nextPush(live.client, 'new_message');
    await pollUntil(
      () => tables.presenceOf('raced-owner'),
      (ids) => JSON.stringify(ids) === JSON.stringify([live.connectionId]),
      'the stale presence entry removed',
    );
    assert.deepEqual(await onlineCount(runtime), {
      count: countBefore.count,
      connections: countBefore.connections - 1,
    });
  });

  test('a connection whose row expired is answered 1401 by commands that need the row, until it reconnects', async () => {
    const expiring = await connectWelcomed(runtime, 'expiring');
    const row = await tables.connectionRow(expiring.connectionId);
    assert.ok(row);
    // What the TTL leaves behind: a row past its expiresAt, not yet deleted by DynamoDB.
    // (On AWS a live connection never gets here: rows outlive API Gateway's 2 h limit.)
    await connectionStore.put({
      ...(row as unknown as ConnectionRecord),
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    });

    // The room commands work on the connection's row (its rooms).
    const reply = await sendCommand(expiring.client, 'join_room', { room_id: 'expired-row-room' });
    assertErrorReply(reply, 1401);
    // Who sends comes from the $connect authorizer's context, not from the row: no read.
    assert.equal(
      (await sendCommand(expiring.client, 'send_message', { to_user_id: 'anyone', content: 'hi' })).code,
      0,
    );
    const again = await connectWelcomed(runtime, 'expiring');
    assert.equal((await sendCommand(again.client, 'join_room', { room_id: 'expired-row-room' })).code, 0);
  });
});

describe('restart on the same data directory', () => {
  test('history and groups survive; connections are closed and the online count is back to 0', async () => {
    const alice = await connectWelcomed(runtime, 'restart-alice');
    const bob = await connectWelcomed(runtime, 'restart-bob');
    const created = await sendCommand(alice.client, 'create_group', {
      group_name: 'Survivors',
      member_ids: ['restart-bob'],
    });
    const groupId = String(created.data?.group_id);
    const privateSent = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'restart-bob',
      content: 'before the restart',
    });
    const groupSent = await sendCommand(alice.client, 'send_group_message', {
      group_id: groupId,
      content: 'group, before the restart',
    });
    assert.deepEqual([created.code, privateSent.code, groupSent.code], [0, 0, 0]);

    const port = runtime.port;
    await runtime.stop();
    assert.equal((await alice.client.waitForClose()).code, 1001);
    assert.equal((await bob.client.waitForClose()).code, 1001);

    runtime = await startTestRuntime({ dataDir });
    assert.equal(runtime.port, port);
    assert.deepEqual(await onlineCount(runtime), { count: 0, connections: 0 });

    const bobToken = await tokenFor(runtime, 'restart-bob');
    const privateHistory = await historyMessages(runtime, bobToken, 'private_restart-alice_restart-bob');
    assert.deepEqual(
      privateHistory.map((m) => [m.message_id, m.content]),
      [[privateSent.data?.message_id, 'before the restart']],
    );
    const groupHistory = await historyMessages(runtime, bobToken, groupId);
    assert.deepEqual(
      groupHistory.map((m) => [m.message_id, m.content]),
      [[groupSent.data?.message_id, 'group, before the restart']],
    );

    const aliceAgain = await connectWelcomed(runtime, 'restart-alice');
    const bobAgain = await connectWelcomed(runtime, 'restart-bob');
    const reply = await sendCommand(aliceAgain.client, 'send_group_message', {
      group_id: groupId,
      content: 'group, after the restart',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 1);
    const push = await nextPush(bobAgain.client, 'group_message');
    assert.equal(push.group_name, 'Survivors');
    assert.equal(push.content, 'group, after the restart');
  });
});
