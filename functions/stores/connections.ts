import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ConnectionRecord, ConnectionStore } from '../core/shared/ports.ts';
import { epochSeconds } from './time.ts';

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
    try {
      const { Attributes } = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { connectionId },
          // ISO-8601 UTC times compare correctly as strings.
          ConditionExpression: 'attribute_not_exists(connectionId) OR connectedAt < :cutoff',
          ExpressionAttributeValues: { ':cutoff': cutoff },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const removed = fromItem(Attributes);
      return removed ? { kept: false, removed } : { kept: false };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kept: true };
      throw error;
    }
  }

  /** Adds a room to the row's `rooms` set; false when the row is gone (connection closed). */
  async addRoom(connectionId: string, roomId: string): Promise<boolean> {
    try {
      await this.updateRooms(connectionId, 'ADD', roomId);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async removeRoom(connectionId: string, roomId: string): Promise<void> {
    try {
      await this.updateRooms(connectionId, 'DELETE', roomId);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private async updateRooms(connectionId: string, action: 'ADD' | 'DELETE', roomId: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { connectionId },
        UpdateExpression: `${action} rooms :room`,
        ConditionExpression: 'attribute_exists(connectionId)',
        ExpressionAttributeValues: { ':room': new Set([roomId]) },
      }),
    );
  }
}
