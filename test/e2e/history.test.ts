/**
 * History of rooms over `GET /api/ws/messages` and the `history` WebSocket command (same
 * rules; the command's pages fit a 128 KB WebSocket message), plus private and group
 * history through the command, against the local runtime.
 * Run: npx tsx --test test/e2e/history.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  sendCommand,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi, type HistoryPage, pollUntil, readHistory } from '../support/http.ts';
import { startTestRuntime, type TestClient, tokenFor } from '../support/local-runtime.ts';

/** API Gateway's limit on a WebSocket message. */
const FRAME_LIMIT_BYTES = 128 * 1024;

let runtime: LocalRuntime;
/** mia is in the room on her phone, not on her laptop; noa is in the room; ola is not. */
let miaPhone: ChatConnection;
let miaLaptop: ChatConnection;
let noa: ChatConnection;
let ola: ChatConnection;
const room = 'book-club';
/** Ids of the room's messages, oldest first. */
const sentIds: string[] = [];

before(async () => {
  runtime = await startTestRuntime();
  [miaPhone, miaLaptop, noa, ola] = await connectEach(runtime, ['mia', 'mia', 'noa', 'ola']);
  for (const connection of [miaPhone, noa]) {
    const joined = await sendCommand(connection.client, 'join_room', { room_id: room });
    assert.equal(joined.code, 0, JSON.stringify(joined));
  }
  for (let i = 1; i <= 12; i++) {
    const [from, to] = i % 2 === 0 ? [noa, miaPhone] : [miaPhone, noa];
    const reply = await sendCommand(from.client, 'send_room_message', {
      room_id: room,
      content: `page ${i}`,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    sentIds.push(String(reply.data?.message_id));
    await nextPush(to.client, 'room_message', withMessageId(reply.data?.message_id));
  }
});
after(() => runtime.stop());

/** The `history` command's reply: its `data` and the size of the whole frame. */
async function historyCommand(
  client: TestClient,
  data: Record<string, unknown>,
  requestId?: string,
): Promise<{ code: number | undefined; page: HistoryPage & { type?: string }; bytes: number }> {
  const reply = await sendCommand(client, 'history', data, requestId);
  const frame = client.frames.find((f) => f.json === reply);
  return {
    code: reply.code,
    page: reply.data as unknown as HistoryPage & { type?: string },
    bytes: Buffer.byteLength(frame?.raw ?? '', 'utf8'),
  };
}

/** Every message id of a conversation through the `history` command, page by page. */
async function allPagesOverWebSocket(
  client: TestClient,
  roomId: string,
  limit: number,
): Promise<{ ids: string[]; pages: number[]; largestFrame: number }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let largestFrame = 0;
  let cursor: string | undefined;
  do {
    const { code, page, bytes } = await historyCommand(client, { room_id: roomId, limit, cursor });
    assert.equal(code, 0, JSON.stringify(page));
    ids.push(...page.messages.map((m) => m.message_id));
    pages.push(page.messages.length);
    largestFrame = Math.max(largestFrame, bytes);
    cursor = page.next_cursor;
    assert.ok(pages.length <= 50, 'paging ends');
  } while (cursor);
  return { ids, pages, largestFrame };
}

describe('room history', () => {
  test('over HTTP: a member reads it newest first, and next_cursor pages with no gap or repeat', async () => {
    const token = await tokenFor(runtime, 'noa');
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const response = await readHistory(runtime, token, room, { limit: '5', ...(cursor ? { cursor } : {}) });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data?.room_id, room);
      pages.push((response.body.data?.messages ?? []).map((m) => m.message_id));
      cursor = response.body.data?.next_cursor;
      assert.ok(pages.length <= 5, 'paging ends');
    } while (cursor);
    assert.deepEqual(
      pages.map((page) => page.length),
      [5, 5, 2],
    );
    assert.deepEqual(pages.flat(), [...sentIds].reverse());

    const newest = await readHistory(runtime, token, room, { limit: '1' });
    assert.deepEqual(newest.body.data?.messages, [
      {
        message_id: sentIds.at(-1),
        room_id: room,
        from_user_id: 'noa',
        content: 'page 12',
        message_type: 1,
        time: newest.body.data?.messages[0]?.time,
      },
    ]);
  });

  test('over the history command: the same page, with type "history" and the request_id', async () => {
    const reply = await sendCommand(miaPhone.client, 'history', { room_id: room, limit: 4 }, 'h-1');
    assert.equal(reply.code, 0);
    assert.equal(reply.message, 'success');
    assert.equal(reply.request_id, 'h-1');
    assert.deepEqual(Object.keys(reply.data ?? {}).sort(), ['messages', 'next_cursor', 'room_id', 'type']);
    assert.equal(reply.data?.type, 'history');
    assert.equal(reply.data?.room_id, room);

    const http = await readHistory(runtime, await tokenFor(runtime, 'mia'), room, { limit: '4' });
    assert.deepEqual(reply.data?.messages, http.body.data?.messages);
    assert.equal(reply.data?.next_cursor, http.body.data?.next_cursor, 'one cursor format for both');

    const walked = await allPagesOverWebSocket(miaPhone.client, room, 5);
    assert.deepEqual(walked.pages, [5, 5, 2]);
    assert.deepEqual(walked.ids, [...sentIds].reverse());

    const older = await historyCommand(miaPhone.client, { room_id: room, before: sentIds[5], limit: '3' });
    assert.deepEqual(
      older.page.messages.map((m) => m.message_id),
      sentIds.slice(2, 5).reverse(),
      'before=<message_id> and a numeric string limit, as over HTTP',
    );
    const all = await historyCommand(miaPhone.client, { room_id: room, limit: 1000 });
    assert.equal(all.page.messages.length, 12, 'a limit over 100 is capped, not refused');
    assert.equal(all.page.next_cursor, undefined);
  });

  test('a user reads while any of their connections is in the room — also from another device', async () => {
    const fromLaptop = await historyCommand(miaLaptop.client, { room_id: room, limit: 2 });
    assert.equal(fromLaptop.code, 0, 'mia’s laptop is not in the room, her phone is');
    assert.deepEqual(
      fromLaptop.page.messages.map((m) => m.message_id),
      sentIds.slice(-2).reverse(),
    );
  });

  test('a non-member is refused: 1403 over the command, HTTP 403 with 1403 over HTTP', async () => {
    assertErrorReply(await sendCommand(ola.client, 'history', { room_id: room }), 1403);
    const response = await readHistory(runtime, await tokenFor(runtime, 'ola'), room);
    assert.equal(response.status, 403);
    assert.equal(response.body.code, 1403);
    assert.equal(response.body.data, null);
    assertErrorReply(await sendCommand(ola.client, 'history', { room_id: 'no-one-here' }), 1403);
  });

  test('access ends when the member’s connection leaves or closes', async () => {
    const extra = await connectWelcomed(runtime, 'pat');
    const joined = await sendCommand(extra.client, 'join_room', { room_id: room });
    assert.equal(joined.code, 0);
    const token = await tokenFor(runtime, 'pat');
    assert.equal((await readHistory(runtime, token, room)).status, 200);

    assert.equal((await sendCommand(extra.client, 'leave_room', { room_id: room })).code, 0);
    assertErrorReply(await sendCommand(extra.client, 'history', { room_id: room }), 1403, 'after leave_room');
    assert.equal((await readHistory(runtime, token, room)).status, 403);

    assert.equal((await sendCommand(extra.client, 'join_room', { room_id: room })).code, 0);
    assert.equal((await readHistory(runtime, token, room)).status, 200);
    await disconnect(runtime, extra);
    await pollUntil(
      async () => (await readHistory(runtime, token, room)).status,
      (status) => status === 403,
      'pat’s history access to end with the connection',
    );
  });

  test('bad parameters: 2002, 2001, 1001 — as over HTTP', async () => {
    /** description, the command's data, the code, and the same query over HTTP where one can be written. */
    const invalid: readonly [string, unknown, number, string?][] = [
      ['no data', undefined, 2002],
      ['data a string', 'book-club', 2002],
      ['no room_id', {}, 2002, ''],
      ['blank room_id', { room_id: '  ' }, 2002, 'room_id=%20%20'],
      ['a numeric room_id', { room_id: 5 }, 2001],
      ['a malformed room id', { room_id: 'book club!' }, 2001, 'room_id=book%20club!'],
      ['a room id over 64 characters', { room_id: 'r'.repeat(65) }, 2001, `room_id=${'r'.repeat(65)}`],
      ['a malformed group id', { room_id: 'group_bad!id' }, 2001, 'room_id=group_bad!id'],
      ['limit 0', { room_id: room, limit: 0 }, 1001, `room_id=${room}&limit=0`],
      ['limit 1.5', { room_id: room, limit: 1.5 }, 1001, `room_id=${room}&limit=1.5`],
      ['limit a word', { room_id: room, limit: 'ten' }, 1001, `room_id=${room}&limit=ten`],
      ['limit an object', { room_id: room, limit: { n: 1 } }, 1001],
      ['a bad cursor', { room_id: room, cursor: 'bogus' }, 1001, `room_id=${room}&cursor=bogus`],
      [
        'a cursor that is not base64url',
        { room_id: room, cursor: '!!!' },
        1001,
        `room_id=${room}&cursor=!!!`,
      ],
      ['a cursor decoding to nothing', { room_id: room, cursor: '=' }, 1001, `room_id=${room}&cursor=%3D`],
      ['a numeric cursor', { room_id: room, cursor: 5 }, 1001],
      ['a bad before', { room_id: room, before: 'x' }, 1001, `room_id=${room}&before=x`],
    ];
    const token = await tokenFor(runtime, 'mia');
    for (const [description, data, code, httpQuery] of invalid) {
      const reply = await sendCommand(miaPhone.client, 'history', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
      if (httpQuery === undefined) continue;
      const response = await getApi(runtime, `/api/ws/messages?${httpQuery}`, token);
      assert.equal(response.status, 400, `HTTP: ${description}`);
      assert.equal(response.body.code, code, `HTTP: ${description}`);
    }
  });
});

