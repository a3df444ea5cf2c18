/**
 * ChatClient catch-up on a fake WebSocket and a fake clock: after every reconnect it
 * pages `sync` from the last position it saw, delivers what was missed in order, holds
 * live pushes back meanwhile and merges them in, de-duplicates by message_id (against
 * what it delivered and what it sent itself), re-joins rooms and reads missed room
 * messages with `history`, and syncs once more a little later for late index entries.
 * Run: npx tsx --test test/unit/client-catchup.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { CatchUpSummary } from '../../client/src/events.ts';
import { ulidFloor } from '../../client/src/ids.ts';
import type { ChatClientOptions } from '../../client/src/options.ts';
import type { ChatMessage, SystemNotification } from '../../client/src/types.ts';
import { FakeWebSocket, fakeClient, flush, mid, record, type SentFrame } from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

async function connected(overrides: Partial<ChatClientOptions> = {}) {
  const { client, timers } = fakeClient({ pingIntervalMs: 0, ...overrides });
  const messages = record<ChatMessage>((l) => client.on('message', l));
  const welcome = client.connect();
  await flush();
  const ws = FakeWebSocket.last.welcome();
  await welcome;
  return { client, timers, ws, messages };
}

const T = '2026-11-21T10:00:00.000Z';

function live(n: number, from = 'bob') {
  return {
    type: 'new_message',
    message_id: mid(n),
    room_id: 'private_alice_bob',
    from_user_id: from,
    to_user_id: 'alice',
    content: `m${n}`,
    message_type: 1,
    time: T,
  };
}

function item(n: number, overrides: Record<string, unknown> = {}) {
  return {
    kind: 'private',
    message_id: mid(n),
    room_id: 'private_alice_bob',
    from_user_id: 'bob',
    to_user_id: 'alice',
    content: `m${n}`,
    message_type: 1,
    time: T,
    ...overrides,
  };
}

function page(items: ReturnType<typeof item>[], hasMore: boolean) {
  const last = items.at(-1);
  return {
    type: 'sync',
    messages: items,
    ...(last ? { next_since: last.message_id } : {}),
    has_more: hasMore,
  };
}

/** Drops the connection and welcomes the next one; returns the new socket. */
async function reconnect(ws: FakeWebSocket, timers: { advance(ms: number): Promise<void> }) {
  const before = FakeWebSocket.instances.length;
  ws.drop();
  // Whatever the backoff delay is: step the fake clock until the next socket is created.
  for (let step = 0; step < 1200 && FakeWebSocket.instances.length === before; step++)
    await timers.advance(50);
  const next = FakeWebSocket.last;
  assert.notEqual(next, ws);
  next.welcome('alice', '2026-11-21T10:30:00.000Z');
  await flush();
  return next;
}

const contents = (messages: readonly ChatMessage[]) => messages.map((m) => m.content);

