/**
 * Single-session deployments (`SESSION_MODE=single`), through the local runtime: a new
 * connection sends the user's older one a `kicked` push and closes it through the
 * Management API; the new one works, the user stays online once, and their peers see no
 * presence change. (Several devices per user, the default, is covered by presence.test.ts.)
 * Run: npx tsx --test test/e2e/sessions.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { getApi, onlineCount, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { presenceIdsOf } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;
/** A peer of ann's (she wrote to him), watching for presence pushes. */
let ben: ChatConnection;

before(async () => {
  runtime = await startTestRuntime({ env: { SESSION_MODE: 'single' } });
  ben = await connectWelcomed(runtime, 'ss-ben');
  // Presence peers are by consent: ann's presence goes to those she wrote to.
  const sent = await postApi(
    runtime,
    '/api/ws/send-message',
    { to_user_id: 'ss-ben', content: 'there?' },
    await tokenFor(runtime, 'ss-ann'),
  );
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
});
after(() => runtime.stop());

describe('SESSION_MODE=single', () => {
  test('a new connection kicks and closes the older one; the new one works; the user is online once', async () => {
    const before = await onlineCount(runtime);
    const phone = await connectWelcomed(runtime, 'ss-ann');
    await nextPush(ben.client, 'presence', (p) => p.user_id === 'ss-ann' && p.status === 'online');
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count + 1,
      connections: before.connections + 1,
    });

    const laptop = await connectWelcomed(runtime, 'ss-ann');
    const kicked = await nextPush(phone.client, 'kicked');
    const { time, ...rest } = kicked;
    assert.deepEqual(rest, { type: 'kicked', reason: 'signed_in_elsewhere' });
    assertIsoTime(time);
    const closed = await phone.client.waitForClose();
    assert.equal(closed.code, 1000);
    const frames = phone.client.frames.map((frame) => frame.json?.data?.type);
    assert.equal(frames.at(-1), 'kicked', 'the push is the last frame before the close');

    // Removed during the new connection's $connect: exact as soon as it is open.
    assert.deepEqual(await presenceIdsOf(runtime, 'ss-ann'), [laptop.connectionId]);
    assert.deepEqual(await onlineCount(runtime), {
      count: before.count + 1,
      connections: before.connections + 1,
    });
    const check = await getApi<{ is_online: boolean }>(
      runtime,
      '/api/ws/online/check?user_id=ss-ann',
      await tokenFor(runtime, 'ss-ben'),
    );
    assert.equal(check.body.data?.is_online, true);

    const pong = await sendCommand(laptop.client, 'ping');
    assert.equal(pong.data?.type, 'pong');
    const sent = await sendCommand(laptop.client, 'send_message', { to_user_id: 'ss-ben', content: 'here' });
    assert.equal(sent.data?.delivered, 1);
    await nextPush(ben.client, 'new_message');
    assert.deepEqual(pushesOf(laptop.client, 'kicked'), [], 'the new connection is not kicked');

    // The switch was no presence change for ann's peers: still the one `online` from before.
    await settle(ben.client);
    assert.deepEqual(
      pushesOf(ben.client, 'presence')
        .filter((p) => p.user_id === 'ss-ann')
        .map((p) => p.status),
      ['online'],
    );

    await laptop.client.close();
    await nextPush(ben.client, 'presence', (p) => p.user_id === 'ss-ann' && p.status === 'offline');
    assert.equal(await presenceIdsOf(runtime, 'ss-ann'), undefined);
  });

  test('other users’ connections are not affected', async () => {
    const cy = await connectWelcomed(runtime, 'ss-cy');
    const dee = await connectWelcomed(runtime, 'ss-dee');
    await Promise.all([settle(cy.client), settle(dee.client), settle(ben.client)]);
    for (const connection of [cy, dee, ben]) {
      assert.deepEqual(pushesOf(connection.client, 'kicked'), [], connection.userId);
    }
    assert.deepEqual(await presenceIdsOf(runtime, 'ss-cy'), [cy.connectionId]);
    assert.deepEqual(await presenceIdsOf(runtime, 'ss-dee'), [dee.connectionId]);
  });
});
