/**
 * The `$connect` handler: the identity comes from the authorizer's context only (no
 * context: 401, nothing written, even with a valid token in the request); and its failure
 * path: when a step after registration fails, the handshake is refused (500) and the
 * registration is undone, since API Gateway sends no `$disconnect` for a refused
 * handshake. The failure is injected into single-session kicking, which cannot be made
 * to fail for real here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { authorizerContext } from '../../functions/core/auth/auth.ts';
import { handler } from '../../functions/handlers/connect.ts';
import { loadConfig } from '../../functions/runtime/config.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { startTestStores, type TestStores } from '../support/stores.ts';

const SECRET = 'connect-handler-test-secret-0123456789';
let stores: TestStores;

before(async () => {
  stores = await startTestStores();
  const config = loadConfig({
    ...Object.fromEntries(
      Object.entries(tableDefinitions).map(([id, definition]) => [
        definition.envVar,
        stores.dynamo.tables[id as TableId],
      ]),
    ),
    JWT_SECRET: SECRET,
    SESSION_MODE: 'single',
    WS_CALLBACK_URL: 'http://127.0.0.1:9/local',
  });
  const registry = stores.registry();
  // Only what the handler touches before the injected failure.
  setServices({
    config,
    registry,
    presenceRegistry: () => registry,
    singleSession: () => ({
      kickOlder: async () => {
        throw new Error('injected: DynamoDB unavailable');
      },
    }),
  } as unknown as Services);
});

after(async () => {
  setServices(undefined);
  await stores.stop();
});

const authorizerFor = (userId: string) => ({
  principalId: userId,
  ...authorizerContext({ userId, roles: [], expiresAt: Math.floor(Date.now() / 1000) + 60 }),
  integrationLatency: 5,
});

describe('$connect', () => {
  it('refuses the handshake with 500 and leaves no connection behind when a later step fails', async () => {
    const countsBefore = await stores.presence.counts();
    const result = await handler({
      requestContext: {
        connectionId: 'rollback-conn',
        routeKey: '$connect',
        domainName: 'x',
        stage: 'local',
        // What the $connect authorizer verified (functions/handlers/authorizer.ts).
        authorizer: authorizerFor('rollback-user'),
      },
    } as never);
    assert.equal(result.statusCode, 500);
    assert.equal(await stores.connections.get('rollback-conn'), undefined);
    assert.deepEqual(await stores.presence.connectionsOf(['rollback-user']), []);
    assert.deepEqual(await stores.presence.counts(), countsBefore);
  });

  it('refuses with 401 and writes nothing when the event has no valid authorizer context', async () => {
    const token = await new SignJWT({ sub: 'no-context', exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    const countsBefore = await stores.presence.counts();
    for (const authorizer of [
      undefined,
      {},
      { principalId: 'no-context', userId: 'no-context', roles: '[]' },
      { ...authorizerFor('no-context'), userId: '#stats', principalId: '#stats' },
      { ...authorizerFor('no-context'), principalId: 'someone-else' },
      { ...authorizerFor('no-context'), tokenExpiresAt: 'soon' },
    ]) {
      const result = await handler({
        requestContext: {
          connectionId: 'no-context-conn',
          routeKey: '$connect',
          domainName: 'x',
          stage: 'local',
          authorizer,
        },
        // A token in the request is not looked at: only the authorizer verifies tokens.
        queryStringParameters: { token },
      } as never);
      assert.equal(result.statusCode, 401, JSON.stringify(authorizer));
    }
    assert.equal(await stores.connections.get('no-context-conn'), undefined);
    assert.deepEqual(await stores.presence.connectionsOf(['no-context']), []);
    assert.deepEqual(await stores.presence.counts(), countsBefore);
  });
});
