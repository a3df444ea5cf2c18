/**
 * The conversation list's private rows (`conversations` table), written by the messages
 * store with each private message (functions/stores/messages.ts).
 */
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { StoredMessage } from '../core/shared/ports.ts';
import { backoff, type Item } from './dynamo.ts';

/**
 * The rows a private message writes: one per participant (one when someone writes to
 * themselves), naming the other and the message, expiring with it.
 */
export function privateConversationRows(message: StoredMessage, expiresAt?: number): Item[] {
  const from = message.fromUserId;
  const to = message.toUserId;
  if (message.kind !== 'private' || to === undefined) return [];
  const row = (userId: string, peerId: string): Item => ({
    userId,
    roomId: message.roomId,
    peerId,
    lastMessageId: message.messageId,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
  return from === to ? [row(from, to)] : [row(from, to), row(to, from)];
}

type WriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>;

/** One BatchWriteItem across tables (25 items at most), retrying unprocessed items with backoff. */
export async function batchWriteTables(
  client: DynamoDBDocumentClient,
  requests: WriteRequests,
): Promise<void> {
  let pending: WriteRequests | undefined = requests;
  for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt++) {
    await backoff(attempt);
    const { UnprocessedItems }: { UnprocessedItems?: WriteRequests } = await client.send(
      new BatchWriteCommand({ RequestItems: pending }),
    );
    pending = UnprocessedItems;
  }
}
