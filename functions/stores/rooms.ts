import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { RoomMember, RoomStore } from '../core/ports.ts';
import { batchWriteAll } from './batch.ts';
import { epochSeconds } from './time.ts';

/** Room members keyed by (`roomId`, `connectionId`); a room's fan-out list is one Query. */
export class DynamoRoomStore implements RoomStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private live(item: Record<string, unknown> | undefined): RoomMember | undefined {
    const member = item as RoomMember | undefined;
    return member && member.expiresAt > epochSeconds(this.now()) ? member : undefined;
  }

  async join(member: RoomMember): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...member } }));
  }

  async leave(roomId: string, connectionId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { roomId, connectionId } }));
  }

  async member(roomId: string, connectionId: string): Promise<RoomMember | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { roomId, connectionId } }),
    );
    return this.live(Item);
  }

  async members(roomId: string): Promise<RoomMember[]> {
    const members: RoomMember[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'roomId = :roomId',
          ExpressionAttributeValues: { ':roomId': roomId },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const member = this.live(item);
        if (member) members.push(member);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return members;
  }

  async hasUser(roomId: string, userId: string): Promise<boolean> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'roomId = :roomId',
          FilterExpression: 'userId = :userId AND expiresAt > :now',
          ExpressionAttributeValues: {
            ':roomId': roomId,
            ':userId': userId,
            ':now': epochSeconds(this.now()),
          },
          ProjectionExpression: 'connectionId',
          ExclusiveStartKey: startKey,
        }),
      );
      if ((page.Items ?? []).length > 0) return true;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return false;
  }

  async removeConnection(connectionId: string, roomIds: readonly string[]): Promise<void> {
    await batchWriteAll(
      this.client,
      this.tableName,
      roomIds.map((roomId) => ({ DeleteRequest: { Key: { roomId, connectionId } } })),
    );
  }
}
