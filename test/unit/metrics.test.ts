/**
 * Metrics (EMF document shape, text and off formats), the per-route log context (ids
 * carried through an async route, concurrent routes kept apart) and what never reaches a
 * line (tokens, message content). Run: npx tsx --test test/unit/metrics.test.ts
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { deliver } from '../../functions/core/fan-out/delivery.ts';
import { ChatError, ErrorCode } from '../../functions/core/shared/errors.ts';
import { DeliveryError } from '../../functions/core/shared/ports.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { log, setLogWriter } from '../../functions/runtime/logger.ts';
import {
  countMetric,
  emfDocument,
  emitMetrics,
  Metric,
  recordFanOut,
  recordMessage,
} from '../../functions/runtime/metrics.ts';
import { messageRoute } from '../../functions/runtime/websocket.ts';

const ENV_NAMES = ['METRICS_FORMAT', 'METRICS_NAMESPACE', 'AWS_LAMBDA_FUNCTION_NAME', 'LOG_LEVEL'] as const;
let savedEnv: Record<string, string | undefined>;
let lines: string[];

beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
  for (const name of ENV_NAMES) delete process.env[name];
  lines = [];
  setLogWriter((line) => lines.push(line));
});
afterEach(() => {
  setLogWriter(undefined);
  setServices(undefined);
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('EMF metrics', () => {
  it('builds a CloudWatch EMF document: namespace, Function dimension, units and values', () => {
    const document = emfDocument(
      { values: { MessagesStored: 1 }, dimensions: { Kind: 'group' } },
      { namespace: 'ChatBackend', functionName: 'chat-send-message', timestamp: 1_700_000_000_000 },
    );
    assert.deepEqual(document, {
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'ChatBackend',
            Dimensions: [['Function', 'Kind']],
            Metrics: [{ Name: 'MessagesStored', Unit: 'Count' }],
          },
        ],
      },
      Function: 'chat-send-message',
      Kind: 'group',
      MessagesStored: 1,
    });
  });

  it('emits one EMF line per event, namespace and function from the environment', (t) => {
    process.env.METRICS_NAMESPACE = 'ChatTest';
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'chat-prod-sendMessage';
    // The clock the line is stamped from, held still: the stamp is this moment exactly.
    t.mock.method(Date, 'now', () => 1_764_000_000_123);
    recordFanOut({ delivered: 2, gone: 1, failed: [{ connectionId: 'c4', userId: 'u4' }] }, 4);
    const [document] = parsed();
    assert.equal(lines.length, 1);
    const aws = document?._aws as { Timestamp: number; CloudWatchMetrics: unknown[] };
    assert.equal(aws.Timestamp, 1_764_000_000_123);
    assert.deepEqual(aws.CloudWatchMetrics, [
      {
        Namespace: 'ChatTest',
        Dimensions: [['Function']],
        Metrics: ['FanOutSize', 'FanOutDelivered', 'FanOutFailed', 'FanOutGone'].map((Name) => ({
          Name,
          Unit: 'Count',
        })),
      },
    ]);
    assert.equal(document?.Function, 'chat-prod-sendMessage');
    assert.deepEqual(
      [document?.FanOutSize, document?.FanOutDelivered, document?.FanOutFailed, document?.FanOutGone],
      [4, 2, 1, 1],
    );
    // The failed recipients' ids are not metric values.
    assert.ok(!lines[0]?.includes('c4'));
  });

  it('defaults to the ChatBackend namespace and the local function', () => {
    countMetric(Metric.connectAccepted);
    const [document] = parsed();
    const aws = document?._aws as { CloudWatchMetrics: Array<{ Namespace: string }> };
    assert.equal(aws.CloudWatchMetrics[0]?.Namespace, 'ChatBackend');
    assert.equal(document?.Function, 'local');
    assert.equal(document?.ConnectAccepted, 1);
  });

  it('prints compact text lines with METRICS_FORMAT=text, nothing with off', () => {
    process.env.METRICS_FORMAT = 'text';
    recordMessage('direct', {});
    recordMessage('room', { duplicate: true });
    assert.deepEqual(lines, ['METRIC MessagesStored=1 Kind=direct', 'METRIC MessagesDuplicate=1 Kind=room']);
    process.env.METRICS_FORMAT = 'off';
    emitMetrics({ values: { FanOutSize: 3 } });
    assert.equal(lines.length, 2);
  });

  it('reports each fan-out through the onFanOut hook of deliver, 410s included', async () => {
    const reported: Array<[number, number, number]> = [];
    const closedGone: string[] = [];
    await deliver(
      {
        notifier: {
          post: async (connectionId) => {
            if (connectionId === 'gone-1') throw new DeliveryError('gone', '410');
          },
        },
        registry: {
          closeGone: async (connectionId) => {
            closedGone.push(connectionId);
          },
        },
        fanOutConcurrency: 4,
        onFanOut: (result, size) => reported.push([size, result.delivered, result.gone]),
      },
      [
        { connectionId: 'ok-1', userId: 'a' },
        { connectionId: 'gone-1', userId: 'b' },
      ],
      { type: 'x' },
    );
    assert.deepEqual(reported, [[2, 1, 1]]);
    assert.deepEqual(closedGone, ['gone-1']);
  });
});

describe('the per-route log context', () => {
  const SECRET_CONTENT = 'secret-content-9d2e';
  const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA';

  const USERS: Record<string, string> = { 'conn-a': 'alice', 'conn-b': 'bob' };

  function event(connectionId: string, requestId: string): APIGatewayProxyWebsocketEventV2 {
    const userId = USERS[connectionId] ?? 'nobody';
    return {
      body: JSON.stringify({ cmd: 'send_message', request_id: 'r', data: { content: SECRET_CONTENT } }),
      isBase64Encoded: false,
      requestContext: {
        connectionId,
        requestId,
        routeKey: 'send_message',
        domainName: 'example.test',
        stage: 'test',
        // The $connect authorizer's context, as API Gateway attaches it to every route event.
        authorizer: { principalId: userId, userId, roles: '[]', tokenExpiresAt: String(2 ** 31) },
      },
      headers: { Authorization: `Bearer ${TOKEN}` },
    } as unknown as APIGatewayProxyWebsocketEventV2;
  }

  function fakeServices(): Services {
    return { config: { jwt: { clockToleranceSeconds: 5 } } } as unknown as Services;
  }

  it('carries connectionId, userId, routeKey and requestId through an async route; routes stay apart', async () => {
    process.env.LOG_LEVEL = 'debug';
    process.env.METRICS_FORMAT = 'emf';
    setServices(fakeServices());
    const route = messageRoute(async ({ sender, data }) => {
      log('info', 'before sender');
      // Both routes interleave here, so a context leaking between them would show.
      await new Promise((done) => setTimeout(done, 5));
      const { userId } = await sender();
      await new Promise((done) => setImmediate(done));
      log('info', 'after sender', { length: String((data as { content: string }).content).length });
      countMetric(Metric.messagesStored, { Kind: 'direct' });
      if (userId === 'bob') throw new ChatError(ErrorCode.rateLimited, 'rate limit');
      return { ok: true };
    });
    const [a, b] = await Promise.all([route(event('conn-a', 'req-a')), route(event('conn-b', 'req-b'))]);
    assert.equal(JSON.parse(a.body ?? '{}').code, 0);
    assert.equal(JSON.parse(b.body ?? '{}').code, ErrorCode.rateLimited);

    const documents = parsed();
    const of = (connectionId: string) => documents.filter((line) => line.connectionId === connectionId);
    for (const [connectionId, requestId, userId] of [
      ['conn-a', 'req-a', 'alice'],
      ['conn-b', 'req-b', 'bob'],
    ] as const) {
      const mine = of(connectionId);
      const before = mine.find((line) => line.message === 'before sender');
      assert.deepEqual(
        [before?.routeKey, before?.requestId, before?.userId],
        ['send_message', requestId, undefined],
      );
      const after = mine.find((line) => line.message === 'after sender');
      assert.deepEqual(
        [after?.routeKey, after?.requestId, after?.userId],
        ['send_message', requestId, userId],
      );
      // The EMF line carries the ids as properties, not as dimensions.
      const metric = mine.find((line) => line.MessagesStored === 1);
      assert.ok(metric, `a metric line of ${connectionId}`);
      assert.equal(metric.userId, userId);
      const aws = metric._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> };
      assert.deepEqual(aws.CloudWatchMetrics[0]?.Dimensions, [['Function', 'Kind']]);
    }
    assert.ok(of('conn-a').some((line) => line.message === 'route completed'));
    assert.ok(of('conn-b').some((line) => line.message === 'route refused' && line.code === 1029));
    assert.ok(
      of('conn-b').some((line) => line.RateLimited === 1),
      'a RateLimited metric for 1029',
    );
    assert.equal(of('conn-a').filter((line) => line.RateLimited !== undefined).length, 0);

    // Outside a route, no context is left behind.
    log('info', 'outside');
    assert.equal(parsed().at(-1)?.connectionId, undefined);

    for (const line of lines) {
      assert.ok(!line.includes(SECRET_CONTENT), `message content in: ${line}`);
      assert.ok(!line.includes(TOKEN.split('.')[2] as string), `a token in: ${line}`);
      assert.ok(!/bearer|authorization/i.test(line), `a credential header in: ${line}`);
    }
  });

  it('counts blocked content (10007, 3008) as ContentBlocked', async () => {
    process.env.METRICS_FORMAT = 'text';
    setServices(fakeServices());
    for (const code of [ErrorCode.contentBlocked, ErrorCode.groupContentBlocked]) {
      await messageRoute(async () => {
        throw new ChatError(code, 'blocked');
      })(event('conn-a', 'req-c'));
    }
    assert.equal(lines.filter((line) => line === 'METRIC ContentBlocked=1').length, 2);
  });
});
