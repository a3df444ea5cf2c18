/**
 * The HTTP API handler's log context and metrics: every line of a request carries its
 * `routeKey` and API Gateway `requestId`, and `userId` once the token is verified;
 * concurrent requests stay apart; messages sent through `POST /api/ws/send-message`,
 * refusals and broadcast fan-outs are counted as on the WebSocket routes; no line holds
 * the token or message content.
 * Run: npx tsx --test test/unit/http-log-context.test.ts
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Sender } from '../../functions/core/messaging/chat-service.ts';
import { ChatError, ErrorCode } from '../../functions/core/shared/errors.ts';
import { handler } from '../../functions/handlers/http-api.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { log, setLogWriter } from '../../functions/runtime/logger.ts';
import { recordFanOut } from '../../functions/runtime/metrics.ts';
import { claimsFor, signClaims } from '../support/tokens.ts';

const SECRET = 'http-log-context-test-secret-0123456789';
const SECRET_CONTENT = 'secret-http-content-51c7';
const ENV_NAMES = ['METRICS_FORMAT', 'METRICS_NAMESPACE', 'AWS_LAMBDA_FUNCTION_NAME', 'LOG_LEVEL'] as const;

let savedEnv: Record<string, string | undefined>;
let lines: string[];
const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
  for (const name of ENV_NAMES) delete process.env[name];
  process.env.LOG_LEVEL = 'debug';
  process.env.METRICS_FORMAT = 'emf';
  lines = [];
  setLogWriter((line) => lines.push(line));
  setServices(fakeServices());
});
afterEach(() => {
  setLogWriter(undefined);
  setServices(undefined);
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

/** What the routes under test touch; sendMessage refuses "limited" recipients with 1029. */
function fakeServices(): Services {
  const chat = {
    sendMessage: async (sender: Sender, input: { to_user_id: string; content: string }) => {
      await new Promise((done) => setTimeout(done, 5));
      log('info', 'storing', { length: input.content.length });
      if (input.to_user_id === 'limited') throw new ChatError(ErrorCode.rateLimited, 'rate limit');
      if (input.to_user_id === 'blocked') throw new ChatError(ErrorCode.contentBlocked, 'blocked');
      return { type: 'message_sent', message_id: `m-${sender.userId}`, delivered: true };
    },
    broadcast: async () => {
      // What the container's delivery reports for each fan-out (onFanOut: recordFanOut).
      recordFanOut({ delivered: 2, gone: 0, failed: [] }, 2);
      return { type: 'broadcast_sent', sent_count: 2, failed: 0 };
    },
  };
  return {
    config: {
      jwt: { key: { kind: 'secret', secret: SECRET }, clockToleranceSeconds: 5 },
      callbackUrl: 'https://api.execute-api.us-east-1.amazonaws.com/prod',
      broadcastAllowAll: false,
    },
    presence: {
      counts: async () => {
        log('debug', 'counting');
        return { users: 3, connections: 4 };
      },
    },
    chat: () => chat,
  } as unknown as Services;
}

