import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { HistoryRequest, MessagePage, MessageStore, StoredMessage } from '../core/ports.ts';
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

/** Messages keyed by conversation (`roomId`) and ULID (`messageId`), so history is one Query. */
export class DynamoMessageStore implements MessageStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Days to keep messages (table TTL); 0 keeps them forever. */
    private readonly retentionDays = 0,
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
    const now = epochSeconds(new Date());
    const messages = (
      (Items ?? []) as (StoredMessage & { expiresAt?: number; inboxUserId?: string; outboxUserId?: string })[]
    )
      .filter((item) => item.expiresAt === undefined || item.expiresAt > now)
      .map(({ expiresAt: _expiresAt, inboxUserId: _inbox, outboxUserId: _outbox, ...message }) => message);
    const nextBefore =
      typeof LastEvaluatedKey?.messageId === 'string' ? LastEvaluatedKey.messageId : undefined;
    return nextBefore ? { messages, nextBefore } : { messages };
  }
}
