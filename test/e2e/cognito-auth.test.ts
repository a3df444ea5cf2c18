/**
 * Cognito sign-in through the local runtime: the handlers run with COGNITO_USER_POOL_ID
 * and COGNITO_CLIENT_IDS, their keys from a local JWKS (COGNITO_JWKS_URL) standing in for
 * the pool's, and tokens shaped like the pool's. `$connect` and the HTTP API take an
 * access token of the configured app client and refuse the rest. A file of its own:
 * handlers keep their configuration for the life of the process.
 * Run: npx tsx --test test/e2e/cognito-auth.test.ts
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { disconnect, nextPush, sendCommand, welcomed } from '../support/chat.ts';
import {
  type CognitoTokenOptions,
  cognitoAccessToken,
  cognitoEnvironment,
  cognitoIdToken,
  type LocalJwks,
  OTHER_CLIENT_ID,
  startLocalJwks,
} from '../support/cognito.ts';
import { getApi, postApi } from '../support/http.ts';
import {
  expectHandshakeRefused,
  startTestRuntime,
  TestClient,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { runtimeTables } from '../support/runtime-tables.ts';

let jwks: LocalJwks;
let runtime: LocalRuntime;

before(async () => {
  jwks = await startLocalJwks();
  runtime = await startTestRuntime({ env: cognitoEnvironment(jwks) });
});
after(async () => {
  await runtime.stop();
  await jwks.close();
});

const signingKey = () => jwks.keys[0] as (typeof jwks.keys)[number];
const accessToken = (options: CognitoTokenOptions) => cognitoAccessToken(signingKey(), options);

async function connect(token: string) {
  return welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
}

test('the runtime keeps no shared secret: tokens come from the pool only', () => {
  assert.equal(runtime.jwtSecret, undefined);
});

describe('$connect', () => {
  test('accepts access tokens of the app client; the user is the sub, and a message is delivered', async () => {
    const annSub = randomUUID();
    const benSub = randomUUID();
    const ann = await connect(await accessToken({ sub: annSub, username: 'ann' }));
    const ben = await connect(await accessToken({ sub: benSub, username: 'ben' }));
    assert.deepEqual([ann.userId, ben.userId], [annSub, benSub]);

    const reply = await sendCommand(ann.client, 'send_message', {
      to_user_id: benSub,
      content: 'hi from Cognito',
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const push = await nextPush(ben.client, 'new_message');
    assert.equal(push.from_user_id, annSub);
    assert.equal(push.content, 'hi from Cognito');
    await disconnect(runtime, ann, ben);
  });

  const refused: readonly [string, (sub: string) => Promise<string>][] = [
    ['an access token of another app client', (sub) => accessToken({ sub, clientId: OTHER_CLIENT_ID })],
    [
      'an ID token (only access tokens are accepted by default)',
      (sub) => cognitoIdToken(signingKey(), { sub }),
    ],
    ['an expired access token', (sub) => accessToken({ sub, expiresIn: -600 })],
    [
      "another pool's access token",
      (sub) =>
        accessToken({ sub, issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtHeRpOoL' }),
    ],
  ];
  for (const [description, makeToken] of refused) {
    test(`refuses ${description} with 401 at $connect and on the HTTP API, writing nothing`, async () => {
      const sub = randomUUID();
      const token = await makeToken(sub);
      assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 401);
      const tables = runtimeTables(runtime);
      try {
        assert.equal(await tables.presenceOf(sub), undefined, 'no presence');
        const rows = await tables.scan('connections');
        assert.ok(!rows.some((row) => row.userId === sub), 'no connection row');
      } finally {
        tables.destroy();
      }

      const response = await getApi(runtime, '/api/ws/online-users', token);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, 1401);
    });
  }
});

describe('the HTTP API', () => {
  test('sends a message with an access token; the pool\'s "admin" group may broadcast, others may not', async () => {
    const recipientSub = randomUUID();
    const recipient = await connect(await accessToken({ sub: recipientSub }));

    const senderToken = await accessToken({ groups: ['editors'] });
    const sent = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: recipientSub, content: 'over HTTP' },
      senderToken,
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal((await nextPush(recipient.client, 'new_message')).content, 'over HTTP');

    const notAdmin = await postApi(runtime, '/api/ws/broadcast', { message: 'all hands' }, senderToken);
    assert.equal(notAdmin.status, 403);
    assert.equal(notAdmin.body.code, 1403);

    const adminToken = await accessToken({ sub: 'pool-admin', groups: ['admin'] });
    const broadcast = await postApi(runtime, '/api/ws/broadcast', { message: 'all hands' }, adminToken);
    assert.equal(broadcast.status, 200, JSON.stringify(broadcast.body));
    const push = await nextPush(recipient.client, 'broadcast');
    assert.deepEqual([push.from_user_id, push.message], ['pool-admin', 'all hands']);
    await disconnect(runtime, recipient);
  });
});
