/**
 * ChatClient connection lifecycle on a fake WebSocket and a fake clock: authentication
 * modes, full-jitter backoff (capped, reset after a stable connection), and the cases
 * that must NOT reconnect (close(), kicked, a 401 that persists, 403).
 * Run: npx tsx --test test/unit/client-reconnect.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { ChatClient } from '../../client/src/client.ts';
import { ChatClosedError, ChatConnectTimeoutError, ChatHandshakeError } from '../../client/src/errors.ts';
import {
  connected,
  type FakeTimers,
  FakeWebSocket,
  fakeClient,
  flush,
  record,
} from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

/** Advances to just before and just after `delay`: proves the reconnect waits exactly that long. */
async function expectReconnectAfter(timers: FakeTimers, delay: number): Promise<FakeWebSocket> {
  const before = FakeWebSocket.instances.length;
  if (delay > 0) {
    await timers.advance(delay - 1);
    assert.equal(FakeWebSocket.instances.length, before, `no new socket before ${delay} ms`);
  }
  await timers.advance(1);
  assert.equal(FakeWebSocket.instances.length, before + 1, `a new socket after ${delay} ms`);
  return FakeWebSocket.last;
}

describe('authentication', () => {
  test('subprotocol mode (default) offers chat and bearer.<jwt> and keeps the token out of the URL', async () => {
    const { client, ws } = await connected({ url: 'wss://api.example/prod' });
    assert.equal(ws.url, 'wss://api.example/prod');
    assert.deepEqual(ws.protocols, ['chat', 'bearer.token-1']);
    assert.equal(client.userId, 'alice');
    assert.equal(client.connectionId, 'conn-1');
    client.close();
  });

  test('query mode puts the token in ?token= and offers no subprotocol', async () => {
    const { client, ws } = await connected({ url: 'ws://localhost:8009/ws/chat?x=1', auth: 'query' });
    const url = new URL(ws.url);
    assert.equal(url.pathname, '/ws/chat');
    assert.equal(url.searchParams.get('x'), '1');
    assert.equal(url.searchParams.get('token'), 'token-1');
    assert.equal(ws.protocols, undefined);
    client.close();
  });

  test('a token function is called for every connection', async () => {
    let issued = 0;
    const { client, timers, ws } = await connected({ token: async () => `fresh-${++issued}` });
    assert.deepEqual(ws.protocols, ['chat', 'bearer.fresh-1']);
    ws.drop();
    const next = await expectReconnectAfter(timers, 250);
    assert.deepEqual(next.protocols, ['chat', 'bearer.fresh-2']);
    client.close();
  });
});

