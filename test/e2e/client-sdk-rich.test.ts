/**
 * The client SDK's rich messages and attachments against the real local runtime (its
 * embedded S3 included), over real sockets: alice sends bob a PNG from a Node Buffer with
 * `sendFile` and bob downloads the very bytes from the URL his message carries; bob
 * replies; alice edits (bob gets `message_edited`, history shows the edit); bob reacts
 * (alice gets `reaction` with the counts, history shows them); bob types (alice gets
 * `typing`, the SDK holds back a repeat); refusals come back as typed errors.
 * Run: npx tsx --test test/e2e/client-sdk-rich.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChatRequestError } from '../../client/src/errors.ts';
import type { ChatEvents } from '../../client/src/events.ts';
import { ChatHttpError } from '../../client/src/http.ts';
import { type Session, sessions, until, untilCount } from '../../client/test/e2e-support.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import { solidPng } from '../support/png.ts';

let runtime: LocalRuntime;
const made = sessions(() => runtime);

before(async () => {
  runtime = await startTestRuntime();
});
after(async () => {
  made.closeAll();
  await runtime.stop();
});

/** Every push of `event` a session's client emits, in order. */
function collect<E extends 'message_edited' | 'reaction' | 'typing'>(who: Session, event: E) {
  const seen: ChatEvents[E][] = [];
  who.client.on(event, (push) => seen.push(push));
  return seen;
}

describe('rich messages through the SDK', () => {
  let alice: Session;
  let bob: Session;

  before(async () => {
    alice = made.open('alice', { httpUrl: runtime.httpUrl });
    bob = made.open('bob', { httpUrl: runtime.httpUrl });
    await Promise.all([alice.client.connect(), bob.client.connect()]);
  });

  test('a PNG from a Node Buffer: bob gets an image message whose URL serves the same bytes', async () => {
    const png = solidPng(8, 8, [0, 128, 255]);
    const { sent, uploaded } = await alice.client.sendFile({ to_user_id: 'bob' }, png, {
      file_name: 'blue.png',
      content_type: 'image/png',
    });
    assert.equal(uploaded.size, png.length);
    await untilCount(bob, 1);
    const message = bob.messages[0];
    assert.equal(message?.message_id, sent.message_id);
    assert.equal(message?.message_type, 2);
    assert.equal(message?.content, 'blue.png');
    const attachment = message?.attachment;
    assert.ok(attachment, 'the push carries the attachment');
    assert.deepEqual(
      {
        id: attachment.attachment_id,
        name: attachment.file_name,
        type: attachment.content_type,
        size: attachment.size,
      },
      { id: uploaded.attachment_id, name: 'blue.png', type: 'image/png', size: png.length },
    );
    const download = await fetch(attachment.url);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), png);
  });

  test('reply, edit and reaction reach the other side and stay in history', async () => {
    const edits = collect(bob, 'message_edited');
    const reactions = collect(alice, 'reaction');
    const question = await alice.client.sendMessage({ to_user_id: 'bob', content: 'Lunch at 12?' });
    await untilCount(bob, 2);
    const answer = await bob.client.sendMessage({
      to_user_id: 'alice',
      content: 'Yes!',
      reply_to: question.message_id,
    });
    await until(
      alice.client,
      'message',
      () => alice.messages.some((m) => m.message_id === answer.message_id),
      () => 'bob’s reply',
    );
    assert.equal(
      alice.messages.find((m) => m.message_id === answer.message_id)?.reply_to,
      question.message_id,
    );

    const edited = await alice.client.editMessage({
      room_id: question.room_id,
      message_id: question.message_id,
      content: 'Lunch at 12:30?',
    });
    assert.equal(edited.content, 'Lunch at 12:30?');
    await until(
      bob.client,
      'message_edited',
      () => edits.length > 0,
      () => 'message_edited',
    );
    assert.deepEqual(
      { id: edits[0]?.message_id, content: edits[0]?.content, at: edits[0]?.edited_at },
      { id: question.message_id, content: 'Lunch at 12:30?', at: edited.edited_at },
    );

    const reacted = await bob.client.react({
      room_id: question.room_id,
      message_id: question.message_id,
      emoji: '👍',
    });
    assert.deepEqual(reacted.counts, { '👍': 1 });
    // Reacting twice counts once.
    const again = await bob.client.react({
      room_id: question.room_id,
      message_id: question.message_id,
      emoji: '👍',
    });
    assert.deepEqual(again.counts, { '👍': 1 });
    await until(
      alice.client,
      'reaction',
      () => reactions.length > 0,
      () => 'reaction',
    );
    assert.deepEqual(
      {
        user: reactions[0]?.user_id,
        emoji: reactions[0]?.emoji,
        action: reactions[0]?.action,
        counts: reactions[0]?.counts,
      },
      { user: 'bob', emoji: '👍', action: 'added', counts: { '👍': 1 } },
    );

    const page = await bob.client.history({ room_id: question.room_id, limit: 10 });
    const stored = page.messages.find((m) => m.message_id === question.message_id);
    assert.equal(stored?.content, 'Lunch at 12:30?');
    assert.equal(stored?.edited_at, edited.edited_at);
    assert.deepEqual(stored?.reactions, { '👍': 1 });
    assert.equal(
      page.messages.find((m) => m.message_id === answer.message_id)?.reply_to,
      question.message_id,
    );
    const image = page.messages.find((m) => m.message_type === 2);
    assert.ok(image?.attachment?.url, 'history gives participants a fresh download URL');

    const removed = await bob.client.unreact({
      room_id: question.room_id,
      message_id: question.message_id,
      emoji: '👍',
    });
    assert.deepEqual(removed.counts, {});
  });

  test('typing: alice sees bob start and stop; a repeat right away is held back by the SDK', async () => {
    const typing = collect(alice, 'typing');
    const room = 'private_alice_bob';
    assert.equal(await bob.client.typing(room, 'start'), true);
    assert.equal(await bob.client.typing(room, 'start'), false, 'throttled in the SDK');
    await until(
      alice.client,
      'typing',
      () => typing.length > 0,
      () => 'typing start',
    );
    assert.equal(await bob.client.typing(room, 'stop'), true);
    await until(
      alice.client,
      'typing',
      () => typing.length > 1,
      () => 'typing stop',
    );
    assert.deepEqual(
      typing.map((t) => [t.room_id, t.user_id, t.state]),
      [
        [room, 'bob', 'start'],
        [room, 'bob', 'stop'],
      ],
    );
  });

  test('refusals: an HTML upload, editing someone else’s message', async () => {
    await assert.rejects(
      alice.client.upload(Buffer.from('<script>alert(1)</script>'), {
        file_name: 'x.html',
        content_type: 'text/html',
      }),
      (error: unknown) => error instanceof ChatHttpError && error.status === 400 && error.code === 1001,
    );
    const mine = await alice.client.sendMessage({ to_user_id: 'bob', content: 'only I may edit this' });
    await assert.rejects(
      bob.client.editMessage({ room_id: mine.room_id, message_id: mine.message_id, content: 'hijacked' }),
      (error: unknown) => error instanceof ChatRequestError && error.code === 1403,
    );
  });
});
