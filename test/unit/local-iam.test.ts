/**
 * The local control plane's checks (local/iam) on their own: which permissions a request
 * needs, whether a function's grants allow them, SigV4 verification, and the banner's
 * warning when `--host` leaves loopback. The end-to-end attacks are in
 * test/e2e/control-plane-auth.test.ts.
 * Run: npx tsx --test test/unit/local-iam.test.ts
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { containerKey } from '../../functions/runtime/container-key.ts';
import { credentialsFromEnvironment } from '../../functions/runtime/env-credentials.ts';
import { functionSpecs } from '../../lib/function-specs.ts';
import { exposureWarning, isLoopbackHost } from '../../local/banner.ts';
import { LocalCredentials, localCredentials } from '../../local/iam/credentials.ts';
import { functionEnvironment, runWithEnvironment } from '../../local/iam/function-scope.ts';
import {
  dynamoDbPermissions,
  firstDenied,
  invokePermission,
  manageConnectionsPermission,
} from '../../local/iam/policy.ts';
import { verifySignature } from '../../local/iam/sigv4.ts';

const sendMessage = { kind: 'function', functionId: 'sendMessage' } as const;
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('grants (lib/function-specs.ts) decide', () => {
  test('a BatchWriteItem needs the action on every table it touches', () => {
    // A new message with its conversation-list rows: both tables granted.
    const one = dynamoDbPermissions(
      'local',
      'BatchWriteItem',
      body({ RequestItems: { 'chat-messages': [], 'chat-conversations': [] } }),
    );
    assert.equal(firstDenied(sendMessage, one, functionSpecs), undefined);
    const two = dynamoDbPermissions(
      'local',
      'BatchWriteItem',
      body({ RequestItems: { 'chat-messages': [], 'chat-groups': [] } }),
    );
    assert.equal(
      firstDenied(sendMessage, two, functionSpecs)?.resource,
      'arn:aws:dynamodb:local:000000000000:table/chat-groups',
    );
  });

  test('a Query on an index needs that index granted', () => {
    const sync = { kind: 'function', functionId: 'sync' } as const;
    const byInbox = dynamoDbPermissions(
      'local',
      'Query',
      body({ TableName: 'chat-messages', IndexName: 'byInbox' }),
    );
    assert.equal(firstDenied(sync, byInbox, functionSpecs), undefined);
    const history = { kind: 'function', functionId: 'history' } as const;
    assert.equal(
      firstDenied(history, byInbox, functionSpecs)?.resource,
      'arn:aws:dynamodb:local:000000000000:table/chat-messages/index/byInbox',
    );
  });

  test('Scan, unknown tables and unreadable bodies are for the admin only', () => {
    for (const permissions of [
      dynamoDbPermissions('local', 'Scan', body({ TableName: 'chat-messages' })),
      dynamoDbPermissions('local', 'PutItem', body({ TableName: 'elsewhere' })),
      dynamoDbPermissions('local', 'PutItem', Buffer.from('not json')),
      dynamoDbPermissions('local', 'ListTables', body({})),
    ]) {
      assert.ok(firstDenied(sendMessage, permissions, functionSpecs));
      assert.equal(firstDenied({ kind: 'admin' }, permissions, functionSpecs), undefined);
    }
  });

  test('@connections methods and Invoke targets as listed', () => {
    const post = [manageConnectionsPermission('local', 'local', 'POST', 'abc=')];
    const get = [manageConnectionsPermission('local', 'local', 'GET', 'abc=')];
    assert.equal(firstDenied(sendMessage, post, functionSpecs), undefined);
    assert.equal(firstDenied(sendMessage, get, functionSpecs)?.action, 'execute-api:ManageConnections');
    const connect = { kind: 'function', functionId: 'connect' } as const;
    assert.equal(
      firstDenied(connect, [invokePermission('local', 'chat-local-welcome')], functionSpecs),
      undefined,
    );
    assert.ok(firstDenied(sendMessage, [invokePermission('local', 'chat-local-welcome')], functionSpecs));
  });
});

class Sha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

/** A request signed as the SDK signs it, seen as the runtime's server receives it. */
async function signedRequest(secretAccessKey: string, payload: string, signingDate: Date) {
  const admin = localCredentials().admin;
  const signer = new SignatureV4({
    credentials: { accessKeyId: admin.accessKeyId, secretAccessKey },
    region: 'local',
    service: 'dynamodb',
    sha256: Sha256 as never,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: '/',
      headers: {
        host: '127.0.0.1:8009',
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.Scan',
      },
      body: payload,
    },
    { signingDate },
  );
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'POST', url: '/', headers } as unknown as IncomingMessage;
}

