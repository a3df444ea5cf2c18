/**
 * `broadcast` over WebSocket: admins reach every open connection (their own included),
 * everyone else is refused and reaches nobody. A file of its own, so the connections
 * open in this runtime are exactly the ones these tests opened.
 * Run: npx tsx --test test/e2e/broadcast.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  welcomed,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { startTestRuntime, TestClient, webSocketUrl } from '../support/local-runtime.ts';
import { claimsFor, signClaims } from '../support/tokens.ts';

let runtime: LocalRuntime;
let admin: ChatConnection;
let userPhone: ChatConnection;
let userLaptop: ChatConnection;
let other: ChatConnection;
const everyone = () => [admin, userPhone, userLaptop, other];

before(async () => {
  runtime = await startTestRuntime();
  admin = await connectWelcomed(runtime, 'boss', { role: 'admin' });
  [userPhone, userLaptop, other] = await connectEach(runtime, ['user', 'user', 'other']);
});
after(() => runtime.stop());

async function broadcastsReceived(): Promise<number[]> {
  await Promise.all(everyone().map((c) => settle(c.client)));
  return everyone().map((c) => pushesOf(c.client, 'broadcast').length);
}

describe('broadcast', () => {
  test('a user without the admin role is refused with 1403 and nobody receives anything', async () => {
    const before = await broadcastsReceived();
    const reply = await sendCommand(userPhone.client, 'broadcast', { message: 'hear me' }, 'b-refused');
    assertErrorReply(reply, 1403);
    assert.equal(reply.request_id, 'b-refused');
    assert.deepEqual(await broadcastsReceived(), before);
  });

  test('an admin reaches every open connection, their own included', async () => {
    const reply = await sendCommand(admin.client, 'broadcast', { message: 'maintenance at 22:00' }, 'b-1');
    assert.equal(reply.code, 0);
    assert.equal(reply.request_id, 'b-1');
    assert.deepEqual(reply.data, { type: 'broadcast_sent', sent_count: 4, failed: 0 });

    for (const connection of everyone()) {
      const push = await nextPush(connection.client, 'broadcast');
      assert.deepEqual(Object.keys(push).sort(), ['from_user_id', 'message', 'time', 'type']);
      assert.equal(push.from_user_id, 'boss');
      assert.equal(push.message, 'maintenance at 22:00');
      assertIsoTime(push.time);
    }
  });

  test('the admin role may come from a roles array; sent_count counts the connections open now', async () => {
    const token = await signClaims(claimsFor('ops', { roles: ['viewer', 'admin'] }), {
      secret: runtime.jwtSecret as string,
    });
    const ops = await welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
    const reply = await sendCommand(ops.client, 'broadcast', { message: 'from ops' });
    assert.deepEqual(reply.data, { type: 'broadcast_sent', sent_count: 5, failed: 0 });
    assert.equal((await nextPush(other.client, 'broadcast')).from_user_id, 'ops');
    for (const connection of [admin, userPhone, userLaptop]) await nextPush(connection.client, 'broadcast');

    await disconnect(runtime, ops);
    const after = await sendCommand(admin.client, 'broadcast', { message: 'ops left' });
    assert.deepEqual(
      after.data,
      { type: 'broadcast_sent', sent_count: 4, failed: 0 },
      'closed connections are not counted',
    );
    for (const connection of everyone()) await nextPush(connection.client, 'broadcast');
  });

  test('an empty message answers 10005, one over 4,000 characters 1002; nobody receives anything', async () => {
    const before = await broadcastsReceived();
    const invalid: readonly [string, unknown, number][] = [
      ['no message', {}, 10005],
      ['empty message', { message: '' }, 10005],
      ['blank message', { message: '  ' }, 10005],
      ['no data', undefined, 10005],
      ['message a number', { message: 3 }, 1001],
      ['message over 4,000 characters', { message: 'x'.repeat(4001) }, 1002],
    ];
    for (const [description, data, code] of invalid) {
      const reply = await sendCommand(admin.client, 'broadcast', data, description);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, description);
    }
    assert.deepEqual(await broadcastsReceived(), before);
  });
});
