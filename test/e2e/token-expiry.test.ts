/**
 * A token that expires while connected: the next command (`ping` too) is
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
import { createGroup } from '../support/replies.ts';
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

  // Bounded loop: one `ping` (it checks the token too) at a time, until one is refused or
  // the server closes the socket. A pong carries the server's own time: one served must
  // not be later than exp (the check runs before the pong's time is taken; 1 s covers
  // the check's whole-second granularity). How many are served before exp depends on the
  // machine's speed, so only the server's decision for each is checked, not a count.
  let refusal: FrameJson | undefined;
  let closedFirst = false;
  for (let attempt = 0; attempt < 40 && !refusal && !closedFirst; attempt++) {
    const outcome = await Promise.race([
      sendCommand(connection.client, 'ping'),
      connection.client.closed.then(() => undefined),
    ]);
    if (outcome === undefined) closedFirst = true;
    else if (outcome.code === 1401) refusal = outcome;
    else {
      assert.equal(outcome.code, 0, JSON.stringify(outcome));
      assert.equal(outcome.data?.type, 'pong');
      assert.ok(Date.parse(String(outcome.data?.time)) / 1000 < expiresAt + 1, 'a ping after exp was served');
      await delay(200);
    }
  }
  assert.ok(refusal || closedFirst, 'the expired token was never refused');
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

test('pushes skip a connection whose token expired; the fan-out closes it', async () => {
  const token = await tokenFor(runtime, 'fading', { ttlSeconds: 2 });
  const expiresAt = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp;
  const fading: ChatConnection = await welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
  const writer = await connectWelcomed(runtime, 'fading-writer');
  const groupId = await createGroup(writer, 'fading group', ['fading']);

  // The recipient sends nothing: only the fan-out can notice its token expired. Private
  // and group messages alternate until the connection is closed (bounded).
  let closed = false;
  const replies: FrameJson[] = [];
  for (let i = 0; i < 60 && !closed; i++) {
    const reply =
      i % 2 === 0
        ? await sendCommand(writer.client, 'send_message', { to_user_id: 'fading', content: `m${i}` })
        : await sendCommand(writer.client, 'send_group_message', { group_id: groupId, content: `g${i}` });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    replies.push(reply);
    closed = await Promise.race([fading.client.closed.then(() => true), delay(150).then(() => false)]);
  }
  assert.ok(closed, 'the connection with the expired token was never closed');
  const delivered = (reply: FrameJson) => reply.data?.delivered ?? reply.data?.sent_count;
  assert.equal(delivered(replies.at(-1) as FrameJson), 0, 'the last message was not delivered to it');
  // The server's decision per message, by the server's own times (how many messages go
  // out before exp depends on the machine's speed, so no count is asserted): a message
  // stored after exp (1 s for whole-second granularity) is never delivered to it...
  for (const reply of replies) {
    if (Date.parse(String(reply.data?.time)) / 1000 >= expiresAt + 1) {
      assert.equal(delivered(reply), 0, `delivered after exp: ${JSON.stringify(reply)}`);
    }
  }
  // ...and every push that arrived was decided before exp: its server time is not later.
  const pushes = fading.client.frames
    .map((frame) => frame.json?.data)
    .filter((data) => data?.type === 'new_message' || data?.type === 'group_message');
  assert.equal(
    pushes.length,
    replies.filter((reply) => delivered(reply) === 1).length,
    'one push per delivery counted',
  );
  for (const push of pushes) {
    assert.ok(
      Date.parse(String(push?.time)) / 1000 < expiresAt + 1,
      `pushed after exp: ${JSON.stringify(push)}`,
    );
  }
  await pollUntil(
    () => tables.presenceOf('fading'),
    (ids) => ids === undefined,
    'the presence entry to be removed',
  );
  await writer.client.close();
});
