/**
 * The stack's `tracing` option on the function side, against the local runtime: the
 * send-message bundle built as the stack builds it (the construct's handlerBuildOptions,
 * TRACING_WIRING injected or not), run in a fresh Node process
 * with the variables Lambda sets under active tracing (`AWS_EXECUTION_ENV`,
 * `LAMBDA_TASK_ROOT`, `_X_AMZN_TRACE_ID`), the runtime's handler environment and the
 * function's own local credentials, and a UDP socket standing in for Lambda's X-Ray daemon.
 *
 * - With tracing, the message is stored and pushed to the recipient's real socket as
 *   without, and every DynamoDB and Management API call arrives as a subsegment of the
 *   invocation's trace: the trace shows Lambda → DynamoDB and → API Gateway.
 * - Without a daemon (nobody on the port), the handler still answers, and nothing is
 *   written to stderr: no error per call.
 * - The default bundle holds no tracer, and sends nothing.
 * Run: npx tsx --test test/e2e/tracing.test.ts
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { handlerBuildOptions } from '../../lib/constructs/chat-function.ts';
import { functionSpecs } from '../../lib/function-specs.ts';
import { localFunctionName } from '../../local/functions.ts';
import { localCredentials } from '../../local/iam/credentials.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime, TestClient } from '../support/local-runtime.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TRACE_ROOT = '1-5759e988-bd862e3fe1be46a994272793';

const sendMessage = (from: string, to: string, content: string) => ({
  requestContext: {
    connectionId: `${from}-connection`,
    routeKey: 'send_message',
    requestId: `${from}-request`,
    domainName: 'chat.invalid',
    stage: 'test',
    authorizer: { principalId: from, userId: from, roles: '[]', tokenExpiresAt: String(2 ** 31) },
  },
  body: JSON.stringify({ cmd: 'send_message', data: { to_user_id: to, content }, request_id: 'r1' }),
  isBase64Encoded: false,
});

/** Imports the bundle in a fresh process, calls `handler(event)` and prints its result on the last line. */
function invokeBundle(
  file: string,
  event: unknown,
  env: NodeJS.ProcessEnv,
): Promise<{ result: { statusCode: number; body: string }; stderr: string }> {
  const script = `const { handler } = await import(process.argv[1]); const result = await handler(${JSON.stringify(event)}); process.stdout.write('\\n' + JSON.stringify(result));`;
  return new Promise((resolveRun, reject) => {
    execFile(
      process.execPath,
      ['--enable-source-maps', '--input-type=module', '-e', script, pathToFileURL(file).href],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the bundle failed: ${stderr || error.message}`));
        else resolveRun({ result: JSON.parse(stdout.slice(stdout.lastIndexOf('\n') + 1)), stderr });
      },
    );
  });
}

/** A UDP socket that keeps the JSON documents the X-Ray SDK sends (`{"format":"json",…}\n{document}`). */
async function startDaemon(): Promise<{
  socket: Socket;
  port: number;
  documents: Record<string, unknown>[];
}> {
  const socket = createSocket('udp4');
  const documents: Record<string, unknown>[] = [];
  socket.on('message', (datagram) => {
    const body = datagram.toString('utf8');
    documents.push(JSON.parse(body.slice(body.indexOf('\n') + 1)) as Record<string, unknown>);
  });
  await new Promise<void>((resolveBind) => socket.bind(0, '127.0.0.1', resolveBind));
  return { socket, port: (socket.address() as AddressInfo).port, documents };
}

/** A port on which nobody listens: bound, then closed. */
async function closedPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolveBind) => socket.bind(0, '127.0.0.1', resolveBind));
  const { port } = socket.address() as AddressInfo;
  await new Promise<void>((resolveClose) => socket.close(resolveClose));
  return port;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 20));
  }
}

describe('tracing option (functions)', () => {
  let runtime: LocalRuntime;
  let dir: string;
  let baseEnv: NodeJS.ProcessEnv;
  const bundles: Record<'default' | 'traced', string> = { default: '', traced: '' };

  before(async () => {
    runtime = await startTestRuntime();
    dir = mkdtempSync(join(tmpdir(), 'chat-tracing-test-'));
    const taskRoot = join(dir, 'task');
    mkdirSync(taskRoot);
    for (const name of ['default', 'traced'] as const) {
      const entry = functionSpecs.sendMessage.entry;
      await build(
        handlerBuildOptions({
          projectRoot: root,
          entry,
          outdir: join(dir, name),
          tracing: name === 'traced',
        }),
      );
      bundles[name] = join(dir, name, 'index.mjs');
    }
    // The runtime's handler environment (tables, endpoints, callback URL, secret) and the
    // function's own credentials, which the runtime's control plane checks against its grants.
    const { accessKeyId, secretAccessKey } = localCredentials().forFunction('sendMessage');
    // As the stack: a function gets the names of only the functions it invokes (none here).
    const handlerEnv = Object.fromEntries(
      Object.entries(runtime.handlerEnv).filter(
        ([name]) => !Object.values(functionSpecs).some((spec) => spec.nameEnvVar === name),
      ),
    );
    baseEnv = {
      PATH: process.env.PATH,
      ...handlerEnv,
      METRICS_FORMAT: 'off',
      LOG_LEVEL: 'warn',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_LAMBDA_FUNCTION_NAME: localFunctionName('sendMessage'),
      // What Lambda sets for a function with active tracing.
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: taskRoot,
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
    };
  });

  after(async () => {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the default bundle holds neither Powertools Tracer nor the X-Ray SDK; the traced one does', () => {
    // index.mjs and the chunks it imports (HANDLER_BUNDLING.splitting).
    const codeOf = (name: 'default' | 'traced') =>
      readdirSync(join(dir, name))
        .filter((file) => file.endsWith('.mjs'))
        .map((file) => readFileSync(join(dir, name, file), 'utf8'))
        .join('\n');
    const defaultCode = codeOf('default');
    const tracedCode = codeOf('traced');
    assert.doesNotMatch(defaultCode, /AWS_XRAY_DAEMON_ADDRESS|powertools/i);
    assert.match(tracedCode, /AWS_XRAY_DAEMON_ADDRESS/);
  });

  it('with tracing, the message is stored and pushed, and each DynamoDB and Management API call is a subsegment of the trace', async () => {
    const daemon = await startDaemon();
    const bob = await TestClient.connectAs(runtime, 'bob');
    try {
      const { result, stderr } = await invokeBundle(bundles.traced, sendMessage('alice', 'bob', 'hi'), {
        ...baseEnv,
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.port}`,
      });
      const frame = JSON.parse(result.body) as { code: number; data: { message_id?: string } };
      assert.equal(frame.code, 0, result.body);
      assert.ok(frame.data.message_id);
      assert.equal(stderr, '');
      const push = await bob.waitForType('new_message');
      assert.equal(push.json?.data?.message_id, frame.data.message_id);
      const operation = (d: Record<string, unknown>) =>
        (d.aws as { operation?: string } | undefined)?.operation;
      await waitFor(
        () =>
          daemon.documents.some((d) => operation(d) === 'BatchWriteItem') &&
          daemon.documents.some((d) => operation(d) === 'PostToConnection'),
        'the BatchWriteItem and PostToConnection subsegments',
      );
      const post = daemon.documents.find((d) => operation(d) === 'PostToConnection');
      assert.equal(post?.trace_id, TRACE_ROOT);
      assert.equal(post?.name, 'ApiGatewayManagementApi');
      const dynamoCalls = daemon.documents.filter((d) => d.name === 'DynamoDB');
      assert.ok(dynamoCalls.length >= 2, JSON.stringify(daemon.documents));
      for (const call of dynamoCalls) {
        assert.equal(call.trace_id, TRACE_ROOT);
        assert.equal(call.namespace, 'aws');
        assert.equal(call.type, 'subsegment');
      }
      const tablesCalled = dynamoCalls.flatMap((d) => {
        const aws = d.aws as { table_name?: string; table_names?: string[] };
        return aws.table_names ?? (aws.table_name ? [aws.table_name] : []);
      });
      assert.ok(
        tablesCalled.includes(runtime.handlerEnv.MESSAGES_TABLE as string),
        JSON.stringify(tablesCalled),
      );
    } finally {
      daemon.socket.close();
      await bob.close();
    }
  });

  it('with tracing but no daemon listening, the handler answers and writes nothing to stderr', async () => {
    const { result, stderr } = await invokeBundle(bundles.traced, sendMessage('carol', 'dave', 'hello'), {
      ...baseEnv,
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${await closedPort()}`,
    });
    assert.equal((JSON.parse(result.body) as { code: number }).code, 0, result.body);
    assert.equal(stderr, '');
  });

  it('the default bundle sends nothing to the daemon, in the same environment', async () => {
    const daemon = await startDaemon();
    const otherRoot = '1-5759e988-00000000000000000000000b';
    try {
      const env = { ...baseEnv, AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.port}` };
      const { result } = await invokeBundle(bundles.default, sendMessage('erin', 'frank', 'hey'), env);
      assert.equal((JSON.parse(result.body) as { code: number }).code, 0, result.body);
      // Then a traced run with another trace id: once its documents are in, any of the
      // default run's (sent earlier) would be too.
      await invokeBundle(bundles.traced, sendMessage('erin', 'frank', 'again'), {
        ...env,
        _X_AMZN_TRACE_ID: `Root=${otherRoot};Parent=53995c3f42cd8ad8;Sampled=1`,
      });
      await waitFor(() => daemon.documents.some((d) => d.name === 'DynamoDB'), 'the traced run');
      assert.deepEqual(
        daemon.documents.filter((d) => d.trace_id !== otherRoot),
        [],
      );
    } finally {
      daemon.socket.close();
    }
  });
});
