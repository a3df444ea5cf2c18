/**
 * `ONLINE_USERS_VISIBILITY=admins`: only admins may list the online users
 * (`GET /api/ws/online-users`); others get 403 / 1403.
 * Run: npx tsx --test test/e2e/online-users-admins.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed } from '../support/chat.ts';
import { assertApiError, getApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

/** An error answer: HTTP status, the code, `data: null`. */

interface OnlinePage {
  readonly users: string[];
  readonly next_cursor?: string;
}

describe('ONLINE_USERS_VISIBILITY=admins', () => {
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime({ env: { ONLINE_USERS_VISIBILITY: 'admins' } });
    await connectWelcomed(runtime, 'someone');
  });
  after(() => runtime.stop());

  test('a user gets 403 / 1403; an admin gets the list', async () => {
    assertApiError(
      await getApi(runtime, '/api/ws/online-users', await tokenFor(runtime, 'nosy')),
      403,
      1403,
      'user',
    );
    const admin = await getApi<OnlinePage>(
      runtime,
      '/api/ws/online-users',
      await tokenFor(runtime, 'boss', { role: 'admin' }),
    );
    assert.equal(admin.status, 200);
    assert.ok(admin.body.data?.users.includes('someone'));
  });
});
