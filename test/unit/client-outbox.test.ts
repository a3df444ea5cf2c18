/**
 * The ChatClient outbox on a fake WebSocket and a fake clock: sends made while offline
 * wait (bounded) and go out in order after the reconnect's catch-up; every attempt of a
 * message carries the same client_msg_id (so the server stores it once), including the
 * send that was in flight when the socket dropped; retryable errors and timeouts retry,
 * other errors reject without blocking the queue.
 * Run: npx tsx --test test/unit/client-outbox.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import {
  ChatClosedError,
  ChatOutboxFullError,
  ChatRequestError,
  ChatTimeoutError,
} from '../../client/src/errors.ts';
import type { ChatClientOptions } from '../../client/src/options.ts';
import type { ChatMessage } from '../../client/src/types.ts';
import {
  connected as connectedWithPings,
  FakeWebSocket,
  fakeClient,
  flush,
  mid,
  record,
  type SentFrame,
} from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

/** Keep-alive pings off: they would interleave with the frames these tests look at. */
function connected(overrides: Partial<ChatClientOptions> = {}) {
  return connectedWithPings({ pingIntervalMs: 0, ...overrides });
}

const emptySync = { type: 'sync', messages: [], has_more: false };

function sent(frame: SentFrame, n: number) {
  return {
    type: 'message_sent',
    message_id: mid(n),
    room_id: `private_alice_${String(frame.data?.to_user_id)}`,
    delivered: 1,
    failed: 0,
    time: '2026-11-21T10:00:00.000Z',
  };
}

test('a send gets a client_msg_id; a given one is kept', async () => {
  const { client, ws } = await connected();
  const a = client.sendMessage({ to_user_id: 'bob', content: 'a' });
  await flush();
  const first = ws.lastOf('send_message');
  assert.match(String(first.data?.client_msg_id), /^[0-9a-f-]{36}$/);
  ws.reply(first, sent(first, 1));
  await a;
  const b = client.sendMessage({ to_user_id: 'bob', content: 'b', client_msg_id: 'mine-1', message_type: 2 });
  await flush();
  assert.deepEqual(ws.lastOf('send_message').data, {
    to_user_id: 'bob',
    content: 'b',
    client_msg_id: 'mine-1',
    message_type: 2,
  });
  ws.reply(ws.lastOf('send_message'), sent(first, 2));
  assert.equal((await b).message_id, mid(2));
  client.close();
});

test('sends go out one at a time, in order (frames are handled concurrently by the server)', async () => {
  const { client, ws } = await connected();
  const replies = [1, 2, 3].map((n) => client.sendMessage({ to_user_id: 'bob', content: `c${n}` }));
  await flush();
  for (const n of [1, 2, 3]) {
    const frames = ws.sentOf('send_message');
    assert.equal(frames.length, n, 'the next one waits for the previous reply');
    const frame = frames[n - 1] as SentFrame;
    assert.equal(frame.data?.content, `c${n}`);
    ws.reply(frame, sent(frame, n));
    await flush();
  }
  assert.deepEqual(
    (await Promise.all(replies)).map((r) => r.message_id),
    [mid(1), mid(2), mid(3)],
  );
  client.close();
});

test('offline: sends wait in the outbox, then go out in order with their client_msg_id after the catch-up', async () => {
  const { client, timers, ws } = await connected();
  ws.drop();
  const replies = [
    client.sendMessage({ to_user_id: 'bob', content: 'one' }),
    client.sendGroupMessage({ group_id: 'group_1', content: 'two' }),
    client.sendMessage({ to_user_id: 'carol', content: 'three' }),
  ];
  const queued = client.pendingSends;
  assert.deepEqual(
    queued.map((p) => [p.cmd, p.data.content]),
    [
      ['send_message', 'one'],
      ['send_group_message', 'two'],
      ['send_message', 'three'],
    ],
  );
  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  assert.equal(next.sentOf('send_message').length, 0, 'nothing is sent before the catch-up ends');
  next.reply(next.lastOf('sync'), emptySync);
  await flush();

  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const frame = next.sent.filter((f) => f.cmd.startsWith('send_')).at(-1) as SentFrame;
    order.push(String(frame.data?.content));
    assert.equal(frame.data?.client_msg_id, queued[i]?.client_msg_id, 'the id given when it was queued');
    if (frame.cmd === 'send_group_message')
      next.reply(frame, {
        type: 'group_message_sent',
        group_id: 'group_1',
        message_id: mid(10 + i),
        sent_count: 1,
        failed: 0,
        time: 't',
      });
    else next.reply(frame, sent(frame, 10 + i));
    await flush();
  }
  assert.deepEqual(order, ['one', 'two', 'three']);
  await Promise.all(replies);
  assert.deepEqual(client.pendingSends, []);
  client.close();
});

