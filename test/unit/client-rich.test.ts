/**
 * The SDK's rich messages and attachments on a fake WebSocket and a fake fetch: the frames
 * `editMessage`, `react`, `unreact` and `typing` send (typing throttled per room, never
 * queued), the `message_edited`, `reaction` and `typing` events, rich fields carried by
 * live and catch-up messages, and `upload` / `sendFile`: the upload request, the presigned
 * PUT with the signed headers, and refusals from the server and from the storage.
 * Run: npx tsx --test test/unit/client-rich.test.ts
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { ChatError, ChatRequestError } from '../../client/src/errors.ts';
import { ChatHttpClient, ChatHttpError } from '../../client/src/http.ts';
import type { ChatMessage, MessageEditedPush, ReactionPush, TypingPush } from '../../client/src/types.ts';
import { messageTypeFor, UploadFailedError } from '../../client/src/uploads.ts';
import { connected, FakeWebSocket, flush, mid, record } from '../../client/test/fakes.ts';

beforeEach(() => FakeWebSocket.reset());

const ROOM = 'private_alice_bob';

test('editMessage, react and unreact send their frames and resolve with the reply', async () => {
  const { client, ws } = await connected();
  const edited = client.editMessage({ room_id: ROOM, message_id: mid(1), content: 'fixed' });
  const editFrame = ws.lastOf('edit_message');
  assert.deepEqual(editFrame.data, { room_id: ROOM, message_id: mid(1), content: 'fixed' });
  const editReply = {
    type: 'message_edited',
    room_id: ROOM,
    message_id: mid(1),
    content: 'fixed',
    edited_at: '2026-11-21T10:00:05.000Z',
    peer_id: 'bob',
    delivered: 1,
  };
  ws.reply(editFrame, editReply);
  assert.deepEqual(await edited, editReply);

  const reacted = client.react({ room_id: ROOM, message_id: mid(1), emoji: '👍' });
  const reactFrame = ws.lastOf('react');
  assert.deepEqual(reactFrame.data, { room_id: ROOM, message_id: mid(1), emoji: '👍' });
  const reaction = {
    type: 'reaction',
    room_id: ROOM,
    message_id: mid(1),
    user_id: 'alice',
    emoji: '👍',
    action: 'added',
    counts: { '👍': 1 },
    changed: true,
    delivered: 1,
  };
  ws.reply(reactFrame, reaction);
  assert.deepEqual(await reacted, reaction);

  const unreacted = client.unreact({ room_id: ROOM, message_id: mid(1), emoji: '👍' });
  ws.replyError(ws.lastOf('unreact'), 1403, 'not a participant');
  await assert.rejects(
    unreacted,
    (error: unknown) => error instanceof ChatRequestError && error.code === 1403,
  );
});

test('typing: a start per room at most every typingRepeatMs, a stop only after a start, nothing while offline', async () => {
  const { client, ws, timers } = await connected({ typingRepeatMs: 3_000 });
  const answer = () => {
    const frame = ws.sent.at(-1);
    if (frame?.cmd === 'typing') ws.reply(frame, { type: 'typing_sent', ...frame.data, delivered: 1 });
  };
  const typing = async (room: string, state: 'start' | 'stop') => {
    const result = client.typing(room, state);
    await flush();
    answer();
    return result;
  };

  assert.equal(await typing(ROOM, 'stop'), false, 'no stop before a start');
  assert.equal(await typing(ROOM, 'start'), true);
  assert.equal(await typing(ROOM, 'start'), false, 'a repeat right away is not sent');
  assert.equal(await typing('lobby', 'start'), true, 'another room has its own pace');
  await timers.advance(2_999);
  assert.equal(await typing(ROOM, 'start'), false);
  await timers.advance(1);
  assert.equal(await typing(ROOM, 'start'), true, 'repeated after typingRepeatMs');
  assert.equal(await typing(ROOM, 'stop'), true);
  assert.equal(await typing(ROOM, 'stop'), false, 'one stop is enough');
  assert.equal(await typing(ROOM, 'start'), true, 'a start after a stop goes out at once');
  assert.deepEqual(
    ws.sentOf('typing').map((frame) => frame.data),
    [
      { room_id: ROOM, state: 'start' },
      { room_id: 'lobby', state: 'start' },
      { room_id: ROOM, state: 'start' },
      { room_id: ROOM, state: 'stop' },
      { room_id: ROOM, state: 'start' },
    ],
  );

  // A refused start does not hold back the next one.
  await timers.advance(3_000);
  const refused = client.typing('lobby', 'start');
  await flush();
  ws.replyError(ws.lastOf('typing'), 1029, 'rate limited');
  await assert.rejects(refused, ChatRequestError);
  assert.equal(await typing('lobby', 'start'), true);

  // The server's own throttle dropped it: nobody was told.
  await timers.advance(4_000);
  const dropped = client.typing('lobby', 'start');
  await flush();
  ws.reply(ws.lastOf('typing'), {
    type: 'typing_sent',
    room_id: 'lobby',
    state: 'start',
    delivered: 0,
    throttled: true,
  });
  assert.equal(await dropped, false);

  // Offline: typing is stale by the time a connection is back, so it is never queued.
  const before = ws.sent.length;
  ws.drop();
  await flush();
  assert.equal(await client.typing('elsewhere', 'start'), false);
  assert.equal(ws.sent.length, before);
});

test('message_edited, reaction and typing pushes become events', async () => {
  const { client, ws } = await connected();
  const edits = record<MessageEditedPush>((listener) => client.on('message_edited', listener));
  const reactions = record<ReactionPush>((listener) => client.on('reaction', listener));
  const typing = record<TypingPush>((listener) => client.on('typing', listener));
  const edit = {
    type: 'message_edited',
    room_id: ROOM,
    message_id: mid(1),
    content: 'new',
    edited_at: '2026-11-21T10:00:05.000Z',
  };
  const reaction = {
    type: 'reaction',
    room_id: ROOM,
    message_id: mid(1),
    user_id: 'bob',
    emoji: '🎉',
    action: 'added',
    counts: { '🎉': 2 },
  };
  const typingPush = { type: 'typing', room_id: ROOM, user_id: 'bob', state: 'start' };
  ws.push(edit);
  ws.push(reaction);
  ws.push(typingPush);
  assert.deepEqual(edits, [edit]);
  assert.deepEqual(reactions, [reaction]);
  assert.deepEqual(typing, [typingPush]);
});

test('messages carry reply_to, attachment, edited_at and reactions, live and from catch-up', async () => {
  const { client, ws } = await connected({ syncFromStart: true });
  const messages = record<ChatMessage>((listener) => client.on('message', listener));
  // The first connection catches up from the start: answer that sync first.
  ws.reply(ws.lastOf('sync'), {
    type: 'sync',
    messages: [
      {
        kind: 'private',
        message_id: mid(1),
        room_id: ROOM,
        from_user_id: 'bob',
        to_user_id: 'alice',
        peer_id: 'bob',
        content: 'edited text',
        message_type: 1,
        time: '2026-11-21T09:59:00.000Z',
        edited_at: '2026-11-21T09:59:30.000Z',
        reactions: { '👍': 2 },
      },
    ],
    has_more: false,
  });
  await flush();
  const attachment = {
    attachment_id: 'att-1',
    file_name: 'cat.png',
    content_type: 'image/png',
    size: 68,
    url: 'http://s3.test/cat.png?X-Amz-Signature=abc',
  };
  ws.push({
    type: 'new_message',
    message_id: mid(2),
    room_id: ROOM,
    peer_id: 'bob',
    from_user_id: 'bob',
    to_user_id: 'alice',
    content: 'cat.png',
    message_type: 2,
    time: '2026-11-21T10:00:01.000Z',
    reply_to: mid(1),
    attachment,
  });
  await flush();
  assert.equal(messages.length, 2);
  assert.equal(messages[0]?.edited_at, '2026-11-21T09:59:30.000Z');
  assert.deepEqual(messages[0]?.reactions, { '👍': 2 });
  assert.equal(messages[0]?.catch_up, true);
  assert.equal(messages[1]?.reply_to, mid(1));
  assert.deepEqual(messages[1]?.attachment, attachment);
  assert.equal('edited_at' in (messages[1] ?? {}), false, 'fields not on the wire are not invented');
});

// ---------------------------------------------------------------- uploads

interface Captured {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

const TICKET = {
  upload_url: 'http://s3.test/bucket/uploads/alice/att-1?X-Amz-Signature=abc',
  method: 'PUT',
  headers: { 'content-type': 'image/png', 'content-length': '4' },
  attachment_id: 'att-1',
  expires_at: '2026-11-21T10:15:00.000Z',
};

/** The HTTP API answers the upload request with `ticket`; the storage answers the PUT with `storage`. */
function fakeFetch(options: {
  ticket?: unknown;
  apiStatus?: number;
  storage?: { status: number; body: string };
}) {
  const requests: Captured[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: init?.body,
    };
    requests.push(request);
    if (request.url.startsWith('http://s3.test/')) {
      const storage = options.storage ?? { status: 200, body: '' };
      return new Response(storage.body, { status: storage.status });
    }
    const status = options.apiStatus ?? 200;
    const envelope =
      status === 200
        ? { code: 0, message: 'success', data: options.ticket ?? TICKET }
        : { code: 1001, message: 'content_type not allowed', data: null };
    return new Response(JSON.stringify(envelope), { status });
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

test('upload(File): asks the HTTP API for a presigned PUT, then PUTs the bytes with the signed headers', async () => {
  const { fetch, requests } = fakeFetch({});
  const http = new ChatHttpClient({ baseUrl: 'http://localhost:8009', token: () => 'jwt', fetch });
  const file = new File([PNG_BYTES], 'cat.png', { type: 'image/png' });
  const uploaded = await http.upload(file);
  assert.deepEqual(uploaded, {
    attachment_id: 'att-1',
    file_name: 'cat.png',
    content_type: 'image/png',
    size: 4,
  });
  assert.equal(requests.length, 2);
  const [ask, put] = requests;
  assert.equal(ask?.url, 'http://localhost:8009/api/ws/uploads');
  assert.equal(ask?.method, 'POST');
  assert.equal(ask?.headers.authorization, 'Bearer jwt');
  assert.deepEqual(JSON.parse(String(ask?.body)), {
    file_name: 'cat.png',
    content_type: 'image/png',
    size: 4,
  });
  assert.equal(put?.url, TICKET.upload_url);
  assert.equal(put?.method, 'PUT');
  // content-length comes from the body (browsers refuse to set it); no token goes to S3.
  assert.deepEqual(put?.headers, { 'content-type': 'image/png' });
  assert.equal(put?.body, file);
});

test('upload(Buffer or bytes) needs a file name; the content type defaults to application/octet-stream', async () => {
  const { fetch, requests } = fakeFetch({});
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch });
  await assert.rejects(http.upload(Buffer.from('hello')), TypeError);
  assert.equal(requests.length, 0, 'nothing was asked for');
  const uploaded = await http.upload(Buffer.from('hello'), { file_name: 'notes.txt' });
  assert.equal(uploaded.content_type, 'application/octet-stream');
  assert.equal(uploaded.size, 5);
  const bytes = await http.upload(PNG_BYTES.buffer, { file_name: 'x.png', content_type: 'image/png' });
  assert.equal(bytes.size, 4);
  // A Blob's own type is used.
  const blob = await http.upload(new Blob(['abc'], { type: 'text/plain' }), { file_name: 'a.txt' });
  assert.equal(blob.content_type, 'text/plain');
});

