import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRecord, ConnectionStore } from '../core/ports.ts';
import { epochSeconds } from './time.ts';

/** Connection rows keyed by `connectionId`; rows past `expiresAt` count as gone. */
export class DynamoConnectionStore implements ConnectionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(connection: ConnectionRecord): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...connection } }));
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { connectionId } }),
    );
    const record = Item as ConnectionRecord | undefined;
    if (!record || record.expiresAt <= epochSeconds(this.now())) return undefined;
    return record;
  }

  async delete(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Attributes } = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { connectionId }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes as ConnectionRecord | undefined;
  }
}