describe('sync after a reconnect', () => {
  test('pages from the last seen id until has_more is false; missed messages in order, marked catch_up', async () => {
    const { client, timers, ws, messages } = await connected({ syncPageSize: 2 });
    const synced = record<CatchUpSummary>((l) => client.on('synced', l));
    ws.push(live(1));
    assert.equal(client.lastSeenId, mid(1));

    const next = await reconnect(ws, timers);
    const first = next.lastOf('sync');
    assert.deepEqual(first.data, { since: mid(1), limit: 2 });
    next.reply(
      first,
      page([item(2), item(3, { kind: 'group', room_id: 'group_g', group_id: 'group_g' })], true),
    );
    await flush();
    const second = next.lastOf('sync');
    assert.deepEqual(second.data, { since: mid(3), limit: 2 });
    next.reply(second, page([item(4, { deleted: true, content: '' })], false));
    await flush();

    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3', '']);
    const [m1, m2, m3, m4] = messages;
    assert.equal(m1?.catch_up, false);
    assert.equal(m2?.catch_up, true);
    assert.equal(m2?.type, 'new_message');
    assert.equal(m3?.type, 'group_message');
    assert.equal(m3?.kind === 'group' && m3.group_id, 'group_g');
    assert.equal(m4?.deleted, true);
    assert.equal(client.lastSeenId, mid(4));
    assert.deepEqual(synced, [{ since: mid(1), position: mid(4), delivered: 3 }]);
    client.close();
  });

  test('the position starts at the first welcome when the app gives none (nothing before it is replayed)', async () => {
    const { client, timers, ws } = await connected();
    assert.equal(client.lastSeenId, ulidFloor(Date.parse(T)));
    const next = await reconnect(ws, timers);
    assert.equal(next.lastOf('sync').data?.since, ulidFloor(Date.parse(T)));
    client.close();
  });

  test('`since` resumes a persisted position on the first connection; `position` events report it', async () => {
    const { client, timers } = fakeClient({ since: mid(5).toLowerCase() });
    const positions = record<string>((l) => client.on('position', l));
    const messages = record<ChatMessage>((l) => client.on('message', l));
    void client.connect();
    await flush();
    const ws = FakeWebSocket.last.welcome();
    await flush();
    const sync = ws.lastOf('sync');
    assert.equal(sync.data?.since, mid(5));
    ws.reply(sync, page([item(6)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m6']);
    assert.deepEqual(positions, [mid(6)]);
    void timers;
    client.close();
  });

  test('syncFromStart: the first connection syncs from the beginning', async () => {
    const { client } = fakeClient({ syncFromStart: true });
    void client.connect();
    await flush();
    const ws = FakeWebSocket.last.welcome();
    await flush();
    assert.deepEqual(ws.lastOf('sync').data, { limit: 100 });
    client.close();
  });

  test('system notifications come as system_notify, live and from sync, each once', async () => {
    const { client, timers, ws } = await connected();
    const notices = record<SystemNotification>((l) => client.on('system_notify', l));
    ws.push({
      type: 'system_notify',
      notify_id: mid(1),
      message_id: mid(1),
      notification_type: 'order.shipped',
      data: { order: 7 },
      time: T,
    });
    const next = await reconnect(ws, timers);
    next.reply(
      next.lastOf('sync'),
      page(
        [
          item(1, { kind: 'system', notification_type: 'order.shipped', data: { order: 7 } }),
          item(2, { kind: 'system', notification_type: 'maintenance', data: { at: '02:00' } }),
        ],
        false,
      ),
    );
    await flush();
    assert.deepEqual(
      notices.map((n) => [n.notification_type, n.data, n.catch_up]),
      [
        ['order.shipped', { order: 7 }, false],
        ['maintenance', { at: '02:00' }, true],
      ],
    );
    client.close();
  });
});

describe('exactly once, in order', () => {
  test('a sync page repeating messages already delivered live does not deliver them again', async () => {
    const { client, timers, ws, messages } = await connected({ since: mid(0) });
    ws.reply(ws.lastOf('sync'), page([], false));
    await flush();
    ws.push(live(1));
    ws.push(live(2));
    const next = await reconnect(ws, timers);
    // A sync from an older position (e.g. a position persisted earlier) overlaps.
    next.reply(next.lastOf('sync'), page([item(1), item(2), item(3)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3']);
    client.close();
  });

  test('live pushes during the catch-up are held back and merged in id order, each once', async () => {
    const { client, timers, ws, messages } = await connected({ syncPageSize: 2 });
    ws.push(live(1));
    const next = await reconnect(ws, timers);
    // Live while the first page is on its way: 5 is also in page 2, 9 is newer than all pages.
    next.push(live(5));
    next.push(live(9));
    next.reply(next.lastOf('sync'), page([item(2), item(3)], true));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3'], 'live ones not ahead of missed ones');
    next.push(live(9)); // twice live (e.g. two connections during a rotation)
    next.reply(next.lastOf('sync'), page([item(4), item(5), item(6)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm9']);
    next.push(live(10));
    assert.deepEqual(contents(messages).slice(-1), ['m10'], 'live again afterwards');
    assert.equal(client.lastSeenId, mid(10));
    client.close();
  });

  test('a message pushed before the welcome waits for the catch-up (it must not move the position past missed ones)', async () => {
    const { client, timers, ws, messages } = await connected();
    ws.push(live(1));
    ws.drop();
    await timers.advance(250);
    const next = FakeWebSocket.last.open();
    next.push(live(5)); // registered, so pushed to, before the welcome arrives
    assert.deepEqual(contents(messages), ['m1']);
    next.welcome();
    await flush();
    assert.equal(next.lastOf('sync').data?.since, mid(1));
    next.reply(next.lastOf('sync'), page([item(2), item(3)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3', 'm5']);
    assert.equal(client.lastSeenId, mid(5));
    client.close();
  });

  test('a drop in the middle of the catch-up: the next one resumes from the last page, nothing lost or doubled', async () => {
    const { client, timers, ws, messages } = await connected({ syncPageSize: 2 });
    ws.push(live(1));
    let next = await reconnect(ws, timers);
    next.push(live(8)); // held back, then lost with the connection: it is stored, sync brings it
    next.reply(next.lastOf('sync'), page([item(2), item(3)], true));
    await flush();
    assert.equal(client.lastSeenId, mid(3));
    next = await reconnect(next, timers);
    assert.equal(next.lastOf('sync').data?.since, mid(3));
    next.reply(next.lastOf('sync'), page([item(4), item(8)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3', 'm4', 'm8']);
    client.close();
  });

  test('the position does not jump past missed messages while a catch-up runs', async () => {
    const { client, timers, ws } = await connected();
    ws.push(live(1));
    const next = await reconnect(ws, timers);
    next.push(live(9));
    const reply = client.sendMessage({ to_user_id: 'bob', content: 'x' });
    await flush();
    assert.equal(client.lastSeenId, mid(1), 'unchanged until the catch-up completes');
    next.reply(next.lastOf('sync'), page([item(2)], false));
    await flush();
    assert.equal(client.lastSeenId, mid(9));
    const send = next.lastOf('send_message');
    next.reply(send, {
      type: 'message_sent',
      message_id: mid(11),
      room_id: 'r',
      delivered: 1,
      failed: 0,
      time: T,
    });
    await reply;
    assert.equal(client.lastSeenId, mid(11));
    client.close();
  });

  test('messages this client sent do not come back as `message`; other devices of the same user do', async () => {
    const { client, timers, ws, messages } = await connected();
    const reply = client.sendMessage({ to_user_id: 'bob', content: 'from here' });
    await flush();
    ws.reply(ws.lastOf('send_message'), {
      type: 'message_sent',
      message_id: mid(3),
      room_id: 'private_alice_bob',
      delivered: 1,
      failed: 0,
      time: T,
    });
    await reply;
    const next = await reconnect(ws, timers);
    next.reply(
      next.lastOf('sync'),
      page(
        [
          item(3, { from_user_id: 'alice', to_user_id: 'bob', content: 'from here' }),
          item(4, { from_user_id: 'alice', to_user_id: 'bob', content: 'from my phone' }),
        ],
        false,
      ),
    );
    await flush();
    assert.deepEqual(contents(messages), ['from my phone']);
    client.close();
  });

  test('a send in flight while a sync page arrives: the page waits for the reply, so the own message is not shown', async () => {
    const { client, timers, ws, messages } = await connected({ resyncDelayMs: 5000 });
    ws.push(live(1));
    const next = await reconnect(ws, timers);
    next.reply(next.lastOf('sync'), page([], false));
    await flush();
    // The follow-up sync runs while a send waits for its reply; the page already lists it.
    const reply = client.sendMessage({ to_user_id: 'bob', content: 'mine' });
    await timers.advance(5000);
    const resync = next.lastOf('sync');
    next.reply(resync, page([item(2, { from_user_id: 'alice', to_user_id: 'bob', content: 'mine' })], false));
    await flush();
    next.reply(next.lastOf('send_message'), {
      type: 'message_sent',
      message_id: mid(2),
      room_id: 'private_alice_bob',
      delivered: 1,
      failed: 0,
      time: T,
    });
    await reply;
    await flush();
    assert.deepEqual(contents(messages), ['m1']);
    client.close();
  });

  test('de-duplication memory is bounded (dedupeCapacity)', async () => {
    const { client, timers, ws, messages } = await connected({ dedupeCapacity: 2, since: mid(0) });
    ws.reply(ws.lastOf('sync'), page([], false));
    await flush();
    for (const n of [1, 2, 3]) ws.push(live(n));
    ws.push(live(3));
    ws.push(live(1)); // forgotten: the oldest of three with room for two
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm3', 'm1']);
    void timers;
    client.close();
  });
});

describe('rooms and the follow-up sync', () => {
  test('rooms are re-joined before the catch-up; missed room messages come from history, oldest first', async () => {
    const { client, timers, ws, messages } = await connected();
    const join = client.joinRoom({ room_id: 'lobby' });
    ws.reply(ws.lastOf('join_room'), {
      type: 'join_room_success',
      room_id: 'lobby',
      user_id: 'alice',
      time: T,
    });
    await join;
    ws.push({
      type: 'room_message',
      room_id: 'lobby',
      message_id: mid(1),
      from_user_id: 'bob',
      content: 'r1',
      message_type: 1,
      time: T,
    });
    const queued = client.sendRoomMessage({ room_id: 'lobby', content: 'queued' });
    await flush();
    ws.reply(ws.lastOf('send_room_message'), {
      type: 'room_message_sent',
      room_id: 'lobby',
      message_id: mid(2),
      sent_count: 1,
      failed: 0,
      time: T,
    });
    await queued;

    const next = await reconnect(ws, timers);
    assert.equal(next.sent[0]?.cmd, 'join_room', 'the room is joined again first');
    assert.equal(next.sentOf('sync').length, 0, 'sync waits for the re-join');
    next.reply(next.lastOf('join_room'), {
      type: 'join_room_success',
      room_id: 'lobby',
      user_id: 'alice',
      time: T,
    });
    await flush();
    next.reply(next.lastOf('sync'), page([], false));
    await flush();
    // Live during the room catch-up.
    next.push({
      type: 'room_message',
      room_id: 'lobby',
      message_id: mid(6),
      from_user_id: 'bob',
      content: 'r6',
      message_type: 1,
      time: T,
    });
    const history = next.lastOf('history') as SentFrame;
    assert.equal(history.data?.room_id, 'lobby');
    const roomItem = (n: number, from = 'bob') => ({
      message_id: mid(n),
      room_id: 'lobby',
      from_user_id: from,
      content: `r${n}`,
      message_type: 1,
      time: T,
    });
    // Newest first, down to the last one seen (the own message 2).
    next.reply(history, {
      type: 'history',
      room_id: 'lobby',
      messages: [roomItem(6), roomItem(5), roomItem(4)],
      next_cursor: 'c1',
    });
    await flush();
    const older = next.lastOf('history');
    assert.equal(older.data?.cursor, 'c1');
    next.reply(older, {
      type: 'history',
      room_id: 'lobby',
      messages: [roomItem(3), roomItem(2, 'alice'), roomItem(1)],
    });
    await flush();
    assert.deepEqual(contents(messages), ['r1', 'r3', 'r4', 'r5', 'r6']);
    assert.deepEqual(
      messages.map((m) => m.type),
      ['room_message', 'room_message', 'room_message', 'room_message', 'room_message'],
    );
    client.close();
  });

  test('a room left is not re-joined', async () => {
    const { client, timers, ws } = await connected();
    const join = client.joinRoom({ room_id: 'lobby' });
    ws.reply(ws.lastOf('join_room'), {
      type: 'join_room_success',
      room_id: 'lobby',
      user_id: 'alice',
      time: T,
    });
    await join;
    const leave = client.leaveRoom({ room_id: 'lobby' });
    ws.reply(ws.lastOf('leave_room'), {
      type: 'leave_room_success',
      room_id: 'lobby',
      user_id: 'alice',
      time: T,
    });
    await leave;
    const next = await reconnect(ws, timers);
    assert.equal(next.sentOf('join_room').length, 0);
    assert.deepEqual(client.joinedRooms, []);
    client.close();
  });

  test('a second sync a few seconds after the catch-up picks up a message that reached the index late', async () => {
    const { client, timers, ws, messages } = await connected({ resyncDelayMs: 5000 });
    ws.push(live(1));
    const next = await reconnect(ws, timers);
    next.reply(next.lastOf('sync'), page([item(3)], false)); // 2 is stored but not yet in the index
    await flush();
    next.push(live(4));
    await timers.advance(4999);
    assert.equal(next.sentOf('sync').length, 1);
    await timers.advance(1);
    const resync = next.lastOf('sync');
    // From shortly before the reconnect's welcome, but never before the catch-up's start.
    assert.equal(resync.data?.since, mid(1));
    next.reply(resync, page([item(2), item(3), item(4)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm3', 'm4', 'm2']);
    client.close();
  });

  test('a failed catch-up is reported and retried; held-back live messages wait for it', async () => {
    const { client, timers, ws, messages } = await connected();
    const errors = record<Error>((l) => client.on('error', l));
    ws.push(live(1));
    const next = await reconnect(ws, timers);
    next.replyError(next.lastOf('sync'), 5000, 'internal error');
    await flush();
    assert.match(errors[0]?.message ?? '', /catch-up failed/);
    next.push(live(5));
    assert.deepEqual(contents(messages), ['m1']);
    await timers.advance(250);
    assert.equal(next.sentOf('sync').length, 2);
    next.reply(next.lastOf('sync'), page([item(2), item(5)], false));
    await flush();
    assert.deepEqual(contents(messages), ['m1', 'm2', 'm5']);
    client.close();
  });
});
