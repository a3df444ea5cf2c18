/**
 * Stopping the local runtime while DynamoDB requests are still being worked on: the
 * embedded dynalite finishes them before it closes its database, so nothing fails in the
 * runtime's process afterwards. (Before, a request caught mid-way met the closed database
 * and dynalite threw "Database is not open" outside any request: an uncaught error that
 * failed whatever test file had just stopped its runtime.)
 * Run: npx tsx --test test/e2e/runtime-stop-in-flight.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { dynamoDbClient, startTestRuntime, usesEmbeddedDynamoDb } from '../support/local-runtime.ts';

const ROOM = 'room_stop_in_flight';
const TABLE = tableDefinitions.messages.localName;

describe('stopping the runtime with DynamoDB requests in flight', () => {
  test('the embedded DynamoDB answers or drops them, and nothing throws in the process', async () => {
    const thrown: unknown[] = [];
    const record = (error: unknown) => thrown.push(error);
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
    let runtime: LocalRuntime | undefined;
    try {
      runtime = await startTestRuntime();
      const client = dynamoDbClient(runtime);
      const put = (messageId: string) =>
        new PutItemCommand({
          TableName: TABLE,
          Item: { roomId: { S: ROOM }, messageId: { S: messageId }, content: { S: 'x'.repeat(500) } },
        });
      for (let index = 0; index < 300; index++) await client.send(put(String(index).padStart(4, '0')));

      // Queries of 300 items keep dynalite busy across many reads of its store.
      const query = new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'roomId = :room',
        ExpressionAttributeValues: { ':room': { S: ROOM } },
      });
      let fiveAnswered: () => void = () => {};
      const firstFive = new Promise<void>((resolve) => {
        fiveAnswered = resolve;
      });
      let answered = 0;
      const requests = Array.from({ length: 100 }, (_, index) =>
        (index % 2 ? client.send(query) : client.send(put(`late-${index}`))).then(() => {
          if (++answered === 5) fiveAnswered();
        }),
      );
      // Handled from the start: the ones the stop cuts off reject while it runs.
      const settled = Promise.allSettled(requests);
      await firstFive;
      await runtime.stop();
      const outcomes = await settled;
      client.destroy();
      // dynalite reports a closed database from callbacks queued with setImmediate.
      await new Promise((resolve) => setImmediate(resolve));

      const embedded = usesEmbeddedDynamoDb(
        runtime,
        'requests were in flight in the runtime when it stopped',
        'another DynamoDB answers them whether or not the runtime runs',
      );
      if (embedded) {
        assert.ok(
          outcomes.some((outcome) => outcome.status === 'rejected'),
          'some requests were still in flight when the runtime stopped',
        );
      }
      assert.deepEqual(thrown.map(String), []);
    } finally {
      await runtime?.stop(); // a no-op after the stop above; stops it when a step before failed
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    }
  });
});
