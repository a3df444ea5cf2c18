/**
 * Reactions in the messages table, without another index (docs/architecture.md):
 * - one row per user and message, `roomId = react#<roomId>#<messageId>`, `messageId = <userId>`,
 *   holding the user's emoji as a string set: one conditional UpdateItem makes a reaction
 *   idempotent (the set has it already) and bounds the user's reactions on the message;
 * - the counts, a map `reactions` on the message item itself, moved by one conditional
 *   UpdateItem: history reads no extra item to show them.
 * The two writes are not one transaction (that would cost twice the write units): a
 * refused count undoes the row at once; only a crash between the two writes can leave a
 * row without its count (the user's next react of that emoji then answers unchanged).
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type {
  ReactionAdded,
  ReactionLimits,
  ReactionRemoved,
  ReactionStore,
  ReactionTarget,
} from '../core/shared/ports.ts';
import { ignoringConditionFailure, isConditionalCheckFailed, unlessConditionFailed } from './dynamo.ts';
import { epochSeconds } from './time.ts';

/** The partition of a message's per-user reaction rows (never a room id: `#` is not allowed in one). */
export function reactionPartition(roomId: string, messageId: string): string {
  return `react#${roomId}#${messageId}`;
}

/** A nested SET on a message without the `reactions` map: DynamoDB refuses the path. */
function isMissingMap(error: unknown): boolean {
  return (
    error instanceof Error && error.name === 'ValidationException' && /document path/i.test(error.message)
  );
}

/** Counts above zero only (a count that reached zero is removed right after). */
function countsOf(item: Record<string, unknown> | undefined): Record<string, number> {
  const map = (item?.reactions ?? {}) as Record<string, unknown>;
  const counts: Record<string, number> = {};
  for (const [emoji, count] of Object.entries(map)) {
    if (typeof count === 'number' && count > 0) counts[emoji] = count;
  }
  return counts;
}

