/**
 * The web page's conversation model (web/src/conversations.ts, no DOM) and its time
 * format: the server's list sets names, order, previews and unread counts; live lines move
 * a conversation up; pending lines stay last; read marks sit on the newest own line each
 * reader reached; private room ids; dates for messages not from today; edits, reactions,
 * reply quotes and who is typing.
 * Run: npx tsx --test test/unit/web-conversations.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Conversations,
  commandRoomId,
  noteTyping,
  PENDING_PREFIX,
  preview,
  privateRoomId,
  quoteOf,
  reactionList,
  readMarks,
  roomIdOf,
  TYPING_SHOWN_MS,
  typingText,
  typingUsers,
} from '../../web/src/conversations.ts';
import { shortTime } from '../../web/src/time-format.ts';

const last = (id: string, from: string, content: string) => ({
  message_id: id,
  from_user_id: from,
  content,
  message_type: 1,
  time: '2026-11-21T10:00:00.000Z',
});

test("the server's list sets names, previews and unread counts; the order follows the newest message", () => {
  const model = new Conversations();
  model.ensure('group', 'group_1'); // known only by id, from catch-up
  model.applyServerList([
    {
      room_id: 'private_alice_bob',
      kind: 'private',
      peer_id: 'bob',
      last_message: last('02', 'bob', 'hi'),
      unread: 3,
    },
    {
      room_id: 'group_1',
      kind: 'group',
      group_id: 'group_1',
      group_name: 'Trip',
      last_message: null,
      unread: 0,
    },
    {
      room_id: 'group_2',
      kind: 'group',
      group_id: 'group_2',
      group_name: 'Hike',
      last_message: { ...last('03', 'carol', ''), deleted: true },
      unread: 1,
    },
  ]);
  assert.deepEqual(
    model.list().map((c) => [c.title, c.unread]),
    [
      ['Hike', 1],
      ['bob', 3],
      ['Trip', 0],
    ],
  );
  const hike = model.get('group', 'group_2');
  assert.ok(hike);
  assert.deepEqual(preview(hike, 'alice'), {
    from: 'carol',
    text: 'message deleted',
    time: hike.lastMessage?.time,
  });

  // A live line in "Trip" moves it up; its preview is that line.
  const trip = model.ensure('group', 'group_1');
  assert.equal(model.add(trip, { id: '04', from: 'alice', content: 'go', time: 't' }, false), true);
  assert.equal(model.list()[0]?.title, 'Trip');
  assert.deepEqual(preview(trip, 'alice'), { from: 'You', text: 'go', time: 't' });
});

test('the open conversation keeps no unread count from the server; a live line elsewhere counts once', () => {
  const model = new Conversations();
  const bob = model.ensure('private', 'bob');
  model.activate(bob);
  model.applyServerList([
    {
      room_id: 'private_alice_bob',
      kind: 'private',
      peer_id: 'bob',
      last_message: last('02', 'bob', 'hi'),
      unread: 2,
    },
    {
      room_id: 'private_alice_dan',
      kind: 'private',
      peer_id: 'dan',
      last_message: last('01', 'dan', 'yo'),
      unread: 0,
    },
  ]);
  assert.equal(bob.unread, 0);
  const dan = model.ensure('private', 'dan');
  const line = { id: '05', from: 'dan', content: 'there?', time: 't' };
  assert.equal(model.add(dan, line, true), true);
  assert.equal(model.add(dan, line, true), false, 'the same message from catch-up is not added twice');
  assert.equal(dan.unread, 1);
});

test('a pending line sorts last and puts its conversation first; settling replaces it with the stored line', () => {
  const model = new Conversations();
  const bob = model.ensure('private', 'bob');
  const dan = model.ensure('private', 'dan');
  model.add(dan, { id: '09', from: 'dan', content: 'newer', time: 't' }, false);
  model.add(bob, { id: '01', from: 'bob', content: 'old', time: 't' }, false);
  const pendingId = `${PENDING_PREFIX}abc`;
  model.add(
    bob,
    { id: pendingId, from: 'alice', content: 'typed offline', time: 't', pending: 'sending' },
    false,
  );
  model.add(bob, { id: '02', from: 'bob', content: 'meanwhile', time: 't' }, false);
  assert.deepEqual(
    bob.lines.map((l) => l.id),
    ['01', '02', pendingId],
  );
  assert.equal(model.list()[0], bob);
  model.settlePending(bob, pendingId, { id: '10', from: 'alice', content: 'typed offline', time: 't' });
  assert.deepEqual(
    bob.lines.map((l) => l.id),
    ['01', '02', '10'],
  );
});

test("read marks sit on the newest own line each reader reached; one's own position is not a mark", () => {
  const model = new Conversations();
  const group = model.ensure('group', 'group_1');
  for (const [id, from] of [
    ['01', 'alice'],
    ['02', 'bob'],
    ['03', 'alice'],
    ['04', 'alice'],
  ] as const)
    model.add(group, { id, from, content: id, time: 't' }, false);
  group.readBy.set('bob', '03');
  group.readBy.set('carol', '09');
  group.readBy.set('alice', '04');
  assert.deepEqual(
    [...readMarks(group, 'alice')],
    [
      ['03', ['bob']],
      ['04', ['carol']],
    ],
  );
});

test('room ids: private ids in string order, groups by their id, rooms have none', () => {
  assert.equal(privateRoomId('bob', 'alice'), 'private_alice_bob');
  assert.equal(privateRoomId('10', '9'), 'private_10_9');
  const model = new Conversations();
  assert.equal(roomIdOf(model.ensure('private', 'alice'), 'bob'), 'private_alice_bob');
  assert.equal(roomIdOf(model.ensure('group', 'group_1'), 'bob'), 'group_1');
  assert.equal(roomIdOf(model.ensure('room', 'lobby'), 'bob'), undefined);
  assert.equal(model.byRoomId('private_alice_bob', 'bob')?.id, 'alice');
});

test('times: the clock alone for today, the date for older messages, the year for past years', () => {
  const now = new Date(2026, 10, 21, 15, 0);
  const today = shortTime(new Date(2026, 10, 21, 9, 5), now);
  const earlier = shortTime(new Date(2026, 10, 20, 9, 5), now);
  const lastYear = shortTime(new Date(2025, 10, 20, 9, 5), now);
  assert.doesNotMatch(today, /20|Nov/);
  assert.match(earlier, /20/);
  assert.notEqual(earlier, today);
  assert.match(lastYear, /2025/);
});

const line = (id: string, from: string, content: string) => ({
  id,
  from,
  content,
  time: '2026-11-21T10:00:00.000Z',
});

test('an edit changes the line and the preview and marks it edited; an older edit does not win', () => {
  const model = new Conversations();
  const chat = model.ensure('private', 'bob');
  model.add(chat, line('01', 'bob', 'helo'), false);
  chat.lastMessage = { id: '01', from: 'bob', content: 'helo', time: '2026-11-21T10:00:00.000Z' };
  const edit = { type: 'message_edited' as const, room_id: 'private_alice_bob', message_id: '01' };
  assert.equal(model.applyEdit({ ...edit, content: 'hello', edited_at: '2026-11-21T10:01:00.000Z' }), chat);
  assert.equal(chat.lines[0]?.content, 'hello');
  assert.equal(chat.lines[0]?.editedAt, '2026-11-21T10:01:00.000Z');
  assert.equal(preview(chat, 'alice')?.text, 'hello');
  model.applyEdit({ ...edit, content: 'stale', edited_at: '2026-11-21T10:00:30.000Z' });
  assert.equal(chat.lines[0]?.content, 'hello');
  // History read later brings a newer edit of a line already shown.
  model.add(chat, { ...line('01', 'bob', 'hello!'), editedAt: '2026-11-21T10:02:00.000Z' }, false);
  assert.equal(chat.lines[0]?.content, 'hello!');
  assert.equal(model.applyEdit({ ...edit, message_id: 'unknown', content: 'x', edited_at: 'z' }), undefined);
});

test("reactions take the server's counts; this user's own emojis are known from their pushes", () => {
  const model = new Conversations();
  const chat = model.ensure('group', 'group_1');
  model.add(chat, line('01', 'bob', 'party?'), false);
  const push = {
    type: 'reaction' as const,
    room_id: 'group_1',
    message_id: '01',
    emoji: '🎉',
    action: 'added' as const,
  };
  model.applyReaction({ ...push, user_id: 'carol', counts: { '🎉': 1 } }, 'alice');
  model.applyReaction({ ...push, user_id: 'alice', counts: { '🎉': 2, '👍': 3 } }, 'alice');
  const shown = chat.lines[0];
  assert.ok(shown);
  assert.deepEqual(reactionList(shown), [
    { emoji: '👍', count: 3, mine: false },
    { emoji: '🎉', count: 2, mine: true },
  ]);
  model.applyReaction(
    { ...push, user_id: 'alice', action: 'removed', counts: { '🎉': 1, '👍': 3 } },
    'alice',
  );
  assert.deepEqual(chat.lines[0]?.mine, []);
  model.applyReaction(
    { ...push, user_id: 'carol', action: 'removed', counts: { '🎉': 0, '👍': 3 } },
    'alice',
  );
  assert.deepEqual(
    reactionList(chat.lines[0] ?? line('', '', '')).map((r) => r.emoji),
    ['👍'],
    'a count of 0 is not shown',
  );
});

test('a reply quotes the sender and the start of the answered message', () => {
  const model = new Conversations();
  const chat = model.ensure('private', 'bob');
  model.add(chat, line('01', 'bob', 'x'.repeat(100)), false);
  model.add(chat, line('02', 'alice', 'mine'), false);
  const quote = quoteOf(chat, '01', 'alice');
  assert.equal(quote?.from, 'bob');
  assert.equal(quote?.text.length, 80);
  assert.ok(quote?.text.endsWith('…'));
  assert.deepEqual(quoteOf(chat, '02', 'alice'), { from: 'You', text: 'mine' });
  assert.equal(quoteOf(chat, '99', 'alice'), undefined);
});

test('typing: a start shows until it expires or a stop comes; the text names who', () => {
  const model = new Conversations();
  const room = model.ensure('room', 'lobby');
  const now = Date.parse('2026-11-21T10:00:00.000Z');
  noteTyping(room, 'bob', 'start', now);
  noteTyping(room, 'carol', 'start', now + 1_000);
  assert.deepEqual(typingUsers(room, now + 1_000), ['bob', 'carol']);
  assert.equal(typingText(typingUsers(room, now + 1_000)), 'bob and carol are typing…');
  assert.deepEqual(typingUsers(room, now + TYPING_SHOWN_MS), ['carol'], "bob's start expired");
  noteTyping(room, 'carol', 'stop', now + 2_000);
  assert.equal(typingText(typingUsers(room, now + 2_000)), '');
  assert.equal(typingText(['bob']), 'bob is typing…');
  assert.equal(typingText(['a', 'b', 'c']), '3 people are typing…');
  assert.equal(commandRoomId(room, 'alice'), 'lobby', 'rooms are addressed by their id');
  assert.equal(commandRoomId(model.ensure('private', 'bob'), 'alice'), 'private_alice_bob');
});
