/**
 * `edit_message`, `react` and `unreact` over real WebSocket connections of the local
 * runtime: the pushes to the other participants (and not to outsiders), what history,
 * sync and the conversation list show afterwards, and every refusal changing nothing.
 * Run: npx tsx --test test/e2e/edits-and-reactions.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  assertIsoTime,
  assertNotTold,
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi, historyMessages } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { okData } from '../support/replies.ts';

let runtime: LocalRuntime;
/** eve writes from her phone and also has a laptop; finn is her peer; gus is in none of their chats. */
let evePhone: ChatConnection;
let eveLaptop: ChatConnection;
let finn: ChatConnection;
let gus: ChatConnection;
let eveToken: string;
let finnToken: string;
const chat = 'private_eve_finn';

before(async () => {
  runtime = await startTestRuntime({ env: { BLOCKED_WORDS: 'forbiddenword' } });
  [evePhone, eveLaptop, finn, gus] = await connectEach(runtime, ['eve', 'eve', 'finn', 'gus']);
  eveToken = await tokenFor(runtime, 'eve');
  finnToken = await tokenFor(runtime, 'finn');
});
after(() => runtime.stop());

async function sendToFinn(content: string): Promise<Record<string, unknown>> {
  const sent = okData(await sendCommand(evePhone.client, 'send_message', { to_user_id: 'finn', content }));
  await nextPush(finn.client, 'new_message', withMessageId(sent.message_id));
  return sent;
}

async function shownTo(token: string, roomId: string, messageId: unknown) {
  const [shown] = (await historyMessages(runtime, token, roomId)).filter((m) => m.message_id === messageId);
  assert.ok(shown, 'the message is in history');
  return shown;
}

