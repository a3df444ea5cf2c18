import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { BlockRow, BlockStore } from '../core/blocks/blocks.ts';
import { batchGetAll, ignoringConditionFailure, queryAll } from './dynamo.ts';

/** Block rows of the `blocks` table: `userId` (the blocker), `blockedUserId`, `blockedAt`. */
export class DynamoBlockStore implements BlockStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async block(blockerId: string, blockedUserId: string, at: string): Promise<BlockRow> {
    const written = await ignoringConditionFailure(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { userId: blockerId, blockedUserId, blockedAt: at },
          ConditionExpression: 'attribute_not_exists(userId)',
        }),
      ),
    );
    if (written) return { blockedUserId, blockedAt: at };
    // Already blocked: the first time stands.
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { userId: blockerId, blockedUserId },
        ConsistentRead: true,
      }),
    );
    return { blockedUserId, blockedAt: typeof Item?.blockedAt === 'string' ? Item.blockedAt : at };
  }

  async unblock(blockerId: string, blockedUserId: string): Promise<boolean> {
    const { Attributes } = await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { userId: blockerId, blockedUserId },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  async page(blockerId: string, limit: number, after?: string): Promise<{ rows: BlockRow[]; more: boolean }> {
    // One more than asked tells whether another page follows.
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression:
          after === undefined ? 'userId = :u' : 'userId = :u AND blockedUserId > :after',
        ExpressionAttributeValues: { ':u': blockerId, ...(after === undefined ? {} : { ':after': after }) },
        Limit: limit + 1,
      }),
    );
    const rows = Items.flatMap((item) =>
      typeof item.blockedUserId === 'string' && typeof item.blockedAt === 'string'
        ? [{ blockedUserId: item.blockedUserId, blockedAt: item.blockedAt }]
        : [],
    );
    return { rows: rows.slice(0, limit), more: rows.length > limit };
  }

  async has(blockerId: string, blockedUserId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { userId: blockerId, blockedUserId },
        ProjectionExpression: 'userId',
      }),
    );
    return Item !== undefined;
  }

  async blockersAmong(blockerIds: readonly string[], blockedUserId: string): Promise<Set<string>> {
    if (blockerIds.length === 0) return new Set();
    const items = await batchGetAll(
      this.client,
      this.tableName,
      [...new Set(blockerIds)].map((userId) => ({ userId, blockedUserId })),
      { projection: 'userId' },
    );
    return new Set(items.flatMap((item) => (typeof item.userId === 'string' ? [item.userId] : [])));
  }

  async blockedBy(blockerId: string): Promise<Set<string>> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': blockerId },
      ProjectionExpression: 'blockedUserId',
    });
    return new Set(
      items.flatMap((item) => (typeof item.blockedUserId === 'string' ? [item.blockedUserId] : [])),
    );
  }
}