describe('connect() and states', () => {
  test('goes idle → connecting → open, resolves with the welcome', async () => {
    const { client } = fakeClient();
    const states = record<string>((l) => client.on('state', l));
    assert.equal(client.state, 'idle');
    const welcome = client.connect();
    assert.equal(client.state, 'connecting');
    await flush();
    FakeWebSocket.last.welcome('bob');
    const data = await welcome;
    assert.equal(data.user_id, 'bob');
    assert.equal(client.state, 'open');
    assert.deepEqual(states, ['connecting', 'open']);
    assert.equal(await client.connect(), data, 'connect() again returns the same welcome');
    client.close();
    assert.deepEqual(states, ['connecting', 'open', 'closed']);
  });

  test('the socket is open but the state stays connecting until the welcome push', async () => {
    const { client } = fakeClient();
    void client.connect();
    await flush();
    FakeWebSocket.last.open();
    assert.equal(client.state, 'connecting');
    client.close();
  });

  test('connect() keeps retrying failed attempts and resolves on the first welcome; errors are reported', async () => {
    const { client, timers } = fakeClient({ reconnect: { initialDelayMs: 1000 } });
    const errors = record<Error>((l) => client.on('error', l));
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.refuse(503);
    assert.equal(client.state, 'connecting');
    const second = await expectReconnectAfter(timers, 500);
    second.welcome();
    await welcome;
    assert.ok(errors[0] instanceof ChatHandshakeError);
    assert.equal((errors[0] as ChatHandshakeError).status, 503);
    client.close();
  });

  test('with reconnect: false, a failed first attempt rejects connect() and closes', async () => {
    const { client, timers } = fakeClient({ reconnect: false });
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.drop();
    await assert.rejects(
      welcome,
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'failed',
    );
    assert.equal(client.state, 'closed');
    await timers.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('no welcome within connectTimeoutMs: the attempt is dropped and retried (keepTrying)', async () => {
    const { client, timers } = fakeClient({ connectTimeoutMs: 2000, keepTrying: true });
    void client.connect();
    await flush();
    const first = FakeWebSocket.last.open();
    await timers.advance(2000);
    assert.ok(first.closedByClient, 'the silent connection is closed');
    await expectReconnectAfter(timers, 250);
    client.close();
  });
});

describe('connect() timeout', () => {
  test('an unreachable server: connect() rejects with ChatConnectTimeoutError after connectTimeoutMs and the client closes', async () => {
    const { client, timers } = fakeClient({ connectTimeoutMs: 5000 });
    const states = record<string>((l) => client.on('state', l));
    const welcome = client.connect();
    let settled = false;
    welcome.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 4; i++) {
      await flush();
      FakeWebSocket.last.drop(); // a network error before the socket opened
      await timers.advance(1000);
    }
    await flush();
    assert.equal(settled, false, 'still trying before the timeout');
    await timers.advance(1000);
    await assert.rejects(
      welcome,
      (error: unknown) =>
        error instanceof ChatConnectTimeoutError &&
        error.timeoutMs === 5000 &&
        error.cause instanceof ChatHandshakeError,
    );
    assert.equal(client.state, 'closed');
    assert.deepEqual(states, ['connecting', 'closed']);
    const sockets = FakeWebSocket.instances.length;
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, sockets, 'no attempts after the timeout');
    assert.equal(timers.pending, 0, 'no timers left behind');
    await assert.rejects(
      client.ping(),
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'timeout',
    );
  });

  test('keepTrying: connect() still rejects at the timeout, but the client goes on and opens later', async () => {
    const { client, timers } = fakeClient({ connectTimeoutMs: 2000, keepTrying: true });
    const welcomes = record<unknown>((l) => client.on('welcome', l));
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.drop();
    await timers.advance(2000);
    await assert.rejects(welcome, ChatConnectTimeoutError);
    assert.equal(client.state, 'connecting');
    FakeWebSocket.last.drop();
    const later = await expectReconnectAfter(timers, 500); // attempts go on
    const next = client.connect();
    later.welcome();
    await next;
    assert.equal(client.state, 'open');
    assert.equal(welcomes.length, 1);
    client.close();
  });

  test('a connect() that waits for a background reconnect rejects at the timeout; the reconnect goes on', async () => {
    const { client, timers, ws } = await connected({ connectTimeoutMs: 3000 });
    ws.drop();
    const waiting = client.connect();
    await timers.advance(3000);
    await assert.rejects(waiting, ChatConnectTimeoutError);
    assert.equal(client.state, 'reconnecting');
    client.close();
  });
});

describe('backoff', () => {
  test('full jitter: each delay is random × a ceiling that doubles up to maxDelayMs', async () => {
    const draws = [0.5, 0.5, 0.5, 0.5, 0.5, 0.999_999, 0];
    const { client, timers, ws } = await connected({
      reconnect: { initialDelayMs: 1000, maxDelayMs: 5000, factor: 2 },
      random: () => draws.shift() ?? 0.5,
    });
    const states = record<string>((l) => client.on('state', l));
    ws.drop();
    assert.equal(client.state, 'reconnecting');
    // Ceilings 1000, 2000, 4000, 5000 (capped), 5000, 5000, 5000 × the draws.
    for (const delay of [500, 1000, 2000, 2500, 2500, 4999, 0]) {
      const attempt = await expectReconnectAfter(timers, delay);
      attempt.drop(); // fails before opening (a network error)
    }
    assert.deepEqual([...new Set(states)], ['reconnecting']);
    client.close();
  });

  test('the backoff resets after a connection stayed up stableAfterMs, not before', async () => {
    const { client, timers, ws } = await connected({
      reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000, stableAfterMs: 10_000 },
    });
    ws.drop();
    let socket = await expectReconnectAfter(timers, 500);
    socket.drop();
    socket = await expectReconnectAfter(timers, 1000);
    socket.welcome();
    await flush();
    socket.reply(socket.lastOf('sync'), { type: 'sync', messages: [], has_more: false });
    // Up for less than stableAfterMs: the backoff keeps growing.
    await timers.advance(9_000);
    socket.drop();
    socket = await expectReconnectAfter(timers, 2000);
    socket.welcome();
    await flush();
    socket.reply(socket.lastOf('sync'), { type: 'sync', messages: [], has_more: false });
    await timers.advance(10_000);
    socket.drop();
    await expectReconnectAfter(timers, 500);
    client.close();
  });

  test('jitter comes from the injected random source', async () => {
    const { client, timers, ws } = await connected({
      reconnect: { initialDelayMs: 1000 },
      random: () => 0.123,
    });
    ws.drop();
    await expectReconnectAfter(timers, 123);
    client.close();
  });
});