test('upload: a refusal by the server is a ChatHttpError and nothing is PUT; a refusal by the storage is an UploadFailedError', async () => {
  const refused = fakeFetch({ apiStatus: 400 });
  const http = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch: refused.fetch });
  await assert.rejects(
    http.upload(new File(['x'], 'a.exe', { type: 'application/x-msdownload' })),
    (error: unknown) => error instanceof ChatHttpError && error.status === 400 && error.code === 1001,
  );
  assert.equal(refused.requests.length, 1);

  const storage = fakeFetch({
    storage: {
      status: 403,
      body: '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>…</Message></Error>',
    },
  });
  const http2 = new ChatHttpClient({ baseUrl: 'http://h', token: 'jwt', fetch: storage.fetch });
  await assert.rejects(
    http2.upload(new File([PNG_BYTES], 'cat.png', { type: 'image/png' })),
    (error: unknown) =>
      error instanceof UploadFailedError &&
      error instanceof ChatError &&
      error.status === 403 &&
      error.storageCode === 'SignatureDoesNotMatch',
  );
});

test('sendFile uploads, then sends a message of the file type with the attachment_id to a user, a group or a room', async () => {
  const { fetch, requests } = fakeFetch({});
  const { client, ws } = await connected({ httpUrl: 'http://localhost:8009', fetch, outbox: false });
  const sent = client.sendFile(
    { to_user_id: 'bob' },
    new File([PNG_BYTES], 'cat.png', { type: 'image/png' }),
    { reply_to: mid(1) },
  );
  await flush();
  await flush();
  const frame = ws.lastOf('send_message');
  assert.equal(requests.length, 2, 'uploaded before sending');
  assert.equal(requests[0]?.headers.authorization, 'Bearer token-1', 'the client token');
  const { client_msg_id, ...data } = frame.data ?? {};
  assert.equal(typeof client_msg_id, 'string');
  assert.deepEqual(data, {
    to_user_id: 'bob',
    content: 'cat.png',
    message_type: 2,
    attachment_id: 'att-1',
    reply_to: mid(1),
  });
  const reply = {
    type: 'message_sent',
    message_id: mid(2),
    room_id: ROOM,
    peer_id: 'bob',
    delivered: 1,
    failed: 0,
    time: '2026-11-21T10:00:01.000Z',
  };
  ws.reply(frame, reply);
  assert.deepEqual((await sent).sent, reply);

  const toGroup = client.sendFile({ group_id: 'group_trip' }, Buffer.from('%PDF'), {
    file_name: 'plan.pdf',
    content_type: 'application/pdf',
    content: 'The plan',
  });
  await flush();
  await flush();
  const groupFrame = ws.lastOf('send_group_message');
  assert.equal(groupFrame.data?.group_id, 'group_trip');
  assert.equal(groupFrame.data?.message_type, 3);
  assert.equal(groupFrame.data?.content, 'The plan');
  ws.reply(groupFrame, { type: 'group_message_sent', group_id: 'group_trip', message_id: mid(3) });
  await toGroup;
});

test('upload and sendFile without httpUrl say so', async () => {
  const { client, ws } = await connected();
  await assert.rejects(client.upload(new File(['x'], 'a.txt')), /httpUrl/);
  await assert.rejects(client.sendFile({ room_id: 'lobby' }, new File(['x'], 'a.txt')), /httpUrl/);
  assert.equal(ws.sentOf('send_room_message').length, 0);
});

test('messageTypeFor: image 2, audio 4, video 5, anything else 3', () => {
  assert.equal(messageTypeFor('image/png'), 2);
  assert.equal(messageTypeFor('IMAGE/JPEG'), 2);
  assert.equal(messageTypeFor('audio/ogg'), 4);
  assert.equal(messageTypeFor('video/mp4'), 5);
  assert.equal(messageTypeFor('application/pdf'), 3);
  assert.equal(messageTypeFor(''), 3);
});
