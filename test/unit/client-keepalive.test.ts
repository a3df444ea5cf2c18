/**
 * ChatClient keep-alive and connection age on a fake WebSocket and a fake clock: `ping`
 * well inside API Gateway's 10-minute idle timeout, a dead connection (no pong) replaced,
 * and the proactive replacement before the 2-hour maximum — the new socket opens before
 * the old one closes, and the overlap shows no duplicates.
 * Run: npx tsx --test test/unit/client-keepalive.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { ChatMessage } from '../../client/src/types.ts';
import { connected, FakeWebSocket, flush, mid, record } from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

const MINUTE = 60_000;
/** Read through a function: `assert.equal(x, undefined)` narrows the property for the rest of the test. */
const closeOf = (ws: FakeWebSocket) => ws.closedByClient;
const emptySync = { type: 'sync', messages: [], has_more: false };

function newMessage(n: number, content = `m${n}`) {
  return {
    type: 'new_message',
    message_id: mid(n),
    room_id: 'private_alice_bob',
    from_user_id: 'bob',
    to_user_id: 'alice',
    content,
    message_type: 1,
    time: '2026-11-21T10:00:00.000Z',
  };
}

describe('keep-alive ping', () => {
  test('defaults to a ping every 5 minutes (inside the 10-minute idle timeout)', async () => {
    const { client, timers, ws } = await connected();
    await timers.advance(5 * MINUTE - 1);
    assert.equal(ws.sentOf('ping').length, 0);
    await timers.advance(1);
    assert.equal(ws.sentOf('ping').length, 1);
    ws.reply(ws.lastOf('ping'), { type: 'pong', time: 't' });
    await timers.advance(5 * MINUTE);
    assert.equal(ws.sentOf('ping').length, 2);
    ws.reply(ws.lastOf('ping'), { type: 'pong', time: 't' });
    await timers.advance(5 * MINUTE);
    assert.equal(ws.sentOf('ping').length, 3);
    assert.equal(client.state, 'open');
    client.close();
  });

  test('pingIntervalMs is configurable; 0 turns it off', async () => {
    const fast = await connected({ pingIntervalMs: 30_000 });
    await fast.timers.advance(30_000);
    assert.equal(fast.ws.sentOf('ping').length, 1);
    fast.client.close();

    FakeWebSocket.reset();
    const off = await connected({ pingIntervalMs: 0 });
    await off.timers.advance(60 * MINUTE);
    assert.equal(off.ws.sentOf('ping').length, 0);
    off.client.close();
  });

  test('no pong within requestTimeoutMs: the connection counts as dead, is closed and replaced', async () => {
    const { client, timers, ws } = await connected({ pingIntervalMs: MINUTE, requestTimeoutMs: 10_000 });
    const errors = record<Error>((l) => client.on('error', l));
    await timers.advance(MINUTE);
    assert.equal(ws.sentOf('ping').length, 1);
    await timers.advance(10_000);
    assert.ok(ws.closedByClient, 'the client closed the silent socket');
    assert.equal(client.state, 'reconnecting');
    assert.match(errors[0]?.message ?? '', /ping/);
    await timers.advance(250);
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
  });
});

