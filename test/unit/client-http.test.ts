/**
 * ChatHttpClient with a fake fetch: the paths, query strings and bearer token it sends,
 * how it unwraps the `{code, message, data}` envelope, and the errors it throws.
 * Run: npx tsx --test test/unit/client-http.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatHttpClient, ChatHttpError } from '../../client/src/http.ts';

interface Captured {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

function fakeFetch(respond: (request: Captured) => { status: number; body: unknown }) {
  const requests: Captured[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const request: Captured = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: init?.body as string | undefined,
    };
    requests.push(request);
    const { status, body } = respond(request);
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

const ok = (data: unknown) => ({ status: 200, body: { code: 0, message: 'success', data } });

test('onlineCount: no token sent; trailing slashes of the base URL are fine', async () => {
  const { fetch, requests } = fakeFetch(() => ok({ count: 2, connections: 3 }));
  const http = new ChatHttpClient({ baseUrl: 'http://localhost:8009//', token: 'jwt', fetch });
  assert.deepEqual(await http.onlineCount(), { count: 2, connections: 3 });
  assert.equal(requests[0]?.url, 'http://localhost:8009/api/ws/online-count');
  assert.equal(requests[0]?.headers.authorization, undefined);
});

test('onlineUsers: limit and cursor in the query; next_cursor comes back as next_cursor (cursor: deprecated alias)', async () => {
  const { fetch, requests } = fakeFetch(() => ok({ users: ['1', '2'], next_cursor: 'abc' }));
  const http = new ChatHttpClient({ baseUrl: 'https://api.example/prod', token: 'jwt', fetch });
  const page = await http.onlineUsers({ limit: 2, cursor: 'xyz' });
  assert.deepEqual(page.users, ['1', '2']);
  assert.equal(page.next_cursor, 'abc', 'the same name as the wire and messages()');
  assert.equal(page.cursor, 'abc');
  const url = new URL(requests[0]?.url ?? '');
  assert.equal(url.pathname, '/prod/api/ws/online-users');
  assert.equal(url.searchParams.get('limit'), '2');
  assert.equal(url.searchParams.get('cursor'), 'xyz');
  assert.equal(requests[0]?.headers.authorization, 'Bearer jwt');
});

test('onlineUsers: the last page has no cursor', async () => {
  const { fetch } = fakeFetch(() => ok({ users: [] }));
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch });
  assert.deepEqual(await http.onlineUsers(), { users: [] });
});

test('isOnline and messages; a token function is called per request', async () => {
  let calls = 0;
  const { fetch, requests } = fakeFetch((request) =>
    request.url.includes('online/check')
      ? ok({ user_id: 'u 1', is_online: true })
      : ok({ room_id: 'lobby', messages: [], next_cursor: 'n' }),
  );
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: async () => `t${++calls}`, fetch });
  assert.equal(await http.isOnline('u 1'), true);
  const page = await http.messages({ room_id: 'lobby', before: '01M7YWPCCSRYNBXWZR3XXPQ1DX', limit: 10 });
  assert.equal(page.next_cursor, 'n');
  assert.equal(new URL(requests[0]?.url ?? '').searchParams.get('user_id'), 'u 1');
  const query = new URL(requests[1]?.url ?? '').searchParams;
  assert.deepEqual(Object.fromEntries(query), {
    room_id: 'lobby',
    before: '01M7YWPCCSRYNBXWZR3XXPQ1DX',
    limit: '10',
  });
  assert.deepEqual(
    requests.map((r) => r.headers.authorization),
    ['Bearer t1', 'Bearer t2'],
  );
});

test('POST bodies are JSON', async () => {
  const { fetch, requests } = fakeFetch(() => ok({ type: 'message_sent', message_id: 'm' }));
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch });
  await http.sendMessage({ to_user_id: '2', content: 'hi', client_msg_id: 'c1' });
  assert.equal(requests[0]?.method, 'POST');
  assert.equal(requests[0]?.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(requests[0]?.body ?? ''), {
    to_user_id: '2',
    content: 'hi',
    client_msg_id: 'c1',
  });
});

test('an error envelope throws ChatHttpError with the HTTP status and the envelope code', async () => {
  const { fetch } = fakeFetch(() => ({
    status: 403,
    body: { code: 1403, message: 'not a participant', data: null },
  }));
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch });
  await assert.rejects(http.messages({ room_id: 'private_a_b' }), (error: unknown) => {
    assert.ok(error instanceof ChatHttpError);
    assert.equal(error.status, 403);
    assert.equal(error.code, 1403);
    assert.equal(error.message, 'not a participant');
    assert.equal(error.path, '/api/ws/messages');
    return true;
  });
});

test('a body that is not the envelope throws ChatHttpError with code -1', async () => {
  const { fetch } = fakeFetch(() => ({ status: 502, body: '<html>Bad gateway</html>' }));
  const http = new ChatHttpClient({ baseUrl: 'http://h', fetch });
  await assert.rejects(http.onlineCount(), (error: unknown) => {
    assert.ok(error instanceof ChatHttpError);
    assert.equal(error.status, 502);
    assert.equal(error.code, -1);
    assert.match(error.message, /HTTP 502/);
    return true;
  });
});
