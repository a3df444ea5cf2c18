/**
 * The HTTP API under /api/ws, called with fetch as a client would, next to real
 * WebSocket connections that show its effects (presence, pushes).
 * Run: npx tsx --test test/e2e/http-api.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  pushesOf,
  settle,
  ULID,
} from '../support/chat.ts';
import { type ApiResponse, getApi, onlineCount, pollUntil, postApi, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { claimsFor, epochSecondsFromNow, signClaims } from '../support/tokens.ts';

let runtime: LocalRuntime;

before(async () => {
  runtime = await startTestRuntime();
});
after(() => runtime.stop());

/** Asserts an error answer: HTTP status, the code, `data: null`, a message. */
function assertApiError(
  response: ApiResponse<unknown>,
  status: number,
  code: number,
  description = '',
): void {
  const where = description ? ` (${description})` : '';
  assert.equal(response.status, status, `status${where}: ${JSON.stringify(response.body)}`);
  assert.equal(response.body.code, code, `code${where}`);
  assert.equal(response.body.data, null, `data${where}`);
  assert.equal(typeof response.body.message, 'string', `message${where}`);
}

function assertSuccess(response: ApiResponse<unknown>): void {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.body.code, 0);
  assert.equal(response.body.message, 'success');
}

const expiredToken = (userId: string) =>
  signClaims(claimsFor(userId, { iat: epochSecondsFromNow(-7200), exp: epochSecondsFromNow(-600) }), {
    secret: runtime.jwtSecret as string,
  });

describe('GET /api/ws/online-count', () => {
  test('needs no token; counts a user once and each connection; drops after disconnects', async () => {
    const start = await onlineCount(runtime);
    const response = await getApi(runtime, '/api/ws/online-count');
    assertSuccess(response);
    assert.deepEqual(response.body.data, { count: start.count, connections: start.connections });

    const xPhone = await connectWelcomed(runtime, 'count-x');
    const xLaptop = await connectWelcomed(runtime, 'count-x');
    const y = await connectWelcomed(runtime, 'count-y');
    assert.deepEqual(await onlineCount(runtime), {
      count: start.count + 2,
      connections: start.connections + 3,
    });

    await xPhone.client.close();
    const oneDeviceLess = { count: start.count + 2, connections: start.connections + 2 };
    await pollUntil(
      () => onlineCount(runtime),
      (now) => now.connections === oneDeviceLess.connections,
      'one connection fewer',
    );
    assert.deepEqual(await onlineCount(runtime), oneDeviceLess, 'count-x is still online on the laptop');

    await Promise.all([xLaptop.client.close(), y.client.close()]);
    const settled = await pollUntil(
      () => onlineCount(runtime),
      (now) => now.connections === start.connections,
      'the connections to close',
    );
    assert.deepEqual(settled, start);
  });
});

describe('GET /api/ws/online-users and /api/ws/online/check', () => {
  const users = ['list-a', 'list-b', 'list-c'];
  let connections: ChatConnection[];
  before(async () => {
    connections = [];
    for (const userId of users) connections.push(await connectWelcomed(runtime, userId));
    // list-a on a second device: still listed once.
    connections.push(await connectWelcomed(runtime, 'list-a'));
  });
  after(() => disconnect(runtime, ...connections));

  test('online-users needs a valid token: HTTP 401 with 1401 otherwise', async () => {
    assertApiError(await getApi(runtime, '/api/ws/online-users'), 401, 1401, 'no token');
    assertApiError(await getApi(runtime, '/api/ws/online-users', 'not-a-jwt'), 401, 1401, 'malformed');
    assertApiError(
      await getApi(runtime, '/api/ws/online-users', await expiredToken('list-a')),
      401,
      1401,
      'expired',
    );
  });

  test('online-users lists every online user once', async () => {
    const response = await getApi<{ users: string[]; next_cursor?: string }>(
      runtime,
      '/api/ws/online-users',
      await tokenFor(runtime, 'reader'),
    );
    assertSuccess(response);
    assert.deepEqual([...(response.body.data?.users ?? [])].sort(), users);
    assert.equal(response.body.data?.next_cursor, undefined, 'one page holds them all');
  });

  test('online-users pages with limit=1 and next_cursor visit each user exactly once', async () => {
    const token = await tokenFor(runtime, 'reader');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const query = new URLSearchParams({ limit: '1', ...(cursor ? { cursor } : {}) });
      const response = await getApi<{ users: string[]; next_cursor?: string }>(
        runtime,
        `/api/ws/online-users?${query}`,
        token,
      );
      assertSuccess(response);
      const page = response.body.data?.users ?? [];
      assert.ok(page.length <= 1, `a page holds at most 1 user: ${page.join()}`);
      seen.push(...page);
      cursor = response.body.data?.next_cursor;
      assert.ok(++pages <= 20, 'pagination ends');
    } while (cursor);
    assert.deepEqual([...seen].sort(), users);
  });

  test('online-users refuses a bad limit or cursor with HTTP 400 and 1001', async () => {
    const token = await tokenFor(runtime, 'reader');
    const forgedCursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const queries = [
      'limit=0',
      'limit=abc',
      'limit=1.5',
      'cursor=not-a-cursor',
      `cursor=${forgedCursor({ shard: -1 })}`,
      `cursor=${forgedCursor({ shard: 1, after: { S: 'x' } })}`,
      `cursor=${forgedCursor({ shard: 1, after: 'x'.repeat(2000) })}`,
      `cursor=${forgedCursor(null)}`,
    ];
    for (const query of queries) {
      assertApiError(await getApi(runtime, `/api/ws/online-users?${query}`, token), 400, 1001, query);
    }
  });

  test('online/check answers is_online true or false; 400 without user_id; 401 without a token', async () => {
    const token = await tokenFor(runtime, 'reader');
    const online = await getApi(runtime, '/api/ws/online/check?user_id=list-b', token);
    assertSuccess(online);
    assert.deepEqual(online.body.data, { user_id: 'list-b', is_online: true });

    const offline = await getApi(runtime, '/api/ws/online/check?user_id=nobody-here', token);
    assertSuccess(offline);
    assert.deepEqual(offline.body.data, { user_id: 'nobody-here', is_online: false });

    assertApiError(await getApi(runtime, '/api/ws/online/check', token), 400, 1001, 'no user_id');
    assertApiError(await getApi(runtime, '/api/ws/online/check?user_id=', token), 400, 1001, 'empty user_id');
    assertApiError(
      await getApi(runtime, '/api/ws/online/check?user_id=%20%20', token),
      400,
      1001,
      'blank user_id',
    );
    assertApiError(await getApi(runtime, '/api/ws/online/check?user_id=list-b'), 401, 1401, 'no token');
  });
});

