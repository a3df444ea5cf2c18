/**
 * The local control plane (DynamoDB, the Management API, the Lambda Invoke API on the
 * runtime's port) as strict as AWS's: each attack of issue 11 is refused, the normal
 * path still works, and a grant removed from a copy of lib/function-specs.ts breaks the
 * path that needs it with AccessDenied (docs/security.md, "Local control plane").
 * Run: npx tsx --test test/e2e/control-plane-auth.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiGatewayManagementApiClient,
  ForbiddenException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ErrorCode } from '../../functions/core/shared/errors.ts';
import { type FunctionSpec, functionSpecs } from '../../lib/function-specs.ts';
import { localFunctionName } from '../../local/functions.ts';
import { localCredentials } from '../../local/iam/credentials.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import {
  dynamoDbClient,
  lambdaClient,
  managementClient,
  startTestRuntime,
  usesEmbeddedDynamoDb,
} from '../support/local-runtime.ts';

const DUMMY = { accessKeyId: 'local', secretAccessKey: 'local' };
const MESSAGES_TABLE = 'chat-messages';
const GROUPS_TABLE = 'chat-groups';

/** The event API Gateway would send for alice's `send_message`, written by an attacker. */
function forgedSendMessageEvent(content: string) {
  return {
    requestContext: {
      routeKey: 'send_message',
      eventType: 'MESSAGE',
      messageDirection: 'IN',
      stage: 'local',
      connectionId: 'Zm9yZ2VkAAA=',
      connectedAt: Date.now(),
      requestTimeEpoch: Date.now(),
      requestId: 'forged',
      domainName: '127.0.0.1',
      apiId: 'localchat1',
      authorizer: {
        userId: 'alice',
        roles: '[]',
        tokenExpiresAt: String(Math.floor(Date.now() / 1000) + 3600),
      },
    },
    body: JSON.stringify({ cmd: 'send_message', data: { to_user_id: 'bob', content } }),
    isBase64Encoded: false,
  };
}

function invokeUrl(runtime: LocalRuntime, functionId: 'sendMessage' | 'welcome') {
  return `${runtime.httpUrl}/2015-03-31/functions/${localFunctionName(functionId)}/invocations`;
}

function dynamoFetch(
  runtime: LocalRuntime,
  operation: string,
  input: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(runtime.httpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      ...headers,
    },
    body: JSON.stringify(input),
  });
}

async function errorTypeOf(response: Response): Promise<string> {
  const body = (await response.json()) as { __type?: string };
  return response.headers.get('x-amzn-errortype') ?? body.__type ?? '';
}

type Next = (args: { request: unknown }) => Promise<unknown>;

/** A client whose requests also carry `Origin`, as a browser's would (signed all the same). */
function withOrigin<T extends { middlewareStack: unknown }>(client: T): T {
  const stack = client.middlewareStack as { add(middleware: (next: Next) => Next, options: object): void };
  stack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers.origin = 'https://attacker.example';
      return next(args);
    },
    { step: 'build', name: 'addOrigin' },
  );
  return client;
}

function newMessagesFrom(connection: ChatConnection, content: string) {
  return pushesOf(connection.client, 'new_message').filter((push) => push.content === content);
}

