/**
 * Read-only Queries over the messages and groups tables for read receipts, unread counts,
 * presence pushes and `sync`. Every read is a Query on a partition (a room, a group, or
 * one user's `byInbox` / `byOutbox` / `byMember` entries), bounded except for a group's
 * members and the full list of a user's groups that `sync` reads; none is a Scan.
 */
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type {
  ConversationIndex,
  IncomingPrivateRoom,
  UnreadCount,
  UnreadQuery,
} from '../core/receipts/conversations.ts';
import type { StoredMessage } from '../core/shared/ports.ts';
import { type Item, queryAll } from './dynamo.ts';
import { MEMBER_PREFIX, memberGroupIdPages } from './groups.ts';
import { messageFromItem } from './messages.ts';
import { epochSeconds } from './time.ts';

/** Items a count pages through at most (beyond the cap's worth of matches). */
export const UNREAD_SCAN_PAGE = 500;
export const UNREAD_MAX_PAGES = 4;

export interface ConversationTables {
  readonly messages: string;
  readonly groups: string;
}

export class DynamoConversationIndex implements ConversationIndex {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: ConversationTables,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private live(item: Item): boolean {
    return typeof item.expiresAt !== 'number' || item.expiresAt > epochSeconds(this.now());
  }

  async message(roomId: string, messageId: string): Promise<StoredMessage | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tables.messages, Key: { roomId, messageId } }),
    );
    return Item && this.live(Item) ? messageFromItem(Item) : undefined;
  }

  async countUnread({ roomId, readerId, kind, after, cap }: UnreadQuery): Promise<UnreadCount> {
    const mine =
      kind === 'private' ? 'toUserId = :reader AND fromUserId <> :reader' : 'fromUserId <> :reader';
    let count = 0;
    let newestMessageId: string | undefined;
    let startKey: Record<string, unknown> | undefined;
    for (let page = 0; page < UNREAD_MAX_PAGES && count < cap; page++) {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tables.messages,
          KeyConditionExpression: after ? 'roomId = :roomId AND messageId > :after' : 'roomId = :roomId',
          // Recalled (`delete_message`) and expired messages are not unread.
          FilterExpression: `${mine} AND attribute_not_exists(#deleted) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)`,
          ProjectionExpression: 'messageId',
          ExpressionAttributeNames: { '#deleted': 'deleted' },
          ExpressionAttributeValues: {
            ':roomId': roomId,
            ':reader': readerId,
            ':now': epochSeconds(this.now()),
            ...(after ? { ':after': after } : {}),
          },
          // Newest first: the first match is the newest unread message.
          ScanIndexForward: false,
          Limit: UNREAD_SCAN_PAGE,
          ExclusiveStartKey: startKey,
        }),
      );
      const items = result.Items ?? [];
      if (newestMessageId === undefined && typeof items[0]?.messageId === 'string') {
        newestMessageId = items[0].messageId;
      }
      count += items.length;
      startKey = result.LastEvaluatedKey;
      if (!startKey) break;
    }
    count = Math.min(count, cap);
    return newestMessageId === undefined ? { count } : { count, newestMessageId };
  }

  /**
   * The sparse `byMember` index (`memberUserId`, `groupId`, keys only) holds only member
   * items: one Query, paginated, newest group first, stopping after `limit` when given.
   */
  async groupIdsOf(userId: string, limit?: number): Promise<string[]> {
    const groupIds = new Set<string>();
    const pages = memberGroupIdPages(this.client, this.tables.groups, userId, {
      newestFirst: true,
      maxEvaluated: limit,
    });
    for await (const page of pages) for (const groupId of page) groupIds.add(groupId);
    return [...groupIds];
  }

  async groupMemberIds(groupId: string): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.tables.groups,
      KeyConditionExpression: 'groupId = :groupId AND begins_with(sk, :member)',
      ExpressionAttributeValues: { ':groupId': groupId, ':member': MEMBER_PREFIX },
      ProjectionExpression: 'memberUserId',
    });
    return items.map((item) => item.memberUserId).filter((id) => typeof id === 'string');
  }

  private newest(indexName: 'byInbox' | 'byOutbox', key: string, userId: string, limit: number) {
    return queryAll(
      this.client,
      {
        TableName: this.tables.messages,
        IndexName: indexName,
        KeyConditionExpression: `${key} = :userId`,
        ExpressionAttributeNames: { '#kind': 'kind', '#deleted': 'deleted' },
        ExpressionAttributeValues: { ':userId': userId },
        ProjectionExpression: '#kind, roomId, messageId, fromUserId, toUserId, expiresAt, #deleted',
        ScanIndexForward: false,
      },
      limit,
    );
  }

  async recentSends(userId: string, limit: number): Promise<{ users: string[]; groupIds: string[] }> {
    const users = new Set<string>();
    const groupIds = new Set<string>();
    for (const item of await this.newest('byOutbox', 'outboxUserId', userId, limit)) {
      if (item.kind === 'private' && typeof item.toUserId === 'string') users.add(item.toUserId);
      if (item.kind === 'group' && typeof item.roomId === 'string') groupIds.add(item.roomId);
    }
    users.delete(userId);
    return { users: [...users], groupIds: [...groupIds] };
  }

  async incomingPrivateRooms(userId: string, limit: number): Promise<Map<string, IncomingPrivateRoom>> {
    const rooms = new Map<string, IncomingPrivateRoom>();
    for (const item of await this.newest('byInbox', 'inboxUserId', userId, limit)) {
      if (item.kind !== 'private' || item.fromUserId === userId || item.deleted || !this.live(item)) continue;
      const { roomId, messageId, fromUserId } = item;
      // Newest first, so the first one seen per room is its newest.
      if (
        typeof roomId === 'string' &&
        typeof messageId === 'string' &&
        typeof fromUserId === 'string' &&
        !rooms.has(roomId)
      ) {
        rooms.set(roomId, { newestMessageId: messageId, peerId: fromUserId });
      }
    }
    return rooms;
  }
}
