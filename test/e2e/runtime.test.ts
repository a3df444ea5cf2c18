/**
 * The local runtime as clients and handlers observe it: the WebSocket gateway, the
 * Management API, the Lambda Invoke API, the HTTP API and DynamoDB on one port.
 * Run: npx tsx --test test/e2e/runtime.test.ts
 *
 * "with the real handlers" runs the handler modules; the other groups replace some
 * handlers with recording stand-ins, so they test the runtime and not the chat logic.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  DescribeTableCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvokeCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { jwtVerify } from 'jose';
import type { FunctionId } from '../../lib/function-specs.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { DEVELOPMENT_JWT_SECRET } from '../../local/dev-secret.ts';
import type { AuthorizerRequestEvent, HttpApiEvent, WebSocketEvent } from '../../local/events.ts';
import type { LambdaHandler } from '../../local/functions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  DEFAULT_WAIT_MS,
  dynamoDbClient,
  expectHandshakeRefused,
  lambdaClient,
  managementClient,
  startTestRuntime,
  TestClient,
  tokenFor,
  usesEmbeddedDynamoDb,
  webSocketUrl,
} from '../support/local-runtime.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONNECTION_ID = /^[A-Za-z0-9+/]{15}=$/;

/**
 * Stand-in handlers that record their events; `$connect` and its authorizer obey query
 * parameters (`status`, `throw`, `protocol`, `hold`; `auth`).
 */
class Recorder {
  readonly events: unknown[] = [];
  /** The `$connect` authorizer's events, apart: they share CONNECT contexts with `$connect`. */
  readonly authorizerEvents: AuthorizerRequestEvent[] = [];
  private waiters: { predicate: (event: unknown) => boolean; resolve: (event: unknown) => void }[] = [];
  private releaseHeld: () => void = () => {};
  private held = Promise.resolve();

  /** `$connect` of connections opened with `?hold=1` waits until `release()`. */
  holdConnects(): void {
    this.held = new Promise((resolve) => {
      this.releaseHeld = resolve;
    });
  }

  release(): void {
    this.releaseHeld();
  }

  record(event: unknown): void {
    this.events.push(event);
    const waiter = this.waiters.find((w) => w.predicate(event));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      waiter.resolve(event);
    }
  }

  waitFor<T>(predicate: (event: T) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const existing = this.events.find((e) => predicate(e as T));
    if (existing) return Promise.resolve(existing as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Timed out waiting for a handler event')), timeoutMs);
      this.waiters.push({
        predicate: (e) => predicate(e as T),
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e as T);
        },
      });
    });
  }

  /** The CONNECT event of the connection opened with `?client={tag}`. */
  connectEventOf(tag: string): Promise<WebSocketEvent> {
    return this.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'CONNECT' && e.queryStringParameters?.client === tag,
    );
  }

  handlers(): Partial<Record<FunctionId, LambdaHandler>> {
    const echo = (event: unknown) => {
      this.record(event);
      const { requestContext, body, isBase64Encoded } = event as WebSocketEvent;
      if (body === 'throw') throw new Error('stand-in failure');
      return {
        statusCode: 200,
        body: JSON.stringify({ route: requestContext.routeKey, body, isBase64Encoded }),
      };
    };
    const policy = (effect: 'Allow' | 'Deny', resource: string) => ({
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    });
    return {
      authorizer: async (event) => {
        const request = event as AuthorizerRequestEvent;
        this.authorizerEvents.push(request);
        const query = request.queryStringParameters ?? {};
        const tag = query.client ?? 'anonymous';
        switch (query.auth) {
          case 'unauthorized':
            throw new Error('Unauthorized');
          case 'fail':
            throw new Error('stand-in authorizer failure');
          case 'deny':
            return { principalId: tag, policyDocument: policy('Deny', request.methodArn) };
          case 'elsewhere':
            return { principalId: tag, policyDocument: policy('Allow', `${request.methodArn}-other`) };
          case 'array-context':
            return {
              principalId: tag,
              policyDocument: policy('Allow', request.methodArn),
              context: { roles: ['admin'] },
            };
          default:
            return {
              principalId: `principal-${tag}`,
              policyDocument: policy('Allow', request.methodArn),
              context: { userId: tag, count: 7, flag: true },
            };
        }
      },
      connect: async (event) => {
        this.record(event);
        const query = (event as WebSocketEvent).queryStringParameters ?? {};
        if (query.hold) await this.held;
        if (query.throw) throw new Error('stand-in $connect failure');
        if (query.status) return { statusCode: Number(query.status), body: 'refused' };
        return query.protocol
          ? { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': query.protocol } }
          : { statusCode: 200 };
      },
      disconnect: async (event) => {
        this.record(event);
        return { statusCode: 200 };
      },
      default: echo,
      ping: echo,
      welcome: async (event) => {
        this.record(event);
        return { welcomed: true };
      },
      httpApi: async (event) => {
        this.record(event);
        const { rawPath } = event as HttpApiEvent;
        if (rawPath === '/api/ws/online-count') return { count: 3 }; // the simplified result format
        return {
          statusCode: 201,
          headers: { 'Content-Type': 'application/json', 'X-Echo': 'yes' },
          body: JSON.stringify(event),
        };
      },
    };
  }
}

