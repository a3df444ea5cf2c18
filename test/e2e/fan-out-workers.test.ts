/**
 * Large audiences through the local runtime with real sockets: with a fan-out worker
 * threshold of 3 connections, chunks of 2 and 3,200 posts/s (two lanes), broadcasts,
 * group messages and room
 * messages are handed to the `fanOutWorker` function through the runtime's Lambda Invoke
 * API (`InvocationType: Event`), exactly the path Lambda takes in AWS. Every connection
 * gets each push once, the sender's reply says what was `queued`, and a 410 met inside
 * a worker's chunk removes that connection.
 * Run: npx tsx --test test/e2e/fan-out-workers.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { onlineSessionToken } from '../../functions/core/groups/online-members.ts';
import { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import { DynamoOnlineGroupMarks } from '../../functions/stores/online-groups.ts';
import { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  withMessageId,
} from '../support/chat.ts';
import { onlineCount, pollUntil, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const THRESHOLD = 3;
const CHUNK_SIZE = 2;
/**
 * ⌊3,200 / 1,600⌋: workers at once, each 32 posts in flight (fan-out-dispatch.ts `laneCount`).
 * Above the default 3,000 (one lane), so that the shards are dealt to more than one lane here.
 */
const RATE_PER_SECOND = 3_200;
const LANES = 2;

let runtime: LocalRuntime;
let tables: RuntimeTables;
const logLines: string[] = [];

