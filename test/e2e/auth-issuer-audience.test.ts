/**
 * JWT_ISSUER and JWT_AUDIENCE: when set, `$connect` and the HTTP API accept only tokens
 * with that `iss` and `aud`. A file of its own: handlers keep their configuration for
 * the life of the process.
 * Run: npx tsx --test test/e2e/auth-issuer-audience.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { mintToken } from '../../local/tokens.ts';
import { disconnect, welcomed } from '../support/chat.ts';
import { getApi, onlineCount } from '../support/http.ts';
import {
  expectHandshakeRefused,
  startTestRuntime,
  TestClient,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { claimsFor, signClaims } from '../support/tokens.ts';

const ISSUER = 'https://auth.chat.test/';
const AUDIENCE = 'chat-clients';

let runtime: LocalRuntime;

before(async () => {
  runtime = await startTestRuntime({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
});
after(() => runtime.stop());

const secret = () => runtime.jwtSecret as string;

/** A token for `userId` with the given iss/aud claims (omitted when undefined). */
function tokenWith(userId: string, claims: { iss?: string; aud?: string | string[] }): Promise<string> {
  return signClaims(claimsFor(userId, claims), { secret: secret() });
}

const refusedTokens: readonly [string, () => Promise<string>][] = [
  [
    'another issuer',
    () => mintToken('u1', { secret: secret(), issuer: 'https://evil.test/', audience: AUDIENCE }),
  ],
  ['another audience', () => mintToken('u1', { secret: secret(), issuer: ISSUER, audience: 'other-app' })],
  ['no iss', () => tokenWith('u1', { aud: AUDIENCE })],
  ['no aud', () => tokenWith('u1', { iss: ISSUER })],
  ['neither', () => tokenWith('u1', {})],
];

describe('with JWT_ISSUER and JWT_AUDIENCE set', () => {
  for (const [description, makeToken] of refusedTokens) {
    test(`a token with ${description} is refused at $connect (401) and on the HTTP API (401)`, async () => {
      const token = await makeToken();
      const countBefore = await onlineCount(runtime);
      assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 401);
      assert.deepEqual(await onlineCount(runtime), countBefore, 'nothing written');

      const response = await getApi(runtime, '/api/ws/online-users', token);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, 1401);
    });
  }

  test('a token with the right iss and aud (aud alone or in a list) connects and calls the HTTP API', async () => {
    const single = await mintToken('right-claims', { secret: secret(), issuer: ISSUER, audience: AUDIENCE });
    const listed = await tokenWith('listed-audience', { iss: ISSUER, aud: ['other-app', AUDIENCE] });
    const first = await welcomed(await TestClient.open(webSocketUrl(runtime, { token: single })));
    const second = await welcomed(await TestClient.open(webSocketUrl(runtime, { token: listed })));
    assert.deepEqual([first.userId, second.userId], ['right-claims', 'listed-audience']);

    const response = await getApi<{ users: string[] }>(runtime, '/api/ws/online-users', listed);
    assert.equal(response.status, 200);
    assert.deepEqual([...(response.body.data?.users ?? [])].sort(), ['listed-audience', 'right-claims']);
    await disconnect(runtime, first, second);
  });
});
