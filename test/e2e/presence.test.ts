/**
 * Presence through the local runtime: the users a user wrote to and the members of the
 * groups they posted in, when online, get exactly one `presence` `online` when the user's first device
 * connects and one `offline` when the last closes; a second device opening or closing
 * produces none. Absence is shown with ping/pong barriers, never sleeps. Also: online/check
 * and online-users stay exact with several devices per user.
 * Run: npx tsx --test test/e2e/presence.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertIsoTime,
  type ChatConnection,
  connectWelcomed,
  nextPush,
  type PushData,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { getApi, pollUntil, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { runtimeTables } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;
/** ben chatted privately with ann (two devices); cy shares a group with ann; dee is no peer. */
let benPhone: ChatConnection;
let benLaptop: ChatConnection;
let cy: ChatConnection;
let dee: ChatConnection;

before(async () => {
  runtime = await startTestRuntime();
  // ann wrote to ben while ben was offline: stored, and ben is ann's peer from then on.
  const sent = await postApi(
    runtime,
    '/api/ws/send-message',
    { to_user_id: 'pr-ben', content: 'call me' },
    await tokenFor(runtime, 'pr-ann'),
  );
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  cy = await connectWelcomed(runtime, 'pr-cy');
  const created = await sendCommand(cy.client, 'create_group', { group_name: 'Co', member_ids: ['pr-ann'] });
  assert.equal(created.code, 0);
  // Being put into the group makes nobody ann's peer; ann posting in it does (consent).
  const annPosting = await connectWelcomed(runtime, 'pr-ann');
  const posted = await sendCommand(annPosting.client, 'send_group_message', {
    group_id: created.data?.group_id,
    content: 'hi',
  });
  assert.equal(posted.code, 0);
  await annPosting.client.close();
  // cy hears that ann left (so that push is done) and starts again with a clean slate.
  await nextPush(cy.client, 'presence', (p) => p.user_id === 'pr-ann' && p.status === 'offline');
  await cy.client.close();
  await untilPresenceIs('pr-cy', undefined);
  [cy, benPhone, benLaptop, dee] = await connectEach(runtime, ['pr-cy', 'pr-ben', 'pr-ben', 'pr-dee']);
});
after(() => runtime.stop());

const watchers = () => [benPhone, benLaptop, cy];

/** The presence pushes about `userId` each connection received, after a barrier on each. */
async function presenceAbout(userId: string, connections: ChatConnection[]): Promise<PushData[][]> {
  await Promise.all(connections.map((c) => settle(c.client)));
  return connections.map((c) => pushesOf(c.client, 'presence').filter((p) => p.user_id === userId));
}

/** Waits until `$disconnect` has taken the connection out of the user's presence record. */
async function untilPresenceIs(userId: string, expected: string[] | undefined): Promise<void> {
  const tables = runtimeTables(runtime);
  try {
    await pollUntil(
      () => tables.presenceOf(userId),
      (ids) => JSON.stringify(ids) === JSON.stringify(expected?.slice().sort()),
      `the presence of ${userId} to be ${JSON.stringify(expected)}`,
    );
  } finally {
    tables.destroy();
  }
}

