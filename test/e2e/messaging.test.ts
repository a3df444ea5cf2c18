/**
 * Private messages (`send_message`), `ping`, and what `$default` answers, driven over
 * real WebSocket connections to the local runtime.
 * Run: npx tsx --test test/e2e/messaging.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  ULID,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { historyMessages } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

let runtime: LocalRuntime;
/** alice sends; bob is online on two devices. */
let alice: ChatConnection;
let bobPhone: ChatConnection;
let bobLaptop: ChatConnection;

before(async () => {
  runtime = await startTestRuntime();
  [alice, bobPhone, bobLaptop] = await connectEach(runtime, ['alice', 'bob', 'bob']);
});
after(() => runtime.stop());

describe('send_message', () => {
  test('every device of the recipient gets new_message; the sender gets message_sent and no push', async () => {
    const reply = await sendCommand(
      alice.client,
      'send_message',
      { to_user_id: 'bob', content: 'Hi Bob 👋', message_type: 1, client_msg_id: 'client-1' },
      'r-string',
    );
    assert.equal(reply.code, 0);
    assert.equal(reply.message, 'success');
    assert.equal(reply.request_id, 'r-string');
    const sent = reply.data ?? {};
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
    assert.equal(sent.room_id, 'private_alice_bob');
    assert.equal(sent.peer_id, 'bob');
    assert.equal(sent.delivered, 2, 'both of bob’s connections');
    assertIsoTime(sent.time);

    const expectedPush = {
      type: 'new_message',
      message_id: sent.message_id,
      room_id: 'private_alice_bob',
      peer_id: 'alice',
      from_user_id: 'alice',
      to_user_id: 'bob',
      content: 'Hi Bob 👋',
      message_type: 1,
      time: sent.time,
    };
    for (const device of [bobPhone, bobLaptop]) {
      assert.deepEqual(
        await nextPush(device.client, 'new_message', withMessageId(sent.message_id)),
        expectedPush,
      );
    }
    await settle(alice.client);
    assert.deepEqual(pushesOf(alice.client, 'new_message'), []);
  });

  test('a numeric request_id is echoed as a number', async () => {
    const reply = await sendCommand(alice.client, 'send_message', { to_user_id: 'bob', content: 'n' }, 42);
    assert.equal(reply.request_id, 42);
    assert.equal(reply.data?.type, 'message_sent');
    for (const device of [bobPhone, bobLaptop]) {
      const push = await nextPush(device.client, 'new_message', withMessageId(reply.data?.message_id));
      assert.equal(push.message_type, 1, 'message_type defaults to 1 (text)');
    }
  });

  test('the sender is the connection’s user, whatever the body claims', async () => {
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'bob',
      content: 'who am I?',
      from_user_id: 'mallory',
      user_id: 'mallory',
    });
    assert.equal(reply.code, 0);
    const push = await nextPush(bobPhone.client, 'new_message', withMessageId(reply.data?.message_id));
    assert.equal(push.from_user_id, 'alice');
    await nextPush(bobLaptop.client, 'new_message', withMessageId(reply.data?.message_id));
  });

  test('to an offline user: delivered 0, no error, and the message is in both participants’ history', async () => {
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'carol',
      content: 'read this later',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.type, 'message_sent');
    assert.equal(reply.data?.delivered, 0);
    assert.equal(reply.data?.room_id, 'private_alice_carol');

    const expected = {
      message_id: reply.data?.message_id,
      room_id: 'private_alice_carol',
      from_user_id: 'alice',
      to_user_id: 'carol',
      content: 'read this later',
      message_type: 1,
      time: reply.data?.time,
    };
    for (const [reader, peer] of [
      ['carol', 'alice'],
      ['alice', 'carol'],
    ] as const) {
      const messages = await historyMessages(runtime, await tokenFor(runtime, reader), 'private_alice_carol');
      assert.deepEqual(messages, [{ ...expected, peer_id: peer }], `${reader}'s history`);
    }
  });

  test('a numeric to_user_id is accepted and becomes a string', async () => {
    const numbered = await connectWelcomed(runtime, '12345');
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: 12345,
      content: 'to a number',
    });
    assert.equal(reply.code, 0);
    assert.equal(reply.data?.room_id, 'private_12345_alice', 'string order: "1" < "a"');
    assert.equal(reply.data?.delivered, 1);
    const push = await nextPush(numbered.client, 'new_message');
    assert.equal(push.to_user_id, '12345');
    assert.equal(push.room_id, 'private_12345_alice');
    await disconnect(runtime, numbered);
  });

  test('content of exactly 4,000 characters is accepted', async () => {
    const content = 'x'.repeat(4000);
    const reply = await sendCommand(alice.client, 'send_message', { to_user_id: 'bob', content });
    assert.equal(reply.code, 0);
    for (const device of [bobPhone, bobLaptop]) {
      const push = await nextPush(device.client, 'new_message', withMessageId(reply.data?.message_id));
      assert.equal(push.content, content);
    }
  });

  test('invalid requests answer their error code and change nothing', async () => {
    const bobToken = await tokenFor(runtime, 'bob');
    const historyBefore = await historyMessages(runtime, bobToken, 'private_alice_bob');
    const pushesBefore = [bobPhone, bobLaptop].map((d) => pushesOf(d.client, 'new_message').length);

    const invalid: readonly [string, unknown, number][] = [
      ['no to_user_id', { content: 'hi' }, 10002],
      ['empty to_user_id', { to_user_id: '', content: 'hi' }, 10002],
      ['blank to_user_id', { to_user_id: '   ', content: 'hi' }, 10002],
      ['no content', { to_user_id: 'bob' }, 10002],
      ['empty content', { to_user_id: 'bob', content: '' }, 10002],
      ['blank content', { to_user_id: 'bob', content: ' \n\t ' }, 10002],
      ['no data', undefined, 10002],
      ['data null', null, 10002],
      ['data a string', 'hello bob', 10002],
      ['data an array', ['bob', 'hi'], 10002],
      ['message_type 9', { to_user_id: 'bob', content: 'hi', message_type: 9 }, 1001],
      ['message_type a string', { to_user_id: 'bob', content: 'hi', message_type: 'text' }, 1001],
      ['content a number', { to_user_id: 'bob', content: 5 }, 1001],
      ['to_user_id an object', { to_user_id: { id: 'bob' }, content: 'hi' }, 1001],
      ['to_user_id reserved (#stats)', { to_user_id: '#stats', content: 'hi' }, 1001],
      ['to_user_id a negative number', { to_user_id: -1, content: 'hi' }, 1001],
      ['client_msg_id over 128', { to_user_id: 'bob', content: 'hi', client_msg_id: 'c'.repeat(129) }, 1001],
      ['content over 4,000 characters', { to_user_id: 'bob', content: 'x'.repeat(4001) }, 1002],
    ];
    for (const [description, data, code] of invalid) {
      const reply = await sendCommand(alice.client, 'send_message', data, `bad-${description}`);
      assertErrorReply(reply, code, description);
      assert.equal(reply.request_id, `bad-${description}`);
    }

    assert.deepEqual(await historyMessages(runtime, bobToken, 'private_alice_bob'), historyBefore);
    await Promise.all([settle(bobPhone.client), settle(bobLaptop.client)]);
    assert.deepEqual(
      [bobPhone, bobLaptop].map((d) => pushesOf(d.client, 'new_message').length),
      pushesBefore,
      'bob received nothing',
    );
  });
});

