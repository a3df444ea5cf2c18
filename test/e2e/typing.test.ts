/**
 * `typing` over real WebSocket connections of the local runtime: the other participants'
 * connections get the push, the sender's own and outsiders' do not; a flood reaches the
 * recipients a bounded number of times. TYPING_THROTTLE_SECONDS is 60 here, so every
 * frame of a test falls in one throttle window whatever the machine's speed.
 * Run: npx tsx --test test/e2e/typing.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TYPING_MAX_PER_WINDOW } from '../../functions/core/typing/typing.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import { okData } from '../support/replies.ts';

let runtime: LocalRuntime;
let ivyPhone: ChatConnection;
let ivyLaptop: ChatConnection;
let jon: ChatConnection;
let kai: ChatConnection;
let lea: ChatConnection;

before(async () => {
  runtime = await startTestRuntime({ env: { TYPING_THROTTLE_SECONDS: '60' } });
  [ivyPhone, ivyLaptop, jon, kai, lea] = await connectEach(runtime, ['ivy', 'ivy', 'jon', 'kai', 'lea']);
});
after(() => runtime.stop());

/** The typing pushes `connection` received about `roomId` (after a barrier). */
async function typingSeen(connection: ChatConnection, roomId: string) {
  await settle(connection.client);
  return pushesOf(connection.client, 'typing').filter((push) => push.room_id === roomId);
}

test('a private chat: the peer’s connections see start and stop; the sender’s other device and outsiders do not', async () => {
  const room = 'private_ivy_jon';
  const started = okData(
    await sendCommand(ivyPhone.client, 'typing', { room_id: room, state: 'start' }, 't-1'),
  );
  assert.deepEqual(started, { type: 'typing_sent', room_id: room, state: 'start', delivered: 1 });
  assert.deepEqual(await nextPush(jon.client, 'typing', (p) => p.room_id === room), {
    type: 'typing',
    room_id: room,
    user_id: 'ivy',
    state: 'start',
  });
  okData(await sendCommand(ivyPhone.client, 'typing', { room_id: room, state: 'stop' }));
  await nextPush(jon.client, 'typing', (p) => p.room_id === room && p.state === 'stop');
  for (const connection of [ivyPhone, ivyLaptop, kai, lea]) {
    assert.deepEqual(await typingSeen(connection, room), [], connection.userId);
  }
  // Someone else's private chat, a system room, bad shapes.
  assertErrorReply(await sendCommand(kai.client, 'typing', { room_id: room, state: 'start' }), 1403);
  assertErrorReply(await sendCommand(kai.client, 'typing', { room_id: 'system_kai', state: 'start' }), 1403);
  for (const data of [
    { room_id: room },
    { room_id: room, state: 'typing' },
    { state: 'start' },
    { room_id: 7, state: 'start' },
  ]) {
    assertErrorReply(await sendCommand(ivyPhone.client, 'typing', data), 1001, JSON.stringify(data));
  }
  assert.equal((await typingSeen(jon, room)).length, 2, 'only the two accepted frames');
});

test('a group: the other members see it; a non-member gets 1403 and nobody hears of it', async () => {
  const groupId = okData(
    await sendCommand(ivyPhone.client, 'create_group', { group_name: 'Typing', member_ids: ['jon', 'kai'] }),
  ).group_id as string;
  const reply = okData(await sendCommand(jon.client, 'typing', { room_id: groupId, state: 'start' }));
  assert.equal(reply.delivered, 3, 'both of ivy’s devices and kai');
  for (const connection of [ivyPhone, ivyLaptop, kai]) {
    assert.equal((await nextPush(connection.client, 'typing', (p) => p.room_id === groupId)).user_id, 'jon');
  }
  assertErrorReply(await sendCommand(lea.client, 'typing', { room_id: groupId, state: 'start' }), 1403);
  assert.deepEqual(await typingSeen(jon, groupId), []);
  assert.deepEqual(await typingSeen(lea, groupId), []);
  for (const connection of [ivyPhone, ivyLaptop, kai]) {
    assert.equal((await typingSeen(connection, groupId)).length, 1);
  }
});

test('a room: the room’s other connections see it; a connection not in the room gets 1403', async () => {
  for (const connection of [ivyPhone, kai]) {
    okData(await sendCommand(connection.client, 'join_room', { room_id: 'typing-room' }));
  }
  const reply = okData(await sendCommand(kai.client, 'typing', { room_id: 'typing-room', state: 'start' }));
  assert.equal(reply.delivered, 1);
  assert.equal(
    (await nextPush(ivyPhone.client, 'typing', (p) => p.room_id === 'typing-room')).user_id,
    'kai',
  );
  assertErrorReply(await sendCommand(lea.client, 'typing', { room_id: 'typing-room', state: 'start' }), 1403);
  assert.deepEqual(await typingSeen(ivyLaptop, 'typing-room'), []);
  assert.deepEqual(await typingSeen(kai, 'typing-room'), []);
});

test('a flood of typing frames reaches the recipient a bounded number of times; the rest answer throttled', async () => {
  const room = 'private_kai_lea';
  const frames = 40;
  let throttled = 0;
  for (let i = 0; i < frames; i++) {
    // Alternating states defeats the repeat rule; the per-window cap still holds.
    const data = okData(
      await sendCommand(kai.client, 'typing', { room_id: room, state: i % 2 === 0 ? 'start' : 'stop' }),
    );
    if (data.throttled === true) {
      throttled++;
      assert.equal(data.delivered, 0);
    }
  }
  const seen = await typingSeen(lea, room);
  assert.equal(seen.length, TYPING_MAX_PER_WINDOW);
  assert.equal(throttled, frames - TYPING_MAX_PER_WINDOW);
  // Repeating one state is dropped at once: a fresh sender and room, 20 starts, one push.
  const other = 'private_jon_lea';
  for (let i = 0; i < 20; i++)
    okData(await sendCommand(jon.client, 'typing', { room_id: other, state: 'start' }));
  assert.equal((await typingSeen(lea, other)).length, 1);
});
