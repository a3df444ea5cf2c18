/**
 * Abuse guards against the real stores (in-memory dynalite): the per-user rate limit,
 * `client_msg_id` dedupe (including a first attempt that never stored its message),
 * fan-out failure reporting, and the groups-per-user limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { claimOf, dedupeKey, MessageGuards } from '../../functions/core/guards/guards.ts';
import { ChatService } from '../../functions/core/messaging/chat-service.ts';
import { RoomService } from '../../functions/core/rooms/rooms.ts';
import { ChatError } from '../../functions/core/shared/errors.ts';
import { newMessageId, privateRoomId } from '../../functions/core/shared/ids.ts';
import { DynamoGuardStore } from '../../functions/stores/guards.ts';
import { codeOf } from '../support/chat-errors.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import { ConnectionOpener, privateMessage, startTestStores, type TestStores } from '../support/stores.ts';

const LIMIT = 3;
const settings = { maxContentLength: 100, broadcastAllowAll: true };

let stores: TestStores;
let registry: ConnectionRegistry;
let notifier: RecordingNotifier;
let guardStore: DynamoGuardStore;
/** Time of the services: tests move it to another minute. */
let clock = new Date('2030-01-01T00:00:10Z');
let chat: ChatService;
let rooms: RoomService;
const opener = new ConnectionOpener('guard');
const connect = (userId: string) => opener.open(registry, userId);

function services(ratePerMinute: number) {
  const guards = new MessageGuards({
    store: guardStore,
    settings: { ratePerMinute, dedupeTtlSeconds: 86_400 },
  });
  const common = { registry, notifier, fanOutConcurrency: 4, guards, now: () => clock };
  return {
    chat: new ChatService({
      ...common,
      presence: stores.presence,
      messages: stores.messages,
      groups: stores.groups,
      settings,
    }),
    rooms: new RoomService({
      ...common,
      connections: stores.connections,
      rooms: stores.rooms,
      messages: stores.messages,
      settings: { maxContentLength: 100, maxRoomsPerConnection: 5 },
    }),
  };
}

const sender = (userId: string) => ({ userId, roles: [] });
const text = (to: string, content: string, client_msg_id?: string) => ({
  to_user_id: to,
  content,
  message_type: 1,
  ...(client_msg_id ? { client_msg_id } : {}),
});
/** An item's size as DynamoDB bills it: names and strings in UTF-8 bytes, numbers ~1 byte per 2 digits. */
function dynamoItemBytes(item: Record<string, unknown>): number {
  const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += bytes(name);
    if (typeof value === 'string') size += bytes(value);
    else if (typeof value === 'number') size += 1 + Math.ceil(String(value).replace(/\D/g, '').length / 2);
    else if (typeof value === 'boolean') size += 1;
    else throw new Error(`unexpected ${name} in a dedupe record`);
  }
  return size;
}

const stored = async (roomId: string) => (await stores.messages.history({ roomId, limit: 100 })).messages;

before(async () => {
  stores = await startTestStores();
  registry = stores.registry({ handshakeWindowMs: 0 });
  notifier = new RecordingNotifier();
  guardStore = new DynamoGuardStore(stores.dynamo.client, stores.dynamo.tables.guards);
  ({ chat, rooms } = services(LIMIT));
});

after(async () => {
  await stores.stop();
});

