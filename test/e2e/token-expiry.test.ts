/**
 * A token that expires while connected: the next command that needs the sender is
 * refused (1401) and the connection is closed through the Management API; its
 * `$disconnect` removes the row and the presence entry. The clock tolerance is set to 0
 * here (JWT_CLOCK_TOLERANCE_SECONDS) so a 2 s token expires within the test.
 * Run: npx tsx --test test/e2e/token-expiry.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, sendCommand, welcomed } from '../support/chat.ts';
import { pollUntil } from '../support/http.ts';
import {
  expectHandshakeRefused,
  type FrameJson,
  startTestRuntime,
  TestClient,
  tokenFor,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  runtime = await startTestRuntime({ env: { JWT_CLOCK_TOLERANCE_SECONDS: '0' } });
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

test('a token that expires while connected is refused on its next command and the connection closed', async () => {
  const token = await tokenFor(runtime, 'shortlived', { ttlSeconds: 2 });
  const expiresAt = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp;
  const connection: ChatConnection = await welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
  const watcher = await connectWelcomed(runtime, 'watcher');

  // Bounded loop: one `sync` (a route that resolves the sender) at a time, until one is
  // refused or the server closes the socket; before exp every one must succeed.
  let refusal: FrameJson | undefined;
  let closedFirst = false;
  for (let attempt = 0; attempt < 40 && !refusal && !closedFirst; attempt++) {
    const outcome = await Promise.race([
      sendCommand(connection.client, 'sync', {}),
      connection.client.closed.then(() => undefined),
    ]);
    if (outcome === undefined) closedFirst = true;
    else if (outcome.code === 1401) refusal = outcome;
    else {
      assert.equal(outcome.code, 0, JSON.stringify(outcome));
      assert.ok(Date.now() / 1000 <= expiresAt + 1, 'a command after exp was served');
      await delay(200);
    }
  }
  assert.ok(refusal || closedFirst, 'the expired token was never refused');
  assert.ok(Date.now() / 1000 >= expiresAt, 'refused before the token expired');
  // The reply cannot travel after the close, so the client sees the 1401 or only the close.
  if (refusal) assert.match(String(refusal.message), /token expired/);

  const close = await Promise.race([
    connection.client.closed,
    delay(5_000).then(() => assert.fail('the connection was not closed')),
  ]);
  assert.equal(close.code, 1000);

  // $disconnect removed the row and the presence entry.
  await pollUntil(
    () => tables.connectionRow(connection.connectionId),
    (row) => row === undefined,
    'the expired connection row to be removed',
  );
  await pollUntil(
    () => tables.presenceOf('shortlived'),
    (ids) => ids === undefined,
    'the presence entry to be removed',
  );

  // The same token cannot reconnect; the other user is untouched.
  assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 401);
  assert.equal((await sendCommand(watcher.client, 'sync', {})).code, 0);
  await watcher.client.close();
});
