import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Group, GroupStore } from '../core/shared/ports.ts';
import { batchWriteAll, queryAll } from './dynamo.ts';

/** The group's metadata item's sort key. */
export const META = 'meta';
/** Member items' sort key prefix: `member#<userId>`. */
export const MEMBER_PREFIX = 'member#';

/** A group is a `meta` item plus one `member#<userId>` item per member, all under one partition. */
export class DynamoGroupStore implements GroupStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(group: Group): Promise<void> {
    const members = group.memberIds.map((userId) => ({
      groupId: group.groupId,
      sk: `${MEMBER_PREFIX}${userId}`,
      memberUserId: userId,
      joinedAt: group.createdAt,
    }));
    await batchWriteAll(
      this.client,
      this.tableName,
      members.map((Item) => ({ PutRequest: { Item } })),
    );
    // Written last, so a group is only visible once all its members are.
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          groupId: group.groupId,
          sk: META,
          groupName: group.groupName,
          createdBy: group.createdBy,
          createdAt: group.createdAt,
          memberCount: group.memberIds.length,
        },
        ConditionExpression: 'attribute_not_exists(groupId)',
      }),
    );
  }

  async get(groupId: string): Promise<Group | undefined> {
    let meta: Record<string, unknown> | undefined;
    const memberIds: string[] = [];
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'groupId = :groupId',
      ExpressionAttributeValues: { ':groupId': groupId },
    });
    for (const item of items) {
      if (item.sk === META) meta = item;
      else if (typeof item.memberUserId === 'string') memberIds.push(item.memberUserId);
    }
    if (!meta) return undefined;
    return {
      groupId,
      groupName: String(meta.groupName),
      createdBy: String(meta.createdBy),
      createdAt: String(meta.createdAt),
      memberIds,
    };
  }

  async isMember(groupId: string, userId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { groupId, sk: `${MEMBER_PREFIX}${userId}` },
        ProjectionExpression: 'groupId',
      }),
    );
    return Item !== undefined;
  }

  /**
   * Moves the meta item's `lastMessageId` forward (the conversation list orders groups by
   * it). Conditional, so an older message stored late never moves it back, and a deleted
   * group (no meta item) is not recreated.
   */
  async recordLastMessage(groupId: string, messageId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { groupId, sk: META },
          UpdateExpression: 'SET lastMessageId = :messageId',
          ConditionExpression:
            'attribute_exists(groupId) AND (attribute_not_exists(lastMessageId) OR lastMessageId < :messageId)',
          ExpressionAttributeValues: { ':messageId': messageId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
