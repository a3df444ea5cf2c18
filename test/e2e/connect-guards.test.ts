/**
 * Handshake guards at `$connect`: the Origin allow-list (ALLOWED_ORIGINS, 403) and the
 * per-user connection limit (MAX_CONNECTIONS_PER_USER, 429). A refused handshake writes
 * nothing: no connection row, no presence entry.
 * Run: npx tsx --test test/e2e/connect-guards.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed, disconnect, sendCommand } from '../support/chat.ts';
import {
  expectHandshakeRefused,
  startTestRuntime,
  tokenFor,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const ALLOWED = 'https://chat.example';
const LIMIT = 2;

let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  runtime = await startTestRuntime({
    env: { ALLOWED_ORIGINS: ALLOWED, MAX_CONNECTIONS_PER_USER: String(LIMIT) },
  });
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

describe('Origin allow-list', () => {
  test('a listed Origin connects', async () => {
    const ok = await connectWelcomed(runtime, 'origin-ok', { headers: { Origin: ALLOWED } });
    await disconnect(runtime, ok);
  });

  test('no Origin header (a non-browser client) connects', async () => {
    const ok = await connectWelcomed(runtime, 'origin-none');
    await disconnect(runtime, ok);
  });

  test('another Origin is refused with 403 and nothing is written', async () => {
    const before = await tables.scan('connections');
    const token = await tokenFor(runtime, 'origin-evil');
    for (const origin of ['https://evil.example', 'https://chat.example.evil.example', 'null']) {
      const status = await expectHandshakeRefused(webSocketUrl(runtime, { token }), {
        headers: { Origin: origin },
      });
      assert.equal(status, 403, origin);
    }
    assert.deepEqual(await tables.scan('connections'), before);
    assert.equal(await tables.presenceOf('origin-evil'), undefined);
  });
});

describe('connections per user', () => {
  test(`a connection beyond the limit (${LIMIT}) is refused with 429; a freed slot can be reused`, async () => {
    const first = await connectWelcomed(runtime, 'limited');
    const second = await connectWelcomed(runtime, 'limited');
    const token = await tokenFor(runtime, 'limited');
    assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 429);
    assert.deepEqual(await tables.presenceOf('limited'), [first.connectionId, second.connectionId].sort());

    // Other users are not affected, and the open connections keep working.
    const other = await connectWelcomed(runtime, 'unlimited-peer');
    assert.equal((await sendCommand(first.client, 'ping')).data?.type, 'pong');

    await disconnect(runtime, second);
    const third = await connectWelcomed(runtime, 'limited');
    assert.deepEqual(await tables.presenceOf('limited'), [first.connectionId, third.connectionId].sort());
    await disconnect(runtime, first, third, other);
  });

  test('parallel handshakes never leave more than the limit open', async () => {
    const token = await tokenFor(runtime, 'racer');
    const attempts = await Promise.allSettled(
      Array.from({ length: 5 }, () => connectWelcomed(runtime, 'racer')),
    );
    const opened = attempts.filter((a) => a.status === 'fulfilled').map((a) => a.value);
    assert.ok(opened.length <= LIMIT, `${opened.length} connections opened`);
    for (const attempt of attempts) {
      if (attempt.status === 'rejected') assert.equal((attempt.reason as { status?: number }).status, 429);
    }
    const ids = (await tables.presenceOf('racer')) ?? [];
    assert.deepEqual(ids, opened.map((connection) => connection.connectionId).sort());
    if (opened.length < LIMIT) await connectWelcomed(runtime, 'racer').then((c) => opened.push(c));
    assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 429);
    await disconnect(runtime, ...opened);
  });
});
