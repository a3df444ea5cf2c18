/**
 * Lambda's asynchronous invocation rules in the local runtime (local/async-invocations.ts):
 * retries after a function error (the spec's count, default 2), the maximum event age,
 * the dead-letter / on-failure destination queues, fault injection that fails an
 * invocation, and a welcome push that a retry does not repeat.
 * Run: npx tsx --test test/e2e/async-invocations.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { LocalRuntime, LocalRuntimeOptions } from '../../local/runtime.ts';
import { pushesOf, settle, welcomed } from '../support/chat.ts';
import { DEFAULT_WAIT_MS, lambdaClient, startTestRuntime, TestClient } from '../support/local-runtime.ts';

/** A runtime whose log lines a test can wait for. */
async function startWithLog(options: LocalRuntimeOptions) {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const runtime = await startTestRuntime({
    ...options,
    log: (line) => {
      lines.push(line);
      for (const waiter of waiters) {
        if (!waiter.pattern.test(line)) continue;
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    },
  });
  const waitForLine = (pattern: RegExp, timeoutMs = DEFAULT_WAIT_MS) => {
    const found = lines.find((line) => pattern.test(line));
    if (found) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      const waiter = { pattern, resolve };
      waiters.add(waiter);
      setTimeout(() => {
        if (waiters.delete(waiter))
          reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs).unref();
    });
  };
  return { runtime, waitForLine };
}

describe('asynchronous invocations: retries, failure queues, an idempotent welcome', () => {
  let runtime: LocalRuntime;
  let waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  before(async () => {
    ({ runtime, waitForLine } = await startWithLog({ asyncInvocation: { retryDelaysMs: [20, 40] } }));
  });
  after(() => runtime.stop());

  test('a welcome whose invocation fails after it posted is retried, and no second welcome arrives', async () => {
    runtime.faults.configure({ asyncInvocationFault: { functionId: 'welcome', phase: 'after', count: 1 } });
    const connection = await welcomed(await TestClient.connectAs(runtime, 'retried-welcome'));
    await waitForLine(/chat-local-welcome \(async, attempt 1\/3\) failed/);
    await waitForLine(/chat-local-welcome \(async, attempt 2\/3\) ok/);
    await settle(connection.client); // anything the retry posted has arrived by now
    assert.equal(pushesOf(connection.client, 'welcome').length, 1, 'exactly one welcome');
    assert.equal(runtime.asyncFailures.count(), 0);
    await connection.client.close();
  });

  test('an event that fails every attempt (1 + 2 retries) goes to the dead-letter queue', async () => {
    const before = runtime.asyncFailures.count('deadLetter');
    runtime.faults.configure({ asyncInvocationFault: { functionId: 'welcome', phase: 'before', count: 3 } });
    const client = await TestClient.connectAs(runtime, 'never-welcomed');
    const failed = await runtime.asyncFailures.waitFor(
      (event) => (event.requestPayload as { userId?: string }).userId === 'never-welcomed',
      DEFAULT_WAIT_MS,
    );
    assert.equal(failed.queue, 'deadLetter');
    assert.equal(failed.condition, 'RetriesExhausted');
    assert.equal(failed.approximateInvokeCount, 3);
    assert.match(failed.functionName, /:function:chat-local-welcome$/);
    assert.match(failed.errorMessage, /injected fault/);
    assert.equal(runtime.asyncFailures.count('deadLetter'), before + 1);
    await settle(client);
    assert.equal(pushesOf(client, 'welcome').length, 0, 'no welcome: every attempt failed');
    await client.close();
  });

  test('the fan-out worker (retryAttempts 0) fails once and lands in its on-failure destination', async () => {
    runtime.faults.configure({
      asyncInvocationFault: { functionId: 'fanOutWorker', phase: 'before', count: 1 },
    });
    const lambda = lambdaClient(runtime);
    const accepted = await lambda.send(
      new InvokeCommand({
        FunctionName: 'chat-local-fanOutWorker',
        InvocationType: 'Event',
        Payload: JSON.stringify({ marker: 'fan-out-job' }),
      }),
    );
    assert.equal(accepted.StatusCode, 202);
    const failed = await runtime.asyncFailures.waitFor(
      (event) => (event.requestPayload as { marker?: string }).marker === 'fan-out-job',
      DEFAULT_WAIT_MS,
    );
    assert.equal(failed.queue, 'onFailure');
    assert.equal(failed.approximateInvokeCount, 1);
    lambda.destroy();
  });
});

describe('asynchronous invocations: maximum event age', () => {
  test('an event older than the maximum age when its retry is due is not retried', async () => {
    // Retries after 60 s, events live 50 ms: the first failure is the last attempt.
    const { runtime, waitForLine } = await startWithLog({
      asyncInvocation: { retryDelaysMs: [60_000], maxEventAgeMs: 50 },
    });
    try {
      runtime.faults.configure({
        asyncInvocationFault: { functionId: 'welcome', phase: 'before', count: 1 },
      });
      const client = await TestClient.connectAs(runtime, 'too-old');
      const failed = await runtime.asyncFailures.waitFor(
        (event) => (event.requestPayload as { userId?: string }).userId === 'too-old',
        DEFAULT_WAIT_MS,
      );
      assert.equal(failed.condition, 'EventAgeExceeded');
      assert.equal(failed.approximateInvokeCount, 1);
      await waitForLine(/EventAgeExceeded after 1 attempt: sent to the dead-letter queue/);
      await client.close();
    } finally {
      await runtime.stop();
    }
  });
});