describe('POST /api/ws/send-message', () => {
  let recipient: ChatConnection;
  before(async () => {
    recipient = await connectWelcomed(runtime, 'http-to');
  });
  after(() => disconnect(runtime, recipient));

  test('with a JWT, the recipient’s socket gets new_message and the answer is message_sent', async () => {
    const response = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: 'http-to', content: 'sent over HTTP', message_type: 1 },
      await tokenFor(runtime, 'http-from'),
    );
    assertSuccess(response);
    const sent = response.body.data ?? {};
    assert.deepEqual(Object.keys(sent).sort(), [
      'delivered',
      'failed',
      'message_id',
      'peer_id',
      'room_id',
      'time',
      'type',
    ]);
    assert.equal(sent.type, 'message_sent');
    assert.match(String(sent.message_id), ULID);
    assert.equal(sent.room_id, 'private_http-from_http-to');
    assert.equal(sent.peer_id, 'http-to');
    assert.equal(sent.delivered, 1);
    assertIsoTime(sent.time);

    assert.deepEqual(await nextPush(recipient.client, 'new_message'), {
      type: 'new_message',
      message_id: sent.message_id,
      room_id: 'private_http-from_http-to',
      peer_id: 'http-from',
      from_user_id: 'http-from',
      to_user_id: 'http-to',
      content: 'sent over HTTP',
      message_type: 1,
      time: sent.time,
    });
  });

  test('refused without a valid token (401), with a bad body (400) — and nothing is delivered', async () => {
    const before = pushesOf(recipient.client, 'new_message').length;
    const token = await tokenFor(runtime, 'http-from');
    const message = { to_user_id: 'http-to', content: 'hi' };
    assertApiError(await postApi(runtime, '/api/ws/send-message', message), 401, 1401, 'no token');
    assertApiError(
      await postApi(runtime, '/api/ws/send-message', message, await expiredToken('http-from')),
      401,
      1401,
      'expired token',
    );
    assertApiError(await postApi(runtime, '/api/ws/send-message', {}, token), 400, 10002, 'empty object');
    assertApiError(
      await postApi(runtime, '/api/ws/send-message', { to_user_id: 'http-to', content: '  ' }, token),
      400,
      10002,
      'blank content',
    );
    assertApiError(
      await postApi(runtime, '/api/ws/send-message', 'to http-to: hi', token),
      400,
      1001,
      'not JSON',
    );
    assertApiError(
      await postApi(runtime, '/api/ws/send-message', { ...message, message_type: 9 }, token),
      400,
      1001,
      'message_type 9',
    );
    // 1002 maps to 413 Payload Too Large (functions/core/shared/errors.ts httpStatusFor).
    assertApiError(
      await postApi(runtime, '/api/ws/send-message', { ...message, content: 'x'.repeat(4001) }, token),
      413,
      1002,
      'content over 4,000 characters',
    );
    await settle(recipient.client);
    assert.equal(pushesOf(recipient.client, 'new_message').length, before);
  });
});

