import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { RoomMember, RoomStore } from '../core/shared/ports.ts';
import { batchWriteAll, queryAll, queryPages } from './dynamo.ts';
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
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'roomId = :roomId',
      ExpressionAttributeValues: { ':roomId': roomId },
    });
    return items.map((item) => this.live(item)).filter((member) => member !== undefined);
  }

  async hasUser(roomId: string, userId: string): Promise<boolean> {
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'roomId = :roomId',
      FilterExpression: 'userId = :userId AND expiresAt > :now',
      ExpressionAttributeValues: {
        ':roomId': roomId,
        ':userId': userId,
        ':now': epochSeconds(this.now()),
      },
      ProjectionExpression: 'connectionId',
    });
    // The first page with a match settles it; no further page is read.
    for await (const page of pages) if (page.length > 0) return true;
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