describe('ping', () => {
  test('answers pong with an ISO time and the request_id, string or number', async () => {
    const pong = await sendCommand(alice.client, 'ping', {}, 'p-1');
    assert.deepEqual(Object.keys(pong).sort(), ['code', 'data', 'message', 'request_id']);
    assert.equal(pong.code, 0);
    assert.equal(pong.request_id, 'p-1');
    assert.deepEqual(Object.keys(pong.data ?? {}).sort(), ['time', 'type']);
    assert.equal(pong.data?.type, 'pong');
    assertIsoTime(pong.data?.time);

    const numbered = await sendCommand(alice.client, 'ping', undefined, 7);
    assert.equal(numbered.request_id, 7);
    assert.equal(numbered.data?.type, 'pong');
  });

  test('a request_id of up to 128 characters is echoed; a longer or non-scalar one is not', async () => {
    const longest = 'r'.repeat(128);
    assert.equal((await sendCommand(alice.client, 'ping', {}, longest)).request_id, longest);

    for (const requestId of ['r'.repeat(129), { id: 1 }, true]) {
      alice.client.send({ cmd: 'ping', request_id: requestId });
      const pong = await alice.client.waitFor(
        (f) => f.json?.data?.type === 'pong' && !('request_id' in f.json),
        undefined,
        `a pong without request_id for ${JSON.stringify(requestId).slice(0, 20)}`,
      );
      assert.equal(pong.json?.code, 0);
    }
  });
});

