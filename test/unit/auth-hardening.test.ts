/**
 * Authentication hardening: nbf, pinned algorithm families, JWKS caching and key rotation
 * against a local JWKS server, the connected-token expiry check at the message edge, and
 * the Origin allow-list.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import {
  AuthError,
  JWKS_CACHE_DEFAULTS,
  jwksKey,
  originAllowed,
  secretKey,
  tokenExpired,
  verifyToken,
} from '../../functions/core/auth/auth.ts';
import { loadConfig } from '../../functions/runtime/config.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { messageRoute, TOKEN_EXPIRED_MESSAGE } from '../../functions/runtime/websocket.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';

/** Every table variable the configuration requires, with a dummy name. */
function tableEnv(): Record<string, string> {
  return Object.fromEntries(Object.values(tableDefinitions).map((table) => [table.envVar, 't']));
}

const SECRET = 'unit-test-secret-0123456789abcdef';
const now = () => Math.floor(Date.now() / 1000);

function signHmac(claims: Record<string, unknown>, alg = 'HS256', secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

describe('claims and algorithms', () => {
  const key = secretKey(SECRET);

  it('refuses a token whose nbf is in the future beyond the tolerance, accepts it within', async () => {
    const future = await signHmac({ sub: 'alice', exp: now() + 600, nbf: now() + 120 });
    await assert.rejects(verifyToken(future, key), (error: unknown) => {
      assert.ok(error instanceof AuthError);
      assert.match(error.message, /nbf/);
      return true;
    });
    const nearlyValid = await signHmac({ sub: 'alice', exp: now() + 600, nbf: now() + 10 });
    assert.equal((await verifyToken(nearlyValid, key)).userId, 'alice');
    await assert.rejects(verifyToken(nearlyValid, key, { clockToleranceSeconds: 0 }), AuthError);
  });

  it('refuses other HMAC algorithms than HS256 (HS384, HS512) even with the right secret', async () => {
    for (const alg of ['HS384', 'HS512']) {
      const token = await signHmac({ sub: 'alice', exp: now() + 600 }, alg);
      await assert.rejects(verifyToken(token, key), AuthError, alg);
    }
  });

  it('refuses an HS256 token against a JWKS (no algorithm confusion with a public key)', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
    const token = await new SignJWT({ sub: 'alice', exp: now() + 600 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    const jwks = { kind: 'jwks', keys: async () => publicKey } as const;
    await assert.rejects(verifyToken(token, jwks), AuthError);
  });

  it('refuses ill-formed UTF-16 in sub or roles (a lone surrogate would collide with U+FFFD once stored)', async () => {
    for (const claims of [
      { sub: 'sg\ud800' },
      { sub: 'sg\udc00x' },
      { sub: 'alice', roles: ['admin', 'r\ud800'] },
      { sub: 'alice', role: '\udfff' },
    ]) {
      const token = await signHmac({ ...claims, exp: now() + 600 });
      await assert.rejects(verifyToken(token, key), AuthError, JSON.stringify(claims));
    }
    const pair = await signHmac({ sub: 'alice', roles: ['r\ud83d\ude00'], exp: now() + 600 });
    assert.deepEqual((await verifyToken(pair, key)).roles, ['r\ud83d\ude00']);
  });

  it('refuses an exp that is not whole epoch seconds of at most 12 digits (e.g. 1e20), on every path', async () => {
    for (const exp of [1e20, 1e12, now() + 600.5]) {
      const token = await signHmac({ sub: 'alice', exp });
      await assert.rejects(verifyToken(token, key), AuthError, String(exp));
    }
  });

  it('tokenExpired applies the clock tolerance and ignores a missing expiry', () => {
    assert.equal(tokenExpired(100, 100, 0), false);
    assert.equal(tokenExpired(100, 101, 0), true);
    assert.equal(tokenExpired(100, 130, 30), false);
    assert.equal(tokenExpired(100, 131, 30), true);
    assert.equal(tokenExpired(undefined, 10_000, 0), false);
  });
});

describe('JWKS caching and rotation', () => {
  let server: Server;
  let url: string;
  let served: JWK[] = [];
  let fetches = 0;

  before(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function keyPair(kid: string) {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
  }

  function signWith(pair: Awaited<ReturnType<typeof keyPair>>, sub: string): Promise<string> {
    return new SignJWT({ sub })
      .setProtectedHeader({ alg: 'RS256', kid: pair.kid })
      .setIssuer('https://idp.test/')
      .setAudience('chat')
      .setExpirationTime('10m')
      .sign(pair.privateKey);
  }

  const options = { issuer: 'https://idp.test/', audience: 'chat' };

  it('documents its cache settings: 30 s cooldown, 10 min max age, 5 s timeout', () => {
    assert.deepEqual(JWKS_CACHE_DEFAULTS, {
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      timeoutDuration: 5_000,
    });
  });

  it('caches keys, accepts a rotated key without a restart and refuses the removed one', async () => {
    const a = await keyPair('key-a');
    const b = await keyPair('key-b');
    served = [a.jwk];
    fetches = 0;
    // No cooldown, so the test need not wait 30 s between the rotation refetches.
    const key = jwksKey(url, { cooldownDuration: 0 });

    assert.equal((await verifyToken(await signWith(a, 'alice'), key, options)).userId, 'alice');
    assert.equal((await verifyToken(await signWith(a, 'bob'), key, options)).userId, 'bob');
    assert.equal(fetches, 1, 'the second token is verified from the cache');

    served = [b.jwk]; // rotation: B published, A withdrawn
    assert.equal((await verifyToken(await signWith(b, 'carol'), key, options)).userId, 'carol');
    assert.equal(fetches, 2, 'the unknown kid refetched the set');

    await assert.rejects(verifyToken(await signWith(a, 'alice'), key, options), AuthError);
    // A forged token with B's kid but another key's signature is refused too.
    const forged = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-b' })
      .setIssuer('https://idp.test/')
      .setAudience('chat')
      .setExpirationTime('10m')
      .sign(a.privateKey);
    await assert.rejects(verifyToken(forged, key, options), AuthError);
  });

  it('with the default cooldown, unknown kids do not hammer the JWKS endpoint', async () => {
    const a = await keyPair('key-c');
    served = [a.jwk];
    fetches = 0;
    const key = jwksKey(url);
    await verifyToken(await signWith(a, 'alice'), key, options);
    const stranger = await keyPair('unknown-kid');
    for (let i = 0; i < 5; i++) {
      await assert.rejects(verifyToken(await signWith(stranger, 'mallory'), key, options), AuthError);
    }
    assert.equal(fetches, 1, 'no refetch within the cooldown');
  });
});

describe('connected token expiry at the message edge', () => {
  function fakeServices() {
    const closed: string[] = [];
    const services = {
      config: { ...loadConfig(testEnv()), callbackUrl: 'http://127.0.0.1:1/local' },
      // The sender comes from the authorizer context: no connection row is read.
      registry: {
        lookup: async () => assert.fail('the sender must not be read from DynamoDB'),
      },
      notifier: () => ({
        close: async (connectionId: string) => {
          closed.push(connectionId);
          return true;
        },
      }),
    };
    return { services: services as unknown as Services, closed };
  }

  const testEnv = () => ({ ...tableEnv(), JWT_CLOCK_TOLERANCE_SECONDS: '0' });

  /** A message event of a connection whose `$connect` authorizer saw a token expiring at `tokenExpiresAt`. */
  const event = (body: unknown, tokenExpiresAt: number) =>
    ({
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: {
        connectionId: 'conn-1',
        routeKey: 'sync',
        requestId: 'r',
        domainName: 'x',
        stage: 's',
        authorizer: {
          principalId: 'alice',
          userId: 'alice',
          roles: '[]',
          tokenExpiresAt: String(tokenExpiresAt),
          integrationLatency: 3,
        },
      },
    }) as unknown as APIGatewayProxyWebsocketEventV2;

  const route = messageRoute(async ({ sender }) => ({ type: 'ok', user: (await sender()).userId }));

  after(() => setServices(undefined));

  it('answers 1401 and closes the connection once the stored exp has passed', async () => {
    const { services, closed } = fakeServices();
    setServices(services);
    const result = await route(event({ cmd: 'sync', request_id: 'r1' }, now() - 5));
    const reply = JSON.parse(result.body ?? '{}');
    assert.equal(reply.code, 1401);
    assert.equal(reply.message, TOKEN_EXPIRED_MESSAGE);
    assert.equal(reply.request_id, 'r1');
    assert.deepEqual(closed, ['conn-1']);
  });

  it('serves the command while the token is valid', async () => {
    const { services, closed } = fakeServices();
    setServices(services);
    const reply = JSON.parse(
      (await route(event({ cmd: 'sync', request_id: 'r2' }, now() + 60))).body ?? '{}',
    );
    assert.equal(reply.code, 0);
    assert.equal(reply.data.user, 'alice');
    assert.deepEqual(closed, []);
  });
});

describe('Origin allow-list', () => {
  it('accepts any origin when unset, listed origins (case, trailing slash) and no Origin at all', () => {
    assert.equal(originAllowed('https://evil.example', undefined), true);
    const list = ['https://chat.example'];
    assert.equal(originAllowed('https://chat.example', list), true);
    assert.equal(originAllowed('HTTPS://Chat.Example/', list), true);
    assert.equal(originAllowed(undefined, list), true);
    assert.equal(originAllowed('https://evil.example', list), false);
    assert.equal(originAllowed('https://chat.example.evil.example', list), false);
    assert.equal(originAllowed('null', list), false);
  });

  it('parses ALLOWED_ORIGINS and MAX_CONNECTIONS_PER_USER', () => {
    const base = tableEnv();
    assert.equal(loadConfig(base).allowedOrigins, undefined);
    assert.equal(loadConfig(base).maxConnectionsPerUser, 10);
    assert.equal(loadConfig(base).jwt.clockToleranceSeconds, 30);
    const config = loadConfig({
      ...base,
      ALLOWED_ORIGINS: ' https://a.example/ , https://b.example ',
      MAX_CONNECTIONS_PER_USER: '0',
    });
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(config.maxConnectionsPerUser, 0);
    assert.throws(() => loadConfig({ ...base, MAX_CONNECTIONS_PER_USER: '-1' }), /MAX_CONNECTIONS_PER_USER/);
  });
});
