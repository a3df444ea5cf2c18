/**
 * Tokens and message content never reach a log line: the local runtime's request log
 * (URLs with `?token=` are redacted) and the handlers' JSON logs (ids and outcomes only),
 * captured while a client connects with a token in the query string, another with
 * `Authorization: Bearer`, a third is refused with a bad token, and messages are sent.
 * The same capture shows the handlers' lines readable, with the route's log context, and
 * the compact metrics lines the runtime asks for.
 * Run: npx tsx --test test/e2e/log-redaction.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { disconnect, sendCommand, welcomed } from '../support/chat.ts';
import { getApi, postApi } from '../support/http.ts';
import {
  expectHandshakeRefused,
  startTestRuntime,
  TestClient,
  tokenFor,
  webSocketUrl,
} from '../support/local-runtime.ts';

const lines: string[] = [];
const original = { log: console.log, error: console.error, warn: console.warn, info: console.info };
let runtime: LocalRuntime;

before(async () => {
  // Handler logs go to the console (CloudWatch in AWS): capture them as well.
  for (const name of ['log', 'error', 'warn', 'info'] as const) {
    console[name] = (...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    };
  }
  runtime = await startTestRuntime({
    quiet: true,
    log: (line) => lines.push(line),
    env: { LOG_LEVEL: 'debug' },
  });
});
after(async () => {
  await runtime.stop();
  Object.assign(console, original);
});

test('no log line holds a token, an Authorization header or message content', async () => {
  const queryToken = await tokenFor(runtime, 'logged-query');
  const headerToken = await tokenFor(runtime, 'logged-header');
  const byQuery = await welcomed(await TestClient.open(webSocketUrl(runtime, { token: queryToken })));
  const byHeader = await welcomed(
    await TestClient.open(webSocketUrl(runtime), { headers: { Authorization: `Bearer ${headerToken}` } }),
  );
  const badToken = `${queryToken.slice(0, -4)}AAAA`;
  assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token: badToken })), 401);

  const secretContent = 'top-secret-content-7f3a9c';
  const sent = await sendCommand(byQuery.client, 'send_message', {
    to_user_id: 'logged-header',
    content: secretContent,
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  await byHeader.client.waitFor((frame) => frame.raw.includes(secretContent));
  // A failing command and an HTTP call with a Bearer token log too.
  await sendCommand(byQuery.client, 'send_message', { to_user_id: '', content: `${secretContent}-bad` });
  await getApi(runtime, '/api/ws/online-users', headerToken);
  await getApi(runtime, `/api/ws/online-users?token=${queryToken}`);
  const viaHttp = await postApi(
    runtime,
    '/api/ws/send-message',
    { to_user_id: 'logged-query', content: `${secretContent}-http` },
    headerToken,
  );
  assert.equal(viaHttp.body.code, 0, JSON.stringify(viaHttp.body));
  await disconnect(runtime, byQuery, byHeader);

  assert.ok(
    lines.some((line) => line.includes('$connect')),
    `the runtime's request log was captured: ${lines.length} lines`,
  );
  assert.ok(
    lines.some((line) => /» connected .*userId=logged-query/.test(line)),
    "the handlers' logs were captured, readable",
  );
  // send_message: a compact metrics line (METRICS_FORMAT=text, set by the runtime) and
  // log lines carrying the route's context.
  assert.ok(
    lines.some((line) => /METRIC MessagesStored=1 Kind=direct/.test(line)),
    `a metrics line for the stored message: ${lines.filter((line) => line.includes('METRIC')).join('\n')}`,
  );
  assert.ok(
    lines.some((line) => /METRIC FanOutSize=1 FanOutDelivered=1 FanOutFailed=0 FanOutGone=0/.test(line)),
    'a metrics line for the fan-out',
  );
  const routeLine = lines.find((line) => /route completed routeKey=send_message/.test(line));
  assert.ok(routeLine, 'a handler log line of the send_message route');
  assert.ok(routeLine.includes(`connectionId=${byQuery.connectionId}`), routeLine);
  assert.match(routeLine, /requestId=\S+/);
  // HTTP API requests carry their route key, request id and, once verified, user id.
  const httpLine = lines.find((line) =>
    line.includes('route completed routeKey="POST /api/ws/send-message"'),
  );
  assert.ok(httpLine, 'a handler log line of POST /api/ws/send-message');
  assert.match(httpLine, /requestId=\S+/);
  assert.match(httpLine, /userId=logged-header/);
  assert.equal(
    lines.filter((line) => /METRIC MessagesStored=1 Kind=direct/.test(line)).length,
    2,
    'the message sent over HTTP is counted as well',
  );
  const signatures = [queryToken, headerToken, badToken].map((token) => token.split('.')[2] as string);
  for (const line of lines) {
    for (const signature of signatures) assert.ok(!line.includes(signature), `a token in: ${line}`);
    assert.ok(!line.includes(secretContent), `message content in: ${line}`);
    assert.ok(!/authorization|bearer\s/i.test(line), `a credential header in: ${line}`);
  }
});
