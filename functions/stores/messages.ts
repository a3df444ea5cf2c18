import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type {
  EditRequest,
  HistoryRequest,
  MessageEditStore,
  MessagePage,
  MessageRecallStore,
  MessageStore,
  MessageSyncStore,
  PutOptions,
  RecallRequest,
  StoredMessage,
} from '../core/shared/ports.ts';
import { batchWriteTables, privateConversationRows } from './conversation-rows.ts';
import { unlessConditionFailed } from './dynamo.ts';
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
export class DynamoMessageStore
  implements MessageStore, MessageSyncStore, MessageRecallStore, MessageEditStore
{
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Days to keep messages (table TTL); 0 keeps them forever. */
    private readonly retentionDays = 0,
    private readonly now: () => Date = () => new Date(),
    /** The conversation list's table; unset: private messages write no list rows. */
    private readonly conversationsTable?: string,
  ) {}

  /**
   * A private message also writes both participants' conversation-list rows (when the
   * store has the `conversations` table). A fresh message goes in one BatchWriteItem with
   * them (no condition: its id was just minted); otherwise the message is a conditional
   * PutItem (an existing id throws ConditionalCheckFailed: a duplicate) and the rows follow
   * in a BatchWriteItem. BatchWriteItem has no conditions, so when two messages of one chat
   * are stored at the same moment the older may land last and the rows name it until the
   * next message (docs/architecture.md).
   */
  async put(message: StoredMessage, options: PutOptions = {}): Promise<void> {
    const expiresAt =
      this.retentionDays > 0
        ? epochSeconds(new Date(message.createdAt)) + this.retentionDays * 86_400
        : undefined;
    const item = { ...message, ...syncKeys(message), ...(expiresAt === undefined ? {} : { expiresAt }) };
    const rows = this.conversationsTable ? privateConversationRows(message, expiresAt) : [];
    const rowWrites = rows.map((row) => ({ PutRequest: { Item: row } }));
    if (options.fresh && this.conversationsTable && rows.length > 0) {
      await batchWriteTables(this.client, {
        [this.tableName]: [{ PutRequest: { Item: item } }],
        [this.conversationsTable]: rowWrites,
      });
      return;
    }
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        // ULIDs do not collide; the condition makes sure a bug never overwrites history.
        ConditionExpression: 'attribute_not_exists(messageId)',
      }),
    );
    if (this.conversationsTable && rows.length > 0) {
      await batchWriteTables(this.client, { [this.conversationsTable]: rowWrites });
    }
  }

  async get(roomId: string, messageId: string): Promise<StoredMessage | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { roomId, messageId }, ConsistentRead: true }),
    );
    return Item ? messageFromItem(Item) : undefined;
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
    return this.updateOwnChatMessage(
      { roomId, messageId, senderId, at },
      {
        update:
          'SET #deleted = :true, #deletedAt = if_not_exists(#deletedAt, :at) REMOVE #content, #attachment',
        // Recalling again is harmless: the first recall's time stays.
        names: {
          '#deleted': 'deleted',
          '#deletedAt': 'deletedAt',
          '#content': 'content',
          // A recalled message no longer hands out its attachment.
          '#attachment': 'attachment',
        },
        values: { ':true': true },
      },
    );
  }

  /** One conditional UpdateItem: the sender's live, unrecalled chat message gets the new content. */
  async edit({ roomId, messageId, senderId, content, at }: EditRequest): Promise<StoredMessage | undefined> {
    return this.updateOwnChatMessage(
      { roomId, messageId, senderId, at },
      {
        update: 'SET #content = :content, #editedAt = :at',
        condition: 'attribute_not_exists(#deleted)',
        names: { '#content': 'content', '#editedAt': 'editedAt', '#deleted': 'deleted' },
        values: { ':content': content },
      },
    );
  }

  /**
   * One conditional UpdateItem on a message only its sender may change: their own chat
   * message (never a system notice) that has not expired, and `condition` if given.
   * Undefined when the condition fails.
   */
  private async updateOwnChatMessage(
    target: {
      readonly roomId: string;
      readonly messageId: string;
      readonly senderId: string;
      readonly at: Date;
    },
    change: {
      readonly update: string;
      readonly condition?: string;
      readonly names: Record<string, string>;
      readonly values: Record<string, unknown>;
    },
  ): Promise<StoredMessage | undefined> {
    const ownLiveChatMessage =
      '#from = :sender AND #kind IN (:private, :group, :room) AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now)';
    const written = await unlessConditionFailed(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { roomId: target.roomId, messageId: target.messageId },
          UpdateExpression: change.update,
          ConditionExpression: change.condition
            ? `${ownLiveChatMessage} AND ${change.condition}`
            : ownLiveChatMessage,
          ExpressionAttributeNames: {
            ...change.names,
            '#from': 'fromUserId',
            '#kind': 'kind',
            '#expiresAt': 'expiresAt',
          },
          ExpressionAttributeValues: {
            ...change.values,
            ':at': target.at.toISOString(),
            ':sender': target.senderId,
            ':private': 'private',
            ':group': 'group',
            ':room': 'room',
            ':now': epochSeconds(this.now()),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (!written) return undefined;
    const { Attributes } = written;
    return Attributes ? messageFromItem(Attributes) : undefined;
  }
}