describe('when not to reconnect', () => {
  test('close(): closes the socket with 1000, rejects pending requests, never reconnects', async () => {
    const { client, timers, ws } = await connected();
    const pending = client.history({ room_id: 'lobby' });
    client.close();
    assert.equal(client.state, 'closed');
    assert.equal(ws.closedByClient?.code, 1000);
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'closed',
    );
    await assert.rejects(client.ping(), ChatClosedError);
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(timers.pending, 0, 'no timers left behind');
  });

  test('close() while waiting to reconnect cancels the attempt', async () => {
    const { client, timers, ws } = await connected();
    ws.drop();
    assert.equal(client.state, 'reconnecting');
    client.close();
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('kicked (single-session mode): emits kicked, closes, does not reconnect', async () => {
    const { client, timers, ws } = await connected();
    const kicked = record<unknown>((l) => client.on('kicked', l));
    const pending = client.ping();
    ws.push({ type: 'kicked', reason: 'signed_in_elsewhere', time: '2026-11-21T10:01:00.000Z' });
    ws.drop(1000, 'Connection deleted');
    assert.equal(kicked.length, 1);
    assert.equal(client.state, 'closed');
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'kicked',
    );
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('401 with a fixed token: closed at once (the same token cannot succeed)', async () => {
    const { client, ws, timers } = await connected();
    const errors = record<Error>((l) => client.on('error', l));
    ws.drop();
    const next = await expectReconnectAfter(timers, 250);
    next.refuse(401);
    assert.equal(client.state, 'closed');
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(errors.length, 0, 'reported by the state, not as an error event');
  });

  test('401 with a token function: one immediate retry with a fresh token, then closed', async () => {
    let issued = 0;
    const { client, timers } = fakeClient({ token: () => `t${++issued}` });
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.refuse(401);
    await flush();
    assert.equal(FakeWebSocket.instances.length, 2, 'retried without waiting');
    assert.deepEqual(FakeWebSocket.last.protocols, ['chat', 'bearer.t2']);
    FakeWebSocket.last.refuse(401);
    await assert.rejects(
      welcome,
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'unauthorized',
    );
    await timers.advance(600_000);
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  test('401 then success with the refreshed token: connected, and a later 401 gets its retry again', async () => {
    let issued = 0;
    const { client, timers } = fakeClient({ token: () => `t${++issued}` });
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.refuse(401);
    await flush();
    FakeWebSocket.last.welcome();
    await welcome;
    FakeWebSocket.last.drop();
    const next = await expectReconnectAfter(timers, 250);
    next.refuse(401);
    await flush();
    assert.equal(FakeWebSocket.instances.length, 4, 'the retry is available again after a success');
    assert.notEqual(client.state, 'closed');
    client.close();
  });

  test('403 (origin not allowed): closed', async () => {
    const { client } = fakeClient();
    const welcome = client.connect();
    await flush();
    FakeWebSocket.last.refuse(403);
    await assert.rejects(
      welcome,
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'forbidden',
    );
  });

  test('429 (too many connections) and unknown failures: back off and retry', async () => {
    const { client, timers, ws } = await connected();
    ws.drop();
    const next = await expectReconnectAfter(timers, 250);
    next.refuse(429);
    await expectReconnectAfter(timers, 500);
    assert.equal(client.state, 'reconnecting');
    client.close();
  });

  test('connect() after closed starts over: closed → connecting → open (not reconnecting)', async () => {
    const { client } = await connected();
    client.close();
    const states = record<string>((l) => client.on('state', l));
    const again = client.connect();
    await flush();
    FakeWebSocket.last.welcome();
    await flush();
    assert.equal(FakeWebSocket.instances.length, 2);
    // The position is kept, so the new connection catches up.
    FakeWebSocket.last.reply(FakeWebSocket.last.lastOf('sync'), {
      type: 'sync',
      messages: [],
      has_more: false,
    });
    await again;
    assert.equal(client.state, 'open');
    assert.deepEqual(states, ['connecting', 'open']);
    client.close();
  });

  test('after connect() following close(), a drop before the first welcome stays connecting', async () => {
    const { client, timers } = await connected();
    client.close();
    const states = record<string>((l) => client.on('state', l));
    void client.connect();
    await flush();
    FakeWebSocket.last.drop();
    await expectReconnectAfter(timers, 250);
    assert.deepEqual(states, ['connecting']);
    client.close();
  });
});

export type { ChatClient };
