import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ConnectionRecord, ConnectionStore } from '../core/shared/ports.ts';
import { backoff, ignoringConditionFailure, unlessConditionFailed } from './dynamo.ts';
import { epochSeconds } from './time.ts';

/** BatchGetItem's key limit: `getMany` reads at most this many rows, in one request. */
export const MAX_BATCH_LOOKUP = 100;

/** Rows store `rooms` as a string set; the record exposes a plain array. */
function fromItem(item: Record<string, unknown> | undefined): ConnectionRecord | undefined {
  if (!item) return undefined;
  const { rooms, ...rest } = item as Omit<ConnectionRecord, 'rooms'> & { rooms?: Set<string> };
  return rooms && rooms.size > 0 ? { ...rest, rooms: [...rooms] } : rest;
}

/** Connection rows keyed by `connectionId`; rows past `expiresAt` count as gone. */
export class DynamoConnectionStore implements ConnectionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(connection: ConnectionRecord): Promise<void> {
    const { rooms: _rooms, ...item } = connection;
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { connectionId } }),
    );
    const record = fromItem(Item);
    if (!record || record.expiresAt <= epochSeconds(this.now())) return undefined;
    return record;
  }

  async getMany(connectionIds: readonly string[]): Promise<ConnectionRecord[]> {
    if (connectionIds.length > MAX_BATCH_LOOKUP) {
      throw new RangeError(
        `getMany reads at most ${MAX_BATCH_LOOKUP} rows; received ${connectionIds.length}`,
      );
    }
    const nowSeconds = epochSeconds(this.now());
    const found: ConnectionRecord[] = [];
    let keys: Record<string, unknown>[] = [...new Set(connectionIds)].map((connectionId) => ({
      connectionId,
    }));
    // Unprocessed keys (throttling) are retried a few times, then the read fails: callers
    // use this to find stale entries, and a row that was not read must not look stale.
    for (let attempt = 0; keys.length > 0 && attempt < 4; attempt++) {
      await backoff(attempt);
      const { Responses, UnprocessedKeys } = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
      );
      for (const item of Responses?.[this.tableName] ?? []) {
        const record = fromItem(item);
        if (record && record.expiresAt > nowSeconds) found.push(record);
      }
      keys = (UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
    if (keys.length > 0) throw new Error(`${keys.length} connection rows could not be read`);
    return found;
  }

  async delete(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Attributes } = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { connectionId }, ReturnValues: 'ALL_OLD' }),
    );
    return fromItem(Attributes);
  }

  async deleteIfConnectedBefore(
    connectionId: string,
    cutoff: string,
  ): Promise<{ kept: true } | { kept: false; removed?: ConnectionRecord }> {
    const written = await unlessConditionFailed(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { connectionId },
          // ISO-8601 UTC times compare correctly as strings.
          ConditionExpression: 'attribute_not_exists(connectionId) OR connectedAt < :cutoff',
          ExpressionAttributeValues: { ':cutoff': cutoff },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    if (!written) return { kept: true };
    const { Attributes } = written;
    const removed = fromItem(Attributes);
    return removed ? { kept: false, removed } : { kept: false };
  }

  /**
   * Adds a room to the row's `rooms` set unless the set already holds `maxRooms` others;
   * the size check and the add are one conditional write, so racing joins cannot overshoot.
   * `gone` when the row is gone (connection closed). Only a refusal reads the row (to tell
   * `full` from `gone`).
   */
  async addRoom(connectionId: string, roomId: string, maxRooms: number): Promise<'added' | 'full' | 'gone'> {
    const written = await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { connectionId },
          UpdateExpression: 'ADD rooms :room',
          ConditionExpression:
            'attribute_exists(connectionId) AND (attribute_not_exists(rooms) OR size(rooms) < :max OR contains(rooms, :roomId))',
          ExpressionAttributeValues: { ':room': new Set([roomId]), ':roomId': roomId, ':max': maxRooms },
        }),
      ),
    );
    if (written) return 'added';
    return (await this.get(connectionId)) ? 'full' : 'gone';
  }

  async removeRoom(connectionId: string, roomId: string): Promise<void> {
    await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { connectionId },
          UpdateExpression: 'DELETE rooms :room',
          ConditionExpression: 'attribute_exists(connectionId)',
          ExpressionAttributeValues: { ':room': new Set([roomId]) },
        }),
      ),
    );
  }
}
