/**
 * DynamoDB helpers the stores share: paginated Queries, batched writes and their retry
 * backoff, conditional writes whose failed condition is an answer rather than an error.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { delay } from '../core/shared/concurrency.ts';

export type Item = Record<string, unknown>;

/** Whether a write was refused by its ConditionExpression (SDK v3 errors carry their name). */
export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * A conditional write's output, or undefined when its condition failed; any other error
 * is thrown.
 */
export async function unlessConditionFailed<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/** Awaits a conditional write: whether it happened (false: its condition failed). */
export async function ignoringConditionFailure(write: Promise<unknown>): Promise<boolean> {
  return (await unlessConditionFailed(write.then(() => true))) ?? false;
}

/**
 * The pages of a Query (each page's items), following `LastEvaluatedKey` until the
 * partition ends. With `maxEvaluated`, it also stops once that many items were evaluated
 * (read before any filter), each request's `Limit` being what is left. Leaving the loop
 * early (`break`, `return`) sends no further request.
 */
export async function* queryPages(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
  maxEvaluated?: number,
): AsyncGenerator<Item[]> {
  if (maxEvaluated !== undefined && maxEvaluated <= 0) return;
  let startKey: Item | undefined;
  let evaluated = 0;
  do {
    const page = await client.send(
      new QueryCommand({
        ...input,
        ...(maxEvaluated === undefined ? {} : { Limit: maxEvaluated - evaluated }),
        ExclusiveStartKey: startKey,
      }),
    );
    yield page.Items ?? [];
    evaluated += page.ScannedCount ?? page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey && (maxEvaluated === undefined || evaluated < maxEvaluated));
}

/** Every item of a Query, page by page (see `queryPages`). */
export async function queryAll(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
  maxEvaluated?: number,
): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of queryPages(client, input, maxEvaluated)) items.push(...page);
  return items;
}

/**
 * Waits before an attempt at a batch's unprocessed items: not before the first, then a
 * jittered exponential backoff.
 */
export async function backoff(attempt: number): Promise<void> {
  if (attempt > 0) await delay(Math.random() * 25 * 2 ** Math.min(attempt, 6));
}

const BATCH_WRITE_LIMIT = 25;

type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/** Writes all requests, 25 per BatchWriteItem, retrying unprocessed items with jittered backoff. */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  writes: readonly WriteRequest[],
): Promise<void> {
  for (let i = 0; i < writes.length; i += BATCH_WRITE_LIMIT) {
    let requests: unknown[] = writes.slice(i, i + BATCH_WRITE_LIMIT);
    for (let attempt = 0; requests.length > 0; attempt++) {
      await backoff(attempt);
      const { UnprocessedItems } = await client.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: requests as never } }),
      );
      requests = UnprocessedItems?.[tableName] ?? [];
    }
  }
}

const BATCH_GET_LIMIT = 100;

/**
 * Every item of `keys` that exists (BatchGetItem, 100 keys a request, retrying unprocessed
 * keys with jittered backoff), in no particular order.
 */
export async function batchGetAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Item[],
  options: { readonly consistentRead?: boolean; readonly projection?: string } = {},
): Promise<Item[]> {
  const found: Item[] = [];
  const chunks: Item[][] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) chunks.push(keys.slice(i, i + BATCH_GET_LIMIT));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: Item[] = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        await backoff(attempt);
        const { Responses, UnprocessedKeys } = await client.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: pending,
                ...(options.consistentRead ? { ConsistentRead: true } : {}),
                ...(options.projection ? { ProjectionExpression: options.projection } : {}),
              },
            },
          }),
        );
        found.push(...(Responses?.[tableName] ?? []));
        pending = (UnprocessedKeys?.[tableName]?.Keys as Item[] | undefined) ?? [];
      }
    }),
  );
  return found;
}