async function openTagged(
  runtime: LocalRuntime,
  recorder: Recorder,
  tag: string,
  query: Record<string, string> = {},
) {
  const url = new URL(webSocketUrl(runtime));
  url.searchParams.set('client', tag);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const client = await TestClient.open(url.toString());
  const { connectionId } = (await recorder.connectEventOf(tag)).requestContext;
  return { client, connectionId };
}

/**
 * Connects and waits for the welcome push, so no welcome invocation is still running
 * when the test ends the connection (it would keep polling for a connection that left).
 */
async function connectWelcomed(runtime: LocalRuntime, userId: string): Promise<TestClient> {
  const client = await TestClient.connectAs(runtime, userId);
  await client.waitForType('welcome');
  return client;
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPOSITORY_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('with the real handlers', () => {
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(() => runtime.stop());

  test('DynamoDB answers on the runtime port and every table exists', async () => {
    const dynamo = dynamoDbClient(runtime);
    const { TableNames = [] } = await dynamo.send(new ListTablesCommand({}));
    for (const table of Object.values(tableDefinitions)) {
      assert.ok(TableNames.includes(table.localName), `${table.localName} exists`);
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table.localName }));
      assert.equal(Table?.TableStatus, 'ACTIVE');
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort();
      assert.deepEqual(indexes, table.indexes.map((i) => i.indexName).sort());
    }
    dynamo.destroy();
  });

  test('a valid dev token in ?token= connects, on / and on /ws/chat, and the welcome push follows', async () => {
    for (const path of ['/', '/ws/chat']) {
      const client = await TestClient.connectAs(runtime, '1', { path });
      // Proves the async Invoke API and the Management API work for the handlers.
      const welcome = await client.waitForType('welcome');
      assert.equal(welcome.json?.data?.user_id, '1');
      assert.match(String(welcome.json?.data?.connection_id), CONNECTION_ID);
      await client.close();
    }
  });

  // Depends on the real $connect handler (a placeholder accepts everyone).
  test('a handshake without a token is refused with 401', async () => {
    assert.equal(await expectHandshakeRefused(webSocketUrl(runtime)), 401);
  });

  test('a message over 128 KB closes the connection with 1009', async () => {
    const client = await connectWelcomed(runtime, '2');
    client.send('x'.repeat(128 * 1024 + 1));
    const { code } = await client.waitForClose();
    assert.equal(code, 1009);
  });

  test('stopping the runtime closes open connections with 1001', async () => {
    const client = await connectWelcomed(runtime, '3');
    await runtime.stop();
    assert.equal((await client.waitForClose()).code, 1001);
  });
});