before(async () => {
  runtime = await startTestRuntime({
    env: {
      FANOUT_WORKER_THRESHOLD: String(THRESHOLD),
      FANOUT_CHUNK_SIZE: String(CHUNK_SIZE),
      FANOUT_RATE_PER_SECOND: String(RATE_PER_SECOND),
    },
    log: (line) => logLines.push(line),
  });
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

/** Worker invocations that finished (ok or failed) so far, from the runtime's Lambda log. */
function workerRuns(outcome: 'ok' | 'failed' = 'ok'): number {
  // e.g. `λ chat-local-fanOutWorker (async, attempt 1/1) ok 12ms`
  const finished = new RegExp(`chat-local-fanOutWorker \\(async[^)]*\\) ${outcome}\\b`);
  return logLines.filter((line) => finished.test(line)).length;
}

/** Waits until `count` more worker invocations than `before` have finished, then a barrier per client. */
async function workersDone(before: number, count: number, clients: readonly ChatConnection[]): Promise<void> {
  await pollUntil(
    async () => workerRuns(),
    (runs) => runs >= before + count,
    `${count} fan-out worker invocations to finish`,
  );
  await Promise.all(clients.map((c) => settle(c.client)));
  assert.equal(workerRuns('failed'), 0, 'no worker invocation failed');
}

describe('fan-out workers (threshold 3, chunks of 2)', () => {
  const users: ChatConnection[] = [];
  let admin: ChatConnection;

  before(async () => {
    admin = await connectWelcomed(runtime, 'fw-admin', { role: 'admin' });
    for (const userId of ['fw-1', 'fw-2', 'fw-3']) users.push(await connectWelcomed(runtime, userId));
    // A second device of fw-1.
    users.push(await connectWelcomed(runtime, 'fw-1'));
  });

  test('a broadcast above the threshold is queued to one worker per lane (its shards in turn) and reaches every connection once', async () => {
    const everyone = [admin, ...users];
    const { connections } = await onlineCount(runtime);
    assert.equal(connections, everyone.length);
    const runsBefore = workerRuns();

    const reply = await sendCommand(admin.client, 'broadcast', { message: 'to the many' }, 'big-b');
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.data, {
      type: 'broadcast_sent',
      sent_count: 0,
      failed: 0,
      queued: everyone.length,
    });

    for (const connection of everyone) {
      const push = await nextPush(connection.client, 'broadcast');
      assert.equal(push.message, 'to the many');
      assert.equal(push.from_user_id, 'fw-admin');
    }
    await workersDone(runsBefore, LANES, everyone);
    for (const connection of everyone) {
      assert.equal(
        pushesOf(connection.client, 'broadcast').filter((p) => p.message === 'to the many').length,
        1,
        `${connection.userId} got it once`,
      );
    }
  });

  test('the HTTP broadcast says `queued` as well', async () => {
    const everyone = [admin, ...users];
    const runsBefore = workerRuns();
    const token = await tokenFor(runtime, 'fw-admin', { role: 'admin' });
    const { status, body } = await postApi(runtime, '/api/ws/broadcast', { message: 'over http' }, token);
    assert.equal(status, 200);
    assert.deepEqual(body.data, { recipients: 0, queued: everyone.length });
    for (const connection of everyone)
      await nextPush(connection.client, 'broadcast', (p) => p.message === 'over http');
    await workersDone(runsBefore, LANES, everyone);
    for (const connection of everyone) {
      assert.equal(
        pushesOf(connection.client, 'broadcast').filter((p) => p.message === 'over http').length,
        1,
      );
    }
  });

  test('a group message above the threshold goes to workers in chunks; every other connection gets it once', async () => {
    const created = await sendCommand(admin.client, 'create_group', {
      group_name: 'Many',
      member_ids: ['fw-1', 'fw-2', 'fw-3'],
    });
    const groupId = created.data?.group_id;
    const runsBefore = workerRuns();

    const reply = await sendCommand(admin.client, 'send_group_message', {
      group_id: groupId,
      content: 'hello many',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 0);
    assert.equal(reply.data?.failed, 0);
    assert.equal(reply.data?.queued, users.length);

    const messageId = reply.data?.message_id;
    for (const connection of users) {
      const push = await nextPush(connection.client, 'group_message', withMessageId(messageId));
      assert.equal(push.content, 'hello many');
    }
    await workersDone(runsBefore, Math.ceil(users.length / CHUNK_SIZE), [admin, ...users]);
    for (const connection of users) {
      assert.equal(pushesOf(connection.client, 'group_message').filter(withMessageId(messageId)).length, 1);
    }
    assert.equal(pushesOf(admin.client, 'group_message').length, 0, 'not to the sender');
  });

  test('a 410 met inside a worker chunk removes that connection', async () => {
    const created = await sendCommand(admin.client, 'create_group', {
      group_name: 'With a ghost',
      member_ids: ['fw-1', 'fw-2', 'fw-ghost'],
    });
    // A connection whose $disconnect never came: its row, presence entry and online marks
    // (as its $connect left them), no socket.
    const ghostId = 'ghostConnection=';
    const now = Math.floor(Date.now() / 1000);
    await new DynamoConnectionStore(tables.client, tables.names.connections).put({
      connectionId: ghostId,
      userId: 'fw-ghost',
      roles: [],
      connectedAt: new Date(Date.now() - 3_600_000).toISOString(),
      expiresAt: now + 7800,
      tokenExpiresAt: now + 3600,
    });
    const presence = new DynamoPresenceStore(tables.client, tables.names.presence);
    await presence.addConnection('fw-ghost', ghostId, now + 7800);
    const token = onlineSessionToken(new Date().toISOString(), ghostId);
    assert.ok(await presence.claimOnlineSession('fw-ghost', token));
    await new DynamoOnlineGroupMarks(tables.client, tables.names.groups).markAll('fw-ghost', token);
    const runsBefore = workerRuns();

    const reply = await sendCommand(admin.client, 'send_group_message', {
      group_id: created.data?.group_id,
      content: 'anyone there?',
    });
    // fw-1 (two devices), fw-2 and the ghost: 4 connections, above the threshold.
    assert.equal(reply.data?.queued, 4);
    await workersDone(runsBefore, 2, [admin, ...users]);
    await pollUntil(
      () => tables.connectionRow(ghostId),
      (row) => row === undefined,
      'the worker to delete the gone connection’s row',
    );
    // The close is handed to the sweep function, which removes the row before the presence entry.
    await pollUntil(
      () => tables.presenceOf('fw-ghost'),
      (entry) => entry === undefined,
      'its presence entry to be gone too',
    );
    const messageId = reply.data?.message_id;
    for (const connection of users.filter((c) => c.userId !== 'fw-3')) {
      assert.equal(pushesOf(connection.client, 'group_message').filter(withMessageId(messageId)).length, 1);
    }
  });

  test('a room message above the threshold reaches the room once per connection', async () => {
    const members = [admin, ...users];
    for (const connection of members) {
      const joined = await sendCommand(connection.client, 'join_room', { room_id: 'fw-hall' });
      assert.equal(joined.code, 0);
    }
    const runsBefore = workerRuns();
    const reply = await sendCommand(admin.client, 'send_room_message', {
      room_id: 'fw-hall',
      content: 'hall call',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 0);
    assert.equal(reply.data?.queued, users.length);
    await workersDone(runsBefore, Math.ceil(users.length / CHUNK_SIZE), members);
    for (const connection of users) {
      assert.equal(
        pushesOf(connection.client, 'room_message').filter(withMessageId(reply.data?.message_id)).length,
        1,
      );
    }
  });
});
