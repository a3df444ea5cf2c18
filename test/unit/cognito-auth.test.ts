/**
 * Cognito sign-in: tokens shaped like a user pool's, signed with keys served by a local
 * JWKS, verified with the settings `loadConfig` derives from the COGNITO_* variables.
 * Run: npx tsx --test test/unit/cognito-auth.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import { AuthError } from '../../functions/core/auth/auth.ts';
import {
  type CognitoKeys,
  type CognitoSettings,
  cognitoKeys,
  verifyCognitoToken,
} from '../../functions/core/auth/cognito.ts';
import { ConfigError, loadConfig } from '../../functions/runtime/config.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import {
  type CognitoTokenOptions,
  cognitoAccessToken,
  cognitoAccessTokenClaims,
  cognitoEnvironment,
  cognitoIdToken,
  type LocalJwks,
  OTHER_CLIENT_ID,
  rsaSigningKey,
  signCognitoToken,
  startLocalJwks,
  TEST_CLIENT_ID,
  TEST_ISSUER,
  TEST_UPDATED_ISSUER,
  TEST_USER_POOL_ID,
} from '../support/cognito.ts';

function tableEnv(): Record<string, string> {
  return Object.fromEntries(Object.values(tableDefinitions).map((table) => [table.envVar, 't']));
}

let jwks: LocalJwks;
let keys: CognitoKeys;

before(async () => {
  jwks = await startLocalJwks();
  keys = cognitoKeys(settings());
});
after(() => jwks.close());

/** The settings the handlers would run with, given these variables on top of the test pool's. */
function settings(extra: Record<string, string> = {}): CognitoSettings {
  const source = loadConfig({ ...tableEnv(), ...cognitoEnvironment(jwks, extra) }).jwt.key;
  assert.equal(source?.kind, 'cognito');
  return source.cognito;
}

const signingKey = () => jwks.keys[0] as (typeof jwks.keys)[number];
const access = (options: CognitoTokenOptions = {}) => cognitoAccessToken(signingKey(), options);
const id = (options: CognitoTokenOptions = {}) => cognitoIdToken(signingKey(), options);

async function refused(token: string, config: CognitoSettings, reason: RegExp): Promise<void> {
  await assert.rejects(verifyCognitoToken(token, keys, config), (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.match(error.message, reason);
    return true;
  });
}

describe('tokens the pool issued to a configured app client', () => {
  it('accepts an access token (the default), the user being its sub', async () => {
    const token = await access({ sub: 'b1c2d3e4-0000-4000-8000-000000000001', groups: ['editors'] });
    const identity = await verifyCognitoToken(token, keys, settings());
    assert.equal(identity.userId, 'b1c2d3e4-0000-4000-8000-000000000001');
    assert.deepEqual(identity.roles, [], 'a group other than the admin group is no role');
  });

  it('accepts an ID token when COGNITO_TOKEN_USE is id or any', async () => {
    const token = await id({ sub: 'id-user' });
    for (const tokenUse of ['id', 'any']) {
      const identity = await verifyCognitoToken(token, keys, settings({ COGNITO_TOKEN_USE: tokenUse }));
      assert.equal(identity.userId, 'id-user', tokenUse);
      assert.deepEqual(identity.roles, []);
    }
    const accessToken = await access({ sub: 'access-user' });
    const viaAny = await verifyCognitoToken(accessToken, keys, settings({ COGNITO_TOKEN_USE: 'any' }));
    assert.equal(viaAny.userId, 'access-user');
  });

  it("accepts the pool's updated issuer form (issuer-cognito-idp.<region>) as well", async () => {
    const token = await access({ sub: 'updated-issuer', issuer: TEST_UPDATED_ISSUER });
    assert.equal((await verifyCognitoToken(token, keys, settings())).userId, 'updated-issuer');
  });

  it('accepts any of several configured app clients', async () => {
    const config = settings({ COGNITO_CLIENT_IDS: `${TEST_CLIENT_ID}, ${OTHER_CLIENT_ID}` });
    const token = await access({ sub: 'second-client-user', clientId: OTHER_CLIENT_ID });
    assert.equal((await verifyCognitoToken(token, keys, config)).userId, 'second-client-user');
  });

  it('accepts a token signed with the second key of the JWKS (chosen by kid)', async () => {
    const token = await cognitoAccessToken(jwks.keys[1] as (typeof jwks.keys)[number], { sub: 'rotated' });
    assert.equal((await verifyCognitoToken(token, keys, settings())).userId, 'rotated');
  });
});

