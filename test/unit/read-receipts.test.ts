/**
 * Read receipts and unread counts against the real DynamoDB stores (in-memory dynalite),
 * with a notifier that records posts in place of the Management API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { UNREAD_CAP } from '../../functions/core/receipts/conversations.ts';
import { parseMarkRead, ReadReceipts, UnreadCounter } from '../../functions/core/receipts/read-receipts.ts';
import { ChatError } from '../../functions/core/shared/errors.ts';
import { newMessageId, privateRoomId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import type { DynamoMessageStore } from '../../functions/stores/messages.ts';
import type { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { codeOf } from '../support/chat-errors.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import {
  ConnectionOpener,
  createTestGroup,
  privateMessage,
  startTestStores,
  type TestStores,
} from '../support/stores.ts';

let stores: TestStores;
let notifier: RecordingNotifier;
let registry: ConnectionRegistry;
/** Opens connections a minute ago: past the handshake window, so a 410 removes them. */
let aMinuteAgo: ConnectionRegistry;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
let presence: DynamoPresenceStore;
let receipts: ReadReceipts;
let unread: UnreadCounter;
const opener = new ConnectionOpener('rr-conn');
let clock = Date.parse('2026-03-01T10:00:00.000Z');

/** Opens a connection, by default now, or with `registry` as it was a minute ago. */
const connect = (userId: string, via: ConnectionRegistry = registry) => opener.open(via, userId);

/** Stores a private message from `from` to `to` one second after the previous one. */
async function sendPrivate(from: string, to: string, extra: Partial<StoredMessage> = {}): Promise<string> {
  clock += 1000;
  const message = privateMessage(from, to, new Date(clock), extra);
  await messages.put(message);
  return message.messageId;
}

async function sendGroup(groupId: string, from: string): Promise<string> {
  clock += 1000;
  const at = new Date(clock);
  const messageId = newMessageId(at);
  await messages.put({
    roomId: groupId,
    messageId,
    kind: 'group',
    fromUserId: from,
    groupId,
    content: 'hi all',
    messageType: 1,
    createdAt: at.toISOString(),
  });
  return messageId;
}

const createGroup = (groupId: string, memberIds: string[]) =>
  createTestGroup(groups, groupId, memberIds, new Date(clock));

const reader = (userId: string) => ({ userId, roles: [] });

before(async () => {
  stores = await startTestStores();
  ({ presence, messages, groups } = stores);
  registry = stores.registry();
  aMinuteAgo = stores.registry({ now: () => new Date(Date.now() - 60_000) });
  const { conversations, readState } = stores;
  notifier = new RecordingNotifier();
  receipts = new ReadReceipts({
    notifier,
    registry,
    fanOutConcurrency: 4,
    conversations,
    readState,
    presence,
    now: () => new Date('2026-03-02T08:00:00.000Z'),
  });
  unread = new UnreadCounter({ conversations, readState });
});

after(async () => {
  await stores.stop();
});

