/**
 * A handler written for AWS (test/fixtures/aws-style-handler.ts: its own SDK clients, no
 * endpoint, region or credentials in code) mounted on a WebSocket route of the runtime
 * runs unmodified: the runtime gives it a real region name and the SDK's standard
 * AWS_ENDPOINT_URL_* variables.
 * Run: npx tsx --test test/e2e/aws-style-handler.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime, TestClient } from '../support/local-runtime.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/aws-style-handler.ts', import.meta.url));

describe('an AWS-style handler mounted on a route', () => {
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime({
      mountedRoutes: {
        // The grants of send_room_message: GetItem on connections, POST @connections.
        sendmessage: { module: FIXTURE, runAs: 'sendRoomMessage' },
        // No grants: the local control plane refuses its DynamoDB call.
        ungranted: FIXTURE,
      },
    });
  });
  after(() => runtime.stop());

  test('handlers get a real region and the standard endpoint variables', () => {
    const env = runtime.handlerEnv;
    assert.equal(env.AWS_REGION, process.env.AWS_REGION || 'us-east-1');
    assert.equal(env.AWS_ENDPOINT_URL_DYNAMODB, runtime.dynamoDbEndpoint);
    assert.equal(env.AWS_ENDPOINT_URL_LAMBDA, runtime.httpUrl);
    assert.equal(env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, runtime.callbackUrl);
    assert.equal(env.AWS_ENDPOINT_URL, runtime.httpUrl);
  });

  test('it reads DynamoDB and posts through the Management API with clients built without endpoints', async () => {
    const client = await TestClient.connectAs(runtime, 'aws-sample');
    client.send({ cmd: 'sendmessage', data: 'hello from a sample' });
    const frame = await client.waitFor((f) => f.json?.echo === 'hello from a sample');
    assert.equal(frame.json?.userId, 'aws-sample', 'it read its connection row from the chat table');
    assert.equal(frame.json?.region, runtime.handlerEnv.AWS_REGION);
    // The event's domainName and stage name the runtime's Management API (over plain HTTP).
    const fromEvent = new URL(String(frame.json?.callbackUrl));
    assert.equal(`http://${fromEvent.host}${fromEvent.pathname}`, runtime.callbackUrl);
    await client.close();
  });

  test('mounted without grants, the same handler is refused by the local IAM checks', async () => {
    const client = await TestClient.connectAs(runtime, 'aws-sample-3');
    client.send({ cmd: 'ungranted', data: 'refused' });
    const frame = await client.waitFor((f) => f.json?.message === 'Internal server error');
    assert.equal(typeof frame.json?.requestId, 'string');
    assert.ok(!client.frames.some((f) => f.json?.echo === 'refused'));
    await client.close();
  });

  test('frames for other routes still reach the chat handlers', async () => {
    const client = await TestClient.connectAs(runtime, 'aws-sample-2');
    client.send({ cmd: 'ping', request_id: 'p1' });
    const pong = await client.waitFor((f) => f.json?.request_id === 'p1');
    assert.equal(pong.json?.code, 0);
    await client.close();
  });
});

describe('mounting', () => {
  test('a chat route or a $-route cannot be taken over', async () => {
    for (const route of ['ping', '$connect']) {
      await assert.rejects(
        startTestRuntime({ mountedRoutes: { [route]: FIXTURE } }),
        new RegExp(`Cannot mount .* on route "${route.replace('$', '\\$')}"`),
      );
    }
  });
});