describe('maximum connection age', () => {
  test('defaults to replacing the connection after 1 h 55 min, before the 2-hour limit', async () => {
    const { client, timers } = await connected({ pingIntervalMs: 0 });
    await timers.advance(115 * MINUTE - 1);
    assert.equal(FakeWebSocket.instances.length, 1);
    await timers.advance(1);
    assert.equal(FakeWebSocket.instances.length, 2);
    client.close();
  });

  test('the new socket opens before the old one closes; the overlap shows each message once, state stays open', async () => {
    const {
      client,
      timers,
      ws: old,
    } = await connected({ maxConnectionAgeMs: 10 * MINUTE, pingIntervalMs: 0 });
    const states = record<string>((l) => client.on('state', l));
    const messages = record<ChatMessage>((l) => client.on('message', l));
    const presence = record<unknown>((l) => client.on('presence', l));
    old.push(newMessage(1));

    await timers.advance(10 * MINUTE);
    const fresh = FakeWebSocket.last;
    assert.notEqual(fresh, old);
    assert.equal(old.closedByClient, undefined, 'the old socket stays open meanwhile');
    fresh.open();

    // While both are up, the server pushes to both: the same message twice, a presence twice.
    old.push(newMessage(2));
    fresh.push(newMessage(2));
    fresh.push({ type: 'presence', user_id: 'bob', status: 'online', time: 't' });
    old.push({ type: 'presence', user_id: 'bob', status: 'online', time: 't' });
    // A command sent before the switch is answered on the old socket.
    const history = client.history({ room_id: 'lobby' });
    const historyFrame = old.lastOf('history');

    fresh.welcome('alice', '2026-11-21T10:10:00.000Z');
    await flush();
    assert.equal(client.connectionId, 'conn-2');
    assert.equal(old.closedByClient, undefined, 'kept open while it has a pending reply');
    old.push(newMessage(3));
    fresh.push(newMessage(3));
    old.reply(historyFrame, { type: 'history', room_id: 'lobby', messages: [] });
    assert.equal((await history).room_id, 'lobby');
    await flush();
    assert.equal(closeOf(old)?.code, 1000, 'closed once its reply arrived');

    // The new connection catches up from the last position, then delivers live.
    const sync = fresh.lastOf('sync');
    assert.equal(sync.data?.since, mid(2));
    fresh.reply(sync, { type: 'sync', messages: [], has_more: false });
    await flush();
    fresh.push(newMessage(4));

    assert.deepEqual(
      messages.map((m) => m.content),
      ['m1', 'm2', 'm3', 'm4'],
    );
    assert.equal(presence.length, 1, 'pushes without ids count from one connection only');
    assert.deepEqual(states, [], 'no visible reconnect');
    client.close();
  });

  test('an old connection without pending replies closes as soon as the new one is welcomed', async () => {
    const { client, timers, ws: old } = await connected({ maxConnectionAgeMs: MINUTE, pingIntervalMs: 0 });
    await timers.advance(MINUTE);
    FakeWebSocket.last.welcome();
    await flush();
    assert.equal(closeOf(old)?.code, 1000);
    assert.equal(old.closedByClient?.reason, 'replaced');
    client.close();
  });

  test('single-session mode: the kick our own replacement causes on the old socket is not a real kick', async () => {
    const { client, timers, ws: old } = await connected({ maxConnectionAgeMs: MINUTE, pingIntervalMs: 0 });
    const kicked = record<unknown>((l) => client.on('kicked', l));
    await timers.advance(MINUTE);
    const fresh = FakeWebSocket.last;
    old.push({ type: 'kicked', reason: 'signed_in_elsewhere', time: 't' });
    old.drop(1000, 'Connection deleted');
    assert.equal(client.state, 'open', 'the replacement is on its way: no visible reconnect');
    const waiting = client.ping();
    fresh.welcome();
    await flush();
    fresh.reply(fresh.lastOf('sync'), emptySync);
    fresh.reply(fresh.lastOf('ping'), { type: 'pong', time: 't' });
    assert.equal((await waiting).type, 'pong', 'a command made in the gap went out on the new connection');
    assert.equal(client.state, 'open');
    assert.deepEqual(kicked, []);
    await timers.advance(30_000);
    assert.equal(FakeWebSocket.instances.length, 2, 'no reconnect of its own');
    client.close();
  });

  test('a replacement that fails is retried with backoff while the old connection keeps working', async () => {
    const {
      client,
      timers,
      ws: old,
    } = await connected({
      maxConnectionAgeMs: MINUTE,
      pingIntervalMs: 0,
      reconnect: { initialDelayMs: 1000 },
    });
    await timers.advance(MINUTE);
    FakeWebSocket.last.refuse(503);
    assert.equal(client.state, 'open');
    assert.equal(old.closedByClient, undefined);
    await timers.advance(499);
    assert.equal(FakeWebSocket.instances.length, 2);
    await timers.advance(1);
    assert.equal(FakeWebSocket.instances.length, 3);
    FakeWebSocket.last.welcome();
    await flush();
    assert.equal(closeOf(old)?.code, 1000);
    client.close();
  });

  test('if the old connection ends before the replacement is welcomed, the replacement takes over', async () => {
    const { client, timers, ws: old } = await connected({ maxConnectionAgeMs: MINUTE, pingIntervalMs: 0 });
    await timers.advance(MINUTE);
    const fresh = FakeWebSocket.last;
    old.drop(1001, 'Going away');
    assert.equal(client.state, 'open');
    await timers.advance(10_000); // within the replacement's connect timeout
    assert.equal(FakeWebSocket.instances.length, 2, 'no third socket');
    fresh.welcome();
    await flush();
    assert.equal(client.state, 'open');
    client.close();
  });

  test('if the replacement fails after the old connection ended, an ordinary reconnect follows', async () => {
    const { client, timers, ws: old } = await connected({ maxConnectionAgeMs: MINUTE, pingIntervalMs: 0 });
    await timers.advance(MINUTE);
    old.drop(1001, 'Going away');
    FakeWebSocket.last.refuse(503);
    assert.equal(client.state, 'reconnecting');
    await timers.advance(250);
    assert.equal(FakeWebSocket.instances.length, 3);
    client.close();
  });
});