describe('the control plane refuses what AWS would', () => {
  let runtime: LocalRuntime;
  let alice: ChatConnection;
  let bob: ChatConnection;
  const log: string[] = [];

  before(async () => {
    runtime = await startTestRuntime({ log: (line) => log.push(line) });
    alice = await connectWelcomed(runtime, 'alice');
    bob = await connectWelcomed(runtime, 'bob');
  });
  after(() => runtime.stop());

  test('the normal path works: alice -> bob is stored and delivered', async () => {
    const reply = await sendCommand(alice.client, 'send_message', { to_user_id: 'bob', content: 'normal' });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    await bob.client.waitFor((frame) => frame.json?.data?.content === 'normal', undefined, 'the message');
  });

  test('a forged Invoke of sendMessage is refused: text/plain (a CORS simple request), unsigned, dummy keys', async () => {
    const event = JSON.stringify(forgedSendMessageEvent('forged-invoke'));
    const simple = await fetch(invokeUrl(runtime, 'sendMessage'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: event,
    });
    assert.equal(simple.status, 415);
    const unsigned = await fetch(invokeUrl(runtime, 'sendMessage'), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: event,
    });
    assert.equal(unsigned.status, 403);
    assert.equal(await errorTypeOf(unsigned), 'MissingAuthenticationTokenException');
    const dummy = new LambdaClient({ region: 'local', endpoint: runtime.httpUrl, credentials: DUMMY });
    await assert.rejects(
      dummy.send(new InvokeCommand({ FunctionName: localFunctionName('sendMessage'), Payload: event })),
      { name: 'UnrecognizedClientException' },
    );
    dummy.destroy();
    await settle(bob.client);
    assert.deepEqual(newMessagesFrom(bob, 'forged-invoke'), []);
  });

  test('the same forged event signed with the runtime’s own credentials is delivered (the attack is real)', async () => {
    const lambda = lambdaClient(runtime);
    const payload = JSON.stringify(forgedSendMessageEvent('admin-invoke'));
    await lambda.send(
      new InvokeCommand({ FunctionName: localFunctionName('sendMessage'), Payload: payload }),
    );
    lambda.destroy();
    await bob.client.waitFor(
      (frame) => frame.json?.data?.content === 'admin-invoke',
      undefined,
      'the message',
    );
  });

  test('unsigned Scan and PutItem are refused and change nothing; dummy keys and a wrong secret too', async () => {
    const scan = await dynamoFetch(runtime, 'Scan', { TableName: MESSAGES_TABLE });
    assert.equal(scan.status, 400);
    assert.equal(await errorTypeOf(scan), 'MissingAuthenticationTokenException');

    const member = {
      groupId: { S: 'g-stolen' },
      sk: { S: 'member#mallory' },
      memberUserId: { S: 'mallory' },
    };
    const put = await dynamoFetch(runtime, 'PutItem', { TableName: GROUPS_TABLE, Item: member });
    assert.equal(put.status, 400);
    assert.equal(await errorTypeOf(put), 'MissingAuthenticationTokenException');

    const dummy = new DynamoDBClient({
      region: 'local',
      endpoint: runtime.httpUrl,
      credentials: DUMMY,
    });
    await assert.rejects(dummy.send(new ScanCommand({ TableName: MESSAGES_TABLE })), {
      name: 'UnrecognizedClientException',
    });
    dummy.destroy();
    const wrongSecret = new DynamoDBClient({
      region: 'local',
      endpoint: runtime.httpUrl,
      credentials: { accessKeyId: runtime.adminCredentials.accessKeyId, secretAccessKey: 'guessed' },
    });
    await assert.rejects(wrongSecret.send(new ScanCommand({ TableName: MESSAGES_TABLE })), {
      name: 'InvalidSignatureException',
    });
    wrongSecret.destroy();
    // Signed 10 minutes ago: AWS allows 5 (no retry, which would correct the SDK's clock).
    const stale = new DynamoDBClient({
      region: 'local',
      endpoint: runtime.httpUrl,
      credentials: runtime.adminCredentials,
      systemClockOffset: -10 * 60 * 1000,
      maxAttempts: 1,
    });
    await assert.rejects(stale.send(new ScanCommand({ TableName: MESSAGES_TABLE })), {
      name: 'InvalidSignatureException',
      message: /Signature expired/,
    });
    stale.destroy();

    const admin = dynamoDbClient(runtime);
    const key = { groupId: member.groupId, sk: member.sk };
    const { Item } = await admin.send(new GetItemCommand({ TableName: GROUPS_TABLE, Key: key }));
    assert.equal(Item, undefined, 'the forged member row was not written');
    const { Items = [] } = await admin.send(new ScanCommand({ TableName: MESSAGES_TABLE }));
    assert.ok(Items.length > 0, 'the admin credentials read the table');
    admin.destroy();
  });

  test('forged POST and DELETE on @connections are refused; bob gets no frame and stays connected', async () => {
    const url = `${runtime.callbackUrl}/@connections/${encodeURIComponent(bob.connectionId)}`;
    const post = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: '{"code":0,"data":{"type":"new_message","content":"forged-frame"}}',
    });
    assert.equal(post.status, 403);
    assert.equal(await errorTypeOf(post), 'ForbiddenException');
    const remove = await fetch(url, { method: 'DELETE' });
    assert.equal(remove.status, 403);
    const dummy = new ApiGatewayManagementApiClient({
      region: 'local',
      endpoint: runtime.callbackUrl,
      credentials: DUMMY,
    });
    await assert.rejects(
      dummy.send(new PostToConnectionCommand({ ConnectionId: bob.connectionId, Data: 'forged-frame' })),
      ForbiddenException,
    );
    dummy.destroy();
    // A ping answered proves the connection is open and every earlier frame has arrived.
    await settle(bob.client);
    assert.equal(bob.client.frames.filter((frame) => frame.raw.includes('forged-frame')).length, 0);
  });

  test('browser requests are refused: an Origin header, even signed; CORS preflights get no allow headers', async () => {
    const dynamo = withOrigin(
      new DynamoDBClient({
        region: 'local',
        endpoint: runtime.httpUrl,
        credentials: runtime.adminCredentials,
      }),
    );
    await assert.rejects(dynamo.send(new ScanCommand({ TableName: MESSAGES_TABLE })), {
      name: 'AccessDeniedException',
    });
    dynamo.destroy();
    const management = withOrigin(managementClient(runtime));
    await assert.rejects(
      management.send(new PostToConnectionCommand({ ConnectionId: bob.connectionId, Data: 'forged-frame' })),
      ForbiddenException,
    );
    management.destroy();
    const preflights = [
      { url: invokeUrl(runtime, 'sendMessage'), headers: 'content-type' },
      { url: `${runtime.callbackUrl}/@connections/${bob.connectionId}`, headers: 'content-type' },
      { url: runtime.httpUrl, headers: 'content-type,x-amz-target,authorization' },
    ];
    for (const preflight of preflights) {
      const response = await fetch(preflight.url, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://attacker.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': preflight.headers,
        },
      });
      await response.arrayBuffer();
      const allowHeaders = [...response.headers.keys()].filter((name) =>
        name.startsWith('access-control-allow'),
      );
      assert.deepEqual(allowHeaders, [], `${preflight.url}: ${response.status}`);
    }
    await settle(bob.client);
    assert.equal(bob.client.frames.filter((frame) => frame.raw.includes('forged-frame')).length, 0);
  });

  test('a function’s credentials allow only its grants; a denial is logged with function, action and resource', async () => {
    const sendMessageKeys = localCredentials().forFunction('sendMessage');
    const credentials = {
      accessKeyId: sendMessageKeys.accessKeyId,
      secretAccessKey: sendMessageKeys.secretAccessKey,
    };
    const dynamo = new DynamoDBClient({ region: 'local', endpoint: runtime.httpUrl, credentials });
    await assert.rejects(dynamo.send(new ScanCommand({ TableName: MESSAGES_TABLE })), {
      name: 'AccessDeniedException',
    });
    dynamo.destroy();
    const lambda = new LambdaClient({ region: 'local', endpoint: runtime.httpUrl, credentials });
    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: localFunctionName('welcome'), InvocationType: 'Event' })),
      { name: 'AccessDeniedException' },
    );
    lambda.destroy();
    const sendMessage = localFunctionName('sendMessage');
    assert.ok(
      log.some((line) =>
        line.includes(
          `IAM AccessDenied: ${sendMessage} may not dynamodb:Scan on arn:aws:dynamodb:${runtime.handlerEnv.AWS_REGION}:000000000000:table/${MESSAGES_TABLE}`,
        ),
      ),
      log.filter((line) => line.includes('IAM')).join('\n'),
    );
    assert.ok(
      log.some((line) =>
        line.includes(`IAM AccessDenied: ${sendMessage} may not lambda:InvokeFunction on arn:aws:lambda:`),
      ),
    );
    assert.ok(!log.some((line) => line.includes(sendMessageKeys.secretAccessKey)), 'no secret in the log');
  });
});

