/**
 * The per-user rate limit over real sockets and the HTTP API: with
 * RATE_LIMIT_PER_MINUTE=5 the 6th message of a minute answers 1029 and is neither stored
 * nor delivered; other users are not affected.
 * Run: npx tsx --test test/e2e/rate-limit.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { historyMessages, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const LIMIT = 5;
let runtime: LocalRuntime;
let senderPhone: ChatConnection;
let senderLaptop: ChatConnection;
let recipient: ChatConnection;
let other: ChatConnection;

before(async () => {
  runtime = await startTestRuntime({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
  senderPhone = await connectWelcomed(runtime, 'spammer');
  senderLaptop = await connectWelcomed(runtime, 'spammer');
  recipient = await connectWelcomed(runtime, 'target');
  other = await connectWelcomed(runtime, 'bystander');
});
after(() => runtime.stop());

test(`the ${LIMIT + 1}th message in a minute, across devices and the HTTP API, answers 1029`, async (t) => {
  // A minute boundary in the middle would reset the window: start early in a minute.
  const second = new Date().getUTCSeconds();
  if (second > 50) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
  const token = await tokenFor(runtime, 'spammer');
  const send = (connection: ChatConnection, content: string) =>
    sendCommand(connection.client, 'send_message', { to_user_id: 'target', content });
  for (let i = 0; i < LIMIT - 1; i++) {
    assert.equal((await send(i % 2 ? senderLaptop : senderPhone, `m${i}`)).code, 0);
  }
  const http = await postApi(
    runtime,
    '/api/ws/send-message',
    { to_user_id: 'target', content: 'http' },
    token,
  );
  assert.equal(http.status, 200);

  const refused = await send(senderPhone, 'one too many');
  assertErrorReply(refused, 1029);
  assert.match(
    String(refused.message),
    new RegExp(`at most ${LIMIT} messages per minute; retry after \\d+ s`),
  );
  const refusedHttp = await postApi(
    runtime,
    '/api/ws/send-message',
    { to_user_id: 'target', content: 'x' },
    token,
  );
  assert.equal(refusedHttp.status, 429);
  assert.equal(refusedHttp.body.code, 1029);

  await settle(recipient.client);
  const received = pushesOf(recipient.client, 'new_message').map((push) => push.content);
  assert.deepEqual(received.sort(), ['http', 'm0', 'm1', 'm2', 'm3']);
  const stored = await historyMessages(runtime, token, 'private_spammer_target');
  assert.equal(stored.length, LIMIT);

  await t.test('other users are not affected', async () => {
    const reply = await sendCommand(other.client, 'send_message', { to_user_id: 'target', content: 'hi' });
    assert.equal(reply.code, 0);
  });
});
