/**
 * The `$connect` Lambda REQUEST authorizer (functions/handlers/authorizer.ts) and the
 * sender of message routes taken from its context (functions/runtime/websocket.ts
 * `senderOf`), without API Gateway: what each answers for valid, missing, expired, wrongly
 * signed and `alg: none` tokens and for a refused Origin; that the context round-trips
 * through the shape API Gateway gives it; that no token is ever logged; and that the
 * sender costs no DynamoDB read and is refused (1401) without a valid context.
 * Run: npx tsx --test test/unit/authorizer.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayAuthorizerResult, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { identityFromAuthorizer } from '../../functions/core/auth/auth.ts';
import { handler, UNAUTHORIZED, type WebSocketAuthorizerEvent } from '../../functions/handlers/authorizer.ts';
import { loadConfig } from '../../functions/runtime/config.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { setLogWriter } from '../../functions/runtime/logger.ts';
import {
  messageRoute,
  NO_IDENTITY_MESSAGE,
  TOKEN_EXPIRED_MESSAGE,
} from '../../functions/runtime/websocket.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { claimsFor, epochSecondsFromNow, signClaims, unsignedToken } from '../support/tokens.ts';

const SECRET = 'authorizer-unit-test-secret-0123456789';
const ALLOWED_ORIGIN = 'https://chat.example';
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/$connect';

const tableEnv = () =>
  Object.fromEntries(Object.values(tableDefinitions).map((table) => [table.envVar, 't']));

/** Every log line written while the tests run (to prove no token is ever logged). */
const logLines: string[] = [];
const tokensSeen: string[] = [];

function useConfig(env: Record<string, string>): void {
  setServices({ config: loadConfig({ ...tableEnv(), ...env }) } as unknown as Services);
}

before(() => {
  setLogWriter((line) => logLines.push(line));
});
after(() => {
  setLogWriter(undefined);
  setServices(undefined);
});

function authorizerEvent(request: Partial<WebSocketAuthorizerEvent> = {}): WebSocketAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    headers: { Host: 'abcdef1234.execute-api.eu-west-1.amazonaws.com', 'Sec-WebSocket-Version': '13' },
    requestContext: { connectionId: 'conn-a', requestId: 'req-a', routeKey: '$connect' },
    ...request,
  };
}

async function token(userId: string, extra: Record<string, unknown> = {}, secret = SECRET): Promise<string> {
  const signed = await signClaims(claimsFor(userId, extra), { secret });
  tokensSeen.push(signed);
  return signed;
}

async function expectUnauthorized(event: WebSocketAuthorizerEvent): Promise<void> {
  await assert.rejects(handler(event), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.equal(error.message, UNAUTHORIZED, 'API Gateway answers 401 only for this exact message');
    return true;
  });
}

function assertPolicy(result: APIGatewayAuthorizerResult, effect: 'Allow' | 'Deny', principalId: string) {
  assert.equal(result.principalId, principalId);
  assert.deepEqual(result.policyDocument, {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: METHOD_ARN }],
  });
}

/** `requestContext.authorizer` as API Gateway builds it from an authorizer result. */
function asApiGatewayContext(result: APIGatewayAuthorizerResult): Record<string, unknown> {
  const flattened = Object.fromEntries(Object.entries(result.context ?? {}).map(([k, v]) => [k, String(v)]));
  return { ...flattened, principalId: result.principalId, integrationLatency: 12 };
}

describe('authorizer: failures other than a bad token', () => {
  it('lets a configuration error through (API Gateway answers 500), not 401', async () => {
    useConfig({});
    const tokenNobodyCanVerify = await token('alice');
    await assert.rejects(
      handler(authorizerEvent({ queryStringParameters: { token: tokenNobodyCanVerify } })),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.notEqual(error.message, UNAUTHORIZED);
        assert.match(error.message, /No JWT key configured/);
        return true;
      },
    );
  });
});