describe('connection time limits (real handlers)', () => {
  test('an idle connection is closed with 1001 after the idle timeout', async () => {
    const runtime = await startTestRuntime({ idleTimeoutSeconds: 1 });
    try {
      const client = await TestClient.connectAs(runtime, '1');
      const close = await client.waitForClose(DEFAULT_WAIT_MS);
      assert.deepEqual(close, { code: 1001, reason: 'Idle timeout' });
    } finally {
      await runtime.stop();
    }
  });

  test('a connection is closed with 1001 at the maximum duration', async () => {
    const runtime = await startTestRuntime({ idleTimeoutSeconds: 60, maxConnectionSeconds: 1 });
    try {
      const client = await TestClient.connectAs(runtime, '1');
      const close = await client.waitForClose(DEFAULT_WAIT_MS);
      assert.deepEqual(close, { code: 1001, reason: 'Maximum connection duration reached' });
    } finally {
      await runtime.stop();
    }
  });
});

describe('$disconnect after the gateway’s own closes (real handlers, recording $disconnect)', () => {
  test('an idle timeout reaches $disconnect as 1001 "Going away"', async () => {
    const disconnects: WebSocketEvent[] = [];
    const runtime = await startTestRuntime({
      idleTimeoutSeconds: 1,
      handlers: {
        disconnect: async (event) => {
          disconnects.push(event as WebSocketEvent);
          return { statusCode: 200 };
        },
      },
    });
    try {
      const client = await TestClient.connectAs(runtime, '1');
      assert.equal((await client.waitForClose(DEFAULT_WAIT_MS)).code, 1001);
      await runtime.stop();
      const event = disconnects.find((e) => e.requestContext.disconnectStatusCode === 1001);
      assert.equal(event?.requestContext.disconnectReason, 'Going away');
    } finally {
      await runtime.stop();
    }
  });
});