describe('POST /api/ws/broadcast', () => {
  test('403 with 1403 for a non-admin; an admin gets {recipients} and every socket the push', async () => {
    const listener = await connectWelcomed(runtime, 'listener');
    const secondDevice = await connectWelcomed(runtime, 'listener');
    assert.equal((await onlineCount(runtime)).connections, 2, 'the connections of earlier tests are closed');

    assertApiError(
      await postApi(runtime, '/api/ws/broadcast', { message: 'hi all' }, await tokenFor(runtime, 'listener')),
      403,
      1403,
      'non-admin',
    );
    assertApiError(await postApi(runtime, '/api/ws/broadcast', { message: 'hi all' }), 401, 1401, 'no token');
    const adminToken = await tokenFor(runtime, 'http-admin', { role: 'admin' });
    assertApiError(
      await postApi(runtime, '/api/ws/broadcast', { message: ' ' }, adminToken),
      400,
      10005,
      'blank',
    );
    await settle(listener.client);
    assert.deepEqual(pushesOf(listener.client, 'broadcast'), [], 'refused broadcasts reach nobody');

    const response = await postApi(runtime, '/api/ws/broadcast', { message: 'hi all' }, adminToken);
    assertSuccess(response);
    assert.deepEqual(response.body.data, { recipients: 2 });
    for (const device of [listener, secondDevice]) {
      const push = await nextPush(device.client, 'broadcast');
      assert.deepEqual(Object.keys(push).sort(), ['from_user_id', 'message', 'time', 'type']);
      assert.equal(push.from_user_id, 'http-admin');
      assert.equal(push.message, 'hi all');
      assertIsoTime(push.time);
    }
    await disconnect(runtime, listener, secondDevice);
  });
});

describe('GET /api/ws/messages', () => {
  const room = 'private_hist-a_hist-b';
  const sentIds: string[] = [];
  let readerToken: string;

  before(async () => {
    const senderToken = await tokenFor(runtime, 'hist-a');
    readerToken = await tokenFor(runtime, 'hist-b');
    for (let i = 1; i <= 25; i++) {
      const response = await postApi<{ message_id: string }>(
        runtime,
        '/api/ws/send-message',
        { to_user_id: 'hist-b', content: `message ${i}` },
        senderToken,
      );
      assertSuccess(response);
      sentIds.push(String(response.body.data?.message_id));
    }
  });

  test('newest first, and next_cursor pages through 25 messages with no gap or duplicate', async () => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const response = await readHistory(runtime, readerToken, room, {
        limit: '10',
        ...(cursor ? { cursor } : {}),
      });
      assertSuccess(response);
      assert.equal(response.body.data?.room_id, room);
      pages.push((response.body.data?.messages ?? []).map((m) => m.message_id));
      cursor = response.body.data?.next_cursor;
      assert.ok(pages.length <= 5, 'pagination ends');
    } while (cursor);
    assert.deepEqual(
      pages.map((page) => page.length),
      [10, 10, 5],
    );
    assert.deepEqual(pages.flat(), [...sentIds].reverse());

    const newest = await readHistory(runtime, readerToken, room, { limit: '1' });
    assert.deepEqual(newest.body.data?.messages, [
      {
        message_id: sentIds.at(-1),
        room_id: room,
        from_user_id: 'hist-a',
        to_user_id: 'hist-b',
        peer_id: 'hist-a',
        content: 'message 25',
        message_type: 1,
        time: newest.body.data?.messages[0]?.time,
      },
    ]);
    assertIsoTime(newest.body.data?.messages[0]?.time);

    const overLimit = await readHistory(runtime, readerToken, room, { limit: '1000' });
    assertSuccess(overLimit);
    assert.equal(overLimit.body.data?.messages.length, 25, 'a limit over 100 is capped, not refused');
  });

  test('before=<message_id> returns only older messages', async () => {
    const before = sentIds[5] as string;
    const response = await readHistory(runtime, readerToken, room, { before, limit: '3' });
    assertSuccess(response);
    assert.deepEqual(
      response.body.data?.messages.map((m) => m.message_id),
      sentIds.slice(2, 5).reverse(),
    );
  });

  test('refusals: 403 for a non-participant or an unknown room, 400 for bad parameters, 401 for a bad token', async () => {
    const outsider = await tokenFor(runtime, 'hist-c');
    assertApiError(await readHistory(runtime, outsider, room), 403, 1403, 'non-participant');
    assertApiError(await readHistory(runtime, readerToken, 'lobby'), 403, 1403, 'a public room');
    assertApiError(await getApi(runtime, '/api/ws/messages', readerToken), 400, 2002, 'no room_id');
    assertApiError(await readHistory(runtime, readerToken, '  '), 400, 2002, 'blank room_id');
    assertApiError(await readHistory(runtime, readerToken, room, { limit: '0' }), 400, 1001, 'limit 0');
    assertApiError(
      await readHistory(runtime, readerToken, room, { cursor: 'bogus' }),
      400,
      1001,
      'bad cursor',
    );
    assertApiError(await readHistory(runtime, readerToken, room, { before: 'x' }), 400, 1001, 'bad before');
    assertApiError(await readHistory(runtime, await expiredToken('hist-b'), room), 401, 1401, 'expired');
    assertApiError(await getApi(runtime, `/api/ws/messages?room_id=${room}`), 401, 1401, 'no token');
  });
});
