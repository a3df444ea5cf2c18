/**
 * `PATCH /api/ws/messages/{message_id}`, `POST …/reactions` and `DELETE …/reactions/{emoji}`
 * over real HTTP, with the participants on real WebSocket connections: the same replies,
 * pushes and stored results as `edit_message`, `react` and `unreact`, and refusals mapped
 * to HTTP statuses that change nothing.
 * Run: npx tsx --test test/e2e/http-edits-and-reactions.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChatHttpClient, ChatHttpError } from '../../client/src/http.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertIsoTime,
  type ChatConnection,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { callApi, historyMessages, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
/** ida sends; jon is her peer; both are connected over WebSocket and call the HTTP API. */
let ida: ChatConnection;
let jon: ChatConnection;
let idaToken: string;
let jonToken: string;
const chat = 'private_ida_jon';

before(async () => {
  runtime = await startTestRuntime();
  [ida, jon] = await connectEach(runtime, ['ida', 'jon']);
  idaToken = await tokenFor(runtime, 'ida');
  jonToken = await tokenFor(runtime, 'jon');
});
after(() => runtime.stop());

async function sendToJon(content: string): Promise<string> {
  const sent = await sendCommand(ida.client, 'send_message', { to_user_id: 'jon', content });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  const messageId = sent.data?.message_id as string;
  await nextPush(jon.client, 'new_message', withMessageId(messageId));
  return messageId;
}

async function shown(messageId: string) {
  const [message] = (await historyMessages(runtime, jonToken, chat)).filter(
    (m) => m.message_id === messageId,
  );
  assert.ok(message, 'the message is in history');
  return message;
}

function unreactPath(messageId: string, emoji: string, roomId = chat): string {
  return `/api/ws/messages/${messageId}/reactions/${encodeURIComponent(emoji)}?room_id=${roomId}`;
}

describe('PATCH /api/ws/messages/{message_id}', () => {
  test("the sender edits: the reply is edit_message's, every connection of both users is told, history shows it", async () => {
    const messageId = await sendToJon('helo');
    const { status, body } = await callApi(runtime, 'PATCH', `/api/ws/messages/${messageId}`, {
      token: idaToken,
      body: { room_id: chat, content: 'hello' },
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.code, 0);
    const editedAt = body.data?.edited_at;
    assertIsoTime(editedAt, 'edited_at');
    const push = {
      type: 'message_edited',
      room_id: chat,
      message_id: messageId,
      content: 'hello',
      edited_at: editedAt,
    };
    // No connection asked, so ida's own connection is told as well.
    assert.deepEqual(body.data, { ...push, peer_id: 'jon', delivered: 2 });
    assert.deepEqual(await nextPush(jon.client, 'message_edited', withMessageId(messageId)), {
      ...push,
      peer_id: 'ida',
    });
    assert.deepEqual(await nextPush(ida.client, 'message_edited', withMessageId(messageId)), {
      ...push,
      peer_id: 'jon',
    });
    const message = await shown(messageId);
    assert.equal(message.content, 'hello');
    assert.equal(message.edited_at, editedAt);
  });

  test("someone else's message is 403 (1403), too long is 413 (1002), no content 400 (10002); nothing changes", async () => {
    const messageId = await sendToJon('mine');
    const path = `/api/ws/messages/${messageId}`;
    const refusals: [string, unknown, number, number][] = [
      [jonToken, { room_id: chat, content: 'not yours' }, 403, 1403],
      [idaToken, { room_id: chat, content: 'x'.repeat(5000) }, 413, 1002],
      [idaToken, { room_id: chat }, 400, 10002],
      [idaToken, { content: 'no room' }, 400, 1001],
      [idaToken, '["not an object"]', 400, 1001],
    ];
    for (const [token, requestBody, status, code] of refusals) {
      const answer = await callApi(runtime, 'PATCH', path, { token, body: requestBody });
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.code, code);
      assert.equal(answer.body.data, null);
    }
    const anonymous = await callApi(runtime, 'PATCH', path, { body: { room_id: chat, content: 'who?' } });
    assert.equal(anonymous.status, 401);
    await Promise.all([settle(ida.client), settle(jon.client)]);
    for (const connection of [ida, jon]) {
      assert.deepEqual(
        pushesOf(connection.client, 'message_edited').filter((p) => p.message_id === messageId),
        [],
      );
    }
    const message = await shown(messageId);
    assert.equal(message.content, 'mine');
    assert.equal(message.edited_at, undefined);
  });
});

