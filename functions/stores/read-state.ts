import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ReadAdvance, ReadStateStore } from '../core/receipts/conversations.ts';
import { batchGetAll, ignoringConditionFailure, queryAll } from './dynamo.ts';

/**
 * Read positions keyed by (`userId`, `roomId`): `lastReadMessageId` and `updatedAt`.
 * A conditional update keeps them forward-only; a user's positions are one Query.
 */
export class DynamoReadStateStore implements ReadStateStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async advance(userId: string, roomId: string, messageId: string, at: string): Promise<ReadAdvance> {
    const written = await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId, roomId },
          UpdateExpression: 'SET lastReadMessageId = :messageId, updatedAt = :at',
          ConditionExpression: 'attribute_not_exists(lastReadMessageId) OR lastReadMessageId < :messageId',
          ExpressionAttributeValues: { ':messageId': messageId, ':at': at },
        }),
      ),
    );
    if (written) return { position: messageId, advanced: true };
    // Already at or past it: report where it is (a strongly consistent read).
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { userId, roomId },
        ProjectionExpression: 'lastReadMessageId',
        ConsistentRead: true,
      }),
    );
    const stored = Item?.lastReadMessageId;
    return { position: typeof stored === 'string' ? stored : messageId, advanced: false };
  }

  async positions(userId: string): Promise<Map<string, string>> {
    const positions = new Map<string, string>();
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'userId = :userId',
      ExpressionAttributeValues: { ':userId': userId },
      ProjectionExpression: 'roomId, lastReadMessageId',
    });
    for (const item of items) {
      if (typeof item.roomId === 'string' && typeof item.lastReadMessageId === 'string') {
        positions.set(item.roomId, item.lastReadMessageId);
      }
    }
    return positions;
  }

  /** The user's positions in `roomIds` that exist (BatchGetItem, 100 keys a request). */
  async positionsIn(userId: string, roomIds: readonly string[]): Promise<Map<string, string>> {
    const positions = new Map<string, string>();
    const items = await batchGetAll(
      this.client,
      this.tableName,
      roomIds.map((roomId) => ({ userId, roomId })),
      { projection: 'roomId, lastReadMessageId' },
    );
    for (const item of items) {
      if (typeof item.roomId === 'string' && typeof item.lastReadMessageId === 'string') {
        positions.set(item.roomId, item.lastReadMessageId);
      }
    }
    return positions;
  }
}
