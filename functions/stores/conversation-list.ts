/**
 * The conversation list's storage: private rows in the `conversations` table (written
 * with each private message, see `privateConversationRows`), groups' meta items, and the
 * BatchGetItems of a page's last messages and read positions.
 */
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type DynamoDBDocumentClient,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type {
  ConversationListStore,
  GroupSummary,
  MessageKey,
  PrivateConversationPage,
} from '../core/conversations/ports.ts';
import type { StoredMessage } from '../core/shared/ports.ts';
import { backoff, type Item } from './dynamo.ts';
import { META } from './groups.ts';
import { messageFromItem } from './messages.ts';
import { epochSeconds } from './time.ts';

const BATCH_GET_LIMIT = 100;

type GetRequests = NonNullable<BatchGetCommandInput['RequestItems']>;

/** Every item of `keys` in `tableName` that exists, 100 keys per BatchGetItem, retrying unprocessed keys. */
async function batchGetAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Item[],
  projection?: { expression: string; names?: Record<string, string> },
): Promise<Item[]> {
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: GetRequests | undefined = {
      [tableName]: {
        Keys: keys.slice(i, i + BATCH_GET_LIMIT) as Item[],
        ...(projection
          ? { ProjectionExpression: projection.expression, ExpressionAttributeNames: projection.names }
          : {}),
      },
    };
    for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt++) {
      await backoff(attempt);
      const result: { Responses?: Record<string, Item[]>; UnprocessedKeys?: GetRequests } = await client.send(
        new BatchGetCommand({ RequestItems: pending }),
      );
      found.push(...(result.Responses?.[tableName] ?? []));
      pending = result.UnprocessedKeys;
    }
  }
  return found;
}

export interface ConversationListTables {
  readonly conversations: string;
  readonly groups: string;
  readonly messages: string;
  readonly readState: string;
}

export class DynamoConversationListStore implements ConversationListStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: ConversationListTables,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async privateConversations(
    userId: string,
    limit: number,
    atOrBefore?: string,
  ): Promise<PrivateConversationPage> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tables.conversations,
        IndexName: 'byActivity',
        KeyConditionExpression: atOrBefore ? 'userId = :userId AND lastMessageId <= :at' : 'userId = :userId',
        ExpressionAttributeValues: { ':userId': userId, ...(atOrBefore ? { ':at': atOrBefore } : {}) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    // Expired rows stay in: their message is gone too, and the list leaves them out then.
    const rows = (Items ?? []).flatMap((item) =>
      typeof item.roomId === 'string' &&
      typeof item.peerId === 'string' &&
      typeof item.lastMessageId === 'string'
        ? [{ roomId: item.roomId, peerId: item.peerId, lastMessageId: item.lastMessageId }]
        : [],
    );
    return { rows, more: LastEvaluatedKey !== undefined };
  }

  async groupSummaries(groupIds: readonly string[]): Promise<GroupSummary[]> {
    const items = await batchGetAll(
      this.client,
      this.tables.groups,
      groupIds.map((groupId) => ({ groupId, sk: META })),
      { expression: 'groupId, groupName, createdAt, lastMessageId' },
    );
    return items.flatMap((item) =>
      typeof item.groupId === 'string'
        ? [
            {
              groupId: item.groupId,
              groupName: String(item.groupName ?? ''),
              createdAt: String(item.createdAt ?? ''),
              ...(typeof item.lastMessageId === 'string' ? { lastMessageId: item.lastMessageId } : {}),
            },
          ]
        : [],
    );
  }

  async messages(keys: readonly MessageKey[]): Promise<StoredMessage[]> {
    const now = epochSeconds(this.now());
    const items = await batchGetAll(
      this.client,
      this.tables.messages,
      keys.map(({ roomId, messageId }) => ({ roomId, messageId })),
    );
    return items
      .filter((item) => typeof item.expiresAt !== 'number' || item.expiresAt > now)
      .map(messageFromItem);
  }

  async readPositions(userId: string, roomIds: readonly string[]): Promise<Map<string, string>> {
    const items = await batchGetAll(
      this.client,
      this.tables.readState,
      roomIds.map((roomId) => ({ userId, roomId })),
      { expression: 'roomId, lastReadMessageId' },
    );
    const positions = new Map<string, string>();
    for (const item of items) {
      if (typeof item.roomId === 'string' && typeof item.lastReadMessageId === 'string') {
        positions.set(item.roomId, item.lastReadMessageId);
      }
    }
    return positions;
  }
}