describe('SigV4 verification', () => {
  const credentials = localCredentials();
  const secret = credentials.admin.secretAccessKey;
  const payload = '{"TableName":"chat-messages"}';

  test('accepts a request signed with an issued key, naming its principal', async () => {
    const check = await verifySignature(
      await signedRequest(secret, payload, new Date()),
      Buffer.from(payload),
      'dynamodb',
      credentials,
    );
    assert.equal(check.ok && check.credential.principal.kind, 'admin');
  });

  test('refuses another body, another secret, another service, and a date more than 5 minutes off', async () => {
    const now = Date.now();
    const cases = [
      [await signedRequest(secret, payload, new Date(now)), '{"TableName":"chat-groups"}', 'dynamodb'],
      [await signedRequest('not-the-secret', payload, new Date(now)), payload, 'dynamodb'],
      [await signedRequest(secret, payload, new Date(now)), payload, 'lambda'],
      [await signedRequest(secret, payload, new Date(now - 6 * 60 * 1000)), payload, 'dynamodb'],
    ] as const;
    for (const [req, received, service] of cases) {
      const check = await verifySignature(req, Buffer.from(received), service, credentials, now);
      assert.equal(check.ok ? 'ok' : check.failure, 'InvalidSignature');
    }
  });

  test('accepts what the SDK signer signs for every request shape the control plane sees, and nothing altered', async () => {
    const fn = credentials.forFunction('sendMessage');
    const shapes: {
      method: string;
      path: string;
      query?: Record<string, string | string[]>;
      headers: Record<string, string>;
      body: string;
    }[] = [
      { method: 'POST', path: '/', headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, body: payload },
      // The Management API: the SDK escapes the connection id, the signer escapes the path again.
      { method: 'POST', path: '/local/%40connections/AbC%3D', headers: {}, body: 'frame' },
      { method: 'DELETE', path: '/local/%40connections/AbC%3D', headers: {}, body: '' },
      // The Invoke API with a qualifier; repeated and escaped query parameters; a dot segment.
      {
        method: 'POST',
        path: '/2015-03-31/functions/chat-local-welcome/invocations',
        query: { Qualifier: '$LATEST' },
        headers: {},
        body: '{}',
      },
      {
        method: 'GET',
        path: '/a/./b/../c/',
        query: { z: ['2', '1'], 'a b': "it's (x)*" },
        headers: {},
        body: '',
      },
      // Folded whitespace in a header value, a declared payload hash.
      {
        method: 'POST',
        path: '/',
        headers: {
          'x-amz-target': '  DynamoDB_20120810.Query   x ',
          'x-amz-content-sha256': createHash('sha256').update(payload).digest('hex'),
        },
        body: payload,
      },
    ];
    for (const shape of shapes) {
      const signer = new SignatureV4({
        credentials: fn,
        region: 'us-east-1',
        service: 'dynamodb',
        sha256: Sha256 as never,
      });
      const signed = await signer.sign(
        {
          method: shape.method,
          protocol: 'http:',
          hostname: '127.0.0.1',
          path: shape.path,
          query: shape.query ?? {},
          headers: { host: '127.0.0.1:8009', 'content-type': 'application/json', ...shape.headers },
          body: shape.body,
        },
        { signingDate: new Date() },
      );
      const headers = Object.fromEntries(
        Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(shape.query ?? {}))
        for (const one of [value].flat()) search.append(name, one);
      const url = `${shape.path}${search.size ? `?${search.toString().replaceAll('+', '%20')}` : ''}`;
      const verify = (changes: { url?: string; method?: string; body?: string; headers?: object }) =>
        verifySignature(
          {
            method: changes.method ?? shape.method,
            url: changes.url ?? url,
            headers: { ...headers, ...changes.headers },
          } as unknown as IncomingMessage,
          Buffer.from(changes.body ?? shape.body),
          'dynamodb',
          credentials,
        );
      const outcome = async (changes: Parameters<typeof verify>[0]) => {
        const check = await verify(changes);
        return check.ok ? 'ok' : check.failure;
      };
      assert.equal(await outcome({}), 'ok', `${shape.method} ${url}`);
      assert.equal(await outcome({ method: 'PUT' }), 'InvalidSignature', `method of ${url}`);
      assert.equal(
        await outcome({ url: `${url}${url.includes('?') ? '&' : '?'}extra=1` }),
        'InvalidSignature',
      );
      assert.equal(await outcome({ url: url.replace(/\/[^/?]*(\?|$)/, '/other$1') }), 'InvalidSignature');
      assert.equal(await outcome({ headers: { host: 'evil:8009' } }), 'InvalidSignature');
      assert.equal(await outcome({ body: `${shape.body} ` }), 'InvalidSignature');
    }
  });

  test('the cached signing key refuses what it refused: another secret, a reissued key, another service', async () => {
    const fn = credentials.forFunction('sendMessage');
    const now = new Date();
    const signedWith = async (secretAccessKey: string, service = 'dynamodb') => {
      const signer = new SignatureV4({
        credentials: { accessKeyId: fn.accessKeyId, secretAccessKey },
        region: 'us-east-1',
        service,
        sha256: Sha256 as never,
      });
      const signed = await signer.sign(
        {
          method: 'POST',
          protocol: 'http:',
          hostname: '127.0.0.1',
          path: '/',
          headers: { host: 'h' },
          body: payload,
        },
        { signingDate: now },
      );
      return { method: 'POST', url: '/', headers: signed.headers } as unknown as IncomingMessage;
    };
    const outcome = async (req: IncomingMessage, issuer = credentials, service = 'dynamodb') => {
      const check = await verifySignature(req, Buffer.from(payload), service, issuer);
      return check.ok ? check.credential.accessKeyId : check.failure;
    };
    // Accepted once (its derived key is now cached), then the same key id with other secrets.
    assert.equal(await outcome(await signedWith(fn.secretAccessKey)), fn.accessKeyId);
    assert.equal(await outcome(await signedWith(fn.secretAccessKey)), fn.accessKeyId);
    assert.equal(
      await outcome(await signedWith(credentials.forFunction('connect').secretAccessKey)),
      'InvalidSignature',
    );
    assert.equal(await outcome(await signedWith('x'.repeat(40))), 'InvalidSignature');
    // The same key id reissued with a new secret (another runtime's credentials): the old signature fails.
    assert.equal(
      await outcome(await signedWith(fn.secretAccessKey), new LocalCredentials()),
      'InvalidSignature',
    );
    // Signed for one service, presented to another.
    assert.equal(
      await outcome(await signedWith(fn.secretAccessKey, 'lambda'), credentials, 'lambda'),
      fn.accessKeyId,
    );
    assert.equal(await outcome(await signedWith(fn.secretAccessKey, 'lambda')), 'InvalidSignature');
  });

  test('refuses an x-amz-date that names no real instant', async () => {
    const req = await signedRequest(secret, payload, new Date());
    const headers = req.headers as Record<string, string>;
    const day = (headers['x-amz-date'] as string).slice(0, 8);
    headers['x-amz-date'] = `${day}T246000Z`;
    const check = await verifySignature(req, Buffer.from(payload), 'dynamodb', credentials);
    assert.equal(check.ok ? 'ok' : check.failure, 'IncompleteSignature');
  });

  test('refuses a request without a signature', async () => {
    const req = { method: 'POST', url: '/', headers: { host: 'x' } } as unknown as IncomingMessage;
    const check = await verifySignature(req, Buffer.alloc(0), 'dynamodb', credentials);
    assert.equal(check.ok ? 'ok' : check.failure, 'MissingAuthenticationToken');
  });
});

