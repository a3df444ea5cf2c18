/**
 * Presence: one item per online user with the set of their connection ids.
 * - a user's connections: one GetItem; many users': BatchGetItem, 100 keys a request;
 * - first connection / last disconnection: seen atomically through the ADD counter;
 * - online users: Query on the sparse `byShard` index, spread over PRESENCE_SHARDS partitions;
 * - counts: STATS_SHARDS counter items `#stats#<n>`, the user's own one updated on those
 *   transitions, summed with the legacy `#stats` item by one BatchGetItem (no Scan, no Query).
 */
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { PRESENCE_SHARDS } from '../../lib/table-definitions.ts';
import { isValidUserId } from '../core/shared/ids.ts';
import type {
  OnlineCounts,
  PresenceEntry,
  PresenceStore,
  PresenceSweepSource,
  UserConnections,
} from '../core/shared/ports.ts';
import {
  backoff,
  ignoringConditionFailure,
  isConditionalCheckFailed,
  unlessConditionFailed,
} from './dynamo.ts';
import { epochSeconds } from './time.ts';

const BATCH_GET_LIMIT = 100;

/**
 * The single counter item of earlier versions: no longer written (every connect and
 * disconnect wrote it: one hot partition), still read and added, so the counts it holds
 * for connections opened before the upgrade stay in the sum (docs/architecture.md, migration).
 */
const LEGACY_STATS_KEY = '#stats';
const STATS_KEY_PREFIX = '#stats#';
/**
 * Counter shards: one per `byShard` partition, chosen by the same hash of the user id, so
 * shard n counts exactly the users listed in `byShard` partition n, and no counter item is
 * written more often than the sum of its users' own presence items. 16 × 1,000 WCU/s.
 */
export const STATS_SHARDS = PRESENCE_SHARDS;

/** Every key of the presence table that is not a user starts with `#`, which no user id may. */
export function isReservedPresenceKey(userId: string): boolean {
  return userId.startsWith('#');
}

function shardIndexOf(userId: string): number {
  let hash = 0;
  for (let i = 0; i < userId.length; i++) hash = (hash * 31 + userId.charCodeAt(i)) >>> 0;
  return hash % PRESENCE_SHARDS;
}

export function shardOf(userId: string): string {
  return `s${String(shardIndexOf(userId)).padStart(2, '0')}`;
}

/** The counter item a user's transitions are added to. */
export function statsKeyOf(userId: string): string {
  return `${STATS_KEY_PREFIX}${shardIndexOf(userId)}`;
}

/** The legacy item first, then every shard: at most 100 keys, one BatchGetItem. */
const STATS_READ_KEYS = [
  LEGACY_STATS_KEY,
  ...Array.from({ length: STATS_SHARDS }, (_, n) => `${STATS_KEY_PREFIX}${n}`),
];

interface PresenceItem {
  userId: string;
  connectionIds?: Set<string>;
  expiresAt?: number;
  /** The online session's token (functions/core/groups/online-members.ts). */
  onlineSince?: string;
  /** `tokenExpiresAt#<connectionId>`: that connection's token `exp` (see `tokenExpiryAttribute`). */
  [tokenExpiry: `${typeof TOKEN_EXPIRY_PREFIX}${string}`]: number | undefined;
}

/**
 * Each connection's token `exp` sits beside its id, in an attribute of its own (a map would
 * need a second write to create it), so every read of a user's connections tells the
 * fan-out which ones to skip without reading connection rows.
 */
const TOKEN_EXPIRY_PREFIX = 'tokenExpiresAt#';

function tokenExpiryAttribute(connectionId: string): `${typeof TOKEN_EXPIRY_PREFIX}${string}` {
  return `${TOKEN_EXPIRY_PREFIX}${connectionId}`;
}

interface ListCursor {
  shard: number;
  after?: string;
}

function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(raw: string | undefined): ListCursor {
  if (!raw) return { shard: 0 };
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<ListCursor> | null;
    const shard = parsed?.shard;
    const after = parsed?.after;
    // `after` goes into a key condition: anything but a user id is a DynamoDB ValidationException.
    if (
      typeof shard === 'number' &&
      Number.isInteger(shard) &&
      shard >= 0 &&
      shard <= PRESENCE_SHARDS &&
      (after === undefined || (typeof after === 'string' && isValidUserId(after)))
    ) {
      return after === undefined ? { shard } : { shard, after };
    }
  } catch {
    // fall through: an unreadable cursor is a bad request
  }
  throw new RangeError('cursor is not valid');
}

