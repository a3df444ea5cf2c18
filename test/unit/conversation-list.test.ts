/**
 * The conversation list's core: merging private rows with groups, paging with the cursor
 * (no duplicates, no gaps, whatever the mix and page size), cursors bound to their user,
 * previews, and unread counts only where something follows the read position. The store
 * here is an in-memory one that answers as the DynamoDB store does (a `limit`-deep read of
 * rows at or before the cursor's activity); test/e2e/conversation-list.test.ts runs the real one.
 * Run: npx tsx --test test/unit/conversation-list.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConversationListDependencies,
  creationActivity,
  decodeCursor,
  encodeCursor,
  listConversations,
  parseListConversations,
  parseListConversationsQuery,
  preview,
  selectPage,
} from '../../functions/core/conversations/conversation-list.ts';
import type { GroupSummary, PrivateConversation } from '../../functions/core/conversations/ports.ts';
import type { UnreadQuery } from '../../functions/core/receipts/conversations.ts';
import { ChatError } from '../../functions/core/shared/errors.ts';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';

const codeOf = (run: () => unknown): number | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof ChatError) return error.code;
    throw error;
  }
  return undefined;
};

/** A deterministic pseudo-random sequence (no flaky inputs). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

interface World {
  readonly rows: PrivateConversation[];
  readonly groups: GroupSummary[];
  readonly messages: Map<string, StoredMessage>;
  readonly positions: Map<string, string>;
  readonly counted: UnreadQuery[];
  readonly rowReads: number[];
}

function depsOf(world: World, userId: string): ConversationListDependencies {
  return {
    maxGroups: 100,
    memberships: { groupIdsOf: async () => world.groups.map((group) => group.groupId) },
    unread: {
      countUnread: async (query) => {
        world.counted.push(query);
        return { count: 1 };
      },
    },
    store: {
      privateConversations: async (owner, limit, atOrBefore) => {
        assert.equal(owner, userId);
        world.rowReads.push(limit);
        const matching = world.rows
          .filter((row) => atOrBefore === undefined || row.lastMessageId <= atOrBefore)
          .sort((a, b) => (a.lastMessageId < b.lastMessageId ? 1 : -1));
        return { rows: matching.slice(0, limit), more: matching.length > limit };
      },
      groupSummaries: async (ids) => world.groups.filter((group) => ids.includes(group.groupId)),
      messages: async (keys) =>
        keys.flatMap((key) => {
          const message = world.messages.get(key.messageId);
          return message ? [message] : [];
        }),
      readPositions: async (_userId, roomIds) =>
        new Map([...world.positions].filter(([roomId]) => roomIds.includes(roomId))),
    },
  };
}

/** `privates` private chats and `groups` groups (some without messages) with interleaved activity. */
function worldOf(seed: number, privates: number, groups: number): World {
  const next = random(seed);
  const world: World = {
    rows: [],
    groups: [],
    messages: new Map(),
    positions: new Map(),
    counted: [],
    rowReads: [],
  };
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < privates + groups; i++) {
    const at = new Date(start + Math.floor(next() * 1_000_000));
    const messageId = newMessageId(at);
    if (i < privates) {
      const roomId = `private_me_peer${i}`;
      world.rows.push({ roomId, peerId: `peer${i}`, lastMessageId: messageId });
      world.messages.set(messageId, {
        roomId,
        messageId,
        kind: 'private',
        fromUserId: `peer${i}`,
        toUserId: 'me',
        content: `m${i}`,
        messageType: 1,
        createdAt: at.toISOString(),
      });
    } else {
      const groupId = `group_g${i}`;
      const quiet = next() < 0.3;
      world.groups.push({
        groupId,
        groupName: `G${i}`,
        createdAt: at.toISOString(),
        ...(quiet ? {} : { lastMessageId: messageId }),
      });
      if (!quiet) {
        world.messages.set(messageId, {
          roomId: groupId,
          messageId,
          kind: 'group',
          fromUserId: 'someone',
          groupId,
          content: `g${i}`,
          messageType: 1,
          createdAt: at.toISOString(),
        });
      }
    }
  }
  return world;
}

/** Every room id in list order, from the whole world at once. */
function expectedOrder(world: World): string[] {
  return [
    ...world.rows.map((row) => ({ activity: row.lastMessageId, roomId: row.roomId })),
    ...world.groups.map((group) => ({
      activity: group.lastMessageId ?? creationActivity(group.createdAt),
      roomId: group.groupId,
    })),
  ]
    .sort((a, b) =>
      a.activity === b.activity ? b.roomId.localeCompare(a.roomId) : a.activity < b.activity ? 1 : -1,
    )
    .map((entry) => entry.roomId);
}