describe('$default', () => {
  test('an unknown cmd answers 1000 with the request_id', async () => {
    const reply = await sendCommand(alice.client, 'dance', { style: 'tango' }, 'r-dance');
    assertErrorReply(reply, 1000);
    assert.equal(reply.message, 'unknown command: dance');
    assert.equal(reply.request_id, 'r-dance');
    assertErrorReply(await sendCommand(alice.client, '$connect'), 1000, 'a route key as cmd');
  });

  test('the room commands have routes of their own: they no longer answer 1000', async () => {
    const expected = [
      ['join_room', 'join_room_success'],
      ['send_room_message', 'room_message_sent'],
      ['leave_room', 'leave_room_success'],
    ] as const;
    for (const [cmd, type] of expected) {
      const reply = await sendCommand(alice.client, cmd, { room_id: 'lobby', content: 'hi' }, `r-${cmd}`);
      assert.equal(reply.code, 0, `${cmd}: ${JSON.stringify(reply)}`);
      assert.equal(reply.data?.type, type);
    }
  });

  test('a JSON object without a string cmd answers 1001 with the request_id', async () => {
    const frames: readonly [string, Record<string, unknown>][] = [
      ['no cmd', { data: { to_user_id: 'bob', content: 'hi' } }],
      ['a numeric cmd', { cmd: 42 }],
      ['an empty cmd', { cmd: '' }],
      ['a null cmd', { cmd: null }],
    ];
    for (const [description, frame] of frames) {
      alice.client.send({ ...frame, request_id: description });
      const reply = await alice.client.waitFor(
        (f) => f.json?.request_id === description,
        undefined,
        description,
      );
      assertErrorReply(reply.json ?? {}, 1001, description);
    }
  });

  test('frames that are not a JSON object, and binary frames, answer 1001', async () => {
    const notObjects = [
      'hello',
      '{"cmd":',
      '[{"cmd":"ping","request_id":"in-array"}]',
      '"ping"',
      'null',
      '42',
    ];
    for (const text of notObjects) {
      const before = alice.client.frames.length;
      alice.client.send(text);
      const reply = await alice.client.waitFor(
        (f) => alice.client.frames.indexOf(f) >= before && f.json?.code === 1001,
        undefined,
        `the 1001 answer to ${text}`,
      );
      assertErrorReply(reply.json ?? {}, 1001, text);
      assert.equal(reply.json?.request_id, undefined);
    }
    const before = alice.client.frames.length;
    alice.client.socket.send(Buffer.from('{"cmd":"ping"}'), { binary: true });
    const reply = await alice.client.waitFor(
      (f) => alice.client.frames.indexOf(f) >= before && f.json?.code === 1001,
      undefined,
      'the 1001 answer to a binary frame',
    );
    assertErrorReply(reply.json ?? {}, 1001, 'binary frame');
    await settle(alice.client); // the connection is still served
  });
});