describe('rate limit', () => {
  it(`refuses the ${LIMIT + 1}th message in a minute with 1029; it is neither stored nor delivered`, async () => {
    clock = new Date('2030-01-01T00:01:10Z');
    const to = await connect('rl-b');
    for (let i = 0; i < LIMIT; i++) await chat.sendMessage(sender('rl-a'), text('rl-b', `m${i}`));
    const error = await chat.sendMessage(sender('rl-a'), text('rl-b', 'one too many')).catch((e) => e);
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, 1029);
    assert.match(error.message, new RegExp(`at most ${LIMIT} messages per minute; retry after 50 s`));
    assert.equal((await stored(privateRoomId('rl-a', 'rl-b'))).length, LIMIT);
    assert.equal(notifier.pushes(to, 'new_message').length, LIMIT);

    // Other users are not affected; the sender is again in the next minute.
    await chat.sendMessage(sender('rl-c'), text('rl-b', 'hi'));
    clock = new Date('2030-01-01T00:02:00Z');
    await chat.sendMessage(sender('rl-a'), text('rl-b', 'next minute'));
    assert.equal((await stored(privateRoomId('rl-a', 'rl-b'))).length, LIMIT + 1);
  });

  it('counts private, group and room messages together, and 0 turns it off', async () => {
    clock = new Date('2030-01-01T00:03:10Z');
    await stores.groups.create({
      groupId: 'group_rl',
      groupName: 'rl',
      createdBy: 'rl-d',
      createdAt: clock.toISOString(),
      memberIds: ['rl-d', 'rl-e'],
    });
    const connection = await connect('rl-d');
    await rooms.join(connection, { room_id: 'rl-room' });
    await chat.sendMessage(sender('rl-d'), text('rl-e', 'p'));
    await chat.sendGroupMessage(sender('rl-d'), { group_id: 'group_rl', content: 'g', message_type: 1 });
    await rooms.send(connection, { room_id: 'rl-room', content: 'r', message_type: 1 });
    assert.equal(
      await codeOf(rooms.send(connection, { room_id: 'rl-room', content: 'r2', message_type: 1 })),
      1029,
    );
    assert.equal(
      await codeOf(
        chat.sendGroupMessage(sender('rl-d'), { group_id: 'group_rl', content: 'g2', message_type: 1 }),
      ),
      1029,
    );
    assert.equal((await stored('rl-room')).length, 1);
    assert.equal((await stored('group_rl')).length, 1);

    const unlimited = services(0).chat;
    for (let i = 0; i < LIMIT + 2; i++) await unlimited.sendMessage(sender('rl-d'), text('rl-e', `u${i}`));
  });

  it('a refused message does not keep its client_msg_id: the retry in the next minute is sent', async () => {
    clock = new Date('2030-01-01T00:04:10Z');
    const to = await connect('rl-g');
    for (let i = 0; i < LIMIT; i++) await chat.sendMessage(sender('rl-f'), text('rl-g', `m${i}`));
    assert.equal(await codeOf(chat.sendMessage(sender('rl-f'), text('rl-g', 'late', 'late-1'))), 1029);
    clock = new Date('2030-01-01T00:05:01Z');
    const reply = await chat.sendMessage(sender('rl-f'), text('rl-g', 'late', 'late-1'));
    assert.equal(reply.duplicate, undefined);
    assert.equal(reply.delivered, 1);
    assert.equal(notifier.pushes(to, 'new_message').length, LIMIT + 1);
  });
});

