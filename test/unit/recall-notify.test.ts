/**
 * `delete_message` (recall) and system notifications against the real stores on an
 * in-memory dynalite, with a notifier that records posts in place of the Management API.
 * Run: npx tsx --test test/unit/recall-notify.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { ChatService } from '../../functions/core/messaging/chat-service.ts';
import { parseCommand } from '../../functions/core/messaging/commands.ts';
import { readHistory } from '../../functions/core/messaging/history.ts';
import {
  NOTIFY_MAX_DATA_BYTES,
  type NotifyDependencies,
  notifyErrorCodes,
  notifySchema,
  sendSystemNotification,
} from '../../functions/core/messaging/notify.ts';
import {
  deleteMessageErrorCodes,
  deleteMessageSchema,
  type RecallDependencies,
  recallMessage,
} from '../../functions/core/messaging/recall.ts';
import { syncErrorCodes, syncMessages, syncSchema } from '../../functions/core/messaging/sync.ts';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import type { DynamoConversationIndex } from '../../functions/stores/conversations.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import type { DynamoMessageStore } from '../../functions/stores/messages.ts';
import type { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import type { DynamoRoomStore } from '../../functions/stores/rooms.ts';
import { codeOf, codeOfSync } from '../support/chat-errors.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import { ConnectionOpener, createGroupAs, startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let notifier: RecordingNotifier;
let registry: ConnectionRegistry;
let presence: DynamoPresenceStore;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
let rooms: DynamoRoomStore;
let memberships: DynamoConversationIndex;
let connections: DynamoConnectionStore;
let chat: ChatService;
let recallDeps: RecallDependencies;
let notifyDeps: NotifyDependencies;
const opener = new ConnectionOpener('conn');

const connect = (userId: string) => opener.open(registry, userId);

const sender = (userId: string) => ({ userId, roles: [] });

function recall(userId: string, data: unknown, origin?: string) {
  return recallMessage(
    recallDeps,
    userId,
    parseCommand(deleteMessageSchema, data, deleteMessageErrorCodes),
    origin,
  );
}

function notify(data: unknown) {
  return sendSystemNotification(notifyDeps, parseCommand(notifySchema, data, notifyErrorCodes));
}

before(async () => {
  stores = await startTestStores();
  ({ connections, presence, messages, groups, rooms, conversations: memberships } = stores);
  registry = stores.registry({ handshakeWindowMs: 0 });
  notifier = new RecordingNotifier();
  const delivery = { notifier, registry, fanOutConcurrency: 4 };
  chat = new ChatService({
    ...delivery,
    presence,
    messages,
    groups,
    settings: { maxContentLength: 4000, broadcastAllowAll: false },
  });
  recallDeps = { ...delivery, messages, groups, rooms, presence };
  notifyDeps = { ...delivery, messages, presence };
});

after(async () => {
  await stores.stop();
});

describe('delete_message', () => {
  it('recalls a private message: both sides’ connections are told, but not the one that asked', async () => {
    const annPhone = await connect('ann');
    const annLaptop = await connect('ann');
    const bob = await connect('bob');
    const sent = await chat.sendMessage(sender('ann'), {
      to_user_id: 'bob',
      content: 'oops',
      message_type: 1,
    });

    const reply = await recall('ann', { room_id: sent.room_id, message_id: sent.message_id }, annPhone);
    const { time, ...rest } = reply;
    assert.deepEqual(rest, {
      type: 'message_deleted',
      room_id: 'private_ann_bob',
      message_id: sent.message_id,
      deleted_by: 'ann',
      peer_id: 'bob',
      delivered: 2,
    });
    const push = {
      type: 'message_deleted',
      room_id: 'private_ann_bob',
      message_id: sent.message_id,
      deleted_by: 'ann',
      time,
    };
    // Each side's frames name its own peer.
    assert.deepEqual(notifier.pushes(bob, 'message_deleted'), [{ ...push, peer_id: 'ann' }]);
    assert.deepEqual(notifier.pushes(annLaptop, 'message_deleted'), [{ ...push, peer_id: 'bob' }]);
    assert.deepEqual(notifier.pushes(annPhone, 'message_deleted'), []);

    for (const reader of ['ann', 'bob']) {
      const page = await readHistory({ messages, groups }, reader, { roomId: 'private_ann_bob' });
      const [shown] = page.messages.filter((m) => m.message_id === sent.message_id);
      assert.equal(shown?.deleted, true);
      assert.equal(shown?.content, '');
      assert.equal(shown?.from_user_id, 'ann');
    }
    const { messages: synced } = await syncMessages(
      { messages, memberships },
      'bob',
      parseCommand(syncSchema, {}, syncErrorCodes),
    );
    const item = synced.find((m) => m.message_id === sent.message_id);
    assert.equal(item?.deleted, true);
    assert.equal(item?.content, '');

    // Again: the same answer (the first deletion time), told again; the stored content stays gone.
    const again = await recall('ann', { room_id: sent.room_id, message_id: sent.message_id.toLowerCase() });
    assert.equal(again.time, time);
    assert.equal(again.delivered, 3);
  });

  it('is refused with 1403 for someone else’s message, a missing one, and system notices', async () => {
    await connect('cat');
    const sent = await chat.sendMessage(sender('cat'), {
      to_user_id: 'dan',
      content: 'mine',
      message_type: 1,
    });
    assert.equal(await codeOf(recall('dan', { room_id: sent.room_id, message_id: sent.message_id })), 1403);
    assert.equal(
      await codeOf(recall('cat', { room_id: 'private_cat_eve', message_id: sent.message_id })),
      1403,
    );
    assert.equal(await codeOf(recall('cat', { room_id: sent.room_id, message_id: newMessageId() })), 1403);
    const page = await readHistory({ messages, groups }, 'dan', { roomId: sent.room_id });
    assert.equal(page.messages[0]?.content, 'mine');
    assert.equal(page.messages[0]?.deleted, undefined);

    await notify({ user_ids: ['system', 'fay'], type: 'hello', data: {} });
    const [notice] = (await syncMessages({ messages, memberships }, 'fay', { limit: 10 })).messages;
    assert.equal(notice?.kind, 'system');
    for (const userId of ['system', 'fay']) {
      const target: Record<string, unknown> = { room_id: notice?.room_id, message_id: notice?.message_id };
      assert.equal(await codeOf(recall(userId, target)), 1403, userId);
    }
  });

  it('refuses bad input with 1001', () => {
    for (const data of [
      {},
      { room_id: 'private_a_b' },
      { message_id: newMessageId() },
      { room_id: '', message_id: newMessageId() },
      { room_id: 'private_a_b', message_id: 'nope' },
      { room_id: 7, message_id: newMessageId() },
      { room_id: 'x'.repeat(301), message_id: newMessageId() },
      'text',
      null,
    ]) {
      assert.equal(
        codeOfSync(() => parseCommand(deleteMessageSchema, data, deleteMessageErrorCodes)),
        1001,
        JSON.stringify(data),
      );
    }
  });

  it('recalls a group message: every member’s connections are told, a gone one is removed', async () => {
    const gil = await connect('gil');
    const hal = await connect('hal');
    const halGone = await connect('hal');
    const outsider = await connect('ivy');
    const created = await createGroupAs(groups, 'gil', ['hal', 'jo'], 'G');
    const sent = await chat.sendGroupMessage(sender('gil'), {
      group_id: created.group_id,
      content: 'to all',
      message_type: 1,
    });
    notifier.gone.add(halGone);
    const reply = await recall('gil', { room_id: created.group_id, message_id: sent.message_id });
    assert.equal(reply.delivered, 2, 'gil’s own connection (no origin given) and hal’s live one');
    for (const connectionId of [gil, hal]) {
      assert.equal(notifier.pushes(connectionId, 'message_deleted').length, 1, connectionId);
    }
    assert.deepEqual(notifier.pushes(outsider, 'message_deleted'), []);
    assert.equal(await connections.get(halGone), undefined, 'the 410 connection was removed');
    const [entry] = await presence.connectionsOf(['hal']);
    assert.deepEqual(entry?.connectionIds, [hal]);
    const page = await readHistory({ messages, groups }, 'hal', { roomId: created.group_id });
    assert.equal(page.messages[0]?.deleted, true);
  });

  it('recalls a room message: the room’s connections are told', async () => {
    const kim = await connect('kim');
    const lee = await connect('lee');
    const elsewhere = await connect('mo');
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const joinedAt = new Date().toISOString();
    for (const [connectionId, userId] of [
      [kim, 'kim'],
      [lee, 'lee'],
    ] as const) {
      await rooms.join({ roomId: 'lobby', connectionId, userId, joinedAt, expiresAt });
    }
    const messageId = newMessageId();
    await messages.put({
      roomId: 'lobby',
      messageId,
      kind: 'room',
      fromUserId: 'kim',
      content: 'hey room',
      messageType: 1,
      createdAt: joinedAt,
    });
    assert.equal(await codeOf(recall('lee', { room_id: 'lobby', message_id: messageId })), 1403);
    const reply = await recall('kim', { room_id: 'lobby', message_id: messageId }, kim);
    assert.equal(reply.delivered, 1);
    assert.equal(notifier.pushes(lee, 'message_deleted').length, 1);
    assert.deepEqual(notifier.pushes(kim, 'message_deleted'), []);
    assert.deepEqual(notifier.pushes(elsewhere, 'message_deleted'), []);
  });
});

describe('system notifications', () => {
  it('stores one notice per distinct user and pushes it to every online connection', async () => {
    const nat1 = await connect('nat');
    const nat2 = await connect('nat');
    const oli = await connect('oli');
    const result = await notify({
      user_ids: ['nat', 'oli', 'pia', 'nat', 42],
      type: 'invoice.paid',
      data: { amount: 12, items: ['a'] },
    });
    assert.deepEqual(result, { recipients: 3, stored: 4 });
    const [push] = notifier.pushes(nat1, 'system_notify');
    assert.ok(push);
    const { notify_id, time, ...rest } = push;
    assert.deepEqual(rest, {
      type: 'system_notify',
      message_id: notify_id,
      notification_type: 'invoice.paid',
      data: { amount: 12, items: ['a'] },
    });
    assert.deepEqual(notifier.pushes(nat2, 'system_notify'), [push]);
    assert.deepEqual(notifier.pushes(oli, 'system_notify'), [push]);

    // The offline users get it through sync.
    for (const userId of ['pia', '42', 'nat']) {
      const page = await syncMessages({ messages, memberships }, userId, { limit: 50 });
      const notices = page.messages.filter((m) => m.kind === 'system');
      assert.deepEqual(notices, [
        {
          kind: 'system',
          message_id: notify_id,
          room_id: `system_${userId}`,
          from_user_id: 'system',
          to_user_id: userId,
          content: JSON.stringify({ type: 'invoice.paid', data: { amount: 12, items: ['a'] } }),
          message_type: 1,
          time,
          notification_type: 'invoice.paid',
          data: { amount: 12, items: ['a'] },
        },
      ]);
    }
  });

  it('defaults data to {} and refuses bad bodies with 1001', () => {
    const parsed = parseCommand(notifySchema, { user_ids: ['a'], type: 't' }, notifyErrorCodes);
    assert.deepEqual(parsed.data, {});
    const bigData = { blob: 'x'.repeat(NOTIFY_MAX_DATA_BYTES) };
    for (const data of [
      {},
      { user_ids: [], type: 't' },
      { user_ids: 'a', type: 't' },
      { user_ids: [''], type: 't' },
      { user_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`), type: 't' },
      { user_ids: ['a'] },
      { user_ids: ['a'], type: '' },
      { user_ids: ['a'], type: '   ' },
      { user_ids: ['a'], type: 't'.repeat(65) },
      { user_ids: ['a'], type: 't', data: [] },
      { user_ids: ['a'], type: 't', data: 'text' },
      { user_ids: ['a'], type: 't', data: null },
      { user_ids: ['a'], type: 't', data: bigData },
      [],
    ]) {
      assert.equal(
        codeOfSync(() => parseCommand(notifySchema, data, notifyErrorCodes)),
        1001,
        JSON.stringify(data).slice(0, 80),
      );
    }
    const thousand = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    assert.equal(
      parseCommand(notifySchema, { user_ids: thousand, type: 't'.repeat(64) }, notifyErrorCodes).user_ids
        .length,
      1000,
    );
  });
});
