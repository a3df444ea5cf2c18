/**
 * A private message's recipient: their presence item and the block row (recipient, sender)
 * in one BatchGetItem across the `presence` and `blocks` tables, instead of a GetItem each.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RecipientReader, RecipientView } from '../core/shared/ports.ts';
import { backoff, type Item } from './dynamo.ts';
import { liveConnections } from './presence.ts';
import { epochSeconds } from './time.ts';

export class DynamoRecipientReader implements RecipientReader {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: { readonly presence: string; readonly blocks: string },
    private readonly now: () => Date = () => new Date(),
  ) {}

  async recipient(recipientId: string, senderId: string): Promise<RecipientView> {
    const { presence, blocks } = this.tables;
    let pending: Record<string, { Keys: Item[]; ProjectionExpression?: string }> = {
      // The whole item: the token expiries are attributes named after each connection.
      [presence]: { Keys: [{ userId: recipientId }] },
      [blocks]: { Keys: [{ userId: recipientId, blockedUserId: senderId }], ProjectionExpression: 'userId' },
    };
    let presenceItem: Item | undefined;
    let blocksSender = false;
    // Unprocessed keys (throttling) are asked again with backoff, as every batch read does.
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      await backoff(attempt);
      const { Responses, UnprocessedKeys } = await this.client.send(
        new BatchGetCommand({ RequestItems: pending }),
      );
      presenceItem ??= Responses?.[presence]?.[0];
      if ((Responses?.[blocks]?.length ?? 0) > 0) blocksSender = true;
      pending = (UnprocessedKeys ?? {}) as typeof pending;
    }
    const live = liveConnections(presenceItem, epochSeconds(this.now()));
    return { online: live ? [live] : [], blocksSender };
  }
}