describe('each invocation sees its own function in process.env', () => {
  test('credentials (as the bundles read them) and the container key follow the invocation, also when interleaved', async () => {
    const keysOf = (id: 'sendMessage' | 'welcome') => localCredentials().forFunction(id);
    const seen = async (name: string, id: 'sendMessage' | 'welcome') =>
      runWithEnvironment(functionEnvironment(name, keysOf(id)), async () => {
        const before = credentialsFromEnvironment(process.env).accessKeyId;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { before, after: credentialsFromEnvironment(process.env).accessKeyId, key: containerKey() };
      });
    const [a, b] = await Promise.all([
      seen('chat-local-sendMessage', 'sendMessage'),
      seen('chat-local-welcome', 'welcome'),
    ]);
    assert.deepEqual(a, {
      before: 'LOCALSENDMESSAGE',
      after: 'LOCALSENDMESSAGE',
      key: 'chat-local-sendMessage',
    });
    assert.deepEqual(b, { before: 'LOCALWELCOME', after: 'LOCALWELCOME', key: 'chat-local-welcome' });
    assert.notEqual(
      process.env.AWS_ACCESS_KEY_ID,
      'LOCALSENDMESSAGE',
      'outside an invocation: the real environment',
    );
    assert.equal(containerKey(), process.env.AWS_LAMBDA_FUNCTION_NAME ?? '');
  });
});

describe('the banner', () => {
  test('warns when --host leaves loopback', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]']) {
      assert.ok(isLoopbackHost(host), host);
      assert.deepEqual(exposureWarning(host), []);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.20']) {
      assert.match(exposureWarning(host).join('\n'), /exposes this runtime beyond loopback/, host);
    }
  });
});
