/**
 * Consent over real sockets: blocking (`block_user`, `unblock_user`, `list_blocked` and
 * their HTTP routes) refuses the blocked user's private messages (1403, nothing stored or
 * pushed), their group adds (1403, nothing written) and their view of the blocker's
 * presence (no pushes, online/check says offline); and presence peers come only from the
 * user's own sends, so an unsolicited message or group makes nobody a peer.
 * Absence is shown with ping/pong barriers, never sleeps.
 * Run: npx tsx --test test/e2e/blocking.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { callApi, getApi, pollUntil, postApi, readHistory } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { runtimeTables } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;

before(async () => {
  runtime = await startTestRuntime();
});
after(() => runtime.stop());

/** Waits until `$disconnect` has taken every connection of `userId` out of presence. */
async function untilOffline(userId: string): Promise<void> {
  const tables = runtimeTables(runtime);
  try {
    await pollUntil(
      () => tables.presenceOf(userId),
      (ids) => ids === undefined,
      `${userId} to be offline`,
    );
  } finally {
    tables.destroy();
  }
}

async function isOnlineFor(askerId: string, userId: string): Promise<boolean> {
  const { status, body } = await getApi<{ is_online: boolean }>(
    runtime,
    `/api/ws/online/check?user_id=${encodeURIComponent(userId)}`,
    await tokenFor(runtime, askerId),
  );
  assert.equal(status, 200, JSON.stringify(body));
  return body.data?.is_online ?? false;
}

/** The presence pushes about `userId` the connection got, after a barrier. */
async function presenceAbout(connection: ChatConnection, userId: string) {
  await settle(connection.client);
  return pushesOf(connection.client, 'presence')
    .filter((push) => push.user_id === userId)
    .map((push) => push.status);
}

describe('block_user, unblock_user, list_blocked', () => {
  test('block, list in pages, unblock; idempotent; bad input answers 1001 and changes nothing', async () => {
    const me = await connectWelcomed(runtime, 'bl-lister');
    for (const userId of ['bl-c', 'bl-a', 'bl-b']) {
      const reply = await sendCommand(me.client, 'block_user', { user_id: userId });
      assert.equal(reply.code, 0, JSON.stringify(reply));
      assert.equal(reply.data?.type, 'user_blocked');
      assert.equal(reply.data?.user_id, userId);
    }
    const first = (await sendCommand(me.client, 'list_blocked', { limit: 2 })).data;
    const again = await sendCommand(me.client, 'block_user', { user_id: 'bl-a' });
    const firstA = ((first?.users ?? []) as { user_id: string; blocked_at: string }[])[0];
    assert.equal(again.data?.blocked_at, firstA?.blocked_at, 'blocking again keeps the first time');
    assert.deepEqual(
      ((first?.users ?? []) as { user_id: string }[]).map((u) => u.user_id),
      ['bl-a', 'bl-b'],
    );
    const second = (await sendCommand(me.client, 'list_blocked', { limit: 2, cursor: first?.next_cursor }))
      .data;
    assert.deepEqual(second?.users, [
      { user_id: 'bl-c', blocked_at: ((second?.users ?? []) as { blocked_at: string }[])[0]?.blocked_at },
    ]);
    assert.equal(second?.next_cursor, undefined);

    assertErrorReply(await sendCommand(me.client, 'block_user', { user_id: 'bl-lister' }), 1001, 'self');
    assertErrorReply(await sendCommand(me.client, 'block_user', {}), 1001, 'no user_id');
    assertErrorReply(await sendCommand(me.client, 'block_user', { user_id: '#x' }), 1001, 'bad id');
    assertErrorReply(await sendCommand(me.client, 'list_blocked', { limit: 0 }), 1001, 'limit');
    assertErrorReply(await sendCommand(me.client, 'list_blocked', { cursor: '!!!' }), 1001, 'cursor');

    const lifted = await sendCommand(me.client, 'unblock_user', { user_id: 'bl-b' });
    assert.deepEqual(lifted.data, { type: 'user_unblocked', user_id: 'bl-b', was_blocked: true });
    const liftedAgain = await sendCommand(me.client, 'unblock_user', { user_id: 'bl-b' });
    assert.equal(liftedAgain.data?.was_blocked, false);
    const all = (await sendCommand(me.client, 'list_blocked')).data;
    assert.deepEqual(
      ((all?.users ?? []) as { user_id: string }[]).map((u) => u.user_id),
      ['bl-a', 'bl-c'],
    );
    await me.client.close();
  });

  test('the HTTP routes do the same', async () => {
    const token = await tokenFor(runtime, 'bl-http');
    const blocked = await postApi(runtime, '/api/ws/blocks', { user_id: 'bl-target' }, token);
    assert.equal(blocked.status, 200, JSON.stringify(blocked.body));
    assert.equal(blocked.body.data?.user_id, 'bl-target');
    const listed = await getApi<{ users: { user_id: string }[] }>(runtime, '/api/ws/blocks?limit=10', token);
    assert.deepEqual(
      listed.body.data?.users.map((u) => u.user_id),
      ['bl-target'],
    );
    const self = await postApi(runtime, '/api/ws/blocks', { user_id: 'bl-http' }, token);
    assert.equal(self.status, 400);
    assert.equal(self.body.code, 1001);
    const lifted = await callApi(runtime, 'DELETE', '/api/ws/blocks/bl-target', { token });
    assert.equal(lifted.status, 200);
    assert.equal(lifted.body.data?.was_blocked, true);
    const empty = await getApi<{ users: unknown[] }>(runtime, '/api/ws/blocks', token);
    assert.deepEqual(empty.body.data?.users, []);
    const anonymous = await getApi(runtime, '/api/ws/blocks');
    assert.equal(anonymous.status, 401);
  });
});