export class DynamoReactionStore implements ReactionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Days messages are kept (their reaction rows expire with them); 0: forever. */
    private readonly retentionDays = 0,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private rowKey(target: ReactionTarget, userId: string) {
    return { roomId: reactionPartition(target.roomId, target.messageId), messageId: userId };
  }

  private liveCondition =
    'attribute_exists(messageId) AND attribute_not_exists(#deleted) AND (attribute_not_exists(#expiresAt) OR #expiresAt > :now)';

  async add(
    target: ReactionTarget,
    userId: string,
    emoji: string,
    limits: ReactionLimits,
  ): Promise<ReactionAdded> {
    const expiresAt =
      this.retentionDays > 0
        ? epochSeconds(new Date(target.createdAt)) + this.retentionDays * 86_400
        : undefined;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.rowKey(target, userId),
          UpdateExpression: `ADD #emoji :set${expiresAt === undefined ? '' : ' SET #expiresAt = :expiresAt'}`,
          ConditionExpression:
            'attribute_not_exists(#emoji) OR (NOT contains(#emoji, :emoji) AND size(#emoji) < :maxPerUser)',
          ExpressionAttributeNames: {
            '#emoji': 'emoji',
            ...(expiresAt === undefined ? {} : { '#expiresAt': 'expiresAt' }),
          },
          ExpressionAttributeValues: {
            ':set': new Set([emoji]),
            ':emoji': emoji,
            ':maxPerUser': limits.maxPerUser,
            ...(expiresAt === undefined ? {} : { ':expiresAt': expiresAt }),
          },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: this.rowKey(target, userId), ConsistentRead: true }),
      );
      const mine = Item?.emoji as Set<string> | undefined;
      return mine?.has(emoji) ? { outcome: 'unchanged' } : { outcome: 'userLimit' };
    }
    const counted = await this.count(target, emoji, limits);
    if (counted.outcome !== 'added') await this.removeFromRow(target, userId, emoji);
    return counted;
  }

  /** One more `emoji` on the message: into the map when it exists, else the map is created. */
  private async count(target: ReactionTarget, emoji: string, limits: ReactionLimits): Promise<ReactionAdded> {
    const Key = { roomId: target.roomId, messageId: target.messageId };
    const names = { '#reactions': 'reactions', '#deleted': 'deleted', '#expiresAt': 'expiresAt' };
    const now = epochSeconds(this.now());
    const addTo = async (): Promise<ReactionAdded | undefined> => {
      try {
        const { Attributes } = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'SET #reactions.#emoji = if_not_exists(#reactions.#emoji, :zero) + :one',
            ConditionExpression: `${this.liveCondition} AND attribute_exists(#reactions) AND (attribute_exists(#reactions.#emoji) OR size(#reactions) < :maxDistinct)`,
            ExpressionAttributeNames: { ...names, '#emoji': emoji },
            ExpressionAttributeValues: {
              ':zero': 0,
              ':one': 1,
              ':maxDistinct': limits.maxDistinct,
              ':now': now,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { outcome: 'added', counts: countsOf(Attributes) };
      } catch (error) {
        if (!isConditionalCheckFailed(error) && !isMissingMap(error)) throw error;
        return undefined;
      }
    };
    const create = async (): Promise<ReactionAdded | undefined> => {
      try {
        const { Attributes } = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'SET #reactions = :first',
            ConditionExpression: `${this.liveCondition} AND attribute_not_exists(#reactions)`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':first': { [emoji]: 1 }, ':now': now },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { outcome: 'added', counts: countsOf(Attributes) };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        return undefined;
      }
    };
    // The form the message's last read suggests goes first; a racing first reaction may
    // have created the map meanwhile, so the other form follows.
    const forms = target.hasCounts === false ? [create, addTo] : [addTo, create];
    for (let attempt = 0; attempt < 3; attempt++) {
      for (const form of forms) {
        const added = await form();
        if (added) return added;
      }
      // Neither form applied: find out why.
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
      );
      const expired = typeof Item?.expiresAt === 'number' && Item.expiresAt <= now;
      if (!Item || Item.deleted || expired) return { outcome: 'gone' };
      const counts = (Item.reactions ?? {}) as Record<string, number>;
      if (!(emoji in counts) && Object.keys(counts).length >= limits.maxDistinct) {
        return { outcome: 'distinctLimit' };
      }
    }
    throw new Error('the reaction count kept racing other writes');
  }

  private async removeFromRow(target: ReactionTarget, userId: string, emoji: string): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.rowKey(target, userId),
          UpdateExpression: 'DELETE #emoji :set',
          ConditionExpression: 'contains(#emoji, :emoji)',
          ExpressionAttributeNames: { '#emoji': 'emoji' },
          ExpressionAttributeValues: { ':set': new Set([emoji]), ':emoji': emoji },
        }),
      ),
    );
  }

  async remove(target: ReactionTarget, userId: string, emoji: string): Promise<ReactionRemoved> {
    if (!(await this.removeFromRow(target, userId, emoji))) return { outcome: 'unchanged' };
    const Key = { roomId: target.roomId, messageId: target.messageId };
    const names = { '#reactions': 'reactions', '#emoji': emoji };
    const counted = await unlessConditionFailed(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key,
          UpdateExpression: 'SET #reactions.#emoji = #reactions.#emoji - :one',
          ConditionExpression: '#reactions.#emoji > :zero',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    // The message expired (TTL) with its count: nothing left to count down.
    if (!counted) return { outcome: 'removed', counts: {} };
    const counts = countsOf(counted.Attributes);
    if (!(emoji in counts)) {
      // The last one: the emoji leaves the map, so it no longer takes one of maxDistinct.
      await ignoringConditionFailure(
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'REMOVE #reactions.#emoji',
            ConditionExpression: '#reactions.#emoji = :zero',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':zero': 0 },
          }),
        ),
      );
    }
    return { outcome: 'removed', counts };
  }
}