test('a send in flight when the socket drops is resent with the SAME client_msg_id and resolves with the eventual reply', async () => {
  const { client, timers, ws } = await connected();
  const messages = record<ChatMessage>((l) => client.on('message', l));
  const reply = client.sendMessage({ to_user_id: 'bob', content: 'hello?' });
  const queued = client.sendMessage({ to_user_id: 'bob', content: 'never sent yet' });
  await flush();
  const first = ws.lastOf('send_message');
  ws.drop(); // the server stored it, but the reply is lost with the connection

  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  // It may be stored already: it goes out again BEFORE the catch-up's sync, alone.
  assert.deepEqual(
    next.sent.map((f) => f.cmd),
    ['send_message'],
  );
  const retry = next.lastOf('send_message');
  assert.equal(retry.data?.client_msg_id, first.data?.client_msg_id);
  assert.notEqual(retry.request_id, first.request_id);
  const duplicate = { ...sent(retry, 7), delivered: 0, duplicate: true };
  next.reply(retry, duplicate);
  assert.deepEqual(await reply, duplicate);
  await flush();

  // The catch-up lists it (the server stored it): known as ours, it is not shown as incoming.
  next.reply(next.lastOf('sync'), {
    type: 'sync',
    messages: [
      {
        kind: 'private',
        message_id: mid(7),
        room_id: 'private_alice_bob',
        from_user_id: 'alice',
        to_user_id: 'bob',
        content: 'hello?',
        message_type: 1,
        time: 't',
      },
    ],
    next_since: mid(7),
    has_more: false,
  });
  await flush();
  assert.deepEqual(messages, []);
  assert.equal(client.lastSeenId, mid(7), 'the reply moves the sync position');

  // Then the rest of the outbox.
  const second = next.lastOf('send_message');
  assert.equal(second.data?.content, 'never sent yet');
  next.reply(second, sent(second, 8));
  await queued;
  client.close();
});

test('no reply: the same client_msg_id is sent again after each timeout, then the send rejects', async () => {
  const { client, timers, ws } = await connected({ requestTimeoutMs: 1000, outbox: { maxAttempts: 3 } });
  const reply = client.sendMessage({ to_user_id: 'bob', content: 'x' });
  const outcome = assert.rejects(reply, ChatTimeoutError);
  await flush();
  await timers.advance(1000);
  await timers.advance(1000);
  const frames = ws.sentOf('send_message');
  assert.equal(frames.length, 3);
  assert.equal(new Set(frames.map((f) => f.data?.client_msg_id)).size, 1);
  assert.equal(new Set(frames.map((f) => f.request_id)).size, 3);
  await timers.advance(1000);
  await outcome;
  assert.deepEqual(client.pendingSends, []);
  client.close();
});

test('retryable errors (10008, 5000, 1029) retry with the same id; 1029 waits as long as the server says', async () => {
  const { client, timers, ws } = await connected({ reconnect: { initialDelayMs: 1000 } });
  const reply = client.sendMessage({ to_user_id: 'bob', content: 'x' });
  await flush();
  ws.replyError(ws.lastOf('send_message'), 10008, 'message could not be stored');
  await timers.advance(499);
  assert.equal(ws.sentOf('send_message').length, 1);
  await timers.advance(1);
  assert.equal(ws.sentOf('send_message').length, 2);
  ws.replyError(
    ws.lastOf('send_message'),
    1029,
    'rate limited: at most 60 messages per minute; retry after 12 s',
  );
  await timers.advance(11_999);
  assert.equal(ws.sentOf('send_message').length, 2);
  await timers.advance(1);
  const frames = ws.sentOf('send_message');
  assert.equal(frames.length, 3);
  assert.equal(new Set(frames.map((f) => f.data?.client_msg_id)).size, 1);
  ws.reply(ws.lastOf('send_message'), sent(ws.lastOf('send_message'), 1));
  assert.equal((await reply).message_id, mid(1));
  client.close();
});

