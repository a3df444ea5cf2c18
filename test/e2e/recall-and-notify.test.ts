/**
 * Recalling a message (`delete_message`) and system notifications
 * (`POST /api/ws/notify`), driven over real WebSocket connections and the HTTP API of the
 * local runtime.
 * Run: npx tsx --test test/e2e/recall-and-notify.test.ts
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
  ULID,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { historyMessages, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { okData } from '../support/replies.ts';

let runtime: LocalRuntime;
/**
 * ann writes from her phone and also has a laptop; bob and cy are her peers; dee is in
 * none of their conversations. Connections stay open until the runtime stops (closing one
 * pushes presence to its peers, which a later connect should not race).
 */
let annPhone: ChatConnection;
let annLaptop: ChatConnection;
let bob: ChatConnection;
let cy: ChatConnection;
let dee: ChatConnection;
let annToken: string;
let bobToken: string;

before(async () => {
  runtime = await startTestRuntime();
  [annPhone, annLaptop, bob, cy, dee] = await connectEach(runtime, ['ann', 'ann', 'bob', 'cy', 'dee']);
  annToken = await tokenFor(runtime, 'ann');
  bobToken = await tokenFor(runtime, 'bob');
});
after(() => runtime.stop());

describe('delete_message', () => {
  test('the sender recalls a private message: both sides’ other connections are told; history and sync show it deleted', async () => {
    const sent = okData(
      await sendCommand(annPhone.client, 'send_message', { to_user_id: 'bob', content: 'wrong chat' }),
    );
    await nextPush(bob.client, 'new_message', withMessageId(sent.message_id));

    const reply = await sendCommand(
      annPhone.client,
      'delete_message',
      { room_id: 'private_ann_bob', message_id: sent.message_id },
      'del-1',
    );
    assert.equal(reply.request_id, 'del-1');
    const data = okData(reply);
    assertIsoTime(data.time);
    const push = {
      type: 'message_deleted',
      room_id: 'private_ann_bob',
      message_id: sent.message_id,
      deleted_by: 'ann',
      time: data.time,
    };
    // Each side's frames name its own peer.
    assert.deepEqual(data, { ...push, peer_id: 'bob', delivered: 2 });
    assert.deepEqual(await nextPush(bob.client, 'message_deleted', withMessageId(sent.message_id)), {
      ...push,
      peer_id: 'ann',
    });
    assert.deepEqual(await nextPush(annLaptop.client, 'message_deleted', withMessageId(sent.message_id)), {
      ...push,
      peer_id: 'bob',
    });
    await assertNotTold('message_deleted', sent.message_id, annPhone, cy, dee);

    for (const [token, peer] of [
      [annToken, 'bob'],
      [bobToken, 'ann'],
    ] as const) {
      const [shown] = (await historyMessages(runtime, token, 'private_ann_bob')).filter(
        (m) => m.message_id === sent.message_id,
      );
      assert.deepEqual(shown, {
        message_id: sent.message_id,
        room_id: 'private_ann_bob',
        from_user_id: 'ann',
        to_user_id: 'bob',
        peer_id: peer,
        content: '',
        message_type: 1,
        time: sent.time,
        deleted: true,
      });
    }
    const synced = okData(await sendCommand(bob.client, 'sync', { limit: 100 })).messages as Record<
      string,
      unknown
    >[];
    const item = synced.find((m) => m.message_id === sent.message_id);
    assert.equal(item?.deleted, true);
    assert.equal(item?.content, '');

    // Recalling again succeeds with the same answer; everyone is told again.
    const again = okData(
      await sendCommand(annPhone.client, 'delete_message', {
        room_id: 'private_ann_bob',
        message_id: sent.message_id,
      }),
    );
    assert.deepEqual(again, { ...push, peer_id: 'bob', delivered: 2 });
    await nextPush(bob.client, 'message_deleted', withMessageId(sent.message_id));
    await nextPush(annLaptop.client, 'message_deleted', withMessageId(sent.message_id));
  });

  test('anyone but the sender, and a missing message, get 1403; nothing changes', async () => {
    const sent = okData(
      await sendCommand(annPhone.client, 'send_message', { to_user_id: 'bob', content: 'keep me' }),
    );
    const attempts: readonly [ChatConnection, unknown][] = [
      [bob, { room_id: 'private_ann_bob', message_id: sent.message_id }],
      [dee, { room_id: 'private_ann_bob', message_id: sent.message_id }],
      [annPhone, { room_id: 'private_ann_dee', message_id: sent.message_id }],
      [annPhone, { room_id: 'private_ann_bob', message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }],
    ];
    for (const [connection, data] of attempts) {
      assertErrorReply(
        await sendCommand(connection.client, 'delete_message', data),
        1403,
        JSON.stringify(data),
      );
    }
    await assertNotTold('message_deleted', sent.message_id, annLaptop, bob);
    const [shown] = (await historyMessages(runtime, bobToken, 'private_ann_bob')).filter(
      (m) => m.message_id === sent.message_id,
    );
    assert.equal(shown?.content, 'keep me');
    assert.equal(shown?.deleted, undefined);
  });

  test('malformed requests answer 1001', async () => {
    for (const data of [
      {},
      { room_id: 'private_ann_bob' },
      { message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
      { room_id: '', message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
      { room_id: 'private_ann_bob', message_id: 'last one' },
      { room_id: ['private_ann_bob'], message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
      'delete it',
    ]) {
      assertErrorReply(
        await sendCommand(annPhone.client, 'delete_message', data),
        1001,
        JSON.stringify(data),
      );
    }
  });

  test('a group message: every member’s connections are told, a non-member is not', async () => {
    const groupId = okData(
      await sendCommand(annPhone.client, 'create_group', { group_name: 'Recall', member_ids: ['bob', 'cy'] }),
    ).group_id;
    const sent = okData(
      await sendCommand(annPhone.client, 'send_group_message', { group_id: groupId, content: 'typo' }),
    );
    const reply = okData(
      await sendCommand(annPhone.client, 'delete_message', { room_id: groupId, message_id: sent.message_id }),
    );
    assert.equal(reply.delivered, 3, 'ann’s laptop, bob and cy');
    for (const connection of [annLaptop, bob, cy]) {
      const push = await nextPush(connection.client, 'message_deleted', withMessageId(sent.message_id));
      assert.equal(push.room_id, groupId);
      assert.equal(push.deleted_by, 'ann');
    }
    await assertNotTold('message_deleted', sent.message_id, annPhone, dee);
    const [shown] = await historyMessages(runtime, bobToken, String(groupId));
    assert.equal(shown?.message_id, sent.message_id);
    assert.equal(shown?.deleted, true);
    assert.equal(shown?.content, '');
  });

  test('a room message: the room’s connections are told', async () => {
    for (const connection of [annPhone, bob]) {
      okData(await sendCommand(connection.client, 'join_room', { room_id: 'recall-lobby' }));
    }
    const sent = okData(
      await sendCommand(annPhone.client, 'send_room_message', {
        room_id: 'recall-lobby',
        content: 'hello room',
      }),
    );
    await nextPush(bob.client, 'room_message', withMessageId(sent.message_id));
    assertErrorReply(
      await sendCommand(bob.client, 'delete_message', {
        room_id: 'recall-lobby',
        message_id: sent.message_id,
      }),
      1403,
    );
    const reply = okData(
      await sendCommand(annPhone.client, 'delete_message', {
        room_id: 'recall-lobby',
        message_id: sent.message_id,
      }),
    );
    assert.equal(reply.delivered, 1);
    await nextPush(bob.client, 'message_deleted', withMessageId(sent.message_id));
    await assertNotTold('message_deleted', sent.message_id, annPhone, annLaptop, cy, dee);
  });
});

describe('POST /api/ws/notify', () => {
  test('401 without a token, 403 (1403) for a non-admin, 400 (1001) for bad bodies', async () => {
    const body = { user_ids: ['bob'], type: 'promo', data: {} };
    const anonymous = await postApi(runtime, '/api/ws/notify', body);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 1401);
    const nonAdmin = await postApi(runtime, '/api/ws/notify', body, annToken);
    assert.equal(nonAdmin.status, 403);
    assert.equal(nonAdmin.body.code, 1403);
    assert.equal(nonAdmin.body.data, null);

    const admin = await tokenFor(runtime, 'ops', { role: 'admin' });
    for (const bad of [
      'not json',
      {},
      { user_ids: [], type: 'promo' },
      { user_ids: ['bob'], type: '' },
      { user_ids: ['bob'], type: 'x'.repeat(65) },
      { user_ids: ['bob'], type: 'promo', data: [1] },
      { user_ids: ['bob'], type: 'promo', data: { big: 'x'.repeat(9000) } },
      { user_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`), type: 'promo' },
    ]) {
      const response = await postApi(runtime, '/api/ws/notify', bad, admin);
      assert.equal(response.status, 400, JSON.stringify(bad).slice(0, 60));
      assert.equal(response.body.code, 1001);
    }
    await settle(bob.client);
    assert.deepEqual(pushesOf(bob.client, 'system_notify'), [], 'nothing was sent');
  });

  test('delivers system_notify to online users’ connections and keeps it for offline ones, who sync it', async () => {
    const admin = await tokenFor(runtime, 'ops', { role: 'admin' });
    const response = await postApi(
      runtime,
      '/api/ws/notify',
      { user_ids: ['bob', 'ann', 'zed', 'bob'], type: 'order.shipped', data: { order: 7, eta: '2d' } },
      admin,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.data, { recipients: 3, stored: 3 });

    const push = await nextPush(bob.client, 'system_notify');
    assert.match(String(push.notify_id), ULID);
    assertIsoTime(push.time);
    assert.deepEqual(push, {
      type: 'system_notify',
      notify_id: push.notify_id,
      message_id: push.notify_id,
      notification_type: 'order.shipped',
      data: { order: 7, eta: '2d' },
      time: push.time,
    });
    assert.deepEqual(await nextPush(annPhone.client, 'system_notify'), push);
    assert.deepEqual(await nextPush(annLaptop.client, 'system_notify'), push);
    await settle(cy.client);
    assert.deepEqual(pushesOf(cy.client, 'system_notify'), []);

    // zed was offline: the notice waits in sync.
    const zed = await connectWelcomed(runtime, 'zed');
    const page = okData(await sendCommand(zed.client, 'sync', {}));
    assert.deepEqual(page, {
      type: 'sync',
      messages: [
        {
          kind: 'system',
          message_id: push.notify_id,
          room_id: 'system_zed',
          from_user_id: 'system',
          to_user_id: 'zed',
          content: JSON.stringify({ type: 'order.shipped', data: { order: 7, eta: '2d' } }),
          message_type: 1,
          time: push.time,
          notification_type: 'order.shipped',
          data: { order: 7, eta: '2d' },
        },
      ],
      next_since: push.notify_id,
      has_more: false,
    });
    // A system notice cannot be recalled, not even by a user called "system".
    const system = await connectWelcomed(runtime, 'system');
    assertErrorReply(
      await sendCommand(system.client, 'delete_message', {
        room_id: 'system_zed',
        message_id: push.notify_id,
      }),
      1403,
    );
  });
});
