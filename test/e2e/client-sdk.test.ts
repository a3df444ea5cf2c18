/**
 * The client SDK (client/) against the real local runtime, over real sockets (`ws`):
 * two users chat through ChatClient; one is disconnected by the server in the middle of
 * the conversation (Management API `DELETE @connections/{id}`) and stays away while the
 * other keeps writing and while it queues messages of its own; after it reconnects its
 * application has seen every message exactly once and in order, and the other user got
 * its queued messages exactly once. Also: both authentication modes, a refused token,
 * rooms across a reconnect, the proactive replacement before the connection's maximum
 * age, and the HTTP client.
 * Run: npx tsx --test test/e2e/client-sdk.test.ts
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import WebSocket from 'ws';
import { ChatClient } from '../../client/src/client.ts';
import { ChatClosedError, ChatConnectTimeoutError } from '../../client/src/errors.ts';
import { ChatHttpClient, ChatHttpError } from '../../client/src/http.ts';
import type { MessageSent } from '../../client/src/types.ts';
import { contents, sessions, until, untilCount, untilState } from '../../client/test/e2e-support.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { historyMessages } from '../support/http.ts';
import { managementClient, startTestRuntime, tokenFor } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
const made = sessions(() => runtime);
const session = made.open;

before(async () => {
  runtime = await startTestRuntime();
});
after(async () => {
  made.closeAll();
  await runtime.stop();
});

async function forceDisconnect(client: ChatClient): Promise<void> {
  const connectionId = client.connectionId;
  assert.ok(connectionId, 'connected');
  await managementClient(runtime).send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
}

describe('a conversation with a forced disconnect in the middle', () => {
  test('both users see every message exactly once, in order; offline sends are stored once', async () => {
    const alice = session('alice');
    const bob = session('bob');
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    assert.equal(alice.client.userId, 'alice');

    // The conversation, turn by turn.
    const aliceSent: MessageSent[] = [];
    const bobSent: MessageSent[] = [];
    for (let turn = 1; turn <= 3; turn++) {
      aliceSent.push(await alice.client.sendMessage({ to_user_id: 'bob', content: `a${turn}` }));
      await untilCount(bob, turn);
      bobSent.push(await bob.client.sendMessage({ to_user_id: 'alice', content: `b${turn}` }));
      await untilCount(alice, turn);
    }

    // alice is cut off by the server, with a message possibly still on its way, and stays
    // away (her token function waits) while both keep writing.
    alice.gate.close();
    const inFlight = alice.client.sendMessage({ to_user_id: 'bob', content: 'a-inflight' });
    await forceDisconnect(alice.client);
    await untilState(alice, 'reconnecting');
    const queued = [1, 2, 3].map((n) =>
      alice.client.sendMessage({ to_user_id: 'bob', content: `a-offline-${n}` }),
    );
    assert.ok(alice.client.pendingSends.length >= 3, 'queued in the outbox');
    for (let n = 1; n <= 5; n++)
      bobSent.push(await bob.client.sendMessage({ to_user_id: 'alice', content: `b-away-${n}` }));
    assert.deepEqual(
      contents(alice.messages),
      ['b1', 'b2', 'b3'],
      'nothing reached alice while she was away',
    );

    // alice comes back: catch-up, then her outbox.
    alice.gate.open();
    aliceSent.push(await inFlight, ...(await Promise.all(queued)));
    await untilCount(alice, 8);
    await untilCount(bob, 7);

    // And the conversation goes on, live.
    bobSent.push(await bob.client.sendMessage({ to_user_id: 'alice', content: 'b-after' }));
    aliceSent.push(await alice.client.sendMessage({ to_user_id: 'bob', content: 'a-after' }));
    await untilCount(alice, 9);
    await untilCount(bob, 8);

    // alice's application: every message of bob's, once, in the order bob sent them.
    assert.deepEqual(contents(alice.messages), [
      'b1',
      'b2',
      'b3',
      'b-away-1',
      'b-away-2',
      'b-away-3',
      'b-away-4',
      'b-away-5',
      'b-after',
    ]);
    assert.deepEqual(
      alice.messages.map((m) => m.message_id),
      bobSent.map((r) => r.message_id),
    );
    assert.deepEqual(
      alice.messages.map((m) => m.catch_up),
      [false, false, false, true, true, true, true, true, false],
      'the missed ones came from the catch-up',
    );

    // bob: every message of alice's once, in order, the queued ones included.
    const fromAlice = [
      'a1',
      'a2',
      'a3',
      'a-inflight',
      'a-offline-1',
      'a-offline-2',
      'a-offline-3',
      'a-after',
    ];
    assert.deepEqual(contents(bob.messages), fromAlice);
    assert.deepEqual(
      bob.messages.map((m) => m.message_id),
      aliceSent.map((r) => r.message_id),
    );

    // The server stored each exactly once (the in-flight send may have been retried).
    const stored = await historyMessages(runtime, await tokenFor(runtime, 'alice'), 'private_alice_bob');
    const storedContents = stored.map((m) => m.content).reverse();
    assert.deepEqual(
      storedContents.filter((c) => c.startsWith('a')),
      fromAlice,
    );
    assert.equal(new Set(stored.map((m) => m.message_id)).size, stored.length);
    assert.equal(alice.client.lastSeenId, aliceSent.at(-1)?.message_id);
    assert.deepEqual(alice.client.pendingSends, []);
    assert.deepEqual(
      alice.states,
      ['connecting', 'open', 'reconnecting', 'open'],
      'one reconnect, no flapping',
    );
  });

  test('rooms: re-joined after a forced disconnect; missed room messages arrive once, in order', async () => {
    const carol = session('carol');
    const dan = session('dan');
    await Promise.all([carol.client.connect(), dan.client.connect()]);
    await carol.client.joinRoom({ room_id: 'sdk-lobby' });
    await dan.client.joinRoom({ room_id: 'sdk-lobby' });
    await dan.client.sendRoomMessage({ room_id: 'sdk-lobby', content: 'r1' });
    await untilCount(carol, 1);

    carol.gate.close();
    await forceDisconnect(carol.client);
    await untilState(carol, 'reconnecting');
    for (const content of ['r2', 'r3', 'r4'])
      await dan.client.sendRoomMessage({ room_id: 'sdk-lobby', content });
    const queued = carol.client.sendRoomMessage({ room_id: 'sdk-lobby', content: 'carol is back' });
    carol.gate.open();
    await queued; // sent after the room was joined again: otherwise 1403
    await untilCount(carol, 4);
    await untilCount(dan, 1);
    await dan.client.sendRoomMessage({ room_id: 'sdk-lobby', content: 'r5' });
    await untilCount(carol, 5);
    assert.deepEqual(contents(carol.messages), ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.deepEqual(contents(dan.messages), ['carol is back']);
    assert.deepEqual(carol.client.joinedRooms, ['sdk-lobby']);
  });
});

describe('authentication modes', () => {
  test('subprotocol (default) and query string both connect and chat', async () => {
    const viaProtocol = session('erin');
    const viaQuery = session('frank', { auth: 'query', url: new URL('/ws/chat', runtime.wsUrl).toString() });
    const [erin, frank] = await Promise.all([viaProtocol.client.connect(), viaQuery.client.connect()]);
    assert.equal(erin.user_id, 'erin');
    assert.equal(frank.user_id, 'frank');
    await viaQuery.client.sendMessage({ to_user_id: 'erin', content: 'via query' });
    await viaProtocol.client.sendMessage({ to_user_id: 'frank', content: 'via subprotocol' });
    await untilCount(viaProtocol, 1);
    await untilCount(viaQuery, 1);
  });

  test('a refused token: connect() rejects as unauthorized after one retry of the token function', async () => {
    let calls = 0;
    const client = new ChatClient({
      url: runtime.wsUrl,
      token: () => {
        calls++;
        return 'not-a-jwt';
      },
      WebSocket,
      reconnect: { initialDelayMs: 50 },
    });
    made.track(client);
    await assert.rejects(
      client.connect(),
      (error: unknown) => error instanceof ChatClosedError && error.reason === 'unauthorized',
    );
    assert.equal(calls, 2);
    assert.equal(client.state, 'closed');
  });
});

describe('connection age', () => {
  test('the connection is replaced before its maximum age without a visible reconnect or duplicates', async () => {
    const gina = session('gina', { maxConnectionAgeMs: 600 });
    const hal = session('hal');
    await Promise.all([gina.client.connect(), hal.client.connect()]);
    const first = gina.client.connectionId;
    const welcomes: string[] = [];
    gina.client.on('welcome', (welcome) => welcomes.push(welcome.connection_id));
    // hal keeps writing while gina's connection is replaced (at least twice).
    const sent: string[] = [];
    for (let n = 1; welcomes.length < 2 || n <= 5; n++) {
      sent.push((await hal.client.sendMessage({ to_user_id: 'gina', content: `h${n}` })).message_id);
      await untilCount(gina, sent.length);
      assert.ok(n < 5000, 'the connection is replaced');
    }
    await untilCount(gina, sent.length);
    // One more replacement (a welcome after the last message) and its catch-up: still
    // nothing twice. Closed right then, when no replacement is half-way.
    const target = welcomes.length + 1;
    let last: string | undefined;
    const off = gina.client.on('synced', () => {
      if (welcomes.length < target) return; // the catch-up of an earlier replacement
      last = gina.client.connectionId;
      gina.client.close();
    });
    await until(
      gina.client,
      'synced',
      () => last !== undefined,
      () => `one more replacement (welcomes: ${welcomes.length}, target ${target})`,
    );
    off();
    assert.ok(last && last !== first, 'on another connection');
    assert.deepEqual(
      gina.messages.map((m) => m.message_id),
      sent,
      'each message once, in order',
    );
    assert.deepEqual(gina.states, ['connecting', 'open', 'closed'], 'never reconnecting');
    assert.deepEqual(gina.errors, []);
  });
});

describe('connect() and close()', () => {
  test('an unreachable URL: connect() rejects with ChatConnectTimeoutError and the client stops', {
    timeout: 60_000,
  }, async () => {
    // A port that was just free: nothing listens there, every attempt is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const client = new ChatClient({
      url: `ws://127.0.0.1:${port}/`,
      token: 'unused',
      WebSocket,
      connectTimeoutMs: 1500,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    await assert.rejects(client.connect(), ChatConnectTimeoutError);
    assert.equal(client.state, 'closed');
    assert.ok(errors.length >= 1, 'each refused attempt was reported');
  });

  test('close() then connect(): connecting → open again, never reconnecting', async () => {
    const kim = session('kim');
    await kim.client.connect();
    kim.client.close();
    await kim.client.connect();
    assert.deepEqual(kim.states, ['connecting', 'open', 'closed', 'connecting', 'open']);
    kim.client.close();
  });
});

describe('HTTP client', () => {
  test('online count, online users, presence check and history', async () => {
    const ivy = session('ivy');
    await ivy.client.connect();
    const sent = await ivy.client.sendMessage({ to_user_id: 'jay', content: 'over http' });
    const http = new ChatHttpClient({ baseUrl: runtime.httpUrl, token: () => tokenFor(runtime, 'jay') });
    const count = await http.onlineCount();
    assert.ok(count.count >= 1);
    assert.equal(await http.isOnline('ivy'), true);
    assert.equal(await http.isOnline('nobody-here'), false);
    const everyone: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await http.onlineUsers({ limit: 2, cursor });
      everyone.push(...page.users);
      cursor = page.next_cursor;
    } while (cursor);
    assert.ok(everyone.includes('ivy'));
    const page = await http.messages({ room_id: 'private_ivy_jay', limit: 10 });
    assert.equal(page.messages[0]?.message_id, sent.message_id);
    await assert.rejects(
      http.messages({ room_id: 'private_ivy_zed' }),
      (error: unknown) => error instanceof ChatHttpError && error.status === 403 && error.code === 1403,
    );
    const anonymous = new ChatHttpClient({ baseUrl: runtime.httpUrl });
    await assert.rejects(
      anonymous.onlineUsers(),
      (error: unknown) => error instanceof ChatHttpError && error.status === 401,
    );
  });
});
