/**
 * `sync`: the merge of inbox, outbox and group partitions, paging, de-duplication and the
 * frame budget, against the real stores on an in-memory dynalite.
 * Run: npx tsx --test test/unit/sync.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCommand } from '../../functions/core/messaging/commands.ts';
import {
  MAX_FRAME_BYTES,
  type SyncInput,
  type SyncMessage,
  type SyncReply,
  syncErrorCodes,
  syncFrameBytes,
  syncMessages,
  syncSchema,
} from '../../functions/core/messaging/sync.ts';
import { ChatError } from '../../functions/core/shared/errors.ts';
import { newMessageId, privateRoomId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import type { DynamoConversationIndex } from '../../functions/stores/conversations.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import { DynamoMessageStore } from '../../functions/stores/messages.ts';
import { createTestGroup, startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
let memberships: DynamoConversationIndex;

before(async () => {
  stores = await startTestStores();
  ({ messages, groups, conversations: memberships } = stores);
});

after(async () => {
  await stores.stop();
});

const input = (data: Record<string, unknown>): SyncInput => parseCommand(syncSchema, data, syncErrorCodes);

function sync(userId: string, data: Record<string, unknown> = {}, maxPageBytes?: number): Promise<SyncReply> {
  return syncMessages({ messages, memberships, maxPageBytes }, userId, input(data));
}

/** Every page from `since` with `limit`, checking each page's shape on the way. */
async function syncAll(
  userId: string,
  limit: number,
  since?: string,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = since;
  for (let pages = 1; ; pages++) {
    const page = await sync(userId, { limit, ...(cursor ? { since: cursor } : {}) });
    assert.equal(page.type, 'sync');
    assert.ok(page.messages.length <= limit);
    ids.push(...page.messages.map((m) => m.message_id));
    if (page.messages.length > 0) assert.equal(page.next_since, page.messages.at(-1)?.message_id);
    else assert.equal(page.next_since, undefined);
    if (!page.has_more) return { ids, pages };
    assert.ok(page.next_since, 'a page with more after it names where to continue');
    cursor = page.next_since;
    assert.ok(pages < 1000, 'paging terminates');
  }
}

let clock = Date.parse('2026-03-01T10:00:00.000Z');

/** Stores a message with the next id; returns it. */
async function store(
  message: Omit<StoredMessage, 'messageId' | 'createdAt' | 'messageType' | 'content'> & { content?: string },
): Promise<StoredMessage> {
  clock += 1000;
  const now = new Date(clock);
  const stored: StoredMessage = {
    messageType: 1,
    ...message,
    content: message.content ?? `m${clock}`,
    messageId: newMessageId(now),
    createdAt: now.toISOString(),
  };
  await messages.put(stored);
  return stored;
}

function privateMessage(from: string, to: string, content?: string) {
  return store({ roomId: privateRoomId(from, to), kind: 'private', fromUserId: from, toUserId: to, content });
}

function groupMessage(groupId: string, from: string) {
  return store({ roomId: groupId, kind: 'group', fromUserId: from, groupId });
}

const createGroup = (groupId: string, memberIds: string[]) =>
  createTestGroup(groups, groupId, memberIds, new Date(clock));

const idsOf = (list: readonly StoredMessage[]) => list.map((m) => m.messageId);