describe('edit_message', () => {
  test('the sender edits a private message: the other side and her other device are told; history, sync and the conversation list show it', async () => {
    const sent = await sendToFinn('helo');
    const reply = await sendCommand(
      evePhone.client,
      'edit_message',
      { room_id: chat, message_id: sent.message_id, content: 'hello' },
      'edit-1',
    );
    assert.equal(reply.request_id, 'edit-1');
    const data = okData(reply);
    assertIsoTime(data.edited_at, 'edited_at');
    const push = {
      type: 'message_edited',
      room_id: chat,
      message_id: sent.message_id,
      content: 'hello',
      edited_at: data.edited_at,
    };
    assert.deepEqual(data, { ...push, peer_id: 'finn', delivered: 2 });
    assert.deepEqual(await nextPush(finn.client, 'message_edited', withMessageId(sent.message_id)), {
      ...push,
      peer_id: 'eve',
    });
    assert.deepEqual(await nextPush(eveLaptop.client, 'message_edited', withMessageId(sent.message_id)), {
      ...push,
      peer_id: 'finn',
    });
    await assertNotTold('message_edited', sent.message_id, evePhone, gus);

    for (const token of [eveToken, finnToken]) {
      const shown = await shownTo(token, chat, sent.message_id);
      assert.equal(shown.content, 'hello');
      assert.equal(shown.edited_at, data.edited_at);
      assert.equal(shown.time, sent.time, 'the message keeps its place');
    }
    const synced = okData(await sendCommand(finn.client, 'sync', { limit: 100 })).messages as Record<
      string,
      unknown
    >[];
    const item = synced.find((m) => m.message_id === sent.message_id);
    assert.equal(item?.content, 'hello');
    assert.equal(item?.edited_at, data.edited_at);

    // The conversation list previews the edited last message, over WebSocket and HTTP.
    const listed = okData(await sendCommand(finn.client, 'list_conversations', {})).conversations as {
      room_id: string;
      last_message: Record<string, unknown>;
    }[];
    const entry = listed.find((c) => c.room_id === chat);
    assert.equal(entry?.last_message.message_id, sent.message_id);
    assert.equal(entry?.last_message.content, 'hello');
    assert.equal(entry?.last_message.edited_at, data.edited_at);
    const overHttp = await getApi<{
      conversations: { room_id: string; last_message: { content: string } }[];
    }>(runtime, '/api/ws/conversations', eveToken);
    assert.equal(
      overHttp.body.data?.conversations.find((c) => c.room_id === chat)?.last_message.content,
      'hello',
    );
  });

  test('someone else’s message, a missing one, a recalled one, another conversation: 1403; nothing changes', async () => {
    const sent = await sendToFinn('mine');
    const recalled = await sendToFinn('gone soon');
    okData(
      await sendCommand(evePhone.client, 'delete_message', {
        room_id: chat,
        message_id: recalled.message_id,
      }),
    );
    const attempts: readonly [ChatConnection, unknown][] = [
      [finn, { room_id: chat, message_id: sent.message_id, content: 'finn was here' }],
      [gus, { room_id: chat, message_id: sent.message_id, content: 'gus was here' }],
      [evePhone, { room_id: 'private_eve_gus', message_id: sent.message_id, content: 'elsewhere' }],
      [evePhone, { room_id: chat, message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', content: 'nothing' }],
      [evePhone, { room_id: chat, message_id: recalled.message_id, content: 'back again' }],
      [evePhone, { room_id: 'system_eve', message_id: sent.message_id, content: 'system' }],
    ];
    for (const [connection, data] of attempts) {
      assertErrorReply(
        await sendCommand(connection.client, 'edit_message', data),
        1403,
        JSON.stringify(data),
      );
    }
    await assertNotTold('message_edited', sent.message_id, eveLaptop, finn, gus);
    await assertNotTold('message_edited', recalled.message_id, eveLaptop, finn, gus);
    const shown = await shownTo(finnToken, chat, sent.message_id);
    assert.equal(shown.content, 'mine');
    assert.equal(shown.edited_at, undefined);
    const gone = await shownTo(finnToken, chat, recalled.message_id);
    assert.equal(gone.content, '');
    assert.equal(gone.deleted, true);
  });

  test('content rules as for sending: blank 10002, too long 1002, blocked 10007 (3008 in groups), bad fields 1001', async () => {
    const sent = await sendToFinn('rules');
    const cases: readonly [unknown, number][] = [
      [{ room_id: chat, message_id: sent.message_id, content: '   ' }, 10002],
      [{ room_id: chat, message_id: sent.message_id }, 10002],
      [{ room_id: chat, message_id: sent.message_id, content: 'x'.repeat(4001) }, 1002],
      [{ room_id: chat, message_id: sent.message_id, content: 'a forbiddenword here' }, 10007],
      [{ room_id: chat, message_id: 'not-an-id', content: 'x' }, 1001],
      [{ message_id: sent.message_id, content: 'x' }, 1001],
      [{ room_id: chat, message_id: sent.message_id, content: 42 }, 1001],
      // Not an object: 10002, as send_message answers.
      ['edit it', 10002],
    ];
    for (const [data, code] of cases) {
      assertErrorReply(await sendCommand(evePhone.client, 'edit_message', data), code, JSON.stringify(data));
    }
    const groupId = okData(
      await sendCommand(evePhone.client, 'create_group', { group_name: 'Edits', member_ids: ['finn'] }),
    ).group_id;
    const groupSent = okData(
      await sendCommand(evePhone.client, 'send_group_message', { group_id: groupId, content: 'fine' }),
    );
    assertErrorReply(
      await sendCommand(evePhone.client, 'edit_message', {
        room_id: groupId,
        message_id: groupSent.message_id,
        content: 'forbiddenword',
      }),
      3008,
    );
    await assertNotTold('message_edited', sent.message_id, eveLaptop, finn);
    await assertNotTold('message_edited', groupSent.message_id, eveLaptop, finn);
    assert.equal((await shownTo(finnToken, chat, sent.message_id)).content, 'rules');
    assert.equal((await shownTo(finnToken, String(groupId), groupSent.message_id)).content, 'fine');
  });

  test('a group message: every member’s connections are told, a non-member is not; a member who left may no longer edit', async () => {
    const groupId = okData(
      await sendCommand(finn.client, 'create_group', { group_name: 'Edit group', member_ids: ['eve'] }),
    ).group_id;
    const sent = okData(
      await sendCommand(evePhone.client, 'send_group_message', { group_id: groupId, content: 'v1' }),
    );
    const reply = okData(
      await sendCommand(evePhone.client, 'edit_message', {
        room_id: groupId,
        message_id: sent.message_id,
        content: 'v2',
      }),
    );
    assert.equal(reply.delivered, 2, 'eve’s laptop and finn');
    assert.equal(reply.peer_id, undefined);
    for (const connection of [eveLaptop, finn]) {
      const push = await nextPush(connection.client, 'message_edited', withMessageId(sent.message_id));
      assert.deepEqual(push, {
        type: 'message_edited',
        room_id: groupId,
        message_id: sent.message_id,
        content: 'v2',
        edited_at: reply.edited_at,
      });
    }
    await assertNotTold('message_edited', sent.message_id, evePhone, gus);
    assert.equal((await shownTo(finnToken, String(groupId), sent.message_id)).content, 'v2');

    okData(await sendCommand(evePhone.client, 'leave_group', { group_id: groupId }));
    assertErrorReply(
      await sendCommand(evePhone.client, 'edit_message', {
        room_id: groupId,
        message_id: sent.message_id,
        content: 'v3',
      }),
      1403,
    );
    assert.equal((await shownTo(finnToken, String(groupId), sent.message_id)).content, 'v2');
  });

  test('a room message: the room’s other connections are told', async () => {
    for (const connection of [evePhone, finn]) {
      okData(await sendCommand(connection.client, 'join_room', { room_id: 'edit-room' }));
    }
    const sent = okData(
      await sendCommand(evePhone.client, 'send_room_message', { room_id: 'edit-room', content: 'room v1' }),
    );
    const reply = okData(
      await sendCommand(evePhone.client, 'edit_message', {
        room_id: 'edit-room',
        message_id: sent.message_id,
        content: 'room v2',
      }),
    );
    assert.equal(reply.delivered, 1);
    assert.equal(
      (await nextPush(finn.client, 'message_edited', withMessageId(sent.message_id))).content,
      'room v2',
    );
    await assertNotTold('message_edited', sent.message_id, eveLaptop, gus);
  });
});

describe('react / unreact', () => {
  test('reactions on a private message: counted once per user and emoji, pushed to both sides, shown in history and sync', async () => {
    const sent = await sendToFinn('react to me');
    const target = { room_id: chat, message_id: sent.message_id };
    const first = okData(await sendCommand(finn.client, 'react', { ...target, emoji: '👍' }, 'r-1'));
    const push = {
      type: 'reaction',
      room_id: chat,
      message_id: sent.message_id,
      user_id: 'finn',
      emoji: '👍',
      action: 'added',
      counts: { '👍': 1 },
    };
    assert.deepEqual(first, { ...push, peer_id: 'eve', changed: true, delivered: 2 });
    for (const connection of [evePhone, eveLaptop]) {
      assert.deepEqual(await nextPush(connection.client, 'reaction', withMessageId(sent.message_id)), {
        ...push,
        peer_id: 'finn',
      });
    }
    // Reacting again changes nothing and tells nobody.
    const again = okData(await sendCommand(finn.client, 'react', { ...target, emoji: '👍' }));
    assert.deepEqual(again, { ...push, peer_id: 'eve', changed: false, delivered: 0 });

    const eves = okData(await sendCommand(evePhone.client, 'react', { ...target, emoji: '👍' }));
    assert.deepEqual(eves.counts, { '👍': 2 });
    const family = '👨‍👩‍👧‍👦';
    const eves2 = okData(await sendCommand(evePhone.client, 'react', { ...target, emoji: family }));
    assert.deepEqual(eves2.counts, { '👍': 2, [family]: 1 });
    await nextPush(finn.client, 'reaction', (p) => p.message_id === sent.message_id && p.emoji === family);

    for (const token of [eveToken, finnToken]) {
      assert.deepEqual((await shownTo(token, chat, sent.message_id)).reactions, { '👍': 2, [family]: 1 });
    }
    const synced = okData(await sendCommand(finn.client, 'sync', { limit: 100 })).messages as Record<
      string,
      unknown
    >[];
    assert.deepEqual(synced.find((m) => m.message_id === sent.message_id)?.reactions, {
      '👍': 2,
      [family]: 1,
    });

    // Taking one back; taking it back twice changes nothing; the last one leaves the map.
    const removed = okData(await sendCommand(evePhone.client, 'unreact', { ...target, emoji: '👍' }));
    assert.equal(removed.action, 'removed');
    assert.equal(removed.changed, true);
    assert.deepEqual(removed.counts, { '👍': 1, [family]: 1 });
    const removedPush = await nextPush(
      finn.client,
      'reaction',
      (p) => p.message_id === sent.message_id && p.action === 'removed',
    );
    assert.deepEqual(removedPush.counts, { '👍': 1, [family]: 1 });
    const twice = okData(await sendCommand(evePhone.client, 'unreact', { ...target, emoji: '👍' }));
    assert.equal(twice.changed, false);
    assert.deepEqual(twice.counts, { '👍': 1, [family]: 1 });
    okData(await sendCommand(evePhone.client, 'unreact', { ...target, emoji: family }));
    assert.deepEqual((await shownTo(finnToken, chat, sent.message_id)).reactions, { '👍': 1 });
    okData(await sendCommand(finn.client, 'unreact', { ...target, emoji: '👍' }));
    assert.equal((await shownTo(finnToken, chat, sent.message_id)).reactions, undefined);
    await assertNotTold('reaction', sent.message_id, gus);
  });

  test('outsiders, missing or recalled messages, bad emoji: refused with their codes; nothing counted or pushed', async () => {
    const sent = await sendToFinn('no strangers');
    const recalled = await sendToFinn('recalled');
    okData(
      await sendCommand(evePhone.client, 'delete_message', {
        room_id: chat,
        message_id: recalled.message_id,
      }),
    );
    const target = { room_id: chat, message_id: sent.message_id };
    const cases: readonly [ChatConnection, unknown, number][] = [
      [gus, { ...target, emoji: '👍' }, 1403],
      [evePhone, { room_id: 'private_eve_gus', message_id: sent.message_id, emoji: '👍' }, 2001],
      [evePhone, { room_id: chat, message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', emoji: '👍' }, 2001],
      [evePhone, { room_id: chat, message_id: recalled.message_id, emoji: '👍' }, 2001],
      [evePhone, { room_id: 'system_eve', message_id: sent.message_id, emoji: '👍' }, 1403],
      [evePhone, { ...target, emoji: 'x'.repeat(33) }, 1001],
      [evePhone, { ...target, emoji: '😀'.repeat(33) }, 1001],
      [evePhone, { ...target, emoji: '' }, 1001],
      [evePhone, { ...target, emoji: 'two words' }, 1001],
      [evePhone, { ...target, emoji: '\ud83d' }, 1001],
      [evePhone, { ...target, emoji: 'forbiddenword' }, 10007],
      [evePhone, target, 1001],
    ];
    for (const [connection, data, code] of cases) {
      assertErrorReply(await sendCommand(connection.client, 'react', data), code, JSON.stringify(data));
    }
    // 32 code points is the limit, however many UTF-16 units they take.
    const longest = okData(
      await sendCommand(evePhone.client, 'react', { ...target, emoji: '😀'.repeat(32) }),
    );
    assert.deepEqual(longest.counts, { ['😀'.repeat(32)]: 1 });
    await settle(finn.client);
    assert.deepEqual(
      pushesOf(finn.client, 'reaction')
        .filter((p) => p.message_id === sent.message_id)
        .map((p) => p.emoji),
      ['😀'.repeat(32)],
    );
    await assertNotTold('reaction', recalled.message_id, finn, eveLaptop);
    assert.deepEqual((await shownTo(finnToken, chat, sent.message_id)).reactions, { ['😀'.repeat(32)]: 1 });
    assert.equal((await shownTo(finnToken, chat, recalled.message_id)).reactions, undefined);
  });

  test('at most 10 emoji per user and 20 distinct emoji per message', async () => {
    const sent = await sendToFinn('popular');
    const target = { room_id: chat, message_id: sent.message_id };
    for (let i = 0; i < 10; i++)
      okData(await sendCommand(finn.client, 'react', { ...target, emoji: `f${i}` }));
    assertErrorReply(await sendCommand(finn.client, 'react', { ...target, emoji: 'f10' }), 1001);
    for (let i = 0; i < 10; i++)
      okData(await sendCommand(evePhone.client, 'react', { ...target, emoji: `e${i}` }));
    // A third user would bring a 21st emoji: a group is needed for more than two people.
    const groupId = okData(
      await sendCommand(evePhone.client, 'create_group', {
        group_name: 'Reactions',
        member_ids: ['finn', 'gus'],
      }),
    ).group_id;
    const groupSent = okData(
      await sendCommand(evePhone.client, 'send_group_message', { group_id: groupId, content: 'react here' }),
    );
    const groupTarget = { room_id: groupId, message_id: groupSent.message_id };
    for (const [connection, prefix] of [
      [evePhone, 'e'],
      [finn, 'f'],
    ] as const) {
      for (let i = 0; i < 10; i++)
        okData(await sendCommand(connection.client, 'react', { ...groupTarget, emoji: `${prefix}${i}` }));
    }
    assertErrorReply(await sendCommand(gus.client, 'react', { ...groupTarget, emoji: 'g0' }), 1001);
    // An emoji already there is still fine.
    const joined = okData(await sendCommand(gus.client, 'react', { ...groupTarget, emoji: 'e0' }));
    assert.equal((joined.counts as Record<string, number>).e0, 2);
    const shown = await shownTo(finnToken, String(groupId), groupSent.message_id);
    assert.equal(Object.keys(shown.reactions ?? {}).length, 20);
    assert.equal(shown.reactions?.g0, undefined);
    assert.deepEqual(
      Object.keys((await shownTo(finnToken, chat, sent.message_id)).reactions ?? {}).length,
      20,
    );
  });

  test('a room message: members react; the room’s other connections are told; a connection not in the room gets 1403', async () => {
    for (const connection of [evePhone, finn]) {
      okData(await sendCommand(connection.client, 'join_room', { room_id: 'react-room' }));
    }
    const sent = okData(
      await sendCommand(evePhone.client, 'send_room_message', { room_id: 'react-room', content: 'room' }),
    );
    const reply = okData(
      await sendCommand(finn.client, 'react', {
        room_id: 'react-room',
        message_id: sent.message_id,
        emoji: '🔥',
      }),
    );
    assert.equal(reply.delivered, 1, 'eve’s phone (her laptop is not in the room)');
    assert.deepEqual((await nextPush(evePhone.client, 'reaction', withMessageId(sent.message_id))).counts, {
      '🔥': 1,
    });
    assertErrorReply(
      await sendCommand(gus.client, 'react', {
        room_id: 'react-room',
        message_id: sent.message_id,
        emoji: '🔥',
      }),
      1403,
    );
    await assertNotTold('reaction', sent.message_id, eveLaptop, gus);
  });
});

describe('reply_to', () => {
  test('replies in a private chat, a group and a room: pushes and history carry reply_to', async () => {
    const original = await sendToFinn('question?');
    const reply = okData(
      await sendCommand(finn.client, 'send_message', {
        to_user_id: 'eve',
        content: 'answer!',
        reply_to: String(original.message_id).toLowerCase(),
      }),
    );
    const push = await nextPush(evePhone.client, 'new_message', withMessageId(reply.message_id));
    assert.equal(push.reply_to, original.message_id);
    assert.equal((await shownTo(eveToken, chat, reply.message_id)).reply_to, original.message_id);
    assert.equal((await shownTo(eveToken, chat, original.message_id)).reply_to, undefined);

    const groupId = okData(
      await sendCommand(evePhone.client, 'create_group', { group_name: 'Replies', member_ids: ['finn'] }),
    ).group_id as string;
    const first = okData(
      await sendCommand(evePhone.client, 'send_group_message', { group_id: groupId, content: 'a' }),
    );
    const second = okData(
      await sendCommand(finn.client, 'send_group_message', {
        group_id: groupId,
        content: 'b',
        reply_to: first.message_id,
      }),
    );
    assert.equal(
      (await nextPush(evePhone.client, 'group_message', withMessageId(second.message_id))).reply_to,
      first.message_id,
    );
    assert.equal((await shownTo(finnToken, groupId, second.message_id)).reply_to, first.message_id);

    for (const connection of [evePhone, finn]) {
      okData(await sendCommand(connection.client, 'join_room', { room_id: 'reply-room' }));
    }
    const roomFirst = okData(
      await sendCommand(evePhone.client, 'send_room_message', { room_id: 'reply-room', content: 'c' }),
    );
    const roomSecond = okData(
      await sendCommand(finn.client, 'send_room_message', {
        room_id: 'reply-room',
        content: 'd',
        reply_to: roomFirst.message_id,
      }),
    );
    assert.equal(
      (await nextPush(evePhone.client, 'room_message', withMessageId(roomSecond.message_id))).reply_to,
      roomFirst.message_id,
    );
  });

  test('a reply to another conversation’s message, a missing or recalled one: 2001; nothing stored or delivered', async () => {
    const here = await sendToFinn('here');
    const recalled = await sendToFinn('recalled');
    okData(
      await sendCommand(evePhone.client, 'delete_message', {
        room_id: chat,
        message_id: recalled.message_id,
      }),
    );
    const elsewhere = okData(
      await sendCommand(evePhone.client, 'send_message', { to_user_id: 'gus', content: 'x' }),
    );
    const groupId = okData(
      await sendCommand(evePhone.client, 'create_group', { group_name: 'Other', member_ids: ['finn'] }),
    ).group_id as string;
    const before = (await historyMessages(runtime, finnToken, chat)).length;
    const cases: readonly [string, Record<string, unknown>, number][] = [
      ['send_message', { to_user_id: 'eve', content: 'r1', reply_to: elsewhere.message_id }, 2001],
      ['send_message', { to_user_id: 'eve', content: 'r2', reply_to: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, 2001],
      ['send_message', { to_user_id: 'eve', content: 'r3', reply_to: recalled.message_id }, 2001],
      ['send_message', { to_user_id: 'eve', content: 'r4', reply_to: 'not a message id' }, 1001],
      ['send_group_message', { group_id: groupId, content: 'r5', reply_to: here.message_id }, 2001],
    ];
    for (const [cmd, data, code] of cases) {
      assertErrorReply(await sendCommand(finn.client, cmd, data), code, JSON.stringify(data));
    }
    assert.equal((await historyMessages(runtime, finnToken, chat)).length, before);
    assert.deepEqual(await historyMessages(runtime, finnToken, groupId), []);
    await settle(evePhone.client);
    const leaked = [
      ...pushesOf(evePhone.client, 'new_message'),
      ...pushesOf(evePhone.client, 'group_message'),
    ].filter((p) => typeof p.content === 'string' && /^r\d$/.test(p.content));
    assert.deepEqual(leaked, []);
  });
});

describe('blocks', () => {
  test('a peer who blocked you refuses your edits and reactions (1403) and hears nothing of your typing', async () => {
    const hal = await connectWelcomed(runtime, 'hal');
    const room = 'private_eve_hal';
    const mine = okData(
      await sendCommand(evePhone.client, 'send_message', { to_user_id: 'hal', content: 'before' }),
    );
    const his = okData(await sendCommand(hal.client, 'send_message', { to_user_id: 'eve', content: 'his' }));
    okData(await sendCommand(hal.client, 'block_user', { user_id: 'eve' }));
    assertErrorReply(
      await sendCommand(evePhone.client, 'edit_message', {
        room_id: room,
        message_id: mine.message_id,
        content: 'after',
      }),
      1403,
    );
    assertErrorReply(
      await sendCommand(evePhone.client, 'react', { room_id: room, message_id: his.message_id, emoji: '👎' }),
      1403,
    );
    const typed = okData(await sendCommand(evePhone.client, 'typing', { room_id: room, state: 'start' }));
    assert.equal(typed.delivered, 0);
    await settle(hal.client);
    for (const type of ['message_edited', 'reaction', 'typing'])
      assert.deepEqual(pushesOf(hal.client, type), [], type);
    const halToken = await tokenFor(runtime, 'hal');
    assert.equal((await shownTo(halToken, room, mine.message_id)).content, 'before');
    assert.equal((await shownTo(halToken, room, his.message_id)).reactions, undefined);
  });
});
