import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { BlockRow, BlockStore } from '../core/blocks/blocks.ts';
import { batchGetAll, ignoringConditionFailure, queryAll } from './dynamo.ts';

/** The `blocks` index keyed by the blocked user (lib/table-definitions.ts). */
const BY_BLOCKED_INDEX = 'byBlocked';
/**
 * How many of the blocked user's blockers a check may read per candidate before it reads
 * the candidates' rows by key instead: a `byBlocked` key is ~40-100 bytes, so 8 of them cost
 * well under the 0.5 RRU of one read by key.
 */
export const BLOCKERS_READ_PER_CANDIDATE = 8;

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

  /**
   * One candidate: its row, by key (a `BatchGetItem`: 0.5 RRU, no index lag). More: one
   * `byBlocked` Query of who blocked `blockedUserId`, intersected here, which costs what the
   * answer costs (0.5 RRU per ~4 KB of blockers, ~100 of them) instead of 0.5 RRU per
   * candidate. A user blocked by more than BLOCKERS_READ_PER_CANDIDATE times as many users
   * as there are candidates is checked by key after all, so the Query never costs much
   * more than the reads by key would (docs/architecture.md, "Blocks").
   */
  async blockersAmong(blockerIds: readonly string[], blockedUserId: string): Promise<Set<string>> {
    const candidates = new Set(blockerIds);
    if (candidates.size === 0) return new Set();
    if (candidates.size > 1) {
      const blockers = await this.blockersOf(blockedUserId, candidates.size * BLOCKERS_READ_PER_CANDIDATE);
      if (blockers) return new Set(blockers.filter((userId) => candidates.has(userId)));
    }
    const items = await batchGetAll(
      this.client,
      this.tableName,
      [...candidates].map((userId) => ({ userId, blockedUserId })),
      { projection: 'userId' },
    );
    return new Set(items.flatMap((item) => (typeof item.userId === 'string' ? [item.userId] : [])));
  }

  /**
   * Everyone who blocked `blockedUserId` (`byBlocked` pages), or undefined past `atMost` of
   * them, or while the index is not there to read: a table from before it, until the
   * deploy has built it (or a local data directory from before it).
   */
  private async blockersOf(blockedUserId: string, atMost: number): Promise<string[] | undefined> {
    const query = queryAll(
      this.client,
      {
        TableName: this.tableName,
        IndexName: BY_BLOCKED_INDEX,
        KeyConditionExpression: 'blockedUserId = :b',
        ExpressionAttributeValues: { ':b': blockedUserId },
        ProjectionExpression: 'userId',
      },
      atMost + 1,
    );
    const items = await query.catch((error: unknown) => {
      if (isIndexUnavailable(error)) return undefined;
      throw error;
    });
    if (items === undefined || items.length > atMost) return undefined;
    return items.flatMap((item) => (typeof item.userId === 'string' ? [item.userId] : []));
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

/**
 * DynamoDB's answer to a Query of an index the table does not have yet ("The table does not
 * have the specified index") or is still building ("Cannot read from backfilling global
 * secondary index").
 */
function isIndexUnavailable(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ValidationException' &&
    /specified index|backfilling global secondary index/i.test(error.message)
  );
}
