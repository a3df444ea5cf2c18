/**
 * The opt-in DynamoDB capacity accounting (functions/runtime/capacity.ts): off by default;
 * with DYNAMODB_CAPACITY=report it asks for ReturnConsumedCapacity on data-plane commands
 * (document client commands too) and reports each request; `metrics` adds a metric line.
 * The client talks to a stub request handler, so what is sent can be read.
 * Run: npx tsx --test test/unit/capacity.test.ts
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  type DynamoDbRequestRecord,
  onDynamoDbRequest,
  unitsOf,
  withCapacityReporting,
} from '../../functions/runtime/capacity.ts';
import { setLogWriter } from '../../functions/runtime/logger.ts';

/** A client whose every request is answered with `response` and recorded in `sent`. */
function stubClient(response: Record<string, unknown>) {
  const sent: Record<string, unknown>[] = [];
  const client = new DynamoDBClient({
    region: 'local',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: {
      handle: async (request: { body?: string }) => {
        sent.push(JSON.parse(String(request.body ?? '{}')));
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: Readable.from([Buffer.from(JSON.stringify(response))]),
          },
        };
      },
    } as never,
  });
  return { client, sent };
}

let stopListening: (() => void) | undefined;
afterEach(() => {
  stopListening?.();
  setLogWriter(undefined);
});

describe('DynamoDB capacity accounting', () => {
  it('leaves the client alone when DYNAMODB_CAPACITY is unset', async () => {
    const { client, sent } = stubClient({ Item: { id: { S: 'a' } } });
    const records: DynamoDbRequestRecord[] = [];
    stopListening = onDynamoDbRequest((record) => records.push(record));
    const documents = DynamoDBDocumentClient.from(withCapacityReporting(client, {}));
    await documents.send(new GetCommand({ TableName: 't', Key: { id: 'a' } }));
    assert.equal(sent[0]?.ReturnConsumedCapacity, undefined);
    assert.equal(records.length, 0);
  });

  it('asks for TOTAL on data-plane commands, document client included, and reports each request', async () => {
    const { client, sent } = stubClient({
      Item: { id: { S: 'a' } },
      ConsumedCapacity: { TableName: 't', CapacityUnits: 0.5 },
    });
    const records: DynamoDbRequestRecord[] = [];
    stopListening = onDynamoDbRequest((record) => records.push(record));
    const documents = DynamoDBDocumentClient.from(
      withCapacityReporting(client, { DYNAMODB_CAPACITY: 'report' }),
    );
    const { Item } = await documents.send(new GetCommand({ TableName: 't', Key: { id: 'a' } }));
    assert.deepEqual(Item, { id: 'a' });
    assert.equal(sent[0]?.ReturnConsumedCapacity, 'TOTAL');
    assert.deepEqual(sent[0]?.Key, { id: { S: 'a' } });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.operation, 'GetItem');
    assert.deepEqual(records[0]?.tables, ['t']);
    assert.equal(records[0]?.readUnits, 0.5);
    assert.equal(records[0]?.writeUnits, 0);

    // Control-plane commands do not take the parameter, but are still counted.
    await client.send(new DescribeTableCommand({ TableName: 't' }));
    assert.equal(sent[1]?.ReturnConsumedCapacity, undefined);
    assert.equal(records[1]?.operation, 'DescribeTable');
  });

  it('writes one metric line per request in metrics mode', async () => {
    const lines: string[] = [];
    setLogWriter((line) => lines.push(line));
    const savedFormat = process.env.METRICS_FORMAT;
    process.env.METRICS_FORMAT = 'emf';
    stopListening = () => {
      if (savedFormat === undefined) delete process.env.METRICS_FORMAT;
      else process.env.METRICS_FORMAT = savedFormat;
    };
    const { client } = stubClient({ ConsumedCapacity: { TableName: 't', CapacityUnits: 1 } });
    const documents = DynamoDBDocumentClient.from(
      withCapacityReporting(client, { DYNAMODB_CAPACITY: 'metrics' }),
    );
    await documents.send(new GetCommand({ TableName: 't', Key: { id: 'a' } }));
    assert.equal(lines.length, 1);
    const document = JSON.parse(lines[0] as string);
    assert.equal(document.DynamoDBRequests, 1);
    assert.equal(document.DynamoDBReadUnits, 1);
    assert.equal(document.Route, 'none');
  });

  it('splits read and write units', () => {
    assert.deepEqual(unitsOf('PutItem', [{ CapacityUnits: 2 }]), { readUnits: 0, writeUnits: 2 });
    assert.deepEqual(unitsOf('BatchGetItem', [{ CapacityUnits: 1.5 }, { CapacityUnits: 1 }]), {
      readUnits: 2.5,
      writeUnits: 0,
    });
    assert.deepEqual(
      unitsOf('UpdateItem', [{ CapacityUnits: 3, ReadCapacityUnits: 1, WriteCapacityUnits: 2 }]),
      {
        readUnits: 1,
        writeUnits: 2,
      },
    );
  });
});
