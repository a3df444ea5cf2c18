/**
 * Rooms (join, leave, send) and room history against the real DynamoDB stores (in-memory
 * dynalite) and a notifier that records posts in place of the Management API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import {
  type HistoryPage,
  parseHistoryCommand,
  readHistory,
} from '../../functions/core/messaging/history.ts';
import { parseRoomMessage, parseRoomTarget, RoomService } from '../../functions/core/rooms/rooms.ts';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import type { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import type { DynamoMessageStore } from '../../functions/stores/messages.ts';
import type { DynamoRoomStore } from '../../functions/stores/rooms.ts';
import { codeOf } from '../support/chat-errors.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import { ConnectionOpener, startTestStores, type TestStores } from '../support/stores.ts';

const settings = { maxContentLength: 100, maxRoomsPerConnection: 3 };

let stores: TestStores;
let notifier: RecordingNotifier;
let service: RoomService;
let registry: ConnectionRegistry;
let connections: DynamoConnectionStore;
let rooms: DynamoRoomStore;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
const opener = new ConnectionOpener('room-conn');

const nowSeconds = () => Math.floor(Date.now() / 1000);

const connect = (userId: string) => opener.open(registry, userId);

const history = (readerId: string, roomId: string, extra: Record<string, unknown> = {}) =>
  readHistory({ messages, groups, rooms }, readerId, { roomId, ...extra });

before(async () => {
  stores = await startTestStores();
  ({ connections, rooms, messages, groups } = stores);
  // These tests open a connection and expire it at once; the handshake window has its own test.
  registry = stores.registry({ handshakeWindowMs: 0 });
  notifier = new RecordingNotifier();
  service = new RoomService({
    connections,
    rooms,
    messages,
    registry,
    notifier,
    fanOutConcurrency: 4,
    settings,
  });
});

after(async () => {
  await stores.stop();
});

describe('room command data', () => {
  it('room_id: missing, empty or blank is 2002; malformed, reserved or not a string is 2001', async () => {
    const cases: readonly [unknown, number][] = [
      [{}, 2002],
      [{ room_id: '' }, 2002],
      [{ room_id: '   ' }, 2002],
      [{ room_id: null }, 2002],
      [undefined, 2002],
      ['lobby', 2002],
      [['lobby'], 2002],
      [{ room_id: 'has space' }, 2001],
      [{ room_id: ' lobby' }, 2001],
      [{ room_id: 'dot.ted' }, 2001],
      [{ room_id: 'ümlaut' }, 2001],
      [{ room_id: 'r'.repeat(65) }, 2001],
      [{ room_id: 'private_a_b' }, 2001],
      [{ room_id: 'group_x' }, 2001],
      [{ room_id: 'system_1' }, 2001],
      [{ room_id: 42 }, 2001],
      [{ room_id: { id: 'lobby' } }, 2001],
      [{ room_id: ['lobby'] }, 2001],
    ];
    for (const [data, code] of cases) {
      assert.equal(await codeOf(() => parseRoomTarget(data)), code, JSON.stringify(data));
    }
    for (const roomId of ['lobby', 'a', 'r'.repeat(64), 'Room-1_x', 'private', 'Private_a_b', 'groups']) {
      assert.deepEqual(parseRoomTarget({ room_id: roomId, extra: 1 }), { room_id: roomId });
    }
  });

  it('send_room_message: room first, then the content rules of send_message', async () => {
    const cases: readonly [unknown, number][] = [
      [{ content: 'hi' }, 2002],
      [{ room_id: 'bad id', content: '' }, 2001],
      [{ room_id: 'lobby' }, 10002],
      [{ room_id: 'lobby', content: '  \n' }, 10002],
      [{ room_id: 'lobby', content: 5 }, 1001],
      [{ room_id: 'lobby', content: 'hi', message_type: 9 }, 1001],
      [{ room_id: 'lobby', content: 'hi', message_type: '1' }, 1001],
      [{ room_id: 'lobby', content: 'hi', client_msg_id: 'c'.repeat(129) }, 1001],
    ];
    for (const [data, code] of cases) {
      assert.equal(await codeOf(() => parseRoomMessage(data)), code, JSON.stringify(data));
    }
    assert.deepEqual(parseRoomMessage({ room_id: 'lobby', content: 'hi', to_user_id: 'x' }), {
      room_id: 'lobby',
      content: 'hi',
      message_type: 1,
    });
  });

  it('history: room_id 2002 when absent, 2001 when not a string; other fields 1001', async () => {
    assert.equal(await codeOf(() => parseHistoryCommand('lobby')), 2002);
    assert.equal(await codeOf(() => parseHistoryCommand(null)), 2002);
    assert.equal(await codeOf(() => parseHistoryCommand({ room_id: 7 })), 2001);
    assert.equal(await codeOf(() => parseHistoryCommand({ room_id: 'lobby', cursor: 1 })), 1001);
    assert.equal(await codeOf(() => parseHistoryCommand({ room_id: 'lobby', before: {} })), 1001);
    assert.equal(await codeOf(() => parseHistoryCommand({ room_id: 'lobby', limit: [5] })), 1001);
    assert.deepEqual(parseHistoryCommand({ room_id: 'lobby', limit: 5, cursor: null }), {
      roomId: 'lobby',
      before: undefined,
      cursor: undefined,
      limit: 5,
    });
    assert.deepEqual(parseHistoryCommand({}), {
      roomId: undefined,
      before: undefined,
      cursor: undefined,
      limit: undefined,
    });
  });
});

describe('join_room / leave_room', () => {
  it('join writes a member row that expires with the connection; joining again changes nothing', async () => {
    const connectionId = await connect('j-user');
    const row = await connections.get(connectionId);
    const joined = await service.join(connectionId, { room_id: 'j-room' });
    assert.equal(joined.type, 'join_room_success');
    assert.equal(joined.room_id, 'j-room');
    assert.equal(joined.user_id, 'j-user');
    assert.equal(new Date(joined.time).toISOString(), joined.time);

    const member = await rooms.member('j-room', connectionId);
    assert.equal(member?.userId, 'j-user');
    assert.equal(member?.expiresAt, row?.expiresAt, 'the membership expires with its connection');
    assert.deepEqual((await connections.get(connectionId))?.rooms, ['j-room']);

    await service.join(connectionId, { room_id: 'j-room' });
    assert.deepEqual(
      (await rooms.members('j-room')).map((m) => m.connectionId),
      [connectionId],
    );
    assert.deepEqual((await connections.get(connectionId))?.rooms, ['j-room']);
  });

  it('leave removes the membership; leaving a room one is not in succeeds too', async () => {
    const connectionId = await connect('l-user');
    await service.join(connectionId, { room_id: 'l-room' });
    await service.join(connectionId, { room_id: 'l-other' });
    const left = await service.leave(connectionId, { room_id: 'l-room' });
    assert.equal(left.type, 'leave_room_success');
    assert.equal(left.room_id, 'l-room');
    assert.equal(left.user_id, 'l-user');
    assert.equal(await rooms.member('l-room', connectionId), undefined);
    assert.deepEqual((await connections.get(connectionId))?.rooms, ['l-other']);

    const again = await service.leave(connectionId, { room_id: 'l-room' });
    assert.equal(again.type, 'leave_room_success');
    const never = await service.leave(connectionId, { room_id: 'never-joined' });
    assert.equal(never.room_id, 'never-joined');
    assert.deepEqual((await connections.get(connectionId))?.rooms, ['l-other']);
  });

  it('a connection may be in at most maxRoomsPerConnection rooms (2001); rejoining one still works', async () => {
    const connectionId = await connect('cap-user');
    for (const roomId of ['cap-1', 'cap-2', 'cap-3']) await service.join(connectionId, { room_id: roomId });
    assert.equal(await codeOf(service.join(connectionId, { room_id: 'cap-4' })), 2001);
    assert.equal(await rooms.member('cap-4', connectionId), undefined);
    assert.equal((await service.join(connectionId, { room_id: 'cap-2' })).type, 'join_room_success');
    await service.leave(connectionId, { room_id: 'cap-1' });
    assert.equal((await service.join(connectionId, { room_id: 'cap-4' })).type, 'join_room_success');
  });

  it('a connection that is gone or expired gets 1401 and writes nothing', async () => {
    assert.equal(await codeOf(service.join('no-such-connection', { room_id: 'g-room' })), 1401);
    assert.equal(await codeOf(service.leave('no-such-connection', { room_id: 'g-room' })), 1401);
    await connections.put({
      connectionId: 'expired-connection',
      userId: 'x',
      roles: [],
      connectedAt: new Date().toISOString(),
      expiresAt: nowSeconds() - 1,
    });
    assert.equal(await codeOf(service.join('expired-connection', { room_id: 'g-room' })), 1401);
    assert.deepEqual(await rooms.members('g-room'), []);
  });

  it('closing a connection removes it from every room it had joined', async () => {
    const connectionId = await connect('c-user');
    await service.join(connectionId, { room_id: 'c-room-1' });
    await service.join(connectionId, { room_id: 'c-room-2' });
    await registry.close(connectionId);
    assert.equal(await rooms.member('c-room-1', connectionId), undefined);
    assert.equal(await rooms.member('c-room-2', connectionId), undefined);
  });
});

describe('send_room_message', () => {
  it('stores, then reaches every connection in the room except all of the sender’s', async () => {
    const senderPhone = await connect('s-alice');
    const senderLaptop = await connect('s-alice');
    const bobInRoom = await connect('s-bob');
    const bobElsewhere = await connect('s-bob');
    const carolInRoom = await connect('s-carol');
    for (const id of [senderPhone, senderLaptop, bobInRoom, carolInRoom]) {
      await service.join(id, { room_id: 's-room' });
    }
    const sent = await service.send(senderPhone, {
      room_id: 's-room',
      content: 'hello room',
      message_type: 1,
      client_msg_id: 'c-1',
    });
    assert.equal(sent.type, 'room_message_sent');
    assert.equal(sent.room_id, 's-room');
    assert.equal(sent.sent_count, 2);
    for (const id of [bobInRoom, carolInRoom]) {
      assert.deepEqual(notifier.received(id).at(-1), {
        code: 0,
        message: 'success',
        data: {
          type: 'room_message',
          room_id: 's-room',
          message_id: sent.message_id,
          from_user_id: 's-alice',
          content: 'hello room',
          message_type: 1,
          time: sent.time,
        },
      });
    }
    for (const id of [senderPhone, senderLaptop, bobElsewhere]) assert.deepEqual(notifier.received(id), []);

    const page = await history('s-carol', 's-room');
    assert.deepEqual(page.messages, [
      {
        message_id: sent.message_id,
        room_id: 's-room',
        from_user_id: 's-alice',
        content: 'hello room',
        message_type: 1,
        time: sent.time,
      },
    ]);
  });

  it('refuses a connection that is not in the room with 1403, even when another of the user’s is', async () => {
    const inRoom = await connect('n-user');
    const outside = await connect('n-user');
    const listener = await connect('n-listener');
    await service.join(inRoom, { room_id: 'n-room' });
    await service.join(listener, { room_id: 'n-room' });
    const before = notifier.received(listener).length;
    const send = (id: string, roomId = 'n-room') =>
      service.send(id, { room_id: roomId, content: 'x', message_type: 1 });
    assert.equal(await codeOf(send(outside)), 1403);
    assert.equal(await codeOf(send(inRoom, 'n-nobody-here')), 1403);
    await service.leave(inRoom, { room_id: 'n-room' });
    assert.equal(await codeOf(send(inRoom)), 1403);
    assert.equal(await codeOf(send('no-such-connection')), 1401);
    assert.equal(notifier.received(listener).length, before);
    assert.deepEqual((await history('n-listener', 'n-room')).messages, []);
  });

  it('a member row without its connection row (a join that raced a close) cannot post', async () => {
    const connectionId = await connect('race-user');
    await rooms.join({
      roomId: 'race-room',
      connectionId,
      userId: 'race-user',
      joinedAt: new Date().toISOString(),
      expiresAt: nowSeconds() + 3600,
    });
    assert.equal(
      await codeOf(service.send(connectionId, { room_id: 'race-room', content: 'x', message_type: 1 })),
      1403,
    );
  });

  it('content over the limit is 1002; a failed write is 10008; neither delivers anything', async () => {
    const poster = await connect('f-poster');
    const listener = await connect('f-listener');
    await service.join(poster, { room_id: 'f-room' });
    await service.join(listener, { room_id: 'f-room' });
    assert.equal(
      await codeOf(service.send(poster, { room_id: 'f-room', content: 'x'.repeat(101), message_type: 1 })),
      1002,
    );
    const failing = new RoomService({
      connections,
      rooms,
      messages: {
        put: async () => {
          throw new Error('ProvisionedThroughputExceededException');
        },
        history: messages.history.bind(messages),
      },
      registry,
      notifier,
      fanOutConcurrency: 4,
      settings,
    });
    assert.equal(
      await codeOf(failing.send(poster, { room_id: 'f-room', content: 'x', message_type: 1 })),
      10008,
    );
    assert.deepEqual(notifier.received(listener), []);
  });

  it('a recipient that answers 410 is closed: its rooms go and sent_count counts it no more', async () => {
    const poster = await connect('gone-poster');
    const live = await connect('gone-live');
    const dead = await connect('gone-dead');
    for (const id of [poster, live, dead]) await service.join(id, { room_id: 'gone-room' });
    await service.join(dead, { room_id: 'gone-elsewhere' });
    notifier.gone.add(dead);

    const first = await service.send(poster, { room_id: 'gone-room', content: 'one', message_type: 1 });
    assert.equal(first.sent_count, 1);
    assert.equal(await connections.get(dead), undefined);
    assert.equal(await rooms.member('gone-room', dead), undefined);
    assert.equal(await rooms.member('gone-elsewhere', dead), undefined);

    const attempts = notifier.attempts.length;
    const second = await service.send(poster, { room_id: 'gone-room', content: 'two', message_type: 1 });
    assert.equal(second.sent_count, 1);
    assert.deepEqual(notifier.attempts.slice(attempts), [live], 'the closed connection is not tried again');
  });

  it('a gone member whose connection row is already missing still loses its member row', async () => {
    const poster = await connect('orphan-poster');
    await service.join(poster, { room_id: 'orphan-room' });
    await rooms.join({
      roomId: 'orphan-room',
      connectionId: 'orphan-connection',
      userId: 'orphan',
      joinedAt: new Date().toISOString(),
      expiresAt: nowSeconds() + 3600,
    });
    notifier.gone.add('orphan-connection');
    const sent = await service.send(poster, { room_id: 'orphan-room', content: 'x', message_type: 1 });
    assert.equal(sent.sent_count, 0);
    assert.equal(await rooms.member('orphan-room', 'orphan-connection'), undefined);
  });

  it('member rows past their expiry are ignored: not posted to, not counted', async () => {
    const poster = await connect('exp-poster');
    const live = await connect('exp-live');
    await service.join(poster, { room_id: 'exp-room' });
    await service.join(live, { room_id: 'exp-room' });
    await rooms.join({
      roomId: 'exp-room',
      connectionId: 'expired-member',
      userId: 'exp-ghost',
      joinedAt: new Date(Date.now() - 3 * 3600_000).toISOString(),
      expiresAt: nowSeconds() - 5,
    });
    const attempts = notifier.attempts.length;
    const sent = await service.send(poster, { room_id: 'exp-room', content: 'x', message_type: 1 });
    assert.equal(sent.sent_count, 1);
    assert.deepEqual(notifier.attempts.slice(attempts), [live]);
    assert.equal(await codeOf(history('exp-ghost', 'exp-room')), 1403, 'an expired row grants no history');
  });
});

describe('room history', () => {
  it('a user reads while one of their connections is in the room, by any route; not after leaving', async () => {
    const inRoom = await connect('h-reader');
    const other = await connect('h-reader');
    await service.join(inRoom, { room_id: 'h-room' });
    const sent = await service.send(inRoom, { room_id: 'h-room', content: 'mine', message_type: 1 });

    for (const options of [{}, { connectionId: inRoom }, { connectionId: other }]) {
      const page = await readHistory({ messages, groups, rooms }, 'h-reader', { roomId: 'h-room' }, options);
      assert.deepEqual(
        page.messages.map((m) => m.message_id),
        [sent.message_id],
        JSON.stringify(options),
      );
    }
    // Another user's connection id does not lend its membership.
    assert.equal(
      await codeOf(
        readHistory(
          { messages, groups, rooms },
          'h-intruder',
          { roomId: 'h-room' },
          { connectionId: inRoom },
        ),
      ),
      1403,
    );
    assert.equal(await codeOf(readHistory({ messages, groups }, 'h-reader', { roomId: 'h-room' })), 1403);
    await service.leave(inRoom, { room_id: 'h-room' });
    assert.equal(await codeOf(history('h-reader', 'h-room')), 1403);
  });

  it('validates room ids as join_room does', async () => {
    assert.equal(await codeOf(history('h-reader', '')), 2002);
    assert.equal(await codeOf(history('h-reader', 'bad room')), 2001);
    assert.equal(await codeOf(history('h-reader', 'r'.repeat(65))), 2001);
    assert.equal(await codeOf(history('h-reader', 'system_h-reader')), 1403);
    assert.equal(await codeOf(history('h-reader', 'group_')), 2001);
  });

  it('a page over the byte budget holds fewer messages, and its cursor continues without a gap', async () => {
    const reader = await connect('big-reader');
    await service.join(reader, { room_id: 'big-room' });
    // 4,000 characters of 3 UTF-8 bytes each, and characters JSON must escape.
    const contents = ['語'.repeat(4000), '"'.repeat(4000), '\u0001'.repeat(4000), '😀'.repeat(2000)];
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const message: StoredMessage = {
        roomId: 'big-room',
        messageId: newMessageId(),
        kind: 'room',
        fromUserId: 'big-writer',
        content: contents[i % contents.length] as string,
        messageType: 1,
        createdAt: new Date().toISOString(),
      };
      await messages.put(message);
      ids.push(message.messageId);
    }
    const budget = 120 * 1024;
    const unbounded = await history('big-reader', 'big-room', { limit: 100 });
    assert.equal(unbounded.messages.length, 24, 'without a budget (HTTP) the page holds them all');

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page: HistoryPage = await readHistory(
        { messages, groups, rooms },
        'big-reader',
        { roomId: 'big-room', limit: 100, cursor },
        { connectionId: reader, maxBytes: budget },
      );
      const size = Buffer.byteLength(JSON.stringify({ type: 'history', ...page }), 'utf8');
      assert.ok(size <= budget, `page ${pages} is ${size} bytes`);
      assert.ok(page.messages.length >= 1 && page.messages.length < 24);
      seen.push(...page.messages.map((m) => m.message_id));
      cursor = page.next_cursor;
      assert.ok(++pages <= 24, 'paging ends');
    } while (cursor);
    assert.ok(pages >= 3, `${pages} pages`);
    assert.deepEqual(seen, [...ids].reverse());

    const tiny = await history('big-reader', 'big-room', { limit: 5 });
    const one = await readHistory(
      { messages, groups, rooms },
      'big-reader',
      { roomId: 'big-room', limit: 5 },
      { maxBytes: 10 },
    );
    assert.deepEqual(
      one.messages,
      tiny.messages.slice(0, 1),
      'at least one message, however small the budget',
    );
    assert.ok(one.next_cursor);
  });
});