describe('mark_read in a private chat', () => {
  it('stores the position, tells the peer and the reader’s other devices, and answers the unread count', async () => {
    const [amyPhone, amyLaptop, bob] = [await connect('amy'), await connect('amy'), await connect('bob')];
    const ids = [
      await sendPrivate('bob', 'amy'),
      await sendPrivate('amy', 'bob'),
      await sendPrivate('bob', 'amy'),
    ];
    await sendPrivate('bob', 'amy');
    const roomId = privateRoomId('amy', 'bob');
    notifier.clear();

    const reply = await receipts.markRead(
      reader('amy'),
      { room_id: roomId, message_id: ids[0] as string },
      amyPhone,
    );
    assert.deepEqual(reply, {
      type: 'read_marked',
      room_id: roomId,
      message_id: ids[0],
      unread: 2,
      peer_id: 'bob',
      time: '2026-03-02T08:00:00.000Z',
    });
    assert.deepEqual(notifier.take(bob), [
      {
        type: 'message_read',
        room_id: roomId,
        user_id: 'amy',
        peer_id: 'amy',
        message_id: ids[0],
        time: '2026-03-02T08:00:00.000Z',
      },
    ]);
    assert.deepEqual(notifier.take(amyLaptop), [
      { type: 'unread_count', room_id: roomId, unread: 2, peer_id: 'bob', time: '2026-03-02T08:00:00.000Z' },
    ]);
    assert.deepEqual(notifier.take(amyPhone), [], 'the asking connection has the reply');

    // Amy's own message (ids[1]) does not count; marking it reads what came before it.
    const second = await receipts.markRead(
      reader('amy'),
      { room_id: roomId, message_id: ids[1] as string },
      amyPhone,
    );
    assert.equal(second.unread, 2);
    const third = await receipts.markRead(reader('amy'), { room_id: roomId, message_id: ids[2] as string });
    assert.equal(third.unread, 1);
    assert.equal(notifier.take(amyPhone).length, 1, 'without an origin every device of the reader is told');
  });

  it('is forward only: an older or the same message is a success that changes nothing and tells no one', async () => {
    const [carlA, carlB, dina] = [await connect('carl'), await connect('carl'), await connect('dina')];
    const older = await sendPrivate('dina', 'carl');
    const newer = await sendPrivate('dina', 'carl');
    const roomId = privateRoomId('carl', 'dina');
    const first = await receipts.markRead(reader('carl'), { room_id: roomId, message_id: newer }, carlA);
    assert.equal(first.unread, 0);
    notifier.clear();

    for (const messageId of [older, newer]) {
      const reply = await receipts.markRead(
        reader('carl'),
        { room_id: roomId, message_id: messageId },
        carlA,
      );
      assert.equal(reply.message_id, newer, 'the stored position is reported');
      assert.equal(reply.unread, 0);
    }
    assert.deepEqual([notifier.take(carlA), notifier.take(carlB), notifier.take(dina)], [[], [], []]);
  });

  it('lets either participant mark the chat with themself, telling only their other devices', async () => {
    const [eveA, eveB] = [await connect('eve'), await connect('eve')];
    const note = await sendPrivate('eve', 'eve');
    notifier.clear();
    const reply = await receipts.markRead(
      reader('eve'),
      { room_id: privateRoomId('eve', 'eve'), message_id: note },
      eveA,
    );
    assert.equal(reply.unread, 0, 'notes to self are never unread');
    assert.deepEqual(notifier.take(eveB), [
      {
        type: 'unread_count',
        room_id: 'private_eve_eve',
        unread: 0,
        peer_id: 'eve',
        time: '2026-03-02T08:00:00.000Z',
      },
    ]);
  });

  it('refuses non-participants (1403), messages of another conversation (2001) and room ids that are not chats', async () => {
    const message = await sendPrivate('fay', 'gil');
    const roomId = privateRoomId('fay', 'gil');
    const otherRoomMessage = await sendPrivate('fay', 'hal');
    assert.equal(
      await codeOf(receipts.markRead(reader('hal'), { room_id: roomId, message_id: message })),
      1403,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('gil'), { room_id: roomId, message_id: otherRoomMessage })),
      2001,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('gil'), { room_id: roomId, message_id: newMessageId() })),
      2001,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('gil'), { room_id: 'lobby', message_id: message })),
      1403,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('gil'), { room_id: 'lob by', message_id: message })),
      2001,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('gil'), { room_id: 'group_bad!', message_id: message })),
      2001,
    );
  });

  it('only counts messages the reader received in a room whose name is ambiguous', async () => {
    // `private_a_b_c` is both a↔b_c and a_b↔c.
    const toA = await sendPrivate('b_c', 'a');
    await sendPrivate('a_b', 'c');
    await sendPrivate('a_b', 'c');
    const counted = await unread.summary('a');
    // The peer is named: the room id alone could be a with b_c or a_b with c.
    assert.deepEqual(counted.conversations, [
      { room_id: 'private_a_b_c', unread: 1, last_message_id: toA, peer_id: 'b_c' },
    ]);
    const foreign = await sendPrivate('c', 'a_b');
    assert.equal(
      await codeOf(receipts.markRead(reader('a'), { room_id: 'private_a_b_c', message_id: foreign })),
      2001,
      'a message between a_b and c is not a’s to mark',
    );
  });
});

describe('mark_read in a group', () => {
  it('tells the other members, counts messages not sent by the reader, and refuses non-members alike', async () => {
    await createGroup('group_rr1', ['ida', 'jon', 'kim']);
    const [idaA, idaB, jon, kim, out] = [
      await connect('ida'),
      await connect('ida'),
      await connect('jon'),
      await connect('kim'),
      await connect('out'),
    ];
    const m1 = await sendGroup('group_rr1', 'jon');
    await sendGroup('group_rr1', 'ida');
    await sendGroup('group_rr1', 'kim');
    notifier.clear();

    const reply = await receipts.markRead(reader('ida'), { room_id: 'group_rr1', message_id: m1 }, idaA);
    assert.equal(reply.unread, 1, 'kim’s message; ida’s own does not count');
    const expected = {
      type: 'message_read',
      room_id: 'group_rr1',
      user_id: 'ida',
      message_id: m1,
      time: '2026-03-02T08:00:00.000Z',
    };
    assert.deepEqual([notifier.take(jon), notifier.take(kim)], [[expected], [expected]]);
    assert.deepEqual(notifier.take(idaB), [
      { type: 'unread_count', room_id: 'group_rr1', unread: 1, time: '2026-03-02T08:00:00.000Z' },
    ]);
    assert.deepEqual([notifier.take(idaA), notifier.take(out)], [[], []]);

    assert.equal(
      await codeOf(receipts.markRead(reader('out'), { room_id: 'group_rr1', message_id: m1 })),
      1403,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('ida'), { room_id: 'group_nope', message_id: m1 })),
      1403,
    );
    assert.equal(
      await codeOf(receipts.markRead(reader('ida'), { room_id: 'group_rr1', message_id: newMessageId() })),
      2001,
    );
  });

  it('removes a member connection that answers 410', async () => {
    await createGroup('group_rr2', ['lea', 'max']);
    const [lea, maxGone] = [await connect('lea'), await connect('max', aMinuteAgo)];
    const m = await sendGroup('group_rr2', 'max');
    notifier.gone.add(maxGone);
    await receipts.markRead(reader('lea'), { room_id: 'group_rr2', message_id: m }, lea);
    assert.deepEqual(await presence.connectionsOf(['max']), []);
  });
});

