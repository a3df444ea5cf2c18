import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { GroupMembershipIndex } from '../core/ports.ts';

/**
 * A user's groups from the groups table's `byMember` index (`memberUserId`, `groupId`,
 * keys only): one Query, paginated. Only member items carry `memberUserId`, so the
 * sparse index holds nothing else.
 */
export class DynamoGroupMembershipIndex implements GroupMembershipIndex {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async groupIdsOf(userId: string): Promise<string[]> {
    const groupIds: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byMember',
          KeyConditionExpression: 'memberUserId = :userId',
          ExpressionAttributeValues: { ':userId': userId },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (typeof item.groupId === 'string') groupIds.push(item.groupId);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return groupIds;
  }
}