describe('paging through the list', () => {
  for (const [privates, groups] of [
    [0, 0],
    [0, 7],
    [13, 0],
    [40, 9],
    [5, 30],
  ] as const) {
    it(`${privates} private chats and ${groups} groups: every page size lists each once, in order`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const world = worldOf(seed * 7 + privates, privates, groups);
        const expected = expectedOrder(world);
        for (const limit of [1, 2, 3, 5, 20, 50]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await listConversations(depsOf(world, 'me'), 'me', {
              limit,
              ...(cursor ? { cursor } : {}),
            });
            assert.ok(page.conversations.length <= limit);
            seen.push(...page.conversations.map((entry) => entry.room_id));
            cursor = page.next_cursor;
            assert.ok(++pages <= expected.length + 2, 'paging ends');
          } while (cursor);
          assert.deepEqual(seen, expected, `seed ${seed}, limit ${limit}`);
          // Only full pages (but possibly the last) and at most one extra page to learn the end.
          assert.ok(pages <= Math.ceil(expected.length / limit) + 1, `pages for limit ${limit}`);
        }
      }
    });
  }

  it('reads private rows one deeper than the page, never the whole history', async () => {
    const world = worldOf(3, 500, 3);
    await listConversations(depsOf(world, 'me'), 'me', { limit: 20 });
    assert.deepEqual(world.rowReads, [21]);
  });

  it('holds back groups older than the private rows read, so the next page does not skip rows', () => {
    const rows = [
      { roomId: 'private_a_me', peerId: 'a', lastMessageId: '01J00000000000000000000009' },
      { roomId: 'private_b_me', peerId: 'b', lastMessageId: '01J00000000000000000000007' },
    ];
    const old: GroupSummary = { groupId: 'group_old', groupName: 'Old', createdAt: '2020-01-01T00:00:00Z' };
    const selection = selectPage({ rows, more: true }, [old], undefined, 5);
    assert.deepEqual(
      selection.page.map((entry) => entry.roomId),
      ['private_a_me', 'private_b_me'],
    );
    assert.deepEqual(selection.next, { activity: rows[1]?.lastMessageId, roomId: 'private_b_me' });
    // Without more rows, the old group is on this page and there is no next one.
    const last = selectPage({ rows, more: false }, [old], undefined, 5);
    assert.deepEqual(
      last.page.map((entry) => entry.roomId),
      ['private_a_me', 'private_b_me', 'group_old'],
    );
    assert.equal(last.next, undefined);
  });
});

describe('what a page shows', () => {
  it('counts unread only where something follows the read position; a quiet group has null', async () => {
    const world = worldOf(11, 3, 0);
    const [read, unread, never] = [...world.rows].sort((a, b) =>
      a.lastMessageId < b.lastMessageId ? 1 : -1,
    );
    assert.ok(read && unread && never);
    world.positions.set(read.roomId, read.lastMessageId);
    world.positions.set(unread.roomId, '00000000000000000000000000');
    world.groups.push({ groupId: 'group_quiet', groupName: 'Quiet', createdAt: '2020-01-01T00:00:00Z' });
    const page = await listConversations(depsOf(world, 'me'), 'me', { limit: 10 });
    const unreadOf = (roomId: string) => page.conversations.find((entry) => entry.room_id === roomId)?.unread;
    assert.equal(unreadOf(read.roomId), 0);
    assert.equal(unreadOf(unread.roomId), 1);
    assert.equal(unreadOf(never.roomId), 1);
    assert.deepEqual(
      world.counted.map((query) => [query.roomId, query.after]).sort(),
      [
        [never.roomId, undefined],
        [unread.roomId, '00000000000000000000000000'],
      ].sort(),
    );
    assert.deepEqual(page.conversations.at(-1), {
      room_id: 'group_quiet',
      kind: 'group',
      group_id: 'group_quiet',
      group_name: 'Quiet',
      last_message: null,
      unread: 0,
    });
  });

  it('leaves out a private chat whose last message expired, and shows a recalled one as deleted', async () => {
    const world = worldOf(5, 2, 0);
    const [gone, recalled] = world.rows;
    assert.ok(gone && recalled);
    world.messages.delete(gone.lastMessageId);
    const message = world.messages.get(recalled.lastMessageId) as StoredMessage;
    world.messages.set(recalled.lastMessageId, { ...message, content: '', deleted: true });
    const page = await listConversations(depsOf(world, 'me'), 'me', { limit: 10 });
    assert.deepEqual(
      page.conversations.map((entry) => entry.room_id),
      [recalled.roomId],
    );
    assert.equal(page.conversations[0]?.last_message?.deleted, true);
    assert.equal(page.conversations[0]?.last_message?.content, '');
  });

  it('previews at most 200 characters, counting a surrogate pair as one', () => {
    assert.equal(preview('short'), 'short');
    assert.equal(preview('a'.repeat(201)), 'a'.repeat(200));
    assert.equal(preview('😀'.repeat(150)), '😀'.repeat(150));
    assert.equal(preview('😀'.repeat(201)), '😀'.repeat(200));
  });
});

describe('input and cursors', () => {
  it('accepts a limit of 1–50 and refuses anything else with 1001', () => {
    assert.deepEqual(parseListConversations({}), { limit: 20 });
    assert.deepEqual(parseListConversations({ limit: 50, cursor: null }), { limit: 50 });
    for (const data of [
      { limit: 0 },
      { limit: 51 },
      { limit: 1.5 },
      { limit: '3' },
      { cursor: 7 },
      [],
      null,
    ]) {
      assert.equal(
        codeOf(() => parseListConversations(data)),
        1001,
        JSON.stringify(data),
      );
    }
    assert.deepEqual(parseListConversationsQuery('7'), { limit: 7 });
    for (const limit of ['0', '-1', '1e1', 'x', '51']) {
      assert.equal(
        codeOf(() => parseListConversationsQuery(limit)),
        1001,
        limit,
      );
    }
  });

  it('binds a cursor to its user and refuses garbage', () => {
    const position = { activity: newMessageId(), roomId: 'private_a_b' };
    const cursor = encodeCursor('a', position);
    assert.deepEqual(decodeCursor('a', cursor), position);
    assert.equal(
      codeOf(() => decodeCursor('b', cursor)),
      1001,
    );
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const bad of [
      '',
      '!!',
      'e30',
      forge(['a', 'nope', 'private_a_b']),
      forge(['a', position.activity, 'room_x']),
      forge(['a', position.activity]),
      forge({ a: 1 }),
    ]) {
      assert.equal(
        codeOf(() => decodeCursor('a', bad)),
        1001,
        bad,
      );
    }
  });
});