describe('private and group history through the command', () => {
  test('the same participant and member rules as over HTTP', async () => {
    const sent = await sendCommand(miaPhone.client, 'send_message', { to_user_id: 'ola', content: 'psst' });
    assert.equal(sent.code, 0);
    await nextPush(ola.client, 'new_message', withMessageId(sent.data?.message_id));
    const privateRoom = String(sent.data?.room_id);
    assert.equal(privateRoom, 'private_mia_ola');

    const olaPage = await historyCommand(ola.client, { room_id: privateRoom });
    assert.equal(olaPage.code, 0);
    assert.equal(olaPage.page.type, 'history');
    assert.deepEqual(olaPage.page.messages, [
      {
        message_id: sent.data?.message_id,
        room_id: privateRoom,
        from_user_id: 'mia',
        to_user_id: 'ola',
        peer_id: 'mia',
        content: 'psst',
        message_type: 1,
        time: sent.data?.time,
      },
    ]);
    assertErrorReply(
      await sendCommand(noa.client, 'history', { room_id: privateRoom }),
      1403,
      'not a participant',
    );

    const created = await sendCommand(noa.client, 'create_group', {
      group_name: 'Readers',
      member_ids: ['mia'],
    });
    const groupId = String(created.data?.group_id);
    const posted = await sendCommand(noa.client, 'send_group_message', {
      group_id: groupId,
      content: 'chapter 3',
    });
    assert.equal(posted.code, 0);
    for (const device of [miaPhone, miaLaptop]) {
      await nextPush(device.client, 'group_message', withMessageId(posted.data?.message_id));
    }
    const memberPage = await historyCommand(miaLaptop.client, { room_id: groupId });
    assert.deepEqual(
      memberPage.page.messages.map((m) => [m.message_id, m.group_id, m.content]),
      [[posted.data?.message_id, groupId, 'chapter 3']],
    );
    assertErrorReply(await sendCommand(ola.client, 'history', { room_id: groupId }), 1403, 'not a member');
  });
});