describe('cognito:groups as roles', () => {
  it('maps the admin group (default "admin") to the admin role, and carries no other group', async () => {
    const identity = await verifyCognitoToken(
      await access({ groups: ['admin', 'support'] }),
      keys,
      settings(),
    );
    assert.deepEqual(identity.roles, ['admin']);
  });

  it('maps a configured admin group, and a group merely named "admin" grants nothing then', async () => {
    const config = settings({ COGNITO_ADMIN_GROUP: 'ChatAdmins' });
    const admin = await verifyCognitoToken(await id({ groups: ['ChatAdmins'] }), keys, {
      ...config,
      tokenUse: 'any',
    });
    assert.deepEqual(admin.roles, ['admin']);
    const impostor = await verifyCognitoToken(await access({ groups: ['admin', 'readers'] }), keys, config);
    assert.deepEqual(impostor.roles, []);
  });

  it('ignores role/roles claims: only the pool decides who is an admin', async () => {
    const token = await access({ claims: { role: 'admin', roles: ['admin'] } });
    assert.deepEqual((await verifyCognitoToken(token, keys, settings())).roles, []);
  });

  it('refuses groups that are not a list of names', async () => {
    await refused(await access({ claims: { 'cognito:groups': 'admin' } }), settings(), /cognito:groups/);
  });
});

describe('tokens that are refused', () => {
  it("another pool's issuer (same keys, another pool id or region), or none", async () => {
    for (const issuer of [
      'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AnOtHeRpO',
      'https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AnOtHeRpO',
      'https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_TeStPoOl1',
      `${TEST_ISSUER}/`,
      'http://cognito-idp.us-east-1.amazonaws.com/us-east-1_TeStPoOl1',
    ]) {
      await refused(await access({ issuer }), settings(), /iss/);
    }
    await refused(await access({ claims: { iss: undefined } }), settings(), /iss/);
  });

  it('another app client: an access token by client_id, an ID token by aud', async () => {
    await refused(await access({ clientId: OTHER_CLIENT_ID }), settings(), /client_id is not an accepted/);
    await refused(
      await id({ clientId: OTHER_CLIENT_ID }),
      settings({ COGNITO_TOKEN_USE: 'id' }),
      /aud is not an accepted/,
    );
  });

  it('the wrong token_use: ID tokens by default, access tokens when only ID tokens are accepted', async () => {
    await refused(await id(), settings(), /id tokens are not accepted/);
    await refused(await access(), settings({ COGNITO_TOKEN_USE: 'id' }), /access tokens are not accepted/);
    for (const tokenUse of ['refresh', 'Access', 7]) {
      await refused(
        await access({ claims: { token_use: tokenUse } }),
        settings({ COGNITO_TOKEN_USE: 'any' }),
        /token_use/,
      );
    }
    await refused(await access({ claims: { token_use: undefined } }), settings(), /token_use/);
  });

  it('an access token without client_id, even with aud set to the client id', async () => {
    await refused(await access({ claims: { client_id: undefined } }), settings(), /has no client_id/);
    const audInstead = await access({ claims: { client_id: undefined, aud: TEST_CLIENT_ID } });
    await refused(audInstead, settings(), /has no client_id/);
  });

  it('an ID token whose aud is not the client id as a string', async () => {
    await refused(
      await id({ claims: { aud: [TEST_CLIENT_ID] } }),
      settings({ COGNITO_TOKEN_USE: 'id' }),
      /has no aud/,
    );
  });

  it('an expired token (beyond the 30 s clock tolerance)', async () => {
    await refused(await access({ expiresIn: -120 }), settings(), /exp/);
  });

  it('a token signed by a key the JWKS does not list, or naming no kid', async () => {
    const stranger = await rsaSigningKey('not-in-the-pool');
    await refused(await cognitoAccessToken(stranger), settings(), /no applicable key|matching/i);
    const forgedKid = await cognitoAccessToken(stranger, { header: { kid: signingKey().kid } });
    await refused(forgedKid, settings(), /signature/);
    await refused(await access({ header: { kid: undefined } }), settings(), /no kid/);
  });

  it('an HS256 token signed with the public key as the secret (algorithm confusion)', async () => {
    const key = signingKey();
    const publicJwk = JSON.stringify(
      await exportJWK(key.privateKey).then(({ kty, n, e }) => ({ kty, n, e })),
    );
    for (const secret of [publicJwk, JSON.stringify(key.jwk)]) {
      const token = await new SignJWT(cognitoAccessTokenClaims())
        .setProtectedHeader({ kid: key.kid, alg: 'HS256' })
        .sign(new TextEncoder().encode(secret));
      await refused(token, settings(), /alg/);
    }
  });

  it('a sub that is not a well-formed user id', async () => {
    await refused(await access({ sub: 'sg\ud800' }), settings(), /subject/);
    const token = await signCognitoToken(
      cognitoAccessTokenClaims({ claims: { sub: undefined } }),
      signingKey(),
    );
    await refused(token, settings(), /sub/);
  });
});