describe('gateway mechanics (stand-in handlers)', () => {
  const recorder = new Recorder();
  const logLines: string[] = [];
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime({ handlers: recorder.handlers(), log: (line) => logLines.push(line) });
  });
  after(() => runtime.stop());

  test('$connect receives an API Gateway CONNECT event', async () => {
    const { client } = await openTagged(runtime, recorder, 'shape', { a: '1' });
    const event = await recorder.connectEventOf('shape');
    const context = event.requestContext;
    assert.match(context.connectionId, CONNECTION_ID);
    assert.equal(context.routeKey, '$connect');
    assert.equal(context.eventType, 'CONNECT');
    assert.equal(context.stage, 'local');
    assert.equal(context.messageDirection, 'IN');
    assert.equal(context.domainName, `127.0.0.1:${runtime.port}`);
    assert.equal(context.identity.sourceIp, '127.0.0.1');
    assert.equal(typeof context.connectedAt, 'number');
    assert.equal(typeof context.requestTimeEpoch, 'number');
    assert.ok(context.requestId && context.extendedRequestId && context.apiId);
    assert.deepEqual(event.queryStringParameters, { client: 'shape', a: '1' });
    assert.deepEqual(event.multiValueQueryStringParameters, { client: ['shape'], a: ['1'] });
    const headerNames = Object.keys(event.headers ?? {}).map((name) => name.toLowerCase());
    assert.ok(headerNames.includes('host') && headerNames.includes('sec-websocket-key'));
    assert.equal(event.isBase64Encoded, false);
    await client.close();
  });

  test('a non-2xx $connect status refuses the handshake with that status; a throw with 500', async () => {
    const refusedWith = (query: string) => expectHandshakeRefused(`${webSocketUrl(runtime)}?${query}`);
    assert.equal(await refusedWith('status=401'), 401);
    assert.equal(await refusedWith('status=403'), 403);
    assert.equal(await refusedWith('throw=1'), 500);
  });

  test('the $connect authorizer gets a REQUEST event; its context reaches $connect, messages and $disconnect', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'authz', { a: '1' });
    const request = recorder.authorizerEvents.find((e) => e.queryStringParameters?.client === 'authz');
    assert.ok(request, 'the authorizer ran');
    assert.equal(request.type, 'REQUEST');
    assert.equal(
      request.methodArn,
      `arn:aws:execute-api:${runtime.handlerEnv.AWS_REGION}:000000000000:localchat1/local/$connect`,
    );
    assert.deepEqual(request.queryStringParameters, { client: 'authz', a: '1' });
    assert.ok(Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'sec-websocket-key'));
    assert.deepEqual(request.stageVariables, {});
    assert.equal(request.requestContext.connectionId, connectionId);
    assert.equal(request.requestContext.routeKey, '$connect');
    assert.equal(request.requestContext.authorizer, undefined);

    // Context values stringified, principalId and integrationLatency added, as API Gateway does.
    const connect = await recorder.connectEventOf('authz');
    const { integrationLatency, ...authorizer } = connect.requestContext.authorizer ?? {};
    assert.deepEqual(authorizer, {
      userId: 'authz',
      count: '7',
      flag: 'true',
      principalId: 'principal-authz',
    });
    assert.equal(typeof integrationLatency, 'number');

    client.send({ cmd: 'ping', request_id: 'authz-ping' });
    const message = await recorder.waitFor<WebSocketEvent>((e) => e.body?.includes('authz-ping') ?? false);
    assert.deepEqual(message.requestContext.authorizer, connect.requestContext.authorizer);
    await client.close();
    const disconnect = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.deepEqual(disconnect.requestContext.authorizer, connect.requestContext.authorizer);
  });

  test('authorizer refusals: Unauthorized 401, Deny or no matching Allow 403, failures 500; $connect never runs', async () => {
    const cases = [
      ['unauthorized', 401],
      ['deny', 403],
      ['elsewhere', 403],
      ['fail', 500],
      ['array-context', 500],
    ] as const;
    for (const [auth, status] of cases) {
      const tag = `refused-${auth}`;
      assert.equal(
        await expectHandshakeRefused(`${webSocketUrl(runtime)}?client=${tag}&auth=${auth}`),
        status,
        auth,
      );
      assert.ok(recorder.authorizerEvents.some((e) => e.queryStringParameters?.client === tag));
      assert.ok(
        !recorder.events.some((e) => (e as WebSocketEvent).queryStringParameters?.client === tag),
        `$connect ran for ${auth}`,
      );
    }
  });

  test('the handshake answers with the subprotocol $connect returned', async () => {
    const url = `${webSocketUrl(runtime)}?protocol=chat`;
    const client = await TestClient.open(url, { protocols: ['chat', 'bearer.not-a-real-token'] });
    assert.equal(client.socket.protocol, 'chat');
    await client.close();
  });

  test('frames are routed by cmd, everything else to $default, and the handler body comes back', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'routes');
    const answers = [
      [{ cmd: 'ping', request_id: 'r1' }, 'ping'],
      [{ cmd: 'no_such_command' }, '$default'],
      [{ cmd: '$connect' }, '$default'],
      ['not json', '$default'],
    ] as const;
    for (const [message, route] of answers) {
      const body = typeof message === 'string' ? message : JSON.stringify(message);
      client.send(message);
      const frame = await client.waitFor((f) => f.json?.body === body);
      assert.deepEqual(frame.json, { route, body, isBase64Encoded: false });
    }
    const event = await recorder.waitFor<WebSocketEvent>((e) => e.body === 'not json');
    assert.equal(event.requestContext.eventType, 'MESSAGE');
    assert.equal(event.requestContext.connectionId, connectionId);
    assert.ok(event.requestContext.messageId);

    client.socket.send(Buffer.from([0, 1, 2, 255]));
    const binary = await client.waitFor((f) => f.json?.isBase64Encoded === true);
    assert.deepEqual(binary.json, { route: '$default', body: 'AAEC/w==', isBase64Encoded: true });
    await client.close();
  });

  test('a 128 KB message (in 32 KB frames) is delivered; one byte more closes with 1009, reported to $disconnect', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'oversized');
    const largest = 'y'.repeat(128 * 1024);
    client.send(largest);
    await recorder.waitFor<WebSocketEvent>((e) => e.body === largest);

    client.send('x'.repeat(128 * 1024 + 1));
    assert.equal((await client.waitForClose()).code, 1009);
    const event = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.equal(event.requestContext.disconnectStatusCode, 1009);
  });

  test('a 32 KB frame is delivered; a single frame one byte larger closes with 1009 and is not routed', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'big-frame');
    const largestFrame = 'f'.repeat(32 * 1024);
    client.send(largestFrame, { singleFrame: true });
    await recorder.waitFor<WebSocketEvent>((e) => e.body === largestFrame);

    const tooLarge = 'g'.repeat(32 * 1024 + 1);
    client.send(tooLarge, { singleFrame: true });
    assert.deepEqual(await client.waitForClose(), { code: 1009, reason: 'Message too big' });
    const event = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.equal(event.requestContext.disconnectStatusCode, 1009);
    assert.ok(!recorder.events.some((e) => (e as WebSocketEvent).body === tooLarge), 'the frame was routed');
  });

  test('a failing route handler answers with API Gateway’s "Internal server error" frame', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'failing');
    client.send('throw');
    const frame = await client.waitFor((f) => f.json?.message === 'Internal server error');
    assert.equal(frame.json?.connectionId, connectionId);
    assert.equal(typeof frame.json?.requestId, 'string');
    await client.close();
  });

  test('Management API: POST sends a frame, GET describes, DELETE closes and runs $disconnect', async () => {
    const management = managementClient(runtime);
    const { client, connectionId } = await openTagged(runtime, recorder, 'managed');

    await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"hello":1}' }));
    assert.equal((await client.waitFor((f) => f.raw === '{"hello":1}')).binary, false);

    const described = await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    assert.ok(described.ConnectedAt instanceof Date && described.LastActiveAt instanceof Date);
    // The moment the $connect event named (requestContext.connectedAt, as on AWS), and not
    // after the last activity (the POST above).
    const connect = await recorder.connectEventOf('managed');
    assert.equal(described.ConnectedAt.getTime(), connect.requestContext.connectedAt);
    assert.ok(described.ConnectedAt <= described.LastActiveAt, `${described.LastActiveAt.toISOString()}`);
    assert.equal(described.Identity?.SourceIp, '127.0.0.1');

    await management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    assert.equal((await client.waitForClose()).code, 1000);
    const disconnect = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.equal(disconnect.requestContext.routeKey, '$disconnect');
    assert.equal(disconnect.requestContext.disconnectStatusCode, 1000);
    await assert.rejects(
      management.send(new GetConnectionCommand({ ConnectionId: connectionId })),
      GoneException,
    );
    management.destroy();
  });

  test('$disconnect reports the code of a client-initiated close', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'leaving');
    await client.close(4000, 'bye');
    const event = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.equal(event.requestContext.disconnectStatusCode, 4000);
    assert.equal(event.requestContext.disconnectReason, 'bye');
  });

  test('$disconnect of a close without a status code: 1005, API Gateway’s reason and headers', async () => {
    const { client, connectionId } = await openTagged(runtime, recorder, 'no-status');
    client.socket.close(); // a close frame without a status code
    await client.waitForClose();
    const event = await recorder.waitFor<WebSocketEvent>(
      (e) => e.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === connectionId,
    );
    assert.equal(event.requestContext.disconnectStatusCode, 1005);
    assert.equal(event.requestContext.disconnectReason, 'Client-side close frame status not set');
    const host = `127.0.0.1:${runtime.port}`;
    // What API Gateway sends (Developer Guide, "Input from the $disconnect route").
    assert.deepEqual(event.headers, { Host: host, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    assert.deepEqual(event.multiValueHeaders, {
      Host: [host],
      'x-api-key': [''],
      'X-Forwarded-For': [''],
      'x-restapi': [''],
    });
    assert.equal(event.body, undefined);
    assert.equal(event.isBase64Encoded, false);
  });

  test('Management API: a malformed connection id is 400 BadRequestException, not 410', async () => {
    const management = managementClient(runtime);
    for (const ConnectionId of ['not-an-id', 'doesNotExist+/=', 'sixteenCharsNoEq', 'x'.repeat(40)]) {
      for (const command of [
        new GetConnectionCommand({ ConnectionId }),
        new PostToConnectionCommand({ ConnectionId, Data: 'x' }),
        new DeleteConnectionCommand({ ConnectionId }),
      ]) {
        await assert.rejects(
          management.send(command as GetConnectionCommand),
          (error: { name?: string; $metadata?: { httpStatusCode?: number } }) =>
            error.name === 'BadRequestException' && error.$metadata?.httpStatusCode === 400,
          `${command.constructor.name} ${ConnectionId}`,
        );
      }
    }
    management.destroy();
  });

  test('Management API: unknown connections are 410 GoneException, with and without the stage', async () => {
    for (const endpoint of [runtime.callbackUrl, runtime.httpUrl]) {
      const management = managementClient(runtime, endpoint);
      const ConnectionId = 'doesNotExist+/A=';
      await assert.rejects(management.send(new GetConnectionCommand({ ConnectionId })), GoneException);
      await assert.rejects(
        management.send(new PostToConnectionCommand({ ConnectionId, Data: 'x' })),
        GoneException,
      );
      await assert.rejects(management.send(new DeleteConnectionCommand({ ConnectionId })), GoneException);
      management.destroy();

      // Unsigned, it never gets as far as the lookup (test/e2e/control-plane-auth.test.ts).
      const response = await fetch(`${endpoint}/@connections/${encodeURIComponent(ConnectionId)}`, {
        method: 'POST',
      });
      assert.equal(response.status, 403);
      assert.equal(response.headers.get('x-amzn-errortype'), 'ForbiddenException');
      assert.equal(typeof ((await response.json()) as { message?: unknown }).message, 'string');
    }
  });

  test('Management API: a connection is gone until its $connect has returned', async () => {
    const management = managementClient(runtime);
    recorder.holdConnects();
    const opening = TestClient.open(`${webSocketUrl(runtime)}?client=held&hold=1`);
    const { connectionId } = (await recorder.connectEventOf('held')).requestContext;
    await assert.rejects(
      management.send(new GetConnectionCommand({ ConnectionId: connectionId })),
      GoneException,
    );
    recorder.release();
    const client = await opening;
    await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    await client.close();
    management.destroy();
  });

  test('connection ids survive URL encoding (+, / and =) through the SDK', async () => {
    const management = managementClient(runtime);
    const ids: string[] = [];
    // About 38% of ids hold + or /; 24 connections make missing both very unlikely (≈1e-5).
    for (let i = 0; i < 24; i++) {
      const { client, connectionId } = await openTagged(runtime, recorder, `encoded-${i}`);
      ids.push(connectionId);
      await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
      await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'encoded' }));
      await client.waitFor((f) => f.raw === 'encoded');
      await client.close();
    }
    assert.ok(ids.every((id) => id.endsWith('=')));
    assert.ok(
      ids.some((id) => /[+/]/.test(id)),
      `some id holds + or /: ${ids.join(' ')}`,
    );
    management.destroy();
  });

  test('Management API: a post over 128 KB is refused with 413 PayloadTooLargeException', async () => {
    const management = managementClient(runtime);
    const { client, connectionId } = await openTagged(runtime, recorder, 'large-post');
    const Data = 'x'.repeat(128 * 1024 + 1);
    await assert.rejects(
      management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data })),
      PayloadTooLargeException,
    );
    await client.close();
    management.destroy();
  });

  test('Lambda Invoke API: Event is 202 and runs, RequestResponse returns the result, unknown is 404', async () => {
    const lambda = lambdaClient(runtime);
    const queued = await lambda.send(
      new InvokeCommand({
        FunctionName: 'chat-local-welcome',
        InvocationType: 'Event',
        Payload: JSON.stringify({ connectionId: 'queued-1' }),
      }),
    );
    assert.equal(queued.StatusCode, 202);
    await recorder.waitFor<{ connectionId?: string }>((e) => e.connectionId === 'queued-1');

    const arn = `arn:aws:lambda:${runtime.handlerEnv.AWS_REGION}:000000000000:function:chat-local-welcome`;
    const direct = await lambda.send(new InvokeCommand({ FunctionName: arn, Payload: '{}' }));
    assert.equal(direct.StatusCode, 200);
    assert.equal(direct.FunctionError, undefined);
    assert.deepEqual(JSON.parse(Buffer.from(direct.Payload ?? []).toString()), { welcomed: true });

    const failed = await lambda.send(
      new InvokeCommand({ FunctionName: 'chat-local-ping', Payload: '{"body":"throw"}' }),
    );
    assert.equal(failed.FunctionError, 'Unhandled');

    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: 'chat-local-nope', InvocationType: 'Event' })),
      ResourceNotFoundException,
    );
    lambda.destroy();
  });

  test('HTTP API: routes get payload 2.0 events and results are written back', async () => {
    const response = await fetch(`${runtime.httpUrl}/api/ws/send-message?x=1&x=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', Authorization: 'Bearer abc', cookie: 'a=1; b=2' },
      body: '{"to_user_id":"2"}',
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('x-echo'), 'yes');
    const event = (await response.json()) as HttpApiEvent;
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, 'POST /api/ws/send-message');
    assert.equal(event.rawPath, '/api/ws/send-message');
    assert.equal(event.rawQueryString, 'x=1&x=2');
    assert.deepEqual(event.queryStringParameters, { x: '1,2' });
    assert.deepEqual(event.cookies, ['a=1', 'b=2']);
    assert.equal(event.headers.authorization, 'Bearer abc');
    assert.equal(event.requestContext.http.method, 'POST');
    assert.equal(event.requestContext.stage, '$default');
    assert.equal(event.body, '{"to_user_id":"2"}');
    assert.equal(event.isBase64Encoded, false);

    const simplified = await fetch(`${runtime.httpUrl}/api/ws/online-count`);
    assert.equal(simplified.status, 200);
    assert.equal(simplified.headers.get('content-type'), 'application/json');
    assert.deepEqual(await simplified.json(), { count: 3 });
  });

  test('HTTP API: unknown /api paths are 404, preflights are answered, bodies over 10 MB are 413', async () => {
    for (const [method, path] of [
      ['GET', '/api/ws/nope'],
      ['GET', '/api/other'],
      ['GET', '/api/ws/send-message'],
    ]) {
      const response = await fetch(`${runtime.httpUrl}${path}`, { method });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.deepEqual(await response.json(), { message: 'Not Found' });
    }
    const preflight = await fetch(`${runtime.httpUrl}/api/ws/send-message`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);

    // HTTP API's limit is 10 MB; Lambda's 6 MB invocation limit applies to the whole event.
    const post = (bytes: number) =>
      fetch(`${runtime.httpUrl}/api/ws/send-message`, { method: 'POST', body: 'x'.repeat(bytes) });
    const twoMegabytes = await post(2 * 1024 * 1024);
    assert.equal(twoMegabytes.status, 201);
    assert.equal(((await twoMegabytes.json()) as HttpApiEvent).body?.length, 2 * 1024 * 1024);
    const overLambdaLimit = await post(7 * 1024 * 1024);
    assert.equal(overLambdaLimit.status, 500);
    assert.deepEqual(await overLambdaLimit.json(), { message: 'Internal Server Error' });
    const tooLarge = await post(10 * 1024 * 1024 + 1);
    assert.equal(tooLarge.status, 413);
    assert.deepEqual(await tooLarge.json(), { message: 'Request Entity Too Large' });
  });

  test('logs carry no tokens from the query string or headers', async () => {
    const secret = await tokenFor(runtime, 'log-check');
    const client = await TestClient.open(
      `${webSocketUrl(runtime, { token: secret })}&client=logs&protocol=chat`,
      {
        protocols: ['chat', `bearer.${secret}`],
        headers: { Authorization: `Bearer ${secret}`, websocket: secret },
      },
    );
    await recorder.connectEventOf('logs');
    await client.close();
    await fetch(`${runtime.httpUrl}/api/ws/messages?token=${secret}`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    const signature = secret.split('.')[2] ?? secret;
    assert.ok(logLines.length > 0);
    assert.ok(!logLines.some((line) => line.includes(signature)), 'no log line holds the token');
    assert.ok(logLines.some((line) => line.includes('token=[redacted]')));
  });
});

describe('process-level behavior', () => {
  test('DynamoDB data in a data directory survives a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'chat-runtime-'));
    const item = { roomId: { S: 'private_1_2' }, messageId: { S: '01J0000000000000000000000' } };
    try {
      const first = await startTestRuntime({ dataDir });
      try {
        // With DYNAMODB_ENDPOINT the data lives in that store, which outlives the runtime.
        const embedded = usesEmbeddedDynamoDb(
          first,
          'the runtime keeps its data in the data directory',
          'the external endpoint keeps it; the restart is still checked',
        );
        assert.equal(first.dataDir, embedded ? dataDir : undefined);
        const writer = dynamoDbClient(first);
        await writer.send(new PutItemCommand({ TableName: tableDefinitions.messages.localName, Item: item }));
        writer.destroy();
      } finally {
        await first.stop();
      }

      const second = await startTestRuntime({ dataDir });
      const reader = dynamoDbClient(second);
      const { Item } = await reader.send(
        new GetItemCommand({ TableName: tableDefinitions.messages.localName, Key: item }),
      );
      reader.destroy();
      await second.stop();
      assert.deepEqual(Item, item);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('only one runtime runs per process, and a later one must keep the handler configuration', async () => {
    const runtime = await startTestRuntime();
    try {
      await assert.rejects(startTestRuntime(), /already running/);
    } finally {
      await runtime.stop();
    }
    await assert.rejects(startTestRuntime({ env: { BROADCAST_ALLOW_ALL: 'true' } }), /BROADCAST_ALLOW_ALL/);
  });

  test('unknown paths are 404', async () => {
    const runtime = await startTestRuntime();
    try {
      const response = await fetch(`${runtime.httpUrl}/nothing-here`);
      assert.equal(response.status, 404);
    } finally {
      await runtime.stop();
    }
  });
});

describe('npm run token', () => {
  const scriptEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const { JWT_SECRET: _s, JWT_ISSUER: _i, JWT_AUDIENCE: _a, ...rest } = process.env;
    return { ...rest, ...extra };
  };

  test('prints a token signed with the development secret by default', async () => {
    const { code, stdout } = await runNode(
      ['scripts/token.ts', '42', '--role', 'admin', '--ttl', '60'],
      scriptEnv({}),
    );
    assert.equal(code, 0);
    const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
    const { payload, protectedHeader } = await jwtVerify(stdout.trim(), secret);
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.sub, '42');
    assert.equal(payload.role, 'admin');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 60);
  });

  test('uses JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE when set', async () => {
    const env = scriptEnv({
      JWT_SECRET: 'a-test-secret-of-enough-length-0123456789',
      JWT_ISSUER: 'iss',
      JWT_AUDIENCE: 'aud',
    });
    const { code, stdout } = await runNode(['scripts/token.ts', '7'], env);
    assert.equal(code, 0);
    const secret = new TextEncoder().encode('a-test-secret-of-enough-length-0123456789');
    const { payload } = await jwtVerify(stdout.trim(), secret, { issuer: 'iss', audience: 'aud' });
    assert.equal(payload.sub, '7');
    assert.equal(payload.role, undefined);
  });

  test('explains a missing user id', async () => {
    const { code, stdout, stderr } = await runNode(['scripts/token.ts'], scriptEnv({}));
    assert.notEqual(code, 0);
    assert.equal(stdout, '');
    assert.match(stderr, /Missing the user id/);
  });
});
