/**
 * The local runtime with its load options on: handlers in two handler threads
 * (`handlerThreads`, local/handler-threads.ts) and dynalite in a thread of its own
 * (`DYNAMODB_THREAD=1`, local/dynamodb-worker.ts). A conversation works as on one thread,
 * handler log lines reach the runtime's log, and data written through the DynamoDB thread
 * survives a restart on the same data directory.
 * Run: npx tsx --test test/e2e/handler-threads.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { DYNAMODB_THREAD_VARIABLE } from '../../local/dynamodb.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { connectWelcomed, sendCommand } from '../support/chat.ts';
import { dynamoDbClient, startTestRuntime } from '../support/local-runtime.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'chat-threads-'));
const logLines: string[] = [];
let runtime: LocalRuntime | undefined;

function start(): Promise<LocalRuntime> {
  return startTestRuntime({ dataDir, handlerThreads: 2, log: (line) => logLines.push(line) });
}

before(async () => {
  process.env[DYNAMODB_THREAD_VARIABLE] = '1';
  runtime = await start();
});
after(async () => {
  await runtime?.stop();
  delete process.env[DYNAMODB_THREAD_VARIABLE];
  rmSync(dataDir, { recursive: true, force: true });
});

describe('handler threads and the DynamoDB thread', () => {
  test('a private message is stored and delivered; handler lines reach the runtime log', async () => {
    const current = runtime as LocalRuntime;
    const alice = await connectWelcomed(current, 'threads-alice');
    const bob = await connectWelcomed(current, 'threads-bob');
    const sent = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'threads-bob',
      content: 'from a handler thread',
    });
    assert.equal(sent.code, 0);
    const pushed = (await bob.client.waitForType('new_message')).json;
    assert.equal(pushed?.data?.message_id, sent.data?.message_id);
    assert.equal(pushed?.data?.content, 'from a handler thread');
    // METRICS_FORMAT=text: the handler's metric line, written in its thread, printed here.
    assert.ok(
      logLines.some((line) => line.includes('METRIC') && line.includes('MessagesStored')),
      `no MessagesStored metric line in the runtime log:\n${logLines.join('\n')}`,
    );
    alice.client.close();
    bob.client.close();
  });

  test('what the DynamoDB thread stored survives a restart on the same data directory', async () => {
    const alice = await connectWelcomed(runtime as LocalRuntime, 'restart-alice');
    const sent = await sendCommand(alice.client, 'send_message', {
      to_user_id: 'restart-bob',
      content: 'kept on disk',
    });
    assert.equal(sent.code, 0);
    await (runtime as LocalRuntime).stop();
    assert.equal((await alice.client.waitForClose()).code, 1001);

    runtime = await start();
    const client = dynamoDbClient(runtime);
    try {
      const { Item } = await client.send(
        new GetItemCommand({
          TableName: tableDefinitions.messages.localName,
          Key: { roomId: { S: String(sent.data?.room_id) }, messageId: { S: String(sent.data?.message_id) } },
        }),
      );
      assert.equal(Item?.content?.S, 'kept on disk');
    } finally {
      client.destroy();
    }
  });
});