describe('client_msg_id dedupe', () => {
  it('a retry gets the first message_id back, marked duplicate; stored and delivered once', async () => {
    clock = new Date('2030-01-01T00:10:00Z');
    const to = await connect('dd-b');
    const first = await chat.sendMessage(sender('dd-a'), text('dd-b', 'once', 'c-1'));
    clock = new Date('2030-01-01T00:10:05Z');
    const retry = await chat.sendMessage(sender('dd-a'), text('dd-b', 'once', 'c-1'));
    assert.equal(first.duplicate, undefined);
    assert.equal(first.delivered, 1);
    assert.deepEqual(retry, { ...first, delivered: 0, failed: 0, duplicate: true });
    assert.equal((await stored(privateRoomId('dd-a', 'dd-b'))).length, 1);
    assert.equal(notifier.pushes(to, 'new_message').length, 1);

    // A retry does not use quota: many more than the limit are all answered.
    for (let i = 0; i < LIMIT + 1; i++) {
      assert.equal((await chat.sendMessage(sender('dd-a'), text('dd-b', 'once', 'c-1'))).duplicate, true);
    }
    // Another sender's identical client_msg_id is another message.
    const other = await chat.sendMessage(sender('dd-c'), text('dd-b', 'mine', 'c-1'));
    assert.notEqual(other.message_id, first.message_id);
  });

  it('concurrent sends with one client_msg_id store and deliver one message', async () => {
    const to = await connect('dd-e');
    const replies = await Promise.all(
      Array.from({ length: 3 }, () => chat.sendMessage(sender('dd-d'), text('dd-e', 'race', 'c-race'))),
    );
    assert.equal(new Set(replies.map((reply) => reply.message_id)).size, 1);
    assert.equal(replies.filter((reply) => !reply.duplicate).length, 1);
    assert.equal((await stored(privateRoomId('dd-d', 'dd-e'))).length, 1);
    assert.equal(notifier.pushes(to, 'new_message').length, 1);
  });

  it('dedupes group and room messages too', async () => {
    await stores.groups.create({
      groupId: 'group_dd',
      groupName: 'dd',
      createdBy: 'dd-f',
      createdAt: clock.toISOString(),
      memberIds: ['dd-f', 'dd-g'],
    });
    const member = await connect('dd-g');
    const input = { group_id: 'group_dd', content: 'g', message_type: 1, client_msg_id: 'g-1' };
    const first = await chat.sendGroupMessage(sender('dd-f'), input);
    const retry = await chat.sendGroupMessage(sender('dd-f'), input);
    assert.equal(retry.message_id, first.message_id);
    assert.equal(retry.duplicate, true);
    assert.equal(notifier.pushes(member, 'group_message').length, 1);

    const poster = await connect('dd-f');
    await rooms.join(poster, { room_id: 'dd-room' });
    await rooms.join(member, { room_id: 'dd-room' });
    const roomInput = { room_id: 'dd-room', content: 'r', message_type: 1, client_msg_id: 'r-1' };
    const roomFirst = await rooms.send(poster, roomInput);
    const roomRetry = await rooms.send(poster, roomInput);
    assert.equal(roomRetry.message_id, roomFirst.message_id);
    assert.equal(roomRetry.duplicate, true);
    assert.equal(notifier.pushes(member, 'room_message').length, 1);
    assert.equal((await stored('dd-room')).length, 1);
  });

  it('a first attempt that claimed the id but never stored the message: the retry stores and delivers it', async () => {
    const to = await connect('dd-i');
    const at = new Date('2030-01-01T00:09:00Z');
    const lost = {
      roomId: privateRoomId('dd-h', 'dd-i'),
      messageId: newMessageId(at),
      kind: 'private' as const,
      fromUserId: 'dd-h',
      toUserId: 'dd-i',
      content: 'lost',
      messageType: 1,
      createdAt: at.toISOString(),
      clientMsgId: 'c-lost',
    };
    // What a crash between the claim and the message write leaves behind.
    const nowSeconds = Math.floor(clock.getTime() / 1000);
    assert.equal(
      await guardStore.claim(dedupeKey('dd-h', 'c-lost'), claimOf(lost), nowSeconds + 600, nowSeconds),
      undefined,
    );
    const retry = await chat.sendMessage(sender('dd-h'), text('dd-i', 'lost', 'c-lost'));
    assert.equal(retry.message_id, lost.messageId);
    assert.equal(retry.time, lost.createdAt);
    assert.equal(retry.duplicate, undefined);
    assert.equal(retry.delivered, 1);
    assert.deepEqual(
      (await stored(lost.roomId)).map((m) => m.messageId),
      [lost.messageId],
    );
    const again = await chat.sendMessage(sender('dd-h'), text('dd-i', 'lost', 'c-lost'));
    assert.equal(again.duplicate, true);
    assert.equal(notifier.pushes(to, 'new_message').length, 1);
  });

  it('the dedupe record is one write unit whatever the content and ids, and holds no content', async () => {
    // The longest ids the protocol accepts (128 characters), in 3-byte UTF-8: ~384 bytes each.
    const from = '語'.repeat(128);
    const to = `${'語'.repeat(127)}ö`;
    const clientMsgId = '語'.repeat(128);
    const reply = await chat.sendMessage(sender(from), text(to, 'x'.repeat(100), clientMsgId));
    const { Item } = await stores.dynamo.client.send(
      new GetCommand({
        TableName: stores.dynamo.tables.guards,
        Key: { guardKey: dedupeKey(from, clientMsgId) },
      }),
    );
    assert.ok(Item);
    assert.equal(Item.messageId, reply.message_id);
    assert.deepEqual(Object.keys(Item).sort(), [
      'conversation',
      'createdAt',
      'expiresAt',
      'guardKey',
      'messageId',
    ]);
    // With the note an attempt that failed after claiming adds, it is still one write unit.
    // (Sized here by DynamoDB's rule, UTF-8 bytes: dynalite counts UTF-16 code units.)
    assert.ok(dynamoItemBytes({ ...Item, undelivered: true }) <= 1024, `${dynamoItemBytes(Item)} bytes`);
  });

  it('a retry of a stored but undelivered message delivers the stored content, once', async () => {
    const to = await connect('dd-n');
    const at = new Date('2030-01-01T00:09:30Z');
    const first = privateMessage('dd-m', 'dd-n', at, {
      content: 'as first sent',
      clientMsgId: 'c-undelivered',
    });
    // What an attempt that stored the message and then failed (5000) leaves behind.
    const key = dedupeKey('dd-m', 'c-undelivered');
    const nowSeconds = Math.floor(clock.getTime() / 1000);
    assert.equal(await guardStore.claim(key, claimOf(first), nowSeconds + 600, nowSeconds), undefined);
    await stores.messages.put(first);
    await guardStore.markUndelivered(key);

    const [retry, concurrent] = await Promise.all([
      chat.sendMessage(sender('dd-m'), text('dd-n', 'edited before the retry', 'c-undelivered')),
      chat.sendMessage(sender('dd-m'), text('dd-n', 'edited before the retry', 'c-undelivered')),
    ]);
    for (const reply of [retry, concurrent]) {
      assert.equal(reply.message_id, first.messageId);
      assert.equal(reply.duplicate, true);
    }
    assert.deepEqual([retry.delivered, concurrent.delivered].sort(), [0, 1], 'one of the retries delivers');
    const pushes = notifier.pushes(to, 'new_message');
    assert.equal(pushes.length, 1);
    assert.equal((pushes[0] as { content?: string }).content, 'as first sent');
    assert.deepEqual(
      (await stored(first.roomId)).map((m) => m.content),
      ['as first sent'],
    );
  });

  it('a dedupe record of the earlier format (the whole message) still answers its retries', async () => {
    const at = new Date('2030-01-01T00:09:40Z');
    const first = privateMessage('dd-o', 'dd-p', at, { content: 'old format', clientMsgId: 'c-old' });
    await stores.messages.put(first);
    await stores.dynamo.client.send(
      new PutCommand({
        TableName: stores.dynamo.tables.guards,
        Item: {
          guardKey: dedupeKey('dd-o', 'c-old'),
          message: first,
          expiresAt: Math.floor(clock.getTime() / 1000) + 600,
        },
      }),
    );
    const retry = await chat.sendMessage(sender('dd-o'), text('dd-p', 'old format', 'c-old'));
    assert.equal(retry.message_id, first.messageId);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.time, first.createdAt);
    assert.equal(await codeOf(chat.sendMessage(sender('dd-o'), text('dd-q', 'elsewhere', 'c-old'))), 1001);
  });

  it('a client_msg_id reused for another conversation answers 1001', async () => {
    await chat.sendMessage(sender('dd-j'), text('dd-k', 'to k', 'c-reuse'));
    assert.equal(await codeOf(chat.sendMessage(sender('dd-j'), text('dd-l', 'to l', 'c-reuse'))), 1001);
    assert.equal((await stored(privateRoomId('dd-j', 'dd-l'))).length, 0);
  });

  it('an expired dedupe record counts as absent', async () => {
    const nowSeconds = Math.floor(clock.getTime() / 1000);
    const message = (await stored(privateRoomId('dd-j', 'dd-k')))[0];
    assert.ok(message);
    assert.equal(
      await guardStore.claim('dedupe#x#old', claimOf(message), nowSeconds - 1, nowSeconds - 100),
      undefined,
    );
    assert.equal(
      await guardStore.claim('dedupe#x#old', claimOf(message), nowSeconds + 60, nowSeconds),
      undefined,
    );
  });
});

