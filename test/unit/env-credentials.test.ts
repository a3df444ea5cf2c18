/**
 * The credential provider the Lambda bundles use instead of the SDK's default chain
 * (functions/runtime/env-credentials.ts, BUNDLE_ALIASES in lib/constructs/chat-function.ts).
 * Run: npx tsx --test test/unit/env-credentials.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialsFromEnvironment, defaultProvider } from '../../functions/runtime/env-credentials.ts';
import { BUNDLE_ALIASES } from '../../lib/constructs/chat-function.ts';

describe('credentials from the environment', () => {
  it('reads what Lambda sets: the key pair and the session token', () => {
    assert.deepEqual(
      credentialsFromEnvironment({
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'token',
      }),
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' },
    );
  });

  it('takes the other standard variables when set', () => {
    const credentials = credentialsFromEnvironment({
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_CREDENTIAL_EXPIRATION: '2030-01-01T00:00:00Z',
      AWS_CREDENTIAL_SCOPE: 'us-east-1',
      AWS_ACCOUNT_ID: '123456789012',
    });
    assert.equal(credentials.expiration?.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(credentials.credentialScope, 'us-east-1');
    assert.equal(credentials.accountId, '123456789012');
    assert.equal(credentials.sessionToken, undefined);
  });

  it('fails naming the variables when the key pair is missing', () => {
    assert.throws(
      () => credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }),
      /AWS_SECRET_ACCESS_KEY/,
    );
    assert.throws(() => credentialsFromEnvironment({}), /AWS_ACCESS_KEY_ID/);
  });

  it('is what the SDK gets as its default provider, reading process.env on each call', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'first', AWS_SECRET_ACCESS_KEY: 's' });
      const provider = defaultProvider({});
      assert.equal((await provider()).accessKeyId, 'first');
      process.env.AWS_ACCESS_KEY_ID = 'second';
      assert.equal((await provider()).accessKeyId, 'second');
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });

  it('replaces the default chain in every bundle', () => {
    assert.equal(
      BUNDLE_ALIASES['@aws-sdk/credential-provider-node'],
      './functions/runtime/env-credentials.ts',
    );
  });
});
