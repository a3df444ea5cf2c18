import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { delay } from './time.ts';

const BATCH_WRITE_LIMIT = 25;

type WriteRequest =
  | { PutRequest: { Item: Record<string, unknown> } }
  | { DeleteRequest: { Key: Record<string, unknown> } };

/** Writes all requests, 25 per BatchWriteItem, retrying unprocessed items with jittered backoff. */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  writes: readonly WriteRequest[],
): Promise<void> {
  for (let i = 0; i < writes.length; i += BATCH_WRITE_LIMIT) {
    let requests: unknown[] = writes.slice(i, i + BATCH_WRITE_LIMIT);
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await delay(Math.random() * 25 * 2 ** Math.min(attempt, 6));
      const { UnprocessedItems } = await client.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: requests as never } }),
      );
      requests = UnprocessedItems?.[tableName] ?? [];
    }
  }
}
