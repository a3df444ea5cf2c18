import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type {
  HistoryRequest,
  MessagePage,
  MessageRecallStore,
  MessageStore,
  MessageSyncStore,
  RecallRequest,
  StoredMessage,
} from '../core/shared/ports.ts';
import { epochSeconds } from './time.ts';

/**
 * The sparse `byInbox` / `byOutbox` index keys: what was addressed to a user (private and
 * system messages) and what a user sent to private chats and groups. Room messages are
 * ephemeral chatter and stay out of catch-up.
 */
function syncKeys(message: StoredMessage): { inboxUserId?: string; outboxUserId?: string } {
  switch (message.kind) {
    case 'private':
      return { inboxUserId: message.toUserId, outboxUserId: message.fromUserId };
    case 'system':
      return { inboxUserId: message.toUserId };
    case 'group':
      return { outboxUserId: message.fromUserId };
    default:
      return {};
  }
}

type MessageItem = StoredMessage & { expiresAt?: number; inboxUserId?: string; outboxUserId?: string };

/** The stored item without its index and TTL attributes; a recalled message has empty content. */
export function messageFromItem(item: Record<string, unknown>): StoredMessage {
  const {
    expiresAt: _expiresAt,
    inboxUserId: _inbox,
    outboxUserId: _outbox,
    ...message
  } = item as unknown as MessageItem;
  return message.content === undefined ? { ...message, content: '' } : message;
}

/** Where an ascending catch-up Query reads: the table by conversation, or one of the user indexes. */
interface AscendingSource {
  readonly indexName?: 'byInbox' | 'byOutbox';
  readonly keyName: 'roomId' | 'inboxUserId' | 'outboxUserId';
  readonly keyValue: string;
}

/** Messages keyed by conversation (`roomId`) and ULID (`messageId`), so history is one Query. */
export class DynamoMessageStore implements MessageStore, MessageSyncStore, MessageRecallStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Days to keep messages (table TTL); 0 keeps them forever. */
    private readonly retentionDays = 0,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(message: StoredMessage): Promise<void> {
    const expiresAt =
      this.retentionDays > 0
        ? epochSeconds(new Date(message.createdAt)) + this.retentionDays * 86_400
        : undefined;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...message, ...syncKeys(message), ...(expiresAt === undefined ? {} : { expiresAt }) },
        // ULIDs do not collide; the condition makes sure a bug never overwrites history.
        ConditionExpression: 'attribute_not_exists(messageId)',
      }),
    );
  }

  async history({ roomId, limit, before, participant }: HistoryRequest): Promise<MessagePage> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: before ? 'roomId = :roomId AND messageId < :before' : 'roomId = :roomId',
        ...(participant ? { FilterExpression: 'fromUserId = :participant OR toUserId = :participant' } : {}),
        ExpressionAttributeValues: {
          ':roomId': roomId,
          ...(before ? { ':before': before } : {}),
          ...(participant ? { ':participant': participant } : {}),
        },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    const now = epochSeconds(this.now());
    const messages = (Items ?? [])
      .filter((item) => item.expiresAt === undefined || (item.expiresAt as number) > now)
      .map(messageFromItem);
    const nextBefore =
      typeof LastEvaluatedKey?.messageId === 'string' ? LastEvaluatedKey.messageId : undefined;
    return nextBefore ? { messages, nextBefore } : { messages };
  }

  inboxSince(userId: string, after: string | undefined, limit: number): Promise<StoredMessage[]> {
    return this.ascending({ indexName: 'byInbox', keyName: 'inboxUserId', keyValue: userId }, after, limit);
  }

  outboxSince(userId: string, after: string | undefined, limit: number): Promise<StoredMessage[]> {
    return this.ascending({ indexName: 'byOutbox', keyName: 'outboxUserId', keyValue: userId }, after, limit);
  }

  conversationSince(roomId: string, after: string | undefined, limit: number): Promise<StoredMessage[]> {
    return this.ascending({ keyName: 'roomId', keyValue: roomId }, after, limit);
  }

  /**
   * Up to `limit` live messages with ids strictly after `after`, oldest first. Expired
   * items (TTL deletes them late, dynalite never) are filtered out, so the Query continues
   * until it has `limit` of them or the partition is exhausted: a short answer means
   * there is nothing more, which the sync merge relies on.
   */
  private async ascending(
    source: AscendingSource,
    after: string | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    const found: StoredMessage[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ...(source.indexName ? { IndexName: source.indexName } : {}),
          KeyConditionExpression: after ? '#key = :key AND messageId > :after' : '#key = :key',
          FilterExpression: 'attribute_not_exists(expiresAt) OR expiresAt > :now',
          ExpressionAttributeNames: { '#key': source.keyName },
          ExpressionAttributeValues: {
            ':key': source.keyValue,
            ':now': epochSeconds(this.now()),
            ...(after ? { ':after': after } : {}),
          },
          ScanIndexForward: true,
          Limit: limit - found.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) found.push(messageFromItem(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey && found.length < limit);
    return found;
  }

  async markDeleted({ roomId, messageId, senderId, at }: RecallRequest): Promise<StoredMessage | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { roomId, messageId },
          UpdateExpression:
            'SET #deleted = :true, #deletedAt = if_not_exists(#deletedAt, :at) REMOVE #content',
          // Only the sender, only their own chat messages (never system notices), only live ones.
          ConditionExpression:
            '#from = :sender AND #kind IN (:private, :group, :room) AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now)',
          ExpressionAttributeNames: {
            '#deleted': 'deleted',
            '#deletedAt': 'deletedAt',
            '#content': 'content',
            '#from': 'fromUserId',
            '#kind': 'kind',
            '#expiresAt': 'expiresAt',
          },
          ExpressionAttributeValues: {
            ':true': true,
            ':at': at.toISOString(),
            ':sender': senderId,
            ':private': 'private',
            ':group': 'group',
            ':room': 'room',
            ':now': epochSeconds(this.now()),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? messageFromItem(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
