/**
 * The pushes that follow a connect meet a 410 too: the welcome (the `welcome` function) and
 * the `online` presence push to the user's peers (`$connect`). Either hands the gone
 * connection to the sweep function, which closes it as `$disconnect` would: its row and
 * presence entry go, the counters drop once, its user's peers hear `offline`, and
 * `connection.closed` is published once. Real sockets on the local runtime; the client
 * vanishes as the post arrives (a `postDrops` fault: a real 410, GetConnection 410 after
 * it), never by a timed race. Waits end on frames or state, never on sleeps.
 * Run: npx tsx --test test/e2e/gone-close-path-welcome.test.ts
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { WelcomeRequest } from '../../functions/handlers/welcome.ts';
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
import { DEFAULT_WAIT_MS, lambdaClient, startTestRuntime, TestClient } from '../support/local-runtime.ts';
import { backdateConnection, presenceIdsOf, runtimeTables } from '../support/runtime-tables.ts';
import { type EventCollector, startEventCollector } from '../support/webhook-receiver.ts';

let runtime: LocalRuntime;
/** Every dropped user below wrote to the watcher first, so the watcher is their presence peer. */
let watcher: ChatConnection;
/** The application events the runtime POSTed to EVENTS_WEBHOOK_URL. */
let receiver: EventCollector;

before(async () => {
  receiver = await startEventCollector();
  runtime = await startTestRuntime({
    env: { EVENTS_WEBHOOK_URL: receiver.url },
    // No scheduled sweep: only the hand-off of the 410 may close anything here.
    sweepIntervalSeconds: 0,
    // A welcome event whose every attempt fails reaches the dead-letter queue at once.
    asyncInvocation: { retryDelaysMs: [0, 0] },
  });
  watcher = await connectWelcomed(runtime, 'gcw-watcher');
});
afterEach(() => {
  runtime.faults.configure({ postRate: 0, postTargets: undefined, postDrops: undefined });
});
after(async () => {
  await runtime.stop();
  await receiver.close();
});

const closedEvents = (connectionId: string) =>
  receiver.about('connection.closed', 'connection_id', connectionId);

async function connectionRow(connectionId: string): Promise<unknown> {
  const tables = runtimeTables(runtime);
  try {
    return await tables.connectionRow(connectionId);
  } finally {
    tables.destroy();
  }
}

/** `userId` writes to the watcher, so the watcher hears their presence. */
async function writeToWatcher(client: TestClient, userId: string): Promise<void> {
  const sent = await sendCommand(client, 'send_message', {
    to_user_id: watcher.userId,
    content: `hello from ${userId}`,
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  await nextPush(watcher.client, 'new_message', (data) => data.from_user_id === userId);
}

/**
 * What a user checks after a connection closed without its `$disconnect`: the watcher hears
 * `offline` once, the row and the presence entry are gone, the counters dropped by one, and
 * `connection.closed` was published once — also after a sweep run found nothing more to do.
 */
async function assertClosedAsDisconnect(
  userId: string,
  connectionId: string,
  before: { count: number; connections: number },
): Promise<void> {
  await nextPush(watcher.client, 'presence', (p) => p.user_id === userId && p.status === 'offline');
  await pollUntil(
    () => connectionRow(connectionId),
    (row) => row === undefined,
    'the row deleted',
  );
  await pollUntil(
    () => presenceIdsOf(runtime, userId),
    (ids) => ids === undefined,
    'the presence entry gone',
  );
  await pollUntil(
    async () => closedEvents(connectionId),
    (found) => found.length > 0,
    'connection.closed for the dropped connection',
  );
  assert.deepEqual(await onlineCount(runtime), {
    count: before.count - 1,
    connections: before.connections - 1,
  });

  const report = await runtime.sweepConnections();
  assert.equal(report.removed, 0, 'the sweep found nothing left to close');
  await settle(watcher.client);
  const offline = pushesOf(watcher.client, 'presence').filter(
    (p) => p.user_id === userId && p.status === 'offline',
  );
  assert.equal(offline.length, 1, 'offline once');
  assert.equal(closedEvents(connectionId).length, 1, 'connection.closed once');
  assert.deepEqual(await onlineCount(runtime), {
    count: before.count - 1,
    connections: before.connections - 1,
  });
}

describe('a 410 on the pushes that follow a connect closes the connection as $disconnect would', () => {
  test('the welcome: the client vanishes as the welcome arrives', async () => {
    // The welcome is held back: its event fails every attempt and waits in the dead-letter
    // queue, so the scene is set before it runs (redriven below, as an operator would).
    runtime.faults.configure({ asyncInvocationFault: { functionId: 'welcome', phase: 'before', count: 3 } });
    const client = await TestClient.connectAs(runtime, 'gcw-ann');
    const failed = await runtime.asyncFailures.waitFor(
      (event) => (event.requestPayload as Partial<WelcomeRequest>).userId === 'gcw-ann',
      DEFAULT_WAIT_MS,
    );
    const request = failed.requestPayload as WelcomeRequest;
    await writeToWatcher(client, 'gcw-ann');
    // Past the 30 s handshake window, inside which a 410 may mean `$connect` is still
    // running and the connection is kept.
    await backdateConnection(runtime, request.connectionId);
    const before = await onlineCount(runtime);

    // The welcome's first two posts answer 410 while the connection is open (a transient
    // 410 it retries); the third finds the client gone.
    runtime.faults.configure({
      postRate: 1,
      postStatuses: [410],
      postMaxConsecutive: 2,
      postTargets: new Set([request.connectionId]),
      postDrops: new Set([request.connectionId]),
    });
    const lambda = lambdaClient(runtime);
    try {
      const answer = await lambda.send(
        new InvokeCommand({ FunctionName: localFunctionName('welcome'), Payload: JSON.stringify(request) }),
      );
      assert.equal(answer.FunctionError, undefined);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(answer.Payload)), { delivered: false });
    } finally {
      lambda.destroy();
    }
    await client.waitForClose();
    assert.equal(pushesOf(client, 'welcome').length, 0, 'no welcome reached the client');

    await assertClosedAsDisconnect('gcw-ann', request.connectionId, before);
  });

  test("the online presence push to a peer: the peer's client vanished before the user connected", async () => {
    const bo = await connectWelcomed(runtime, 'gcw-bo');
    await writeToWatcher(bo.client, 'gcw-bo');
    // cy writes to bo, so bo is cy's presence peer: told when cy comes online.
    const cy = await connectWelcomed(runtime, 'gcw-cy');
    const sent = await sendCommand(cy.client, 'send_message', { to_user_id: 'gcw-bo', content: 'hi bo' });
    assert.equal(sent.code, 0, JSON.stringify(sent));
    await nextPush(bo.client, 'new_message', (data) => data.from_user_id === 'gcw-cy');
    await cy.client.close();
    await nextPush(bo.client, 'presence', (p) => p.user_id === 'gcw-cy' && p.status === 'offline');
    await backdateConnection(runtime, bo.connectionId);
    const before = await onlineCount(runtime);

    // bo's client vanishes without `$disconnect`; cy's reconnect pushes `online` to it.
    assert.equal(runtime.dropWithoutDisconnect(bo.connectionId), true);
    await bo.client.waitForClose();
    const cyAgain = await connectWelcomed(runtime, 'gcw-cy');

    await assertClosedAsDisconnect('gcw-bo', bo.connectionId, {
      count: before.count + 1,
      connections: before.connections + 1,
    });
    await cyAgain.client.close();
  });
});
