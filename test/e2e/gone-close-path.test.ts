/**
 * A post that answers 410 (the connection was dropped without `$disconnect`) closes the
 * connection through the same path as `$disconnect` and the sweep: the sender's function
 * hands it to the sweep function, which checks it (GetConnection) and closes it; the
 * counters drop once, the user's peers hear `offline`, the online marks of the session
 * are cleared and `connection.closed` is published once, whatever comes later (a late
 * real `$disconnect`, a sweep). Real sockets on the local runtime, whose Management API
 * answers 410 for a gone connection as AWS does. Waits end on frames or state, never on sleeps.
 * Run: npx tsx --test test/e2e/gone-close-path.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { localFunctionName } from '../../local/functions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { onlineCount, pollUntil } from '../support/http.ts';
import { lambdaClient, startTestRuntime } from '../support/local-runtime.ts';
import { backdateConnection, runtimeTables } from '../support/runtime-tables.ts';
import { type EventCollector, startEventCollector } from '../support/webhook-receiver.ts';

let runtime: LocalRuntime;
/** Every user below writes to the watcher first, so it is their presence peer. */
let watcher: ChatConnection;
/** The application events the runtime POSTed to EVENTS_WEBHOOK_URL. */
let receiver: EventCollector;

before(async () => {
  receiver = await startEventCollector();
  // No scheduled sweep: only the 410 (or an explicit sweep) may close anything here.
  runtime = await startTestRuntime({
    env: { EVENTS_WEBHOOK_URL: receiver.url },
    sweepIntervalSeconds: 0,
  });
  watcher = await connectWelcomed(runtime, 'gc-watcher');
});
after(async () => {
  await runtime.stop();
  await receiver.close();
});

/**
 * Connects `userId`, makes the watcher their peer, and backdates the connection past the
 * 30 s handshake window (inside it a 410 may mean `$connect` is still running, and the
 * connection is kept).
 */
async function connectedPeer(userId: string): Promise<ChatConnection> {
  const connection = await connectWelcomed(runtime, userId);
  const sent = await sendCommand(connection.client, 'send_message', {
    to_user_id: watcher.userId,
    content: `hello from ${userId}`,
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  await nextPush(watcher.client, 'new_message', (data) => data.from_user_id === userId);
  await backdateConnection(runtime, connection.connectionId);
  return connection;
}

async function onlineMark(groupId: string, userId: string): Promise<unknown> {
  const tables = runtimeTables(runtime);
  try {
    const { Item } = await tables.client.send(
      new GetCommand({
        TableName: tables.names.groups,
        Key: { groupId, sk: `member#${userId}` },
        ConsistentRead: true,
      }),
    );
    return Item?.onlineGroupId;
  } finally {
    tables.destroy();
  }
}

const closedEvents = (connectionId: string) =>
  receiver.about('connection.closed', 'connection_id', connectionId);

async function offlinePushes(userId: string): Promise<number> {
  await settle(watcher.client);
  return pushesOf(watcher.client, 'presence').filter((p) => p.user_id === userId && p.status === 'offline')
    .length;
}

/** The `$disconnect` API Gateway may still deliver late, with the `$connect` authorizer's context. */
async function lateDisconnect(connectionId: string, userId: string): Promise<void> {
  const lambda = lambdaClient(runtime);
  try {
    const event = {
      requestContext: {
        routeKey: '$disconnect',
        eventType: 'DISCONNECT',
        connectionId,
        domainName: '127.0.0.1',
        stage: runtime.stage,
        disconnectStatusCode: 1006,
        authorizer: {
          userId,
          principalId: userId,
          roles: '[]',
          tokenExpiresAt: String(Math.floor(Date.now() / 1000) + 3600),
        },
      },
      isBase64Encoded: false,
    };
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: localFunctionName('disconnect'), Payload: JSON.stringify(event) }),
    );
    assert.equal(answer.FunctionError, undefined);
  } finally {
    lambda.destroy();
  }
}

describe('a 410 closes the connection as $disconnect would', () => {
  test('a message to a dropped connection: offline to peers, counters once, marks cleared, connection.closed once; a late $disconnect and a sweep change nothing', async () => {
    const ann = await connectedPeer('gc-ann');
    const created = await sendCommand(ann.client, 'create_group', {
      group_name: 'gc-group',
      member_ids: ['gc-bob'],
    });
    assert.equal(created.code, 0, JSON.stringify(created));
    const groupId = String(created.data?.group_id);
    assert.equal(await onlineMark(groupId, 'gc-ann'), groupId, 'marked while online');
    const before = await onlineCount(runtime);

    assert.equal(runtime.dropWithoutDisconnect(ann.connectionId), true);
    await ann.client.waitForClose();
    // The watcher writes to ann: the post answers 410.
    const sent = await sendCommand(watcher.client, 'send_message', {
      to_user_id: 'gc-ann',
      content: 'there?',
    });
    assert.equal(sent.code, 0, JSON.stringify(sent));

    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'gc-ann' && p.status === 'offline');
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
    await pollUntil(
      () => onlineMark(groupId, 'gc-ann'),
      (mark) => mark === undefined,
      "ann's online mark cleared",
    );
    await pollUntil(
      async () => closedEvents(ann.connectionId),
      (found) => found.length > 0,
      'connection.closed for the dropped connection',
    );

    await lateDisconnect(ann.connectionId, 'gc-ann');
    await runtime.sweepConnections();
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count - 1,
      connections: before.connections - 1,
    });
    assert.equal(await offlinePushes('gc-ann'), 1);
    assert.equal(closedEvents(ann.connectionId).length, 1);
  });

  test('one of two devices answers 410: the user stays online, no offline, the other device still gets messages', async () => {
    const phone = await connectedPeer('gc-duo');
    const laptop = await connectWelcomed(runtime, 'gc-duo');
    const before = await onlineCount(runtime);
    assert.equal(runtime.dropWithoutDisconnect(phone.connectionId), true);
    await phone.client.waitForClose();

    const sent = await sendCommand(watcher.client, 'send_message', { to_user_id: 'gc-duo', content: 'one' });
    assert.equal(sent.code, 0);
    await nextPush(laptop.client, 'new_message', (data) => data.content === 'one');
    await pollUntil(
      async () => closedEvents(phone.connectionId),
      (found) => found.length > 0,
      'connection.closed for the phone',
    );
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count,
      connections: before.connections - 1,
    });
    assert.equal(await offlinePushes('gc-duo'), 0);
    await laptop.client.close();
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'gc-duo' && p.status === 'offline');
  });
});

describe('connection.closed once per connection', () => {
  test('the sweep closed it; the late $disconnect publishes nothing more', async () => {
    const cy = await connectedPeer('gc-cy');
    assert.equal(runtime.dropWithoutDisconnect(cy.connectionId), true);
    await cy.client.waitForClose();
    await runtime.sweepConnections();
    await nextPush(watcher.client, 'presence', (p) => p.user_id === 'gc-cy' && p.status === 'offline');
    assert.equal(closedEvents(cy.connectionId).length, 1);
    await lateDisconnect(cy.connectionId, 'gc-cy');
    assert.equal(closedEvents(cy.connectionId).length, 1);
    assert.equal(await offlinePushes('gc-cy'), 1);
  });
});
