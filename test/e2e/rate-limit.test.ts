/**
 * The per-user rate limit over real sockets and the HTTP API: with
 * RATE_LIMIT_PER_MINUTE=5 the 6th message of a minute answers 1029 and is neither stored
 * nor delivered; other users are not affected. The limit counts per UTC minute: whether a
 * minute boundary fell inside the test is judged from the server's own times (see tryOnce).
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
import { connectEach } from '../support/clients.ts';
import { historyMessages, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const LIMIT = 5;
/** Fresh senders for another try when a minute boundary fell inside one (see below). */
const ATTEMPTS = 3;
let runtime: LocalRuntime;
let recipient: ChatConnection;
let other: ChatConnection;

before(async () => {
  runtime = await startTestRuntime({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
  [recipient, other] = await connectEach(runtime, ['target', 'bystander']);
});
after(() => runtime.stop());

/** The server's one-minute window of a reply's `time` (the limit counts per UTC minute). */
const windowOf = (time: unknown) => Math.floor(Date.parse(String(time)) / 60_000);
const timeOf = (data: unknown): unknown => (data as { time?: unknown } | null | undefined)?.time;

type Attempt =
  | { readonly crossed: true }
  | { readonly crossed: false; readonly sender: string; readonly token: string };

/**
 * LIMIT messages from two devices and the HTTP API, then one more on each path. Whether
 * a minute boundary fell inside is read from the server's own times, not from a clock
 * here: accepted messages in two windows (the count started over) make the try say so,
 * and the caller tries again with a fresh sender. Within one window everything is asserted.
 */
async function tryOnce(sender: string): Promise<Attempt> {
  const phone = await connectWelcomed(runtime, sender);
  const laptop = await connectWelcomed(runtime, sender);
  const token = await tokenFor(runtime, sender);
  try {
    const send = (connection: ChatConnection, content: string) =>
      sendCommand(connection.client, 'send_message', { to_user_id: 'target', content });
    const accepted: unknown[] = [];
    for (let i = 0; i < LIMIT - 1; i++) {
      const reply = await send(i % 2 ? laptop : phone, `m${i}`);
      assert.equal(reply.code, 0, JSON.stringify(reply));
      accepted.push(timeOf(reply.data));
    }
    const http = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: 'target', content: 'http' },
      token,
    );
    assert.equal(http.status, 200);
    accepted.push(timeOf(http.body.data));

    const refused = await send(phone, 'one too many');
    const refusedHttp = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: 'target', content: 'x' },
      token,
    );
    // An extra message the server accepted carries its time: in a later window, the
    // boundary explains it; in the same window it is the bug this test is for.
    const extras = [timeOf(refused.data), timeOf(refusedHttp.body.data)].filter((time) => time !== undefined);
    const windows = new Set([...accepted, ...extras].map(windowOf));
    if (windows.size > 1) return { crossed: true };

    assertErrorReply(refused, 1029);
    assert.match(
      String(refused.message),
      new RegExp(`at most ${LIMIT} messages per minute; retry after \\d+ s`),
    );
    assert.equal(refusedHttp.status, 429);
    assert.equal(refusedHttp.body.code, 1029);
    return { crossed: false, sender, token };
  } finally {
    await Promise.all([phone.client.close(), laptop.client.close()]);
  }
}

test(`the ${LIMIT + 1}th message in a minute, across devices and the HTTP API, answers 1029`, async (t) => {
  let attempt: Attempt = { crossed: true };
  for (let i = 0; i < ATTEMPTS && attempt.crossed; i++) attempt = await tryOnce(`spammer-${i}`);
  assert.ok(!attempt.crossed, `a minute boundary fell inside each of ${ATTEMPTS} tries`);
  const { sender, token } = attempt;

  // Refused messages were neither delivered nor stored.
  await settle(recipient.client);
  const received = pushesOf(recipient.client, 'new_message')
    .filter((push) => push.from_user_id === sender)
    .map((push) => push.content);
  assert.deepEqual(received.sort(), ['http', 'm0', 'm1', 'm2', 'm3']);
  const stored = await historyMessages(runtime, token, `private_${sender}_target`);
  assert.equal(stored.length, LIMIT);

  await t.test('other users are not affected', async () => {
    const reply = await sendCommand(other.client, 'send_message', { to_user_id: 'target', content: 'hi' });
    assert.equal(reply.code, 0);
  });
});
