import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  AuthError,
  isAdmin,
  offeredSubprotocols,
  secretKey,
  tokenFromConnectRequest,
  verifyToken,
} from '../../functions/core/auth/auth.ts';

const SECRET = 'unit-test-secret-0123456789abcdef';
const key = secretKey(SECRET);
const now = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, secret = SECRET, alg = 'HS256'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

async function refused(token: string, options = {}): Promise<void> {
  await assert.rejects(verifyToken(token, key, options), AuthError);
}

describe('verifyToken', () => {
  it('returns the subject, roles from role and roles, and the expiry', async () => {
    const exp = now() + 60;
    const token = await sign({ sub: '7', role: 'admin', roles: ['ops', 7], exp });
    const identity = await verifyToken(token, key);
    assert.deepEqual(identity, { userId: '7', roles: ['admin', 'ops'], expiresAt: exp });
    assert.ok(isAdmin(identity.roles));
  });

  it('refuses expired, wrongly signed, unsigned, subject-less and exp-less tokens', async () => {
    await refused(await sign({ sub: '1', exp: now() - 120 }));
    await refused(await sign({ sub: '1', exp: now() + 60 }, 'another-secret-0123456789abcdef'));
    await refused(unsigned({ sub: '1', exp: now() + 60 }));
    await refused(await sign({ exp: now() + 60 }));
    await refused(await sign({ sub: '1' }));
    await refused('not.a.jwt');
    await refused('');
  });

  it('refuses subjects that are not valid user ids', async () => {
    await refused(await sign({ sub: '#stats', exp: now() + 60 }));
    await refused(await sign({ sub: 'x'.repeat(129), exp: now() + 60 }));
  });

  it('enforces issuer and audience when configured', async () => {
    const token = await sign({ sub: '1', exp: now() + 60, iss: 'https://issuer', aud: 'chat' });
    assert.equal((await verifyToken(token, key, { issuer: 'https://issuer', audience: 'chat' })).userId, '1');
    await refused(token, { issuer: 'https://other' });
    await refused(token, { audience: 'other' });
  });

  it('refuses an RS256 token when the key is an HS256 secret (algorithm pinned)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    await exportJWK(publicKey);
    const token = await new SignJWT({ sub: '1', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey);
    await refused(token);
  });
});

describe('tokenFromConnectRequest', () => {
  it('reads the query string, Authorization, the legacy websocket header and the bearer subprotocol', () => {
    assert.equal(tokenFromConnectRequest({ queryStringParameters: { token: 'q' } }), 'q');
    assert.equal(tokenFromConnectRequest({ headers: { Authorization: 'Bearer h' } }), 'h');
    assert.equal(tokenFromConnectRequest({ headers: { websocket: 'legacy' } }), 'legacy');
    assert.equal(
      tokenFromConnectRequest({ headers: { 'Sec-WebSocket-Protocol': 'chat, bearer.abc' } }),
      'abc',
    );
    assert.equal(tokenFromConnectRequest({ headers: { Authorization: 'Basic x' } }), undefined);
    assert.equal(tokenFromConnectRequest({}), undefined);
  });

  it('lists offered subprotocols', () => {
    assert.deepEqual(offeredSubprotocols({ 'sec-websocket-protocol': 'chat , bearer.x' }), [
      'chat',
      'bearer.x',
    ]);
    assert.deepEqual(offeredSubprotocols(undefined), []);
  });
});