describe('input', () => {
  it('answers 2002 without a room id, 1001 for a message id that is no ULID (any case) or a field of the wrong type', () => {
    const codeOfParse = (data: unknown) => {
      try {
        parseMarkRead(data);
      } catch (error) {
        assert.ok(error instanceof ChatError);
        return error.code;
      }
      return 0;
    };
    const ulid = newMessageId();
    assert.equal(codeOfParse({ message_id: ulid }), 2002);
    assert.equal(codeOfParse({ room_id: '  ', message_id: ulid }), 2002);
    assert.equal(codeOfParse(undefined), 2002);
    assert.equal(codeOfParse({ room_id: 'group_x' }), 1001);
    assert.equal(codeOfParse({ room_id: 'group_x', message_id: 'not-a-ulid' }), 1001);
    // Lower case is accepted (as by sync and delete_message) and stored in upper case.
    assert.equal(parseMarkRead({ room_id: 'group_x', message_id: ulid.toLowerCase() }).message_id, ulid);
    assert.equal(codeOfParse({ room_id: 7, message_id: ulid }), 1001);
    assert.deepEqual(parseMarkRead({ room_id: ' group_x ', message_id: ulid }), {
      room_id: 'group_x',
      message_id: ulid,
    });
  });
});

describe('unread counts', () => {
  it('lists private chats and groups with unread messages, newest first, and drops them once read', async () => {
    await createGroup('group_rr3', ['nia', 'oli']);
    await createGroup('group_rr4', ['nia', 'oli']);
    await sendPrivate('oli', 'nia');
    const lastPrivate = await sendPrivate('oli', 'nia');
    await sendPrivate('nia', 'pam');
    await sendGroup('group_rr4', 'nia');
    const lastGroup = await sendGroup('group_rr3', 'oli');
    const roomId = privateRoomId('nia', 'oli');

    assert.deepEqual(await unread.summary('nia'), {
      conversations: [
        { room_id: 'group_rr3', unread: 1, last_message_id: lastGroup },
        { room_id: roomId, unread: 2, last_message_id: lastPrivate, peer_id: 'oli' },
      ],
      total: 3,
    });
    await receipts.markRead(reader('nia'), { room_id: roomId, message_id: lastPrivate });
    assert.deepEqual(await unread.summary('nia'), {
      conversations: [{ room_id: 'group_rr3', unread: 1, last_message_id: lastGroup }],
      total: 1,
    });
    await receipts.markRead(reader('nia'), { room_id: 'group_rr3', message_id: lastGroup });
    assert.deepEqual(await unread.summary('nia'), { conversations: [], total: 0 });
    assert.deepEqual(await unread.summary('nobody'), { conversations: [], total: 0 });
  });

  it(`caps a count at ${UNREAD_CAP} ("that many or more")`, async () => {
    const roomId = privateRoomId('quin', 'rex');
    for (let i = 0; i < UNREAD_CAP + 20; i++) await sendPrivate('rex', 'quin');
    const [entry] = (await unread.summary('quin')).conversations;
    assert.equal(entry?.room_id, roomId);
    assert.equal(entry?.unread, UNREAD_CAP);
  });

  it('does not count recalled or expired messages', async () => {
    const live = await sendPrivate('sam', 'tia');
    const now = Math.floor(Date.now() / 1000);
    for (const extra of [{ deleted: true, deletedAt: new Date().toISOString() }, { expiresAt: now - 60 }]) {
      clock += 1000;
      const at = new Date(clock);
      await stores.dynamo.client.send(
        new PutCommand({
          TableName: stores.dynamo.tables.messages,
          Item: {
            roomId: privateRoomId('sam', 'tia'),
            messageId: newMessageId(at),
            kind: 'private',
            fromUserId: 'sam',
            toUserId: 'tia',
            inboxUserId: 'tia',
            outboxUserId: 'sam',
            messageType: 1,
            createdAt: at.toISOString(),
            ...extra,
          },
        }),
      );
    }
    assert.deepEqual((await unread.summary('tia')).conversations, [
      { room_id: privateRoomId('sam', 'tia'), unread: 1, last_message_id: live, peer_id: 'sam' },
    ]);
  });
});