function httpEvent(
  method: 'GET' | 'POST',
  path: string,
  requestId: string,
  options: { token?: string; body?: unknown } = {},
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    requestContext: { http: { method, path }, requestId, routeKey: `${method} ${path}`, stage: '$default' },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

const token = (userId: string, extra = {}) => signClaims(claimsFor(userId, extra), { secret: SECRET });

function assertNoSecrets(tokens: string[]): void {
  for (const line of lines) {
    for (const t of tokens) {
      assert.ok(!line.includes(t.split('.')[2] as string), `a token signature in: ${line}`);
    }
    assert.ok(!line.includes(SECRET_CONTENT), `message content in: ${line}`);
    assert.ok(!/bearer|authorization/i.test(line), `a credential header in: ${line}`);
  }
}

describe('HTTP API log context', () => {
  it('a public route: routeKey and requestId on every line, no userId', async () => {
    const response = await handler(httpEvent('GET', '/api/ws/online-count', 'req-count'));
    assert.equal(response.statusCode, 200);
    const documents = parsed();
    const counting = documents.find((line) => line.message === 'counting');
    assert.deepEqual(
      [counting?.routeKey, counting?.requestId, counting?.userId],
      ['GET /api/ws/online-count', 'req-count', undefined],
    );
    const completed = documents.find((line) => line.message === 'route completed');
    assert.deepEqual(
      [completed?.routeKey, completed?.status, completed?.code],
      ['GET /api/ws/online-count', 200, 0],
    );
    log('info', 'outside');
    assert.equal(parsed().at(-1)?.routeKey, undefined, 'no context left behind');
  });

  it('adds userId once the token is verified; concurrent requests stay apart; the message is counted', async () => {
    const [amy, bob] = await Promise.all([token('amy'), token('bob')]);
    const send = (bearer: string, requestId: string) =>
      handler(
        httpEvent('POST', '/api/ws/send-message', requestId, {
          token: bearer,
          body: { to_user_id: 'carol', content: SECRET_CONTENT },
        }),
      );
    const responses = await Promise.all([send(amy, 'req-amy'), send(bob, 'req-bob')]);
    assert.deepEqual(
      responses.map((response) => response.statusCode),
      [200, 200],
    );
    const documents = parsed();
    for (const [requestId, userId] of [
      ['req-amy', 'amy'],
      ['req-bob', 'bob'],
    ] as const) {
      const mine = documents.filter((line) => line.requestId === requestId);
      const storing = mine.find((line) => line.message === 'storing');
      assert.deepEqual([storing?.routeKey, storing?.userId], ['POST /api/ws/send-message', userId]);
      const metric = mine.find((line) => line.MessagesStored === 1);
      assert.ok(metric, `a MessagesStored metric for ${requestId}`);
      assert.equal(metric.Kind, 'direct');
      assert.equal(metric.userId, userId);
      assert.equal(metric.routeKey, 'POST /api/ws/send-message');
      const aws = metric._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> };
      // Ids are properties, never dimensions.
      assert.deepEqual(aws.CloudWatchMetrics[0]?.Dimensions, [['Function', 'Kind']]);
      assert.ok(mine.some((line) => line.message === 'route completed' && line.userId === userId));
    }
    assertNoSecrets([amy, bob]);
  });

  it('refusals: logged with code and status, rate limit and blocked content counted', async () => {
    const amy = await token('amy');
    const refused = await handler(
      httpEvent('POST', '/api/ws/send-message', 'req-limited', {
        token: amy,
        body: { to_user_id: 'limited', content: SECRET_CONTENT },
      }),
    );
    assert.equal(refused.statusCode, 429);
    await handler(
      httpEvent('POST', '/api/ws/send-message', 'req-blocked', {
        token: amy,
        body: { to_user_id: 'blocked', content: SECRET_CONTENT },
      }),
    );
    const documents = parsed();
    const line = documents.find((l) => l.message === 'route refused' && l.requestId === 'req-limited');
    assert.deepEqual(
      [line?.code, line?.status, line?.userId, line?.routeKey],
      [1029, 429, 'amy', 'POST /api/ws/send-message'],
    );
    assert.ok(documents.some((l) => l.RateLimited === 1 && l.requestId === 'req-limited'));
    assert.ok(documents.some((l) => l.ContentBlocked === 1 && l.requestId === 'req-blocked'));
    assert.equal(documents.filter((l) => l.MessagesStored !== undefined).length, 0);
    assertNoSecrets([amy]);
  });

  it('a rejected token: 401 logged without a userId and without the token', async () => {
    const forged = await signClaims(claimsFor('mallory'), { secret: 'another-secret-of-some-length-0000' });
    const response = await handler(
      httpEvent('POST', '/api/ws/send-message', 'req-forged', { token: forged }),
    );
    assert.equal(response.statusCode, 401);
    const line = parsed().find((l) => l.message === 'route refused');
    assert.deepEqual([line?.code, line?.status, line?.userId], [1401, 401, undefined]);
    assertNoSecrets([forged]);
  });

  it('a broadcast: its fan-out metrics carry the request context', async () => {
    const admin = await token('root', { role: 'admin' });
    const response = await handler(
      httpEvent('POST', '/api/ws/broadcast', 'req-broadcast', {
        token: admin,
        body: { message: SECRET_CONTENT },
      }),
    );
    assert.equal(response.statusCode, 200, response.body);
    const metric = parsed().find((line) => line.FanOutSize === 2);
    assert.deepEqual(
      [metric?.routeKey, metric?.requestId, metric?.userId],
      ['POST /api/ws/broadcast', 'req-broadcast', 'root'],
    );
    assertNoSecrets([admin]);
  });

  it('an unmatched path is refused with 404 and not logged as a route key', async () => {
    const response = await handler(httpEvent('GET', '/api/ws/nope/secret-path-token', 'req-404'));
    assert.equal(response.statusCode, 404);
    const line = parsed().find((l) => l.message === 'route refused');
    assert.deepEqual(
      [line?.routeKey, line?.requestId, line?.code],
      ['$default', 'req-404', ErrorCode.unknownCommand],
    );
    assert.ok(!lines.some((l) => l.includes('secret-path-token')));
  });
});