/**
 * A presence item read whole (`GetItem`, `BatchGetItem`) as the user's connections, or
 * undefined when it is the stats item, past its expiry or empty.
 */
export function liveConnections(item: object | undefined, nowSeconds: number): UserConnections | undefined {
  const presence = item as PresenceItem | undefined;
  if (!presence || isReservedPresenceKey(presence.userId)) return undefined;
  if ((presence.expiresAt ?? 0) <= nowSeconds) return undefined;
  const connectionIds = [...(presence.connectionIds ?? [])];
  if (connectionIds.length === 0) return undefined;
  const tokenExpiresAt: Record<string, number> = {};
  for (const id of connectionIds) {
    const exp = presence[tokenExpiryAttribute(id)];
    if (typeof exp === 'number') tokenExpiresAt[id] = exp;
  }
  return {
    userId: presence.userId,
    connectionIds,
    tokenExpiresAt,
    ...(typeof presence.onlineSince === 'string' ? { onlineSince: presence.onlineSince } : {}),
  };
}

export class DynamoPresenceStore implements PresenceStore, PresenceSweepSource {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async addConnection(
    userId: string,
    connectionId: string,
    expiresAt: number,
    limit = 0,
    tokenExpiresAt?: number,
  ): Promise<{ cameOnline: boolean; connectionCount: number } | { full: true }> {
    const withToken = typeof tokenExpiresAt === 'number' && Number.isFinite(tokenExpiresAt);
    let Attributes: Record<string, unknown> | undefined;
    try {
      ({ Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: `ADD connectionIds :ids, connectionCount :one SET expiresAt = :expiresAt, onlineShard = :shard${withToken ? ', #tokenExpiresAt = :tokenExpiresAt' : ''}`,
          ...(withToken
            ? { ExpressionAttributeNames: { '#tokenExpiresAt': tokenExpiryAttribute(connectionId) } }
            : {}),
          // The limit is enforced by the write itself: racing handshakes cannot all pass it.
          ...(limit > 0
            ? { ConditionExpression: 'attribute_not_exists(connectionIds) OR size(connectionIds) < :limit' }
            : {}),
          ExpressionAttributeValues: {
            ':ids': new Set([connectionId]),
            ':one': 1,
            ':expiresAt': expiresAt,
            ':shard': shardOf(userId),
            ...(limit > 0 ? { ':limit': limit } : {}),
            ...(withToken ? { ':tokenExpiresAt': tokenExpiresAt } : {}),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      ));
    } catch (error) {
      if (limit > 0 && isConditionalCheckFailed(error)) return { full: true };
      throw error;
    }
    // ADD is atomic: concurrent adds for one user each see a different count.
    const connectionCount = Number(Attributes?.connectionCount ?? 0);
    const cameOnline = connectionCount === 1;
    await this.bumpStats(userId, cameOnline ? 1 : 0, 1);
    return { cameOnline, connectionCount };
  }

  async claimOnlineSession(userId: string, token: string): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: 'SET onlineSince = :token',
          // Still online (the item is not recreated), and never over a newer session's token.
          ConditionExpression:
            'connectionCount > :zero AND (attribute_not_exists(onlineSince) OR onlineSince < :token)',
          ExpressionAttributeValues: { ':token': token, ':zero': 0 },
        }),
      ),
    );
  }

  async connectionIdsOf(userId: string): Promise<string[]> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { userId },
        ProjectionExpression: 'connectionIds',
        ConsistentRead: true,
      }),
    );
    return [...((Item as PresenceItem | undefined)?.connectionIds ?? [])];
  }

  async removeStale(userId: string, connectionIds: readonly string[]): Promise<boolean> {
    if (connectionIds.length === 0) return false;
    const names = connectionIds.map((_, i) => `:id${i}`);
    const written = await unlessConditionFailed(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: `DELETE connectionIds :ids ADD connectionCount :minus REMOVE ${names.map((_, i) => `#tokenExpiresAt${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(
            connectionIds.map((id, i) => [`#tokenExpiresAt${i}`, tokenExpiryAttribute(id)]),
          ),
          // All or nothing: an id another writer removed meanwhile must not be counted twice.
          ConditionExpression: names.map((name) => `contains(connectionIds, ${name})`).join(' AND '),
          ExpressionAttributeValues: {
            ':ids': new Set(connectionIds),
            ':minus': -connectionIds.length,
            ...Object.fromEntries(names.map((name, i) => [name, connectionIds[i]])),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    if (!written) return false;
    const { Attributes } = written;
    const remaining = Number(Attributes?.connectionCount ?? 0);
    // The item itself stays: the caller is about to add a connection to it.
    await this.bumpStats(userId, remaining <= 0 ? -1 : 0, -connectionIds.length);
    return true;
  }

  async removeConnection(
    userId: string,
    connectionId: string,
  ): Promise<{ removed: boolean; wentOffline: boolean; onlineSince?: string }> {
    const written = await unlessConditionFailed(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: 'DELETE connectionIds :ids ADD connectionCount :minusOne REMOVE #tokenExpiresAt',
          ConditionExpression: 'contains(connectionIds, :id)',
          ExpressionAttributeNames: { '#tokenExpiresAt': tokenExpiryAttribute(connectionId) },
          ExpressionAttributeValues: {
            ':ids': new Set([connectionId]),
            ':id': connectionId,
            ':minusOne': -1,
          },
          // ALL_NEW: the session token too, which the last disconnect clears the marks of.
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (!written) return { removed: false, wentOffline: false };
    const { Attributes } = written;
    const remaining = Number(Attributes?.connectionCount ?? 0);
    const onlineSince: unknown = Attributes?.onlineSince;
    const wentOffline = remaining <= 0;
    if (wentOffline) await this.deleteIfEmpty(userId);
    await this.bumpStats(userId, wentOffline ? -1 : 0, -1);
    return wentOffline && typeof onlineSince === 'string'
      ? { removed: true, wentOffline, onlineSince }
      : { removed: true, wentOffline };
  }

  /** A connect may have raced in since the decrement; the condition keeps its item. */
  private async deleteIfEmpty(userId: string): Promise<void> {
    await ignoringConditionFailure(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { userId },
          ConditionExpression: 'connectionCount <= :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      ),
    );
  }

  /**
   * A decrement may meet a counter that never saw the increment (the legacy item took it):
   * shards may go below zero, so nothing here or in `counts` clamps a single item.
   */
  private async bumpStats(userId: string, users: number, connections: number): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { userId: statsKeyOf(userId) },
        UpdateExpression: 'ADD onlineUsers :users, #connections :connections',
        ExpressionAttributeNames: { '#connections': 'connections' },
        ExpressionAttributeValues: { ':users': users, ':connections': connections },
      }),
    );
  }

  private live(item: PresenceItem | undefined): UserConnections | undefined {
    return liveConnections(item, epochSeconds(this.now()));
  }

  async connectionsOf(userIds: readonly string[]): Promise<UserConnections[]> {
    const unique = [...new Set(userIds)];
    if (unique.length === 1) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { userId: unique[0] } }),
      );
      const live = this.live(Item as PresenceItem | undefined);
      return live ? [live] : [];
    }
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT)
      batches.push(unique.slice(i, i + BATCH_GET_LIMIT));
    const results = await Promise.all(batches.map((batch) => this.batchGet(batch)));
    return results.flat();
  }

  private async batchGet(userIds: string[]): Promise<UserConnections[]> {
    const found: UserConnections[] = [];
    let keys: Record<string, unknown>[] = userIds.map((userId) => ({ userId }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      await backoff(attempt);
      const { Responses, UnprocessedKeys } = await this.client.send(
        new BatchGetCommand({
          RequestItems: {
            // The whole item: the token expiries are attributes named after each connection.
            [this.tableName]: { Keys: keys },
          },
        }),
      );
      for (const item of Responses?.[this.tableName] ?? []) {
        const live = this.live(item as PresenceItem);
        if (live) found.push(live);
      }
      keys = (UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
    return found;
  }

  async counts(): Promise<OnlineCounts> {
    let users = 0;
    let connections = 0;
    let keys: Record<string, unknown>[] = STATS_READ_KEYS.map((userId) => ({ userId }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      await backoff(attempt);
      const { Responses, UnprocessedKeys } = await this.client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: keys,
              ProjectionExpression: 'onlineUsers, #connections',
              ExpressionAttributeNames: { '#connections': 'connections' },
            },
          },
        }),
      );
      for (const item of Responses?.[this.tableName] ?? []) {
        users += Number(item.onlineUsers ?? 0);
        connections += Number(item.connections ?? 0);
      }
      keys = (UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
    // Only the sum is exact; below zero it can only be drift (a counter written by hand).
    return { users: Math.max(0, users), connections: Math.max(0, connections) };
  }

  async listOnline(
    limit: number,
    rawCursor?: string,
  ): Promise<{ users: UserConnections[]; cursor?: string }> {
    let cursor = decodeCursor(rawCursor);
    const users: UserConnections[] = [];
    while (cursor.shard < PRESENCE_SHARDS && users.length < limit) {
      const { Items, LastEvaluatedKey } = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byShard',
          KeyConditionExpression: cursor.after
            ? 'onlineShard = :shard AND userId > :after'
            : 'onlineShard = :shard',
          ExpressionAttributeValues: {
            ':shard': `s${String(cursor.shard).padStart(2, '0')}`,
            ...(cursor.after ? { ':after': cursor.after } : {}),
          },
          Limit: limit - users.length,
        }),
      );
      for (const item of Items ?? []) {
        const live = this.live(item as PresenceItem);
        if (live) users.push(live);
      }
      const last = (Items ?? []).at(-1) as PresenceItem | undefined;
      cursor =
        LastEvaluatedKey && last ? { shard: cursor.shard, after: last.userId } : { shard: cursor.shard + 1 };
    }
    return cursor.shard < PRESENCE_SHARDS ? { users, cursor: encodeCursor(cursor) } : { users };
  }

  readonly shardCount = PRESENCE_SHARDS;

  async onlineInShard(
    shard: number,
    limit: number,
    after?: string,
  ): Promise<{ users: UserConnections[]; after?: string }> {
    const page = await this.shardPage(shard, limit, after);
    const users: UserConnections[] = [];
    for (const item of page.items) {
      const live = this.live(item);
      if (live) users.push(live);
    }
    return page.after ? { users, after: page.after } : { users };
  }

  /**
   * A page of the `byShard` index as it is (projection: `connectionIds`, `expiresAt`), for
   * the stale-connection sweep: unlike `onlineInShard`, records past their expiry are kept,
   * since their connections still count in the online counters until they are removed.
   */
  async entriesInShard(
    shard: number,
    limit: number,
    after?: string,
  ): Promise<{ entries: PresenceEntry[]; after?: string }> {
    const page = await this.shardPage(shard, limit, after);
    const entries: PresenceEntry[] = [];
    for (const item of page.items) {
      if (isReservedPresenceKey(item.userId)) continue;
      const connectionIds = [...(item.connectionIds ?? [])];
      if (connectionIds.length > 0) {
        entries.push({ userId: item.userId, connectionIds, expiresAt: Number(item.expiresAt ?? 0) });
      }
    }
    return page.after ? { entries, after: page.after } : { entries };
  }

  /** One Query page of a `byShard` partition, after the user id `after`. */
  private async shardPage(
    shard: number,
    limit: number,
    after?: string,
  ): Promise<{ items: PresenceItem[]; after?: string }> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= PRESENCE_SHARDS) {
      throw new RangeError(`shard must be an integer from 0 to ${PRESENCE_SHARDS - 1}; received ${shard}`);
    }
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byShard',
        KeyConditionExpression: after ? 'onlineShard = :shard AND userId > :after' : 'onlineShard = :shard',
        ExpressionAttributeValues: {
          ':shard': `s${String(shard).padStart(2, '0')}`,
          ...(after ? { ':after': after } : {}),
        },
        Limit: limit,
      }),
    );
    const items = (Items ?? []) as PresenceItem[];
    const last = items.at(-1);
    return LastEvaluatedKey && last ? { items, after: last.userId } : { items };
  }

  /** Every online user's connections, shard by shard (broadcast). */
  async *allOnline(pageSize = 500): AsyncGenerator<UserConnections[]> {
    let cursor: string | undefined;
    do {
      const page = await this.listOnline(pageSize, cursor);
      if (page.users.length > 0) yield page.users;
      cursor = page.cursor;
    } while (cursor);
  }
}