describe('presence pushes', () => {
  test('one online when the first device connects, none for the second, none when one of two closes, one offline at the end', async () => {
    const annPhone = await connectWelcomed(runtime, 'pr-ann');
    for (const watcher of watchers()) {
      const push = await nextPush(watcher.client, 'presence', (p) => p.user_id === 'pr-ann');
      const { time, ...rest } = push;
      assert.deepEqual(rest, { type: 'presence', user_id: 'pr-ann', status: 'online' });
      assertIsoTime(time);
    }
    assert.deepEqual(
      (await presenceAbout('pr-ann', watchers())).map((pushes) => pushes.length),
      [1, 1, 1],
      'exactly one each',
    );

    // Presence pushes are posted during $connect, so they precede the welcome.
    const annLaptop = await connectWelcomed(runtime, 'pr-ann');
    assert.deepEqual(
      (await presenceAbout('pr-ann', watchers())).map((pushes) => pushes.length),
      [1, 1, 1],
      'the second device changed nothing',
    );

    await annPhone.client.close();
    await untilPresenceIs('pr-ann', [annLaptop.connectionId]);
    assert.deepEqual(
      (await presenceAbout('pr-ann', watchers())).map((pushes) => pushes.length),
      [1, 1, 1],
      'closing one of two devices changed nothing',
    );

    await annLaptop.client.close();
    for (const watcher of watchers()) {
      const push = await nextPush(watcher.client, 'presence', (p) => p.status === 'offline');
      assert.equal(push.user_id, 'pr-ann');
    }
    const after = await presenceAbout('pr-ann', watchers());
    assert.deepEqual(
      after.map((pushes) => pushes.map((p) => p.status)),
      [
        ['online', 'offline'],
        ['online', 'offline'],
        ['online', 'offline'],
      ],
    );
    assert.deepEqual(await presenceAbout('pr-ann', [dee]), [[]], 'no push to a user who is no peer');
  });

  test('a peer who is offline gets nothing, and the connecting device never hears about itself', async () => {
    const eve = await connectWelcomed(runtime, 'pr-eve');
    await settle(eve.client);
    assert.deepEqual(pushesOf(eve.client, 'presence'), [], 'eve has no peers online who changed');
    // dee writes to eve, and eve answers: only eve's answer makes dee eve's peer, so eve's
    // next first connection tells dee (dee's message alone would not: see blocking.test.ts).
    const sent = await sendCommand(dee.client, 'send_message', { to_user_id: 'pr-eve', content: 'hi' });
    assert.equal(sent.code, 0);
    await nextPush(eve.client, 'new_message');
    const answered = await sendCommand(eve.client, 'send_message', { to_user_id: 'pr-dee', content: 'hi' });
    assert.equal(answered.code, 0);
    await eve.client.close();
    const offline = await nextPush(dee.client, 'presence', (p) => p.user_id === 'pr-eve');
    assert.equal(offline.status, 'offline');
    const again = await connectWelcomed(runtime, 'pr-eve');
    assert.equal((await nextPush(dee.client, 'presence', (p) => p.user_id === 'pr-eve')).status, 'online');
    await settle(again.client);
    assert.deepEqual(pushesOf(again.client, 'presence'), []);
    await again.client.close();
    await nextPush(dee.client, 'presence', (p) => p.user_id === 'pr-eve' && p.status === 'offline');
  });
});

describe('online/check and online-users with several devices', () => {
  async function isOnline(userId: string): Promise<boolean> {
    const token = await tokenFor(runtime, 'pr-asker');
    const { status, body } = await getApi<{ user_id: string; is_online: boolean }>(
      runtime,
      `/api/ws/online/check?user_id=${encodeURIComponent(userId)}`,
      token,
    );
    assert.equal(status, 200);
    assert.equal(body.data?.user_id, userId);
    return body.data?.is_online ?? false;
  }

  async function listed(userId: string): Promise<number> {
    const token = await tokenFor(runtime, 'pr-asker');
    const { body } = await getApi<{ users: string[] }>(runtime, '/api/ws/online-users?limit=1000', token);
    return (body.data?.users ?? []).filter((user) => user === userId).length;
  }

  test('a user is online, and listed once, while any device is connected', async () => {
    assert.equal(await isOnline('pr-multi'), false);
    const phone = await connectWelcomed(runtime, 'pr-multi');
    const laptop = await connectWelcomed(runtime, 'pr-multi');
    const tablet = await connectWelcomed(runtime, 'pr-multi');
    assert.equal(await isOnline('pr-multi'), true);
    assert.equal(await listed('pr-multi'), 1);

    await phone.client.close();
    await laptop.client.close();
    await untilPresenceIs('pr-multi', [tablet.connectionId]);
    assert.equal(await isOnline('pr-multi'), true);
    assert.equal(await listed('pr-multi'), 1);

    await tablet.client.close();
    await untilPresenceIs('pr-multi', undefined);
    assert.equal(await isOnline('pr-multi'), false);
    assert.equal(await listed('pr-multi'), 0);
  });
});