describe('what a block refuses', () => {
  test("the blocked user's private messages: 1403 over WebSocket and HTTP, nothing stored or pushed; the blocker may still write", async () => {
    const victim = await connectWelcomed(runtime, 'bl-victim');
    const pest = await connectWelcomed(runtime, 'bl-pest');
    assert.equal((await sendCommand(victim.client, 'block_user', { user_id: 'bl-pest' })).code, 0);

    const refused = await sendCommand(pest.client, 'send_message', {
      to_user_id: 'bl-victim',
      content: 'hey',
    });
    assertErrorReply(refused, 1403, 'blocked sender');
    const overHttp = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: 'bl-victim', content: 'hey' },
      await tokenFor(runtime, 'bl-pest'),
    );
    assert.equal(overHttp.status, 403);
    assert.equal(overHttp.body.code, 1403);
    await settle(victim.client);
    assert.deepEqual(pushesOf(victim.client, 'new_message'), [], 'nothing pushed');
    const history = await readHistory(
      runtime,
      await tokenFor(runtime, 'bl-victim'),
      'private_bl-pest_bl-victim',
    );
    assert.deepEqual(history.body.data?.messages, [], 'nothing stored');

    const fromVictim = await sendCommand(victim.client, 'send_message', {
      to_user_id: 'bl-pest',
      content: 'stop',
    });
    assert.equal(fromVictim.code, 0, 'the blocker keeps writing');

    assert.equal((await sendCommand(victim.client, 'unblock_user', { user_id: 'bl-pest' })).code, 0);
    const afterUnblock = await sendCommand(pest.client, 'send_message', {
      to_user_id: 'bl-victim',
      content: 'sorry',
    });
    assert.equal(afterUnblock.code, 0);
    assert.equal((await nextPush(victim.client, 'new_message')).content, 'sorry');
    await Promise.all([victim.client.close(), pest.client.close()]);
  });

  test('the blocked user cannot put the blocker into a group: create_group and add_group_members answer 1403 and write nothing', async () => {
    const victim = await connectWelcomed(runtime, 'bl-gvictim');
    const pest = await connectWelcomed(runtime, 'bl-gpest');
    assert.equal((await sendCommand(victim.client, 'block_user', { user_id: 'bl-gpest' })).code, 0);

    const created = await sendCommand(pest.client, 'create_group', {
      group_name: 'Trap',
      member_ids: ['bl-gfriend', 'bl-gvictim'],
    });
    assertErrorReply(created, 1403, 'create_group with a blocker');
    assert.match(String(created.message), /bl-gvictim/);
    assert.deepEqual((await sendCommand(pest.client, 'list_groups')).data?.groups, [], 'no group made');

    const own = await sendCommand(pest.client, 'create_group', {
      group_name: 'Own',
      member_ids: ['bl-gfriend'],
    });
    assert.equal(own.code, 0);
    const groupId = own.data?.group_id;
    const added = await sendCommand(pest.client, 'add_group_members', {
      group_id: groupId,
      member_ids: ['bl-gother', 'bl-gvictim'],
    });
    assertErrorReply(added, 1403, 'add_group_members with a blocker');
    const info = await sendCommand(pest.client, 'group_info', { group_id: groupId });
    assert.deepEqual(
      ((info.data?.members ?? []) as { user_id: string }[]).map((m) => m.user_id).sort(),
      ['bl-gfriend', 'bl-gpest'],
      'nobody added',
    );
    await settle(victim.client);
    assert.deepEqual(pushesOf(victim.client, 'group_updated'), []);
    await Promise.all([victim.client.close(), pest.client.close()]);
  });

  test("the blocked user hears nothing of the blocker's presence, and online/check says offline", async () => {
    // star wrote to both: both would hear of star's presence.
    const fan = await connectWelcomed(runtime, 'bl-fan');
    const stalker = await connectWelcomed(runtime, 'bl-stalker');
    const star = await connectWelcomed(runtime, 'bl-star');
    for (const to of ['bl-fan', 'bl-stalker']) {
      assert.equal(
        (await sendCommand(star.client, 'send_message', { to_user_id: to, content: 'hi' })).code,
        0,
      );
    }
    assert.equal((await sendCommand(star.client, 'block_user', { user_id: 'bl-stalker' })).code, 0);
    assert.equal(await isOnlineFor('bl-stalker', 'bl-star'), false, 'online/check for the blocked');
    assert.equal(await isOnlineFor('bl-fan', 'bl-star'), true, 'online/check for others');

    await star.client.close();
    assert.equal((await nextPush(fan.client, 'presence', (p) => p.user_id === 'bl-star')).status, 'offline');
    await untilOffline('bl-star');
    const again = await connectWelcomed(runtime, 'bl-star');
    assert.equal((await nextPush(fan.client, 'presence', (p) => p.user_id === 'bl-star')).status, 'online');
    assert.deepEqual(await presenceAbout(stalker, 'bl-star'), [], 'the blocked user got no presence');
    await Promise.all([again.client.close(), fan.client.close(), stalker.client.close()]);
  });
});

