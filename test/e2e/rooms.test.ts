/**
 * Rooms: `join_room`, `leave_room` and `send_room_message` over real WebSocket
 * connections to the local runtime, including membership that ends with its connection
 * and member rows that outlived theirs.
 * Run: npx tsx --test test/e2e/rooms.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { DynamoRoomStore } from '../../functions/stores/rooms.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  ULID,
  withMessageId,
} from '../support/chat.ts';
import { historyMessages, pollUntil, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

/** Small, so the limit is quick to reach. */
const MAX_ROOMS = 3;

let runtime: LocalRuntime;
let tables: RuntimeTables;
let roomStore: DynamoRoomStore;

before(async () => {
  runtime = await startTestRuntime({
    env: { MAX_ROOMS_PER_CONNECTION: String(MAX_ROOMS) },
    // The racing-joins test runs 60 commands of one connection at once (the default bound is 10).
    maxInFlightPerConnection: 100,
  });
  tables = runtimeTables(runtime);
  roomStore = new DynamoRoomStore(tables.client, tables.names.rooms);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

/** The connection ids the rooms table holds for a room (expired rows included), sorted. */
async function memberRows(roomId: string): Promise<string[]> {
  const rows = await tables.scan('rooms');
  return rows
    .filter((row) => row.roomId === roomId)
    .map((row) => String(row.connectionId))
    .sort();
}

/** Waits until the room's member rows are exactly `expected` (`$disconnect` removes them after the connection row). */
async function waitForMemberRows(roomId: string, expected: readonly string[]): Promise<void> {
  const want = [...expected].sort();
  await pollUntil(
    () => memberRows(roomId),
    (rows) => JSON.stringify(rows) === JSON.stringify(want),
    `the member rows of ${roomId} to be ${JSON.stringify(want)}`,
  );
}

async function join(connection: ChatConnection, roomId: string): Promise<void> {
  const reply = await sendCommand(connection.client, 'join_room', { room_id: roomId });
  assert.equal(reply.code, 0, JSON.stringify(reply));
}

async function roomPushCounts(connections: readonly ChatConnection[]): Promise<number[]> {
  await Promise.all(connections.map((c) => settle(c.client)));
  return connections.map((c) => pushesOf(c.client, 'room_message').length);
}

describe('join_room and leave_room', () => {
  let user: ChatConnection;
  before(async () => {
    user = await connectWelcomed(runtime, 'joiner');
  });
  after(() => disconnect(runtime, user));

  test('join answers join_room_success; joining again changes nothing', async () => {
    const reply = await sendCommand(user.client, 'join_room', { room_id: 'lobby' }, 'join-1');
    assert.equal(reply.code, 0);
    assert.equal(reply.message, 'success');
    assert.equal(reply.request_id, 'join-1');
    assert.deepEqual(Object.keys(reply.data ?? {}).sort(), ['room_id', 'time', 'type', 'user_id']);
    assert.equal(reply.data?.type, 'join_room_success');
    assert.equal(reply.data?.room_id, 'lobby');
    assert.equal(reply.data?.user_id, 'joiner');
    assertIsoTime(reply.data?.time);
    assert.deepEqual(await memberRows('lobby'), [user.connectionId]);
    const row = await tables.connectionRow(user.connectionId);
    assert.deepEqual([...((row?.rooms as Set<string> | undefined) ?? [])], ['lobby']);
    const [member] = (await tables.scan('rooms')).filter((r) => r.roomId === 'lobby');
    assert.equal(member?.expiresAt, row?.expiresAt, 'the membership expires with the connection');
    assert.equal(member?.userId, 'joiner');

    const again = await sendCommand(user.client, 'join_room', { room_id: 'lobby' });
    assert.equal(again.data?.type, 'join_room_success');
    assert.deepEqual(await memberRows('lobby'), [user.connectionId]);
  });

  test('leave answers leave_room_success, also for a room this connection is not in', async () => {
    const reply = await sendCommand(user.client, 'leave_room', { room_id: 'lobby' }, 'leave-1');
    assert.equal(reply.code, 0);
    assert.equal(reply.request_id, 'leave-1');
    assert.deepEqual(Object.keys(reply.data ?? {}).sort(), ['room_id', 'time', 'type', 'user_id']);
    assert.equal(reply.data?.type, 'leave_room_success');
    assert.equal(reply.data?.room_id, 'lobby');
    assert.equal(reply.data?.user_id, 'joiner');
    assertIsoTime(reply.data?.time);
    assert.deepEqual(await memberRows('lobby'), []);

    for (const roomId of ['lobby', 'never-joined']) {
      const idempotent = await sendCommand(user.client, 'leave_room', { room_id: roomId });
      assert.equal(idempotent.code, 0, roomId);
      assert.equal(idempotent.data?.type, 'leave_room_success');
    }
  });

  test(`a connection is in at most ${MAX_ROOMS} rooms: one more answers 2001`, async () => {
    const rooms = Array.from({ length: MAX_ROOMS }, (_, i) => `cap-${i}`);
    for (const roomId of rooms) await join(user, roomId);
    const refused = await sendCommand(user.client, 'join_room', { room_id: 'cap-extra' });
    assertErrorReply(refused, 2001);
    assert.match(String(refused.message), new RegExp(`at most ${MAX_ROOMS} rooms`));
    assert.deepEqual(await memberRows('cap-extra'), []);
    await join(user, 'cap-0'); // a room it is already in: still fine
    // The limit is per connection: another device of the same user may join.
    const otherDevice = await connectWelcomed(runtime, 'joiner');
    await join(otherDevice, 'cap-extra');
    await disconnect(runtime, otherDevice);
    await waitForMemberRows('cap-extra', []);
    const left = await sendCommand(user.client, 'leave_room', { room_id: 'cap-0' });
    assert.equal(left.code, 0);
    await join(user, 'cap-extra');
    for (const roomId of ['cap-1', 'cap-2', 'cap-extra']) {
      await sendCommand(user.client, 'leave_room', { room_id: roomId });
    }
  });

  test(`concurrent joins on one connection: exactly ${MAX_ROOMS} succeed, the rest answer 2001`, async () => {
    const racer = await connectWelcomed(runtime, 'racing-joiner');
    const rooms = Array.from({ length: 60 }, (_, i) => `race-${i}`);
    const replies = await Promise.all(
      rooms.map((roomId) =>
        sendCommand(racer.client, 'join_room', { room_id: roomId }, `race-${roomId}`, 30_000),
      ),
    );
    const joined = rooms.filter((_, i) => replies[i]?.code === 0).sort();
    const codes = replies.map((reply) => reply.code);
    assert.equal(joined.length, MAX_ROOMS, JSON.stringify(codes));
    // 1029 (beyond the per-connection in-flight bound, raised above) would be refused before running.
    for (const reply of replies) if (reply.code !== 0 && reply.code !== 1029) assertErrorReply(reply, 2001);
    assert.ok(codes.filter((code) => code === 2001).length >= 10 - MAX_ROOMS, JSON.stringify(codes));
    // The connection row lists exactly the rooms that have its member row.
    const connections = new DynamoConnectionStore(tables.client, tables.names.connections);
    const row = await connections.get(racer.connectionId);
    assert.deepEqual([...(row?.rooms ?? [])].sort(), joined);
    const rows = (await tables.scan('rooms')).filter((item) => item.connectionId === racer.connectionId);
    assert.deepEqual(rows.map((item) => String(item.roomId)).sort(), joined);
    await disconnect(runtime, racer);
  });

  test('invalid room ids answer 2002 (missing, empty, blank) or 2001 (format, reserved, type)', async () => {
    const invalid: readonly [string, unknown, number][] = [
      ['no data', undefined, 2002],
      ['data null', null, 2002],
      ['data a string', 'lobby', 2002],
      ['no room_id', {}, 2002],
      ['empty room_id', { room_id: '' }, 2002],
      ['blank room_id', { room_id: '   ' }, 2002],
      ['a space', { room_id: 'the lobby' }, 2001],
      ['a slash', { room_id: 'a/b' }, 2001],
      ['non-ASCII', { room_id: 'café' }, 2001],
      ['65 characters', { room_id: 'r'.repeat(65) }, 2001],
      ['private_ prefix', { room_id: 'private_a_b' }, 2001],
      ['group_ prefix', { room_id: 'group_abc' }, 2001],
      ['system_ prefix', { room_id: 'system_1' }, 2001],
      ['a number', { room_id: 7 }, 2001],
      ['an object', { room_id: { id: 'lobby' } }, 2001],
    ];
    for (const cmd of ['join_room', 'leave_room']) {
      for (const [description, data, code] of invalid) {
        const reply = await sendCommand(user.client, cmd, data, `${cmd}-${description}`);
        assertErrorReply(reply, code, `${cmd}: ${description}`);
        assert.equal(reply.request_id, `${cmd}-${description}`);
      }
    }
    assert.equal((await tables.scan('rooms')).length, 0, 'nothing was written');
    const longest = 'A-z_0'.repeat(12).concat('abcd');
    assert.equal(longest.length, 64);
    await join(user, longest);
    await sendCommand(user.client, 'leave_room', { room_id: longest });
  });
});

describe('send_room_message', () => {
  /** ann posts from her phone and has her laptop in the room too; ben has one device in and one out; cy is in. */
  let annPhone: ChatConnection;
  let annLaptop: ChatConnection;
  let benIn: ChatConnection;
  let benOut: ChatConnection;
  let cy: ChatConnection;
  let dee: ChatConnection;
  const room = 'climbing-wall';
  const everyoneButAnnPhone = () => [annLaptop, benIn, benOut, cy, dee];

  before(async () => {
    annPhone = await connectWelcomed(runtime, 'ann');
    annLaptop = await connectWelcomed(runtime, 'ann');
    benIn = await connectWelcomed(runtime, 'ben');
    benOut = await connectWelcomed(runtime, 'ben');
    cy = await connectWelcomed(runtime, 'cy');
    dee = await connectWelcomed(runtime, 'dee');
    for (const connection of [annPhone, annLaptop, benIn, cy]) await join(connection, room);
  });
  after(() => disconnect(runtime, annPhone, annLaptop, benIn, benOut, dee));

  test('connections in the room get room_message; none of the sender’s; the reply counts deliveries', async () => {
    const reply = await sendCommand(
      annPhone.client,
      'send_room_message',
      { room_id: room, content: 'Who is at the wall? 🧗', message_type: 1, client_msg_id: 'r-1' },
      'room-1',
    );
    assert.equal(reply.code, 0, JSON.stringify(reply));
    assert.equal(reply.request_id, 'room-1');
    const sent = reply.data ?? {};
    assert.deepEqual(Object.keys(sent).sort(), [
      'failed',
      'message_id',
      'room_id',
      'sent_count',
      'time',
      'type',
    ]);
    assert.equal(sent.type, 'room_message_sent');
    assert.equal(sent.room_id, room);
    assert.match(String(sent.message_id), ULID);
    assert.equal(sent.sent_count, 2, 'ben’s connection in the room and cy’s');
    assertIsoTime(sent.time);

    const expectedPush = {
      type: 'room_message',
      room_id: room,
      message_id: sent.message_id,
      from_user_id: 'ann',
      content: 'Who is at the wall? 🧗',
      message_type: 1,
      time: sent.time,
    };
    for (const member of [benIn, cy]) {
      assert.deepEqual(
        await nextPush(member.client, 'room_message', withMessageId(sent.message_id)),
        expectedPush,
      );
    }
    await Promise.all([annPhone, annLaptop, benOut, dee].map((c) => settle(c.client)));
    assert.deepEqual(pushesOf(annPhone.client, 'room_message'), [], 'not to the sending connection');
    assert.deepEqual(pushesOf(annLaptop.client, 'room_message'), [], 'not to the sender’s other connection');
    assert.deepEqual(pushesOf(benOut.client, 'room_message'), [], 'not to a connection outside the room');
    assert.deepEqual(pushesOf(dee.client, 'room_message'), [], 'not to a non-member');

    const stored = await historyMessages(runtime, await tokenFor(runtime, 'cy'), room);
    assert.deepEqual(stored[0], {
      message_id: sent.message_id,
      room_id: room,
      from_user_id: 'ann',
      content: 'Who is at the wall? 🧗',
      message_type: 1,
      time: sent.time,
    });
  });

  test('a connection outside the room is refused with 1403, even when the same user has one inside', async () => {
    const before = await roomPushCounts(everyoneButAnnPhone());
    for (const [description, connection] of [
      ['ben’s device outside the room', benOut],
      ['dee, not a member', dee],
    ] as const) {
      const reply = await sendCommand(connection.client, 'send_room_message', {
        room_id: room,
        content: 'let me in',
      });
      assertErrorReply(reply, 1403, description);
    }
    const nobody = await sendCommand(dee.client, 'send_room_message', {
      room_id: 'empty-room',
      content: 'hi',
    });
    assertErrorReply(nobody, 1403, 'a room nobody is in');
    assert.deepEqual(await roomPushCounts(everyoneButAnnPhone()), before);
  });

  test('invalid requests answer 2002, 2001, 10002, 1001 or 1002 and deliver nothing', async () => {
    const before = await roomPushCounts(everyoneButAnnPhone());
    const invalid: readonly [string, unknown, number][] = [
      ['no data', undefined, 2002],
      ['no room_id', { content: 'hi' }, 2002],
      ['blank room_id', { room_id: ' ', content: 'hi' }, 2002],
      ['a malformed room_id', { room_id: 'climbing wall', content: 'hi' }, 2001],
      ['a reserved room_id', { room_id: 'private_ann_ben', content: 'hi' }, 2001],
      ['a numeric room_id', { room_id: 12, content: 'hi' }, 2001],
      ['no content', { room_id: room }, 10002],
      ['blank content', { room_id: room, content: ' \n ' }, 10002],
      ['content a number', { room_id: room, content: 5 }, 1001],
      ['message_type 9', { room_id: room, content: 'hi', message_type: 9 }, 1001],
      ['client_msg_id over 128', { room_id: room, content: 'hi', client_msg_id: 'c'.repeat(129) }, 1001],
      ['content over 4,000 characters', { room_id: room, content: 'x'.repeat(4001) }, 1002],
    ];
    for (const [description, data, code] of invalid) {
      const reply = await sendCommand(annPhone.client, 'send_room_message', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
    }
    assert.deepEqual(await roomPushCounts(everyoneButAnnPhone()), before);

    const longest = await sendCommand(annPhone.client, 'send_room_message', {
      room_id: room,
      content: '語'.repeat(4000),
    });
    assert.equal(longest.code, 0, 'exactly 4,000 characters is accepted');
    for (const member of [benIn, cy]) {
      await nextPush(member.client, 'room_message', withMessageId(longest.data?.message_id));
    }
  });

  test('after leave_room a connection neither receives nor may post', async () => {
    const left = await sendCommand(benIn.client, 'leave_room', { room_id: room });
    assert.equal(left.code, 0);
    const reply = await sendCommand(annPhone.client, 'send_room_message', { room_id: room, content: 'ben?' });
    assert.equal(reply.data?.sent_count, 1, 'cy only');
    await nextPush(cy.client, 'room_message', withMessageId(reply.data?.message_id));
    await settle(benIn.client);
    assert.deepEqual(
      pushesOf(benIn.client, 'room_message').filter((p) => p.message_id === reply.data?.message_id),
      [],
    );
    assertErrorReply(
      await sendCommand(benIn.client, 'send_room_message', { room_id: room, content: 'x' }),
      1403,
    );
    await join(benIn, room);
  });

  test('a closed connection leaves its rooms: it is not counted and its member rows are gone', async () => {
    await join(cy, 'second-room');
    assert.ok((await memberRows(room)).includes(cy.connectionId));
    await disconnect(runtime, cy);
    await waitForMemberRows(room, [annPhone.connectionId, annLaptop.connectionId, benIn.connectionId]);
    await waitForMemberRows('second-room', []);

    const reply = await sendCommand(annPhone.client, 'send_room_message', {
      room_id: room,
      content: 'cy left',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 1, 'ben only; cy is gone');
    await nextPush(benIn.client, 'room_message', withMessageId(reply.data?.message_id));
  });

  test('member rows past their expiry are ignored and not posted to', async () => {
    const expiredId = 'expiredMemberAB=';
    const now = Math.floor(Date.now() / 1000);
    await roomStore.join({
      roomId: room,
      connectionId: expiredId,
      userId: 'ghost',
      joinedAt: new Date((now - 3 * 3600) * 1000).toISOString(),
      expiresAt: now - 60,
    });
    const reply = await sendCommand(annPhone.client, 'send_room_message', { room_id: room, content: 'boo' });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 1, 'ben only');
    await nextPush(benIn.client, 'room_message', withMessageId(reply.data?.message_id));
    // Filtered, not posted to: a post would have met a 410 and deleted the row.
    assert.ok((await memberRows(room)).includes(expiredId), 'left for the table TTL');
    const ghostHistory = await readHistory(runtime, await tokenFor(runtime, 'ghost'), room);
    assert.equal(ghostHistory.status, 403, 'an expired membership grants no history either');
    assert.equal(ghostHistory.body.code, 1403);
  });

  test('a connection whose $disconnect never came is removed by the first post that meets its 410', async () => {
    const staleId = 'staleRoomConnAB=';
    const now = Math.floor(Date.now() / 1000);
    const connections = new DynamoConnectionStore(tables.client, tables.names.connections);
    const presence = new DynamoPresenceStore(tables.client, tables.names.presence);
    // What $connect and join_room would have written for a connection the gateway no longer has.
    await connections.put({
      connectionId: staleId,
      userId: 'vanished',
      roles: [],
      // Connected long ago: a 410 from a connection still in its handshake window is kept.
      connectedAt: new Date(Date.now() - 3_600_000).toISOString(),
      expiresAt: now + 7800,
    });
    await presence.addConnection('vanished', staleId, now + 7800);
    for (const roomId of [room, 'stale-other']) {
      assert.equal(await connections.addRoom(staleId, roomId, MAX_ROOMS), 'added');
      await roomStore.join({
        roomId,
        connectionId: staleId,
        userId: 'vanished',
        joinedAt: new Date().toISOString(),
        expiresAt: now + 7800,
      });
    }

    const reply = await sendCommand(annPhone.client, 'send_room_message', {
      room_id: room,
      content: 'hello?',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.sent_count, 1, 'ben only: the stale connection answered 410');
    await nextPush(benIn.client, 'room_message', withMessageId(reply.data?.message_id));
    // The reply comes after the 410s went to the sweep function, which closes them.
    await pollUntil(
      () => tables.presenceOf('vanished'),
      (ids) => ids === undefined,
      'the stale connection out of presence',
    );
    assert.equal(await tables.connectionRow(staleId), undefined);
    assert.ok(!(await memberRows(room)).includes(staleId));
    assert.deepEqual(await memberRows('stale-other'), []);
  });
});