describe('sync merge and paging', () => {
  /** Everything zoe should have, in order, plus things she must never see. */
  let expected: StoredMessage[];
  let beforeSince: StoredMessage;

  before(async () => {
    await createGroup('group_zoe_team', ['yan', 'zoe', 'xia']);
    await createGroup('group_no_zoe', ['yan', 'xia']);
    beforeSince = await privateMessage('yan', 'zoe', 'old');
    expected = [];
    const noise: Promise<StoredMessage>[] = [];
    for (let round = 0; round < 4; round++) {
      expected.push(await privateMessage('yan', 'zoe'));
      expected.push(await privateMessage('zoe', 'wu')); // sent by zoe: her other devices catch up
      expected.push(await groupMessage('group_zoe_team', 'xia'));
      expected.push(await groupMessage('group_zoe_team', 'zoe')); // in her outbox and the group: once
      expected.push(await privateMessage('zoe', 'zoe')); // to herself: inbox and outbox, once
      expected.push(
        await store({
          roomId: 'system_zoe',
          kind: 'system',
          fromUserId: 'system',
          toUserId: 'zoe',
          content: JSON.stringify({ type: 'billing', data: { round } }),
        }),
      );
      noise.push(groupMessage('group_no_zoe', 'yan'));
      noise.push(privateMessage('yan', 'xia'));
      noise.push(store({ roomId: 'lobby', kind: 'room', fromUserId: 'zoe' }));
      noise.push(
        store({ roomId: 'system_xia', kind: 'system', fromUserId: 'system', toUserId: 'xia', content: '{}' }),
      );
    }
    await Promise.all(noise);
  });

  it('returns everything since `since`, once, in id order, whatever the page size', async () => {
    const want = idsOf(expected);
    assert.deepEqual([...want].sort(), want, 'the fixture is in id order');
    for (const limit of [1, 2, 3, 5, 6, 7, 23, 24, 25, 100]) {
      const { ids, pages } = await syncAll('zoe', limit, beforeSince.messageId);
      assert.deepEqual(ids, want, `limit ${limit}`);
      assert.equal(pages, Math.max(1, Math.ceil(want.length / limit)), `pages at limit ${limit}`);
    }
  });

  it('without `since` starts at the beginning', async () => {
    const { ids } = await syncAll('zoe', 10);
    assert.deepEqual(ids, [beforeSince.messageId, ...idsOf(expected)]);
  });

  it('has_more is exact: false when the page ends exactly at the last message', async () => {
    const page = await sync('zoe', { since: beforeSince.messageId, limit: expected.length });
    assert.equal(page.messages.length, expected.length);
    assert.equal(page.has_more, false);
    const short = await sync('zoe', { since: beforeSince.messageId, limit: expected.length - 1 });
    assert.equal(short.has_more, true);
    const empty = await sync('zoe', { since: expected.at(-1)?.messageId });
    assert.deepEqual(empty, { type: 'sync', messages: [], has_more: false });
  });

  it('shows each kind with its fields', async () => {
    const page = await sync('zoe', { since: beforeSince.messageId, limit: 6 });
    const byKind = (kind: string) => page.messages.filter((m) => m.kind === kind);
    const [incoming, outgoing, , , self] = page.messages;
    assert.deepEqual(incoming, {
      kind: 'private',
      message_id: expected[0]?.messageId,
      room_id: 'private_yan_zoe',
      from_user_id: 'yan',
      to_user_id: 'zoe',
      peer_id: 'yan',
      content: expected[0]?.content,
      message_type: 1,
      time: expected[0]?.createdAt,
    });
    assert.equal(outgoing?.room_id, 'private_wu_zoe');
    assert.equal(self?.room_id, 'private_zoe_zoe');
    assert.deepEqual(
      byKind('group').map((m) => [m.group_id, m.from_user_id]),
      [
        ['group_zoe_team', 'xia'],
        ['group_zoe_team', 'zoe'],
      ],
    );
    const [notice] = byKind('system') as SyncMessage[];
    assert.equal(notice?.room_id, 'system_zoe');
    assert.equal(notice?.notification_type, 'billing');
    assert.deepEqual(notice?.data, { round: 0 });
  });

  it('gives a non-member none of a group, and others none of zoe’s', async () => {
    const { ids } = await syncAll('wu', 50);
    const wuMessages = expected.filter((m) => m.toUserId === 'wu');
    assert.deepEqual(ids, idsOf(wuMessages));
    const xia = await syncAll('xia', 100);
    const xiaIds = new Set(xia.ids);
    for (const message of expected) {
      assert.equal(xiaIds.has(message.messageId), message.kind === 'group', message.roomId);
    }
  });

  it('shows a recalled message in its place, deleted and without content', async () => {
    const target = expected[1] as StoredMessage;
    const recalled = await messages.markDeleted({
      roomId: target.roomId,
      messageId: target.messageId,
      senderId: 'zoe',
      at: new Date(),
    });
    assert.equal(recalled?.deleted, true);
    const page = await sync('zoe', { since: expected[0]?.messageId, limit: 1 });
    assert.deepEqual(page.messages[0], {
      kind: 'private',
      message_id: target.messageId,
      room_id: target.roomId,
      from_user_id: 'zoe',
      to_user_id: 'wu',
      peer_id: 'wu',
      content: '',
      message_type: 1,
      time: target.createdAt,
      deleted: true,
    });
  });
});