describe('POST /api/ws/messages/{message_id}/reactions and DELETE …/reactions/{emoji}', () => {
  test("react and unreact: react's replies, reaction pushes to every connection of both users, counts in history", async () => {
    const messageId = await sendToJon('react to me');
    const family = '👨‍👩‍👧‍👦';
    const added = await postApi(
      runtime,
      `/api/ws/messages/${messageId}/reactions`,
      { room_id: chat, emoji: family },
      jonToken,
    );
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const push = {
      type: 'reaction',
      room_id: chat,
      message_id: messageId,
      user_id: 'jon',
      emoji: family,
      action: 'added',
      counts: { [family]: 1 },
    };
    assert.deepEqual(added.body.data, { ...push, peer_id: 'ida', changed: true, delivered: 2 });
    assert.deepEqual(await nextPush(ida.client, 'reaction', withMessageId(messageId)), {
      ...push,
      peer_id: 'jon',
    });
    assert.deepEqual(await nextPush(jon.client, 'reaction', withMessageId(messageId)), {
      ...push,
      peer_id: 'ida',
    });
    assert.deepEqual((await shown(messageId)).reactions, { [family]: 1 });

    // Idempotent, as over WebSocket: again changes nothing and tells nobody.
    const again = await postApi(
      runtime,
      `/api/ws/messages/${messageId}/reactions`,
      { room_id: chat, emoji: family },
      jonToken,
    );
    assert.deepEqual(again.body.data, { ...push, peer_id: 'ida', changed: false, delivered: 0 });

    const removed = await callApi(runtime, 'DELETE', unreactPath(messageId, family), { token: jonToken });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const removal = { ...push, action: 'removed', counts: {} };
    assert.deepEqual(removed.body.data, { ...removal, peer_id: 'ida', changed: true, delivered: 2 });
    const isRemoval = (p: Record<string, unknown>) => p.message_id === messageId && p.action === 'removed';
    assert.deepEqual(await nextPush(ida.client, 'reaction', isRemoval), { ...removal, peer_id: 'jon' });
    await nextPush(jon.client, 'reaction', isRemoval);
    assert.equal((await shown(messageId)).reactions, undefined);
    await Promise.all([settle(ida.client), settle(jon.client)]);
    assert.equal(pushesOf(ida.client, 'reaction').filter((p) => p.message_id === messageId).length, 2);
  });

  test('a 33-code-point emoji is 400 (1001), an outsider 403 (1403), DELETE without room_id 400 (1001); nothing changes', async () => {
    const messageId = await sendToJon('leave me be');
    const outsiderToken = await tokenFor(runtime, 'kim');
    const tooLong = '😀'.repeat(33);
    const refusals: [Promise<Awaited<ReturnType<typeof callApi>>>, number, number][] = [
      [
        postApi(
          runtime,
          `/api/ws/messages/${messageId}/reactions`,
          { room_id: chat, emoji: tooLong },
          jonToken,
        ),
        400,
        1001,
      ],
      [
        postApi(
          runtime,
          `/api/ws/messages/${messageId}/reactions`,
          { room_id: chat, emoji: '👍' },
          outsiderToken,
        ),
        403,
        1403,
      ],
      [postApi(runtime, `/api/ws/messages/${messageId}/reactions`, { room_id: chat }, jonToken), 400, 1001],
      [callApi(runtime, 'DELETE', unreactPath(messageId, tooLong), { token: jonToken }), 400, 1001],
      [
        callApi(runtime, 'DELETE', `/api/ws/messages/${messageId}/reactions/${encodeURIComponent('👍')}`, {
          token: jonToken,
        }),
        400,
        1001,
      ],
    ];
    for (const [call, status, code] of refusals) {
      const answer = await call;
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.code, code);
    }
    await Promise.all([settle(ida.client), settle(jon.client)]);
    for (const connection of [ida, jon]) {
      assert.deepEqual(
        pushesOf(connection.client, 'reaction').filter((p) => p.message_id === messageId),
        [],
      );
    }
    assert.equal((await shown(messageId)).reactions, undefined);
  });
});

describe('the SDK: ChatHttpClient.editMessage, react and unreact', () => {
  test('call these routes and resolve with the replies; a refusal rejects with ChatHttpError', async () => {
    const messageId = await sendToJon('via the SDK');
    const asIda = new ChatHttpClient({ baseUrl: runtime.httpUrl, token: idaToken });
    const asJon = new ChatHttpClient({ baseUrl: runtime.httpUrl, token: () => jonToken });
    const edited = await asIda.editMessage({
      room_id: chat,
      message_id: messageId,
      content: 'edited via the SDK',
    });
    assert.equal(edited.content, 'edited via the SDK');
    await nextPush(jon.client, 'message_edited', withMessageId(messageId));
    const target = { room_id: chat, message_id: messageId, emoji: '🇫🇷' };
    assert.deepEqual((await asJon.react(target)).counts, { '🇫🇷': 1 });
    assert.deepEqual((await shown(messageId)).reactions, { '🇫🇷': 1 });
    const removed = await asJon.unreact(target);
    assert.deepEqual([removed.action, removed.changed, removed.counts], ['removed', true, {}]);
    await assert.rejects(
      asJon.editMessage({ room_id: chat, message_id: messageId, content: 'not mine' }),
      (error: unknown) => error instanceof ChatHttpError && error.status === 403 && error.code === 1403,
    );
    const message = await shown(messageId);
    assert.equal(message.content, 'edited via the SDK');
    assert.equal(message.reactions, undefined);
  });
});