describe('COGNITO_* configuration', () => {
  const load = (env: Record<string, string>) => () => loadConfig({ ...tableEnv(), ...env });
  const pool = { COGNITO_USER_POOL_ID: TEST_USER_POOL_ID, COGNITO_CLIENT_IDS: TEST_CLIENT_ID };

  it("derives the pool's issuer and JWKS URL from the pool id, and defaults to access tokens and group admin", () => {
    const source = loadConfig({ ...tableEnv(), ...pool }).jwt.key;
    assert.deepEqual(source, {
      kind: 'cognito',
      cognito: {
        userPoolId: TEST_USER_POOL_ID,
        issuers: [
          { iss: TEST_ISSUER, jwksUrl: `${TEST_ISSUER}/.well-known/jwks.json` },
          { iss: TEST_UPDATED_ISSUER, jwksUrl: `${TEST_UPDATED_ISSUER}/.well-known/jwks.json` },
        ],
        clientIds: [TEST_CLIENT_ID],
        tokenUse: 'access',
        adminGroup: 'admin',
      },
    });
    const china = loadConfig({ ...tableEnv(), ...pool, COGNITO_USER_POOL_ID: 'cn-north-1_AbC123' }).jwt.key;
    assert.equal(
      china?.kind === 'cognito' ? china.cognito.issuers[0]?.iss : undefined,
      'https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC123',
    );
  });

  it('refuses what cannot be a pool or client id, saying what it received', () => {
    assert.throws(
      load({ ...pool, COGNITO_USER_POOL_ID: 'AbC123' }),
      /COGNITO_USER_POOL_ID .*received "AbC123"/,
    );
    assert.throws(load({ COGNITO_USER_POOL_ID: TEST_USER_POOL_ID }), /COGNITO_CLIENT_IDS .*received nothing/);
    assert.throws(load({ ...pool, COGNITO_CLIENT_IDS: ' , ' }), /COGNITO_CLIENT_IDS .*received ","/);
    assert.throws(load({ ...pool, COGNITO_CLIENT_IDS: 'ok1,bad id' }), /holds "bad id"/);
    assert.throws(
      load({ ...pool, COGNITO_TOKEN_USE: 'refresh' }),
      /COGNITO_TOKEN_USE must be one of access, id, any; received "refresh"/,
    );
  });

  it('refuses a second key source, JWT_ISSUER/JWT_AUDIENCE, and COGNITO_* without a pool', () => {
    assert.throws(load({ ...pool, JWT_SECRET: 's' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /Set only one of .*received 2 \(JWT_SECRET, COGNITO_USER_POOL_ID\)/);
      return true;
    });
    assert.throws(
      load({ ...pool, JWT_AUDIENCE: 'chat' }),
      /JWT_AUDIENCE cannot be combined with COGNITO_USER_POOL_ID/,
    );
    assert.throws(
      load({ COGNITO_CLIENT_IDS: TEST_CLIENT_ID }),
      /COGNITO_CLIENT_IDS set without COGNITO_USER_POOL_ID/,
    );
  });

  it('takes COGNITO_JWKS_URL only on this machine', () => {
    const local = loadConfig({ ...tableEnv(), ...pool, COGNITO_JWKS_URL: 'http://localhost:9229/jwks.json' })
      .jwt.key;
    assert.deepEqual(
      local?.kind === 'cognito' ? local.cognito.issuers.map(({ jwksUrl }) => jwksUrl) : undefined,
      ['http://localhost:9229/jwks.json', 'http://localhost:9229/jwks.json'],
    );
    for (const url of [
      'https://keys.example.com/jwks.json',
      'http://127.0.0.1.example.com/jwks',
      'file:///jwks',
      'nope',
    ]) {
      assert.throws(
        load({ ...pool, COGNITO_JWKS_URL: url }),
        /COGNITO_JWKS_URL is for a JWKS on this machine/,
        url,
      );
    }
  });
});