describe('presence peers need consent', () => {
  test('an unsolicited message or group does not make the sender a presence peer; a reply or a post does', async () => {
    const tracker = await connectWelcomed(runtime, 'pc-tracker');
    const dm = await sendCommand(tracker.client, 'send_message', {
      to_user_id: 'pc-victim',
      content: 'hello',
    });
    assert.equal(dm.code, 0);
    const group = await sendCommand(tracker.client, 'create_group', {
      group_name: 'Unasked',
      member_ids: ['pc-victim'],
    });
    assert.equal(group.code, 0);
    const posted = await sendCommand(tracker.client, 'send_group_message', {
      group_id: group.data?.group_id,
      content: 'welcome',
    });
    assert.equal(posted.code, 0);

    // The victim connects and leaves: the tracker hears nothing (before the fix it heard both).
    const victim = await connectWelcomed(runtime, 'pc-victim');
    await settle(victim.client);
    assert.deepEqual(
      await presenceAbout(tracker, 'pc-victim'),
      [],
      'no presence from an unsolicited message or group',
    );
    await victim.client.close();
    await untilOffline('pc-victim');
    assert.deepEqual(await presenceAbout(tracker, 'pc-victim'), []);

    // Once the victim posts in the group, its members hear of the victim.
    const back = await connectWelcomed(runtime, 'pc-victim');
    const reply = await sendCommand(back.client, 'send_group_message', {
      group_id: group.data?.group_id,
      content: 'hi all',
    });
    assert.equal(reply.code, 0);
    await back.client.close();
    assert.equal(
      (await nextPush(tracker.client, 'presence', (p) => p.user_id === 'pc-victim')).status,
      'offline',
    );
    await tracker.client.close();
  });
});
