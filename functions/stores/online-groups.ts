/**
 * The online marks on member rows (functions/core/groups/online-members.ts): `onlineGroupId`
 * (the group id, partition key of the sparse `byOnlineGroup` index, sorted by
 * `memberUserId`) and `onlineSince` (the session token). Marking a user's rows is one
 * `byMember` Query (pages of keys) and one conditional UpdateItem per row, MARK_CONCURRENCY
 * at a time; the number of rows is the user's groups (MAX_GROUP_MEMBERSHIPS_PER_USER).
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OnlineGroupMarks, OnlinePeerGroups } from '../core/groups/online-members.ts';
import { mapConcurrent } from '../core/shared/concurrency.ts';
import { batchGetAll, ignoringConditionFailure, queryAll } from './dynamo.ts';
import { MEMBER_PREFIX, memberGroupIdPages } from './groups.ts';

/** Row updates in flight while marking or clearing one user's rows. */
export const MARK_CONCURRENCY = 16;

export class DynamoOnlineGroupMarks implements OnlineGroupMarks, OnlinePeerGroups {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async markAll(userId: string, token: string): Promise<void> {
    await this.eachGroupOf(userId, (groupId) => this.mark(groupId, userId, token));
  }

  async clearAll(userId: string, token: string): Promise<void> {
    await this.eachGroupOf(userId, (groupId) =>
      ignoringConditionFailure(
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { groupId, sk: `${MEMBER_PREFIX}${userId}` },
            UpdateExpression: 'REMOVE onlineGroupId, onlineSince',
            // Only the session that ended: a newer session's mark stays.
            ConditionExpression: 'onlineSince = :token',
            ExpressionAttributeValues: { ':token': token },
          }),
        ),
      ),
    );
  }

  async mark(groupId: string, userId: string, token: string): Promise<void> {
    await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { groupId, sk: `${MEMBER_PREFIX}${userId}` },
          UpdateExpression: 'SET onlineGroupId = :groupId, onlineSince = :token',
          // Still a member (a removed row is not recreated), and never over a newer session's mark.
          ConditionExpression:
            'memberUserId = :userId AND (attribute_not_exists(onlineSince) OR onlineSince < :token)',
          ExpressionAttributeValues: { ':groupId': groupId, ':userId': userId, ':token': token },
        }),
      ),
    );
  }

  async onlineMemberIds(groupId: string): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: 'byOnlineGroup',
      KeyConditionExpression: 'onlineGroupId = :groupId',
      ExpressionAttributeValues: { ':groupId': groupId },
    });
    return items.map((item) => item.memberUserId).filter((id): id is string => typeof id === 'string');
  }

  async memberOfAmong(userId: string, groupIds: readonly string[]): Promise<Set<string>> {
    const rows = await batchGetAll(
      this.client,
      this.tableName,
      [...new Set(groupIds)].map((groupId) => ({ groupId, sk: `${MEMBER_PREFIX}${userId}` })),
      { projection: 'groupId' },
    );
    return new Set(rows.map((row) => String(row.groupId)));
  }

  /** Runs `update` for each group of the user (`byMember`, page by page). */
  private async eachGroupOf(userId: string, update: (groupId: string) => Promise<unknown>): Promise<void> {
    for await (const groupIds of memberGroupIdPages(this.client, this.tableName, userId)) {
      await mapConcurrent(groupIds, MARK_CONCURRENCY, update);
    }
  }
}