describe('authorizer', () => {
  before(() => useConfig({ JWT_SECRET: SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN }));

  it('allows a valid token: an Allow for this $connect method ARN and the identity as context', async () => {
    const exp = epochSecondsFromNow(900);
    const valid = await token('alice', { exp, roles: ['admin', 'ops'] });
    const result = await handler(authorizerEvent({ queryStringParameters: { token: valid } }));
    assertPolicy(result, 'Allow', 'alice');
    assert.deepEqual(result.context, {
      userId: 'alice',
      roles: '["admin","ops"]',
      tokenExpiresAt: String(exp),
    });
    // Only strings, numbers and booleans are allowed in the context map.
    for (const value of Object.values(result.context ?? {})) assert.equal(typeof value, 'string');
    // What later routes receive reads back as the same identity.
    assert.deepEqual(identityFromAuthorizer(asApiGatewayContext(result)), {
      userId: 'alice',
      roles: ['admin', 'ops'],
      expiresAt: exp,
    });
  });

  it('reads the token from Authorization: Bearer, the legacy websocket header and the bearer subprotocol', async () => {
    const requests: Partial<WebSocketAuthorizerEvent>[] = [
      { headers: { authorization: `Bearer ${await token('by-bearer')}` } },
      { headers: { WebSocket: await token('by-legacy') } },
      { headers: { 'Sec-WebSocket-Protocol': `chat, bearer.${await token('by-subprotocol')}` } },
    ];
    const principals = [];
    for (const request of requests) principals.push((await handler(authorizerEvent(request))).principalId);
    assert.deepEqual(principals, ['by-bearer', 'by-legacy', 'by-subprotocol']);
  });

  it('allows a listed Origin and a request without Origin', async () => {
    const valid = await token('origin-ok');
    for (const headers of [{ Origin: ALLOWED_ORIGIN }, { origin: 'HTTPS://Chat.Example/' }, {}]) {
      const result = await handler(authorizerEvent({ headers, queryStringParameters: { token: valid } }));
      assertPolicy(result, 'Allow', 'origin-ok');
    }
  });

  it('denies another Origin with a Deny policy (API Gateway: 403), before looking at the token', async () => {
    for (const query of [{ token: await token('alice') }, undefined]) {
      const result = await handler(
        authorizerEvent({ headers: { Origin: 'https://evil.example' }, queryStringParameters: query }),
      );
      assertPolicy(result, 'Deny', 'anonymous');
      assert.equal(result.context, undefined, 'a Deny carries no identity');
    }
  });

  it('refuses a missing token with Unauthorized (API Gateway: 401)', async () => {
    await expectUnauthorized(authorizerEvent());
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: '' } }));
    await expectUnauthorized(authorizerEvent({ headers: { Authorization: 'Basic dXNlcjpwYXNz' } }));
  });

  it('refuses an expired token (beyond the 30 s clock skew)', async () => {
    const expired = await token('late', { iat: epochSecondsFromNow(-7200), exp: epochSecondsFromNow(-120) });
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: expired } }));
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await token('mallory', {}, 'not-the-secret-the-authorizer-uses-012345');
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: forged } }));
  });

  it('refuses an unsigned alg:none token', async () => {
    const unsigned = unsignedToken(claimsFor('admin', { roles: ['admin'] }));
    tokensSeen.push(unsigned);
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: unsigned } }));
  });

  it('refuses malformed tokens and subjects that are no user id', async () => {
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: 'not-a-jwt' } }));
    await expectUnauthorized(authorizerEvent({ queryStringParameters: { token: await token('#stats') } }));
  });

  it('never logs a token', () => {
    assert.ok(logLines.length > 0, 'the authorizer logged its decisions');
    for (const seen of tokensSeen) {
      const signature = seen.split('.')[2] || seen;
      for (const line of logLines) {
        assert.ok(!line.includes(seen), 'a token was logged');
        if (signature.length > 10) assert.ok(!line.includes(signature), 'a token signature was logged');
      }
    }
  });
});

