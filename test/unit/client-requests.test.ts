/**
 * ChatClient commands on a fake WebSocket and a fake clock: request_id correlation
 * (replies in any order), error replies, timeouts, and what happens to a pending command
 * when the connection drops (idempotent ones are resent, the others reject clearly).
 * Run: npx tsx --test test/unit/client-requests.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import {
  ChatClosedError,
  ChatConnectionLostError,
  ChatRequestError,
  ChatTimeoutError,
} from '../../client/src/errors.ts';
import { connected, FakeWebSocket, fakeClient, flush, record } from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

const emptySync = { type: 'sync', messages: [], has_more: false };

test('frames carry cmd, data and a unique request_id; replies are matched by request_id in any order', async () => {
  const { client, ws } = await connected();
  const lobby = client.history({ room_id: 'lobby', limit: 5 });
  const group = client.createGroup({ group_name: 'Trip', member_ids: ['bob'] });
  const [historyFrame] = ws.sentOf('history');
  const [groupFrame] = ws.sentOf('create_group');
  assert.ok(historyFrame && groupFrame);
  assert.deepEqual(historyFrame.data, { room_id: 'lobby', limit: 5 });
  assert.deepEqual(groupFrame.data, { group_name: 'Trip', member_ids: ['bob'] });
  assert.equal(typeof historyFrame.request_id, 'string');
  assert.notEqual(historyFrame.request_id, groupFrame.request_id);

  // Replies arrive in the other order; a push in between is not taken for a reply.
  ws.reply(groupFrame, {
    type: 'group_created',
    group_id: 'group_1',
    group_name: 'Trip',
    member_ids: ['alice', 'bob'],
  });
  ws.push({ type: 'presence', user_id: 'bob', status: 'online', time: 't' });
  ws.reply(historyFrame, { type: 'history', room_id: 'lobby', messages: [] });
  assert.equal((await group).group_id, 'group_1');
  assert.deepEqual(await lobby, { type: 'history', room_id: 'lobby', messages: [] });
  client.close();
});

test('ping() sends {} and resolves with the pong', async () => {
  const { client, ws } = await connected();
  const pong = client.ping();
  const frame = ws.lastOf('ping');
  assert.deepEqual(frame.data, {});
  ws.reply(frame, { type: 'pong', time: '2026-11-21T10:00:01.000Z' });
  assert.equal((await pong).type, 'pong');
  client.close();
});

test('an error reply rejects with ChatRequestError carrying code, message and requestId', async () => {
  const { client, ws } = await connected();
  const join = client.joinRoom({ room_id: 'private_x' });
  const frame = ws.lastOf('join_room');
  ws.replyError(frame, 2001, 'room_id is invalid');
  await assert.rejects(join, (error: unknown) => {
    assert.ok(error instanceof ChatRequestError);
    assert.equal(error.code, 2001);
    assert.equal(error.message, 'room_id is invalid');
    assert.equal(error.requestId, frame.request_id);
    return true;
  });
  assert.deepEqual(client.joinedRooms, [], 'a refused join is not remembered');
  client.close();
});

test('no reply within requestTimeoutMs: ChatTimeoutError; a late reply is ignored', async () => {
  const { client, ws, timers } = await connected({ requestTimeoutMs: 3000 });
  const errors = record<Error>((l) => client.on('error', l));
  const pushes = record<unknown>((l) => client.on('push', l));
  const markRead = client.markRead({
    room_id: 'private_alice_bob',
    message_id: '01M7YWPCCSRYNBXWZR3XXPQ1DX',
  });
  let settled = false;
  markRead.catch(() => {}).finally(() => (settled = true));
  await timers.advance(2999);
  assert.equal(settled, false);
  await timers.advance(1);
  await assert.rejects(
    markRead,
    (error: unknown) => error instanceof ChatTimeoutError && error.timeoutMs === 3000,
  );
  ws.reply(ws.lastOf('mark_read'), { type: 'read_marked' });
  await flush();
  assert.deepEqual(errors, []);
  assert.deepEqual(pushes, [], 'a late reply is not a push either');
  client.close();
});

test('per-request timeout option', async () => {
  const { client, timers } = await connected();
  const call = assert.rejects(client.request('ping', {}, { timeoutMs: 100 }), ChatTimeoutError);
  await timers.advance(100);
  await call;
  client.close();
});

test('connection drops: a non-idempotent command rejects with ChatConnectionLostError', async () => {
  const { client, ws } = await connected();
  const group = client.createGroup({ group_name: 'Trip', member_ids: ['bob'] });
  const broadcast = client.broadcast({ message: 'hello' });
  const custom = client.request('custom_cmd', { a: 1 });
  ws.drop();
  for (const pending of [group, broadcast, custom])
    await assert.rejects(pending, (error: unknown) => error instanceof ChatConnectionLostError);
  await assert.rejects(group, /may or may not have been carried out/);
  client.close();
});

test('connection drops: idempotent commands are resent on the next connection and resolve', async () => {
  const { client, ws, timers } = await connected({ requestTimeoutMs: 60_000 });
  const history = client.history({ room_id: 'lobby' });
  const custom = client.request<{ ok: boolean }>('custom_read', {}, { idempotent: true });
  const first = ws.lastOf('history');
  ws.drop();
  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  const resent = next.lastOf('history');
  assert.deepEqual(resent.data, first.data);
  assert.notEqual(resent.request_id, first.request_id);
  next.reply(resent, { type: 'history', room_id: 'lobby', messages: [] });
  next.reply(next.lastOf('custom_read'), { ok: true });
  next.reply(next.lastOf('sync'), emptySync);
  assert.equal((await history).room_id, 'lobby');
  assert.deepEqual(await custom, { ok: true });
  client.close();
});

test('commands made while reconnecting wait for the connection (within their timeout)', async () => {
  const { client, ws, timers } = await connected({ requestTimeoutMs: 5000 });
  ws.drop();
  const waiting = client.history({ room_id: 'lobby' });
  const doomed = client.createGroup({ group_name: 'x', member_ids: ['y'] });
  await timers.advance(250);
  const next = FakeWebSocket.last.welcome();
  await flush();
  next.reply(next.lastOf('history'), { type: 'history', room_id: 'lobby', messages: [] });
  next.reply(next.lastOf('create_group'), { type: 'group_created', group_id: 'group_2' });
  assert.equal((await waiting).type, 'history');
  assert.equal((await doomed).group_id, 'group_2');

  next.drop();
  const late = assert.rejects(client.ping(), ChatTimeoutError);
  await timers.advance(5000);
  await late;
  client.close();
});

test('a command on a closed client rejects at once', async () => {
  const { client } = fakeClient();
  client.close();
  await assert.rejects(client.ping(), ChatClosedError);
  await assert.rejects(client.sendMessage({ to_user_id: 'b', content: 'x' }), ChatClosedError);
});

test('frames that are not JSON and error frames without request_id are reported, not thrown', async () => {
  const { client, ws } = await connected();
  const errors = record<Error>((l) => client.on('error', l));
  ws.receive('not json');
  ws.receive({ code: 1001, message: 'request is not JSON', data: null });
  assert.equal(errors.length, 2);
  assert.equal((errors[1] as ChatRequestError).code, 1001);
  assert.equal(client.state, 'open');
  client.close();
});

test('a throwing listener does not break the client; it is reported as an error event', async () => {
  const { client, ws } = await connected();
  const errors = record<Error>((l) => client.on('error', l));
  client.on('presence', () => {
    throw new Error('listener bug');
  });
  const seen = record<unknown>((l) => client.on('presence', l));
  ws.push({ type: 'presence', user_id: 'bob', status: 'online', time: 't' });
  assert.equal(seen.length, 1);
  assert.equal(errors[0]?.message, 'listener bug');
  client.close();
});

test('typed pushes are emitted as their own events; every push also as `push`; unsubscribe works', async () => {
  const { client, ws } = await connected();
  const raw = record<unknown>((l) => client.on('push', l));
  const got: string[] = [];
  for (const event of ['broadcast', 'presence', 'message_deleted', 'message_read', 'unread_count'] as const)
    client.on(event, (payload) => got.push(payload.type));
  const off = client.on('presence', () => got.push('second presence listener'));
  ws.push({ type: 'broadcast', from_user_id: 'ops', message: 'hi', time: 't' });
  ws.push({ type: 'presence', user_id: 'bob', status: 'offline', time: 't' });
  off();
  ws.push({ type: 'presence', user_id: 'bob', status: 'online', time: 't' });
  ws.push({ type: 'message_deleted', room_id: 'r', message_id: 'm', deleted_by: 'bob', time: 't' });
  ws.push({ type: 'message_read', room_id: 'r', user_id: 'bob', message_id: 'm', time: 't' });
  ws.push({ type: 'unread_count', room_id: 'r', unread: 0, time: 't' });
  ws.push({ type: 'something_new', x: 1 });
  assert.deepEqual(got, [
    'broadcast',
    'presence',
    'second presence listener',
    'presence',
    'message_deleted',
    'message_read',
    'unread_count',
  ]);
  assert.equal(raw.length, 7, 'unknown push types still reach `push`');
  client.close();
});
