/**
 * The client SDK against a single-session deployment (`SESSION_MODE=single`) of the local
 * runtime: a device that is signed out by another one (`kicked`) closes for good instead
 * of reconnecting (which would sign the other device out in turn), and the SDK's own
 * replacement of an ageing connection — whose new socket kicks the old one — is not
 * mistaken for a kick.
 * Run: npx tsx --test test/e2e/client-sdk-single-session.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChatClosedError } from '../../client/src/errors.ts';
import type { KickedPush } from '../../client/src/types.ts';
import { sessions, until, untilCount, untilState } from '../../client/test/e2e-support.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { getApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
const made = sessions(() => runtime);

before(async () => {
  runtime = await startTestRuntime({ env: { SESSION_MODE: 'single' } });
});
after(async () => {
  made.closeAll();
  await runtime.stop();
});

test('kicked: the older device closes for good; the newer one keeps its session', async () => {
  const phone = made.open('kim');
  const laptop = made.open('kim');
  const kicks: KickedPush[] = [];
  phone.client.on('kicked', (push) => kicks.push(push));
  await phone.client.connect();

  await laptop.client.connect();
  await untilState(phone, 'closed');
  assert.equal(kicks[0]?.reason, 'signed_in_elsewhere');
  assert.deepEqual(phone.states, ['connecting', 'open', 'closed']);
  // Closed for good: commands and sends reject; no reconnect can happen.
  await assert.rejects(
    phone.client.sendMessage({ to_user_id: 'lee', content: 'x' }),
    (error: unknown) => error instanceof ChatClosedError,
  );

  // The laptop was not signed out in return.
  const lee = made.open('lee');
  await lee.client.connect();
  await lee.client.sendMessage({ to_user_id: 'kim', content: 'still there?' });
  await untilCount(laptop, 1);
  assert.equal(laptop.client.state, 'open');
  assert.deepEqual(laptop.states, ['connecting', 'open']);
  const check = await getApi<{ is_online: boolean }>(
    runtime,
    '/api/ws/online/check?user_id=kim',
    await tokenFor(runtime, 'lee'),
  );
  assert.equal(check.body.data?.is_online, true);
});

test("the SDK's own replacement of an ageing connection is not a kick", async () => {
  const mo = made.open('mo', { maxConnectionAgeMs: 600 });
  const ned = made.open('ned');
  const kicks: KickedPush[] = [];
  mo.client.on('kicked', (push) => kicks.push(push));
  await Promise.all([mo.client.connect(), ned.client.connect()]);
  const welcomes: string[] = [];
  mo.client.on('welcome', (welcome) => welcomes.push(welcome.connection_id));

  const sent: string[] = [];
  for (let n = 1; welcomes.length < 2 || n <= 5; n++) {
    sent.push((await ned.client.sendMessage({ to_user_id: 'mo', content: `n${n}` })).message_id);
    await untilCount(mo, sent.length);
    assert.ok(n < 5000, 'the connection is replaced');
  }
  // One more replacement after the last message, and its catch-up; closed right then,
  // when no replacement is half-way.
  const target = welcomes.length + 1;
  let done = false;
  const off = mo.client.on('synced', () => {
    if (welcomes.length < target) return; // the catch-up of an earlier replacement
    done = true;
    mo.client.close();
  });
  await until(
    mo.client,
    'synced',
    () => done,
    () => `one more replacement (welcomes: ${welcomes.length}, target ${target})`,
  );
  off();
  assert.deepEqual(kicks, []);
  assert.deepEqual(mo.states, ['connecting', 'open', 'closed'], 'never reconnecting, never kicked out');
  assert.deepEqual(
    mo.messages.map((m) => m.message_id),
    sent,
    'each message once, in order',
  );
});
