/**
 * `ONLINE_USERS_VISIBILITY=peers`: `GET /api/ws/online-users` lists only the caller's
 * presence peers (whom they wrote to, and the members of the groups they posted in), paged. `admins`: online-users-admins.test.ts; the default `all`:
 * http-api.test.ts. (One configuration per process: handler modules are cached.)
 * Run: npx tsx --test test/e2e/online-users-peers.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed, sendCommand } from '../support/chat.ts';
import { assertApiError, getApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

/** An error answer: HTTP status, the code, `data: null`. */

interface OnlinePage {
  readonly users: string[];
  readonly next_cursor?: string;
}

describe('ONLINE_USERS_VISIBILITY=peers', () => {
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime({ env: { ONLINE_USERS_VISIBILITY: 'peers' } });
  });
  after(() => runtime.stop());

  test('lists only the caller’s online peers, paged', async () => {
    const me = await connectWelcomed(runtime, 'pv-me');
    for (const peer of ['pv-a', 'pv-b', 'pv-c']) await connectWelcomed(runtime, peer);
    await connectWelcomed(runtime, 'pv-stranger');
    const dm = await sendCommand(me.client, 'send_message', { to_user_id: 'pv-a', content: 'hi' });
    assert.equal(dm.code, 0);
    const group = await sendCommand(me.client, 'create_group', {
      group_name: 'peers',
      member_ids: ['pv-b', 'pv-c', 'pv-offline'],
    });
    assert.equal(group.code, 0);
    // Members become peers once pv-me posts in the group (being in it is not enough).
    const posted = await sendCommand(me.client, 'send_group_message', {
      group_id: group.data?.group_id,
      content: 'hi',
    });
    assert.equal(posted.code, 0);

    const token = await tokenFor(runtime, 'pv-me');
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const query = `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await getApi<OnlinePage>(runtime, `/api/ws/online-users?${query}`, token);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const data = response.body.data as OnlinePage;
      assert.ok(data.users.length <= 2);
      seen.push(...data.users);
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen.sort(), ['pv-a', 'pv-b', 'pv-c']);

    const stranger = await getApi<OnlinePage>(
      runtime,
      '/api/ws/online-users',
      await tokenFor(runtime, 'pv-stranger'),
    );
    assert.deepEqual(stranger.body.data?.users, []);
    assertApiError(await getApi(runtime, '/api/ws/online-users?cursor=!!!', token), 400, 1001, 'bad cursor');
  });
});