describe('identity from the authorizer context', () => {
  const good = { principalId: 'bob', userId: 'bob', roles: '["admin"]', tokenExpiresAt: '1900000000' };

  it('reads JSON or comma-separated roles and exp as a string or a number', () => {
    assert.deepEqual(identityFromAuthorizer(good), {
      userId: 'bob',
      roles: ['admin'],
      expiresAt: 1900000000,
    });
    assert.deepEqual(
      identityFromAuthorizer({ ...good, roles: 'admin, ops', tokenExpiresAt: 1900000000 })?.roles,
      ['admin', 'ops'],
    );
    assert.deepEqual(identityFromAuthorizer({ ...good, roles: '' })?.roles, []);
    assert.equal(identityFromAuthorizer({ ...good, principalId: undefined })?.userId, 'bob');
  });

  it('refuses a missing or malformed context', () => {
    for (const bad of [
      undefined,
      null,
      'bob',
      {},
      { ...good, userId: undefined },
      { ...good, userId: '#stats', principalId: '#stats' },
      { ...good, principalId: 'mallory' },
      { ...good, roles: undefined },
      { ...good, roles: '["admin", 1]' },
      { ...good, roles: '[not json' },
      { ...good, tokenExpiresAt: undefined },
      { ...good, tokenExpiresAt: '17e8' },
      { ...good, tokenExpiresAt: Number.NaN },
    ]) {
      assert.equal(identityFromAuthorizer(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('senderOf: the sender of a message route', () => {
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const closed: string[] = [];

  before(() => {
    setServices({
      config: {
        ...loadConfig({ ...tableEnv(), JWT_SECRET: SECRET }),
        callbackUrl: 'http://127.0.0.1:1/local',
      },
      // Any DynamoDB access through the registry fails the test.
      registry: new Proxy({}, { get: () => assert.fail('the sender must not be read from DynamoDB') }),
      notifier: () => ({
        close: async (connectionId: string) => {
          closed.push(connectionId);
          return true;
        },
      }),
    } as unknown as Services);
  });

  const route = messageRoute(async ({ sender }) => {
    const { userId, roles } = await sender();
    return { type: 'whoami', user_id: userId, roles };
  });

  const event = (authorizer: unknown, body: unknown = { cmd: 'whoami', request_id: 'r' }) =>
    ({
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: {
        connectionId: 'conn-s',
        routeKey: 'whoami',
        requestId: 'api-req',
        domainName: 'x',
        stage: 's',
        ...(authorizer === undefined ? {} : { authorizer }),
      },
    }) as unknown as APIGatewayProxyWebsocketEventV2;

  const replyTo = async (authorizer: unknown, body?: unknown) =>
    JSON.parse((await route(event(authorizer, body))).body ?? '{}') as {
      code: number;
      message: string;
      data: { user_id?: string; roles?: string[] } | null;
      request_id?: string;
    };

  const context = (userId: string, tokenExpiresAt: number, roles = '[]') => ({
    principalId: userId,
    userId,
    roles,
    tokenExpiresAt: String(tokenExpiresAt),
    integrationLatency: 8,
  });

  it('takes the sender from the authorizer context, never from the body, with no DynamoDB read', async () => {
    const reply = await replyTo(context('carol', nowSeconds() + 600, '["admin"]'), {
      cmd: 'whoami',
      request_id: 'r',
      data: { user_id: 'mallory', from_user_id: 'mallory' },
      user_id: 'mallory',
    });
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.data, { type: 'whoami', user_id: 'carol', roles: ['admin'] });
  });

  it('answers 1401 when the context is missing or malformed, and keeps the connection', async () => {
    for (const authorizer of [
      undefined,
      {},
      { ...context('dave', nowSeconds() + 600), principalId: 'erin' },
    ]) {
      const reply = await replyTo(authorizer);
      assert.equal(reply.code, 1401, JSON.stringify(authorizer));
      assert.equal(reply.message, NO_IDENTITY_MESSAGE);
      assert.equal(reply.request_id, 'r');
    }
    assert.deepEqual(closed, []);
  });

  it('answers 1401 and closes the connection once the token in the context has expired', async () => {
    const reply = await replyTo(context('frank', nowSeconds() - 600));
    assert.equal(reply.code, 1401);
    assert.equal(reply.message, TOKEN_EXPIRED_MESSAGE);
    assert.deepEqual(closed, ['conn-s']);
  });
});