describe('sync edge cases', () => {
  it('leaves out expired messages (TTL deletes them late)', async () => {
    const retained = new DynamoMessageStore(stores.dynamo.client, stores.dynamo.tables.messages, 1);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const expired: StoredMessage = {
      roomId: privateRoomId('old', 'ttl'),
      messageId: newMessageId(twoDaysAgo),
      kind: 'private',
      fromUserId: 'old',
      toUserId: 'ttl',
      content: 'gone',
      messageType: 1,
      createdAt: twoDaysAgo.toISOString(),
    };
    await retained.put(expired);
    const fresh = {
      ...expired,
      messageId: newMessageId(),
      createdAt: new Date().toISOString(),
      content: 'here',
    };
    await retained.put(fresh);
    const page = await sync('ttl', { limit: 1 });
    assert.deepEqual(
      page.messages.map((m) => m.content),
      ['here'],
    );
    assert.equal(page.has_more, false);
  });

  it('keeps a page inside one WebSocket frame and carries on from where it stopped', async () => {
    // Control characters are escaped as \u00XX: 4,000 of them are 24 KB of JSON each.
    const heavy = '\u0001'.repeat(4000);
    const sent: StoredMessage[] = [];
    for (let i = 0; i < 12; i++) sent.push(await privateMessage('big', 'heavy', heavy));
    const first = await sync('heavy', { limit: 100 });
    assert.ok(first.messages.length >= 1 && first.messages.length < 12, String(first.messages.length));
    assert.equal(first.has_more, true);
    assert.ok(syncFrameBytes(first, 'r'.repeat(128)) < MAX_FRAME_BYTES);
    const { ids } = await syncAll('heavy', 100);
    assert.deepEqual(ids, idsOf(sent));
  });

  it('always returns at least one message, however small the budget', async () => {
    const message = await privateMessage('tiny', 'budget');
    await privateMessage('tiny', 'budget');
    const page = await sync('budget', {}, 10);
    assert.deepEqual(
      page.messages.map((m) => m.message_id),
      [message.messageId],
    );
    assert.equal(page.has_more, true);
  });

  it('refuses a bad `since` or `limit` with 1001 and caps the limit at 100', async () => {
    for (const data of [
      { since: 'not-an-id' },
      { since: 42 },
      { since: '01ARZ3NDEKTSV4RRFFQ69G5FA' },
      { limit: 0 },
      { limit: -1 },
      { limit: 1.5 },
      { limit: '10' },
    ]) {
      assert.throws(
        () => input(data),
        (error: unknown) => error instanceof ChatError && error.code === 1001,
        JSON.stringify(data),
      );
    }
    assert.throws(
      () => parseCommand(syncSchema, 'text', syncErrorCodes),
      (error: unknown) => error instanceof ChatError && error.code === 1001,
    );
    assert.equal(input({ limit: 1000 }).limit, 100);
    for (const since of [null, '', undefined])
      assert.deepEqual({ ...input({ since }) }, { limit: 50, since: undefined });
    assert.deepEqual(input({ since: '01arz3ndektsv4rrffq69g5fav' }), {
      since: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      limit: 50,
    });
  });
});
