/**
 * Text frames must be UTF-8 (RFC 6455): one that is not closes the connection with 1007,
 * as docs/protocol.md says; a lone surrogate escaped inside valid JSON is data, refused 1001.
 * Run: npx tsx --test test/e2e/frame-encoding.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { assertErrorReply, connectWelcomed, sendCommand } from '../support/chat.ts';
import { startTestRuntime } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
before(async () => {
  runtime = await startTestRuntime();
});
after(() => runtime.stop());

test('a text frame that is not UTF-8 closes the connection with 1007', async () => {
  const { client } = await connectWelcomed(runtime, 'bytes');
  // 0xC3 starts a two-byte sequence that 0x28 does not continue.
  client.socket.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
  const close = await client.closed;
  assert.equal(close.code, 1007);
});

test('an escaped lone surrogate is valid UTF-8 and answers 1001, the connection stays open', async () => {
  const { client } = await connectWelcomed(runtime, 'escapes');
  const reply = await sendCommand(client, 'send_message', { to_user_id: 'x', content: 'a\ud800' });
  assertErrorReply(reply, 1001);
  assert.equal((await sendCommand(client, 'ping')).data?.type, 'pong');
});
