import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { claimOf } from '../core/guards/guards.ts';
import type {
  ClaimedMessage,
  ClaimRecord,
  GuardStore,
  OnceClaims,
  StoredMessage,
} from '../core/shared/ports.ts';
import { ignoringConditionFailure } from './dynamo.ts';

/**
 * The `guards` table: one item per key (`guardKey`), each with an `expiresAt` TTL.
 * Rate-limit windows hold a `hits` counter; dedupe records hold the first message's
 * `messageId`, `createdAt` and `conversation` tag (records written before that held the
 * whole `message`, and are still read).
 * DynamoDB deletes expired items late (dynalite never does), so a dedupe record past
 * `expiresAt` counts as absent; a rate window's key names its minute, so it never needs to.
 */
export class DynamoGuardStore implements GuardStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async countHit(key: string, limit: number, expiresAt: number): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { guardKey: key },
          UpdateExpression: 'ADD hits :one SET expiresAt = if_not_exists(expiresAt, :expiresAt)',
          ConditionExpression: 'attribute_not_exists(hits) OR hits < :limit',
          ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':expiresAt': expiresAt },
        }),
      ),
    );
  }

  async claim(
    key: string,
    claimed: ClaimedMessage,
    expiresAt: number,
    now: number,
  ): Promise<ClaimRecord | undefined> {
    // A record that vanishes between the failed Put and the Get (expired, released) is
    // claimed again; twice is plenty.
    for (let attempt = 0; attempt < 3; attempt++) {
      const written = await ignoringConditionFailure(
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { guardKey: key, ...claimed, expiresAt },
            ConditionExpression: 'attribute_not_exists(guardKey) OR released = :true OR expiresAt < :now',
            ExpressionAttributeValues: { ':true': true, ':now': now },
          }),
        ),
      );
      if (written) return undefined;
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { guardKey: key }, ConsistentRead: true }),
      );
      const found =
        Item && Item.released !== true && Number(Item.expiresAt) >= now ? claimedIn(Item) : undefined;
      if (found) return { claimed: found, undelivered: Item?.undelivered === true };
    }
    throw new Error(`dedupe record ${key} could neither be claimed nor read`);
  }

  async release(key: string): Promise<void> {
    await this.flag(key, 'released');
  }

  async markUndelivered(key: string): Promise<void> {
    await this.flag(key, 'undelivered');
  }

  /** Sets `attribute` true on the record, if it still exists (an expired one is not recreated). */
  private async flag(key: string, attribute: 'released' | 'undelivered'): Promise<void> {
    await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { guardKey: key },
          UpdateExpression: `SET ${attribute} = :true`,
          ConditionExpression: 'attribute_exists(guardKey)',
          ExpressionAttributeValues: { ':true': true },
        }),
      ),
    );
  }

  async takeUndelivered(key: string): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { guardKey: key },
          UpdateExpression: 'REMOVE undelivered',
          ConditionExpression: 'undelivered = :true',
          ExpressionAttributeValues: { ':true': true },
        }),
      ),
    );
  }
}

/** What a dedupe record claimed; a record of the earlier format holds the whole `message`. */
function claimedIn(item: Record<string, unknown>): ClaimedMessage | undefined {
  const { messageId, createdAt, conversation, message } = item;
  if (typeof messageId === 'string' && typeof createdAt === 'string' && typeof conversation === 'string') {
    return { messageId, createdAt, conversation };
  }
  return message ? claimOf(message as StoredMessage) : undefined;
}

/**
 * `OnceClaims` in the `guards` table: an item per key with a lease (`leaseUntil`) until
 * it is `completed` (kept until `expiresAt`) or `released`.
 */
export class DynamoOnceClaims implements OnceClaims {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long a completed claim is remembered: as long as Lambda may deliver the event again. */
    private readonly rememberSeconds: number,
  ) {}

  async claim(key: string, leaseSeconds: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    return ignoringConditionFailure(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { guardKey: key, leaseUntil: now + leaseSeconds, expiresAt: now + this.rememberSeconds },
          ConditionExpression:
            'attribute_not_exists(guardKey) OR released = :true OR expiresAt < :now OR (attribute_not_exists(completed) AND leaseUntil < :now)',
          ExpressionAttributeValues: { ':true': true, ':now': now },
        }),
      ),
    );
  }

  async complete(key: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { guardKey: key },
        UpdateExpression: 'SET completed = :true',
        ExpressionAttributeValues: { ':true': true },
      }),
    );
  }

  async release(key: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { guardKey: key },
        UpdateExpression: 'SET released = :true',
        ExpressionAttributeValues: { ':true': true },
      }),
    );
  }
}