describe('the 128 KB WebSocket message limit', () => {
  const bigRoom = 'long-reads';
  const bigIds: string[] = [];

  before(async () => {
    for (const connection of [miaPhone, noa]) {
      assert.equal((await sendCommand(connection.client, 'join_room', { room_id: bigRoom })).code, 0);
    }
    // 4,000 characters of 3 UTF-8 bytes each: ~12 KB a message, ~300 KB for 25.
    for (let i = 0; i < 25; i++) {
      const content = `${i % 10}${'語'.repeat(3999)}`;
      const reply = await sendCommand(noa.client, 'send_room_message', { room_id: bigRoom, content });
      assert.equal(reply.code, 0, JSON.stringify(reply).slice(0, 200));
      bigIds.push(String(reply.data?.message_id));
      await nextPush(miaPhone.client, 'room_message', withMessageId(reply.data?.message_id));
    }
  });

  test('a page that would exceed it holds fewer messages, and next_cursor continues where it stopped', async () => {
    const first = await historyCommand(miaPhone.client, { room_id: bigRoom, limit: 100 });
    assert.equal(first.code, 0);
    assert.ok(first.bytes < FRAME_LIMIT_BYTES, `the reply is ${first.bytes} bytes`);
    assert.ok(
      first.page.messages.length > 1 && first.page.messages.length < 25,
      `${first.page.messages.length}`,
    );
    assert.ok(first.page.next_cursor, 'a cursor to the rest');
    assert.deepEqual(
      first.page.messages.map((m) => m.message_id),
      bigIds.slice(-first.page.messages.length).reverse(),
    );

    const walked = await allPagesOverWebSocket(miaPhone.client, bigRoom, 100);
    assert.ok(walked.largestFrame < FRAME_LIMIT_BYTES, `largest reply ${walked.largestFrame} bytes`);
    assert.ok(walked.pages.length >= 3, `pages: ${walked.pages.join(', ')}`);
    assert.deepEqual(walked.ids, [...bigIds].reverse(), 'every message once, newest first');

    const http = await readHistory(runtime, await tokenFor(runtime, 'mia'), bigRoom, { limit: '100' });
    assert.equal(http.status, 200);
    assert.equal(http.body.data?.messages.length, 25, 'HTTP has no such limit: one page');
  });
});