describe('fan-out failures are reported', () => {
  it('counts connections that still fail after retries in `failed`, not 410s nor retried successes', async () => {
    const permanent = await connect('fo-b');
    const transient = await connect('fo-b');
    const gone = await connect('fo-b');
    notifier.failing.set(permanent, 'permanent');
    notifier.scripted.set(transient, ['retryable', 'retryable']);
    notifier.gone.add(gone);
    const logged: Record<string, unknown>[] = [];
    const logging = new ChatService({
      registry,
      notifier,
      fanOutConcurrency: 4,
      presence: stores.presence,
      messages: stores.messages,
      groups: stores.groups,
      settings,
      log: (_message, details) => logged.push(details),
    });
    const reply = await logging.sendMessage(sender('fo-a'), text('fo-b', 'secret words'));
    assert.equal(reply.delivered, 1);
    assert.equal(reply.failed, 1);
    assert.equal(notifier.pushes(transient, 'new_message').length, 1);
    assert.deepEqual(logged, [{ failed: 1, delivered: 1 }]);
    assert.ok(!JSON.stringify(logged).includes('secret'));

    const always = await connect('fo-c');
    notifier.failing.set(always, 'retryable');
    const broadcast = await logging.broadcast(sender('fo-a'), { message: 'hello all' });
    assert.ok(broadcast.failed >= 2, `failed ${broadcast.failed}`);
    notifier.failing.clear();
  });
});