test('other errors reject that send only; the next one goes out', async () => {
  const { client, ws } = await connected();
  const bad = client.sendMessage({ to_user_id: 'bob', content: 'blocked word' });
  const good = client.sendMessage({ to_user_id: 'bob', content: 'fine' });
  await flush();
  ws.replyError(ws.lastOf('send_message'), 10007, 'message has blocked content');
  await assert.rejects(bad, (error: unknown) => error instanceof ChatRequestError && error.code === 10007);
  await flush();
  const next = ws.lastOf('send_message');
  assert.equal(next.data?.content, 'fine');
  ws.reply(next, sent(next, 2));
  await good;
  client.close();
});

test('1401 (connection unknown / token expired): reconnect, then resend with the same id', async () => {
  const { client, timers, ws } = await connected();
  const reply = client.sendMessage({ to_user_id: 'bob', content: 'x' });
  await flush();
  const first = ws.lastOf('send_message');
  ws.replyError(first, 1401, 'token expired; reconnect with a fresh token');
  await flush();
  assert.ok(ws.closedByClient, 'the client does not wait for the server to close');
  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  const retry = next.lastOf('send_message');
  assert.equal(retry.data?.client_msg_id, first.data?.client_msg_id);
  next.reply(retry, sent(retry, 3));
  await reply;
  client.close();
});

test('the outbox is bounded', async () => {
  const { client } = fakeClient({ outbox: { maxSize: 2 } });
  const a = client.sendMessage({ to_user_id: 'b', content: '1' });
  const b = client.sendMessage({ to_user_id: 'b', content: '2' });
  await assert.rejects(
    client.sendMessage({ to_user_id: 'b', content: '3' }),
    (error: unknown) => error instanceof ChatOutboxFullError && error.maxSize === 2,
  );
  assert.equal(client.pendingSends.length, 2);
  client.close();
  await assert.rejects(a, ChatClosedError);
  await assert.rejects(b, ChatClosedError);
});

test('sends queued before connect() go out after the first welcome', async () => {
  const { client } = fakeClient();
  const reply = client.sendRoomMessage({ room_id: 'lobby', content: 'early' });
  void client.connect();
  await flush();
  const ws = FakeWebSocket.last.welcome();
  await flush();
  const frame = ws.lastOf('send_room_message');
  assert.equal(frame.data?.content, 'early');
  ws.reply(frame, {
    type: 'room_message_sent',
    room_id: 'lobby',
    message_id: mid(1),
    sent_count: 0,
    failed: 0,
    time: 't',
  });
  assert.equal((await reply).type, 'room_message_sent');
  client.close();
});

test('close() rejects queued and in-flight sends with ChatClosedError', async () => {
  const { client, ws } = await connected();
  const inFlight = client.sendMessage({ to_user_id: 'bob', content: '1' });
  const queued = client.sendMessage({ to_user_id: 'bob', content: '2' });
  await flush();
  assert.equal(ws.sentOf('send_message').length, 1);
  client.close();
  await assert.rejects(inFlight, ChatClosedError);
  await assert.rejects(queued, ChatClosedError);
});

test('outbox: false — a send is a plain request that still carries a client_msg_id and is resent after a drop', async () => {
  const { client, timers, ws } = await connected({ outbox: false });
  const a = client.sendMessage({ to_user_id: 'bob', content: 'a' });
  const b = client.sendMessage({ to_user_id: 'bob', content: 'b' });
  assert.equal(ws.sentOf('send_message').length, 2, 'not serialised');
  const first = ws.sentOf('send_message')[0] as SentFrame;
  ws.drop();
  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  const resent = next.sentOf('send_message');
  assert.equal(resent.length, 2);
  assert.equal(resent[0]?.data?.client_msg_id, first.data?.client_msg_id);
  for (const [i, frame] of resent.entries()) next.reply(frame, sent(frame, i + 1));
  await Promise.all([a, b]);
  client.close();
});