describe('a grant removed from a copy of the specs breaks exactly the path that needs it', () => {
  let runtime: LocalRuntime;
  const log: string[] = [];

  before(async () => {
    // A new private message is stored with one BatchWriteItem (the message and its
    // conversation-list rows); only that action goes, PutItem (retries) stays.
    const { tables } = functionSpecs.sendMessage;
    const messages = tables.messages;
    assert.ok(messages?.actions.includes('BatchWriteItem'), 'sendMessage stores with BatchWriteItem');
    if (!messages) return;
    const withoutBatchWrite = {
      ...messages,
      actions: messages.actions.filter((a) => a !== 'BatchWriteItem'),
    };
    const sendMessage: FunctionSpec = {
      ...functionSpecs.sendMessage,
      tables: { ...tables, messages: withoutBatchWrite },
    };
    runtime = await startTestRuntime({
      log: (line) => log.push(line),
      grants: { ...functionSpecs, sendMessage },
    });
  });
  after(() => runtime.stop());

  test('without BatchWriteItem on messages, send_message answers "could not be stored" and AccessDenied is logged', async () => {
    const alice = await connectWelcomed(runtime, 'alice');
    const bob = await connectWelcomed(runtime, 'bob');
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'bob',
      content: 'needs BatchWriteItem',
    });
    const checked = usesEmbeddedDynamoDb(
      runtime,
      'a removed DynamoDB grant refuses the write',
      'the runtime checks IAM only on its embedded endpoint; the external one does its own checks',
    );
    if (!checked) {
      assert.equal(reply.code, 0, JSON.stringify(reply));
      return;
    }
    assertErrorReply(reply, ErrorCode.messageNotStored, 'send_message without the grant');
    const expected = `IAM AccessDenied: ${localFunctionName('sendMessage')} may not dynamodb:BatchWriteItem on arn:aws:dynamodb:${runtime.handlerEnv.AWS_REGION}:000000000000:table/${MESSAGES_TABLE}`;
    assert.ok(
      log.some((line) => line.includes(expected)),
      log.filter((line) => line.includes('IAM')).join('\n'),
    );
    await settle(bob.client);
    assert.deepEqual(newMessagesFrom(bob, 'needs BatchWriteItem'), []);
    // Everything else still works: the group path has its grants.
    const group = await sendCommand(alice.client, 'create_group', { group_name: 'g', member_ids: ['bob'] });
    assert.equal(group.code, 0, JSON.stringify(group));
  });
});
