import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type {
  GroupDirectory,
  GroupInvitation,
  GroupMember,
  GroupMeta,
  GroupRole,
  MemberDeleteGuard,
  MembershipPage,
  NewGroup,
} from '../core/groups/group-ports.ts';
import type { Group, GroupStore } from '../core/shared/ports.ts';
import {
  batchGetAll,
  batchWriteAll,
  type Item,
  ignoringConditionFailure,
  queryAll,
  queryPages,
} from './dynamo.ts';

/** The group's metadata item's sort key. */
export const META = 'meta';
/** Member items' sort key prefix: `member#<userId>`. */
export const MEMBER_PREFIX = 'member#';

/** Invitation items' sort key prefix: `invite#<userId>` (no `memberUserId`: never a member). */
export const INVITE_PREFIX = 'invite#';

/** The user attribute that keys each keys-only user index of the groups table. */
const USER_INDEX_KEYS = { byMember: 'memberUserId', byInvitee: 'invitedUserId' } as const;

/**
 * The Query of a user's rows in a keys-only user index of the groups table: `byMember`
 * (member rows) or `byInvitee` (pending invitations). Callers add order, limit and start key.
 */
export function userIndexQuery(
  tableName: string,
  indexName: keyof typeof USER_INDEX_KEYS,
  userId: string,
): QueryCommandInput {
  return {
    TableName: tableName,
    IndexName: indexName,
    KeyConditionExpression: `${USER_INDEX_KEYS[indexName]} = :userId`,
    ExpressionAttributeValues: { ':userId': userId },
  };
}

/**
 * The ids of the groups a user is a member of (`byMember`), page by page (see `queryPages`):
 * oldest group first unless `newestFirst`, stopping after `maxEvaluated` rows when given.
 */
export async function* memberGroupIdPages(
  client: DynamoDBDocumentClient,
  tableName: string,
  userId: string,
  options: { readonly newestFirst?: boolean; readonly maxEvaluated?: number } = {},
): AsyncGenerator<string[]> {
  const input = {
    ...userIndexQuery(tableName, 'byMember', userId),
    ...(options.newestFirst ? { ScanIndexForward: false } : {}),
  };
  for await (const page of queryPages(client, input, options.maxEvaluated)) {
    yield page.map((item) => item.groupId).filter((id): id is string => typeof id === 'string');
  }
}

const memberKey = (groupId: string, userId: string) => ({ groupId, sk: `${MEMBER_PREFIX}${userId}` });
const inviteKey = (groupId: string, userId: string) => ({ groupId, sk: `${INVITE_PREFIX}${userId}` });

function roleOf(item: Item, createdBy?: string): GroupRole {
  const role = item.role;
  if (role === 'owner' || role === 'admin' || role === 'member') return role;
  // Groups created before roles existed: the creator owns them.
  return createdBy !== undefined && item.memberUserId === createdBy ? 'owner' : 'member';
}

function memberFrom(item: Item, createdBy?: string): GroupMember {
  return {
    userId: String(item.memberUserId),
    role: roleOf(item, createdBy),
    joinedAt: String(item.joinedAt ?? ''),
    ...(typeof item.removingBy === 'string'
      ? { removingBy: item.removingBy, removingAt: String(item.removingAt ?? '') }
      : {}),
  };
}

function invitationFrom(item: Item): GroupInvitation {
  return {
    userId: String(item.invitedUserId),
    invitedBy: String(item.invitedBy ?? ''),
    invitedAt: String(item.invitedAt ?? ''),
  };
}

function invitationItem(groupId: string, invitation: GroupInvitation): Item {
  return {
    ...inviteKey(groupId, invitation.userId),
    invitedUserId: invitation.userId,
    invitedBy: invitation.invitedBy,
    invitedAt: invitation.invitedAt,
  };
}

function metaFrom(item: Item): GroupMeta {
  const createdBy = String(item.createdBy);
  const invitedCount = Number(item.invitedCount ?? 0);
  return {
    groupId: String(item.groupId),
    groupName: String(item.groupName),
    ownerId: typeof item.ownerId === 'string' ? item.ownerId : createdBy,
    createdBy,
    createdAt: String(item.createdAt),
    // memberCount holds the slots: members and pending invitations.
    memberCount: Number(item.memberCount ?? 0) - invitedCount,
    invitedCount,
    deleting: item.deleting === true,
    ...(typeof item.lastMessageId === 'string' ? { lastMessageId: item.lastMessageId } : {}),
  };
}

/**
 * A group is a `meta` item (name, owner, member count, `deleting`) plus one
 * `member#<userId>` item per member (role, joinedAt, a removal mark), all under one
 * partition; the sparse `byMember` index lists a user's groups. Reads that decide who may
 * do what are strongly consistent; every change is a conditional single-item write.
 */
export class DynamoGroupStore implements GroupStore, GroupDirectory {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** A conditional UpdateItem of one of the table's items; false when its condition failed. */
  private updateIf(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(new UpdateCommand({ TableName: this.tableName, ...input })),
    );
  }

  async create(group: Group): Promise<void> {
    await this.createGroup(
      {
        groupId: group.groupId,
        groupName: group.groupName,
        ownerId: group.createdBy,
        createdAt: group.createdAt,
      },
      group.memberIds.map((userId) => ({
        userId,
        role: userId === group.createdBy ? 'owner' : 'member',
        joinedAt: group.createdAt,
      })),
    );
  }

  async createGroup(
    group: NewGroup,
    members: readonly GroupMember[],
    invitations: readonly GroupInvitation[] = [],
  ): Promise<void> {
    await batchWriteAll(this.client, this.tableName, [
      ...members.map((member) => ({
        PutRequest: {
          Item: {
            ...memberKey(group.groupId, member.userId),
            memberUserId: member.userId,
            role: member.role,
            joinedAt: member.joinedAt,
          },
        },
      })),
      ...invitations.map((invitation) => ({
        PutRequest: { Item: invitationItem(group.groupId, invitation) },
      })),
    ]);
    // Written last, so a group is only visible once all its members are.
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          groupId: group.groupId,
          sk: META,
          groupName: group.groupName,
          createdBy: group.ownerId,
          ownerId: group.ownerId,
          createdAt: group.createdAt,
          memberCount: members.length + invitations.length,
          ...(invitations.length > 0 ? { invitedCount: invitations.length } : {}),
        },
        ConditionExpression: 'attribute_not_exists(groupId)',
      }),
    );
  }

  /** The group with all its members, or undefined (also while it is being deleted). */
  async get(groupId: string): Promise<Group | undefined> {
    const { meta, members } = await this.whole(groupId);
    if (!meta || meta.deleting) return undefined;
    return {
      groupId,
      groupName: meta.groupName,
      createdBy: meta.createdBy,
      createdAt: meta.createdAt,
      memberIds: members.map((member) => member.userId),
    };
  }

  /** The live group's name when `userId` is a member: its meta and member item, one consistent BatchGetItem. */
  async memberView(groupId: string, userId: string): Promise<{ groupName: string } | undefined> {
    const found = (await this.details([groupId], userId)).get(groupId);
    if (!found?.meta || found.meta.deleting || !found.member) return undefined;
    return { groupName: found.meta.groupName };
  }

  async isMember(groupId: string, userId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: memberKey(groupId, userId),
        ProjectionExpression: 'groupId',
        ConsistentRead: true,
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
    await this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'SET lastMessageId = :messageId',
      ConditionExpression:
        'attribute_exists(groupId) AND (attribute_not_exists(lastMessageId) OR lastMessageId < :messageId)',
      ExpressionAttributeValues: { ':messageId': messageId },
    });
  }

  async meta(groupId: string): Promise<GroupMeta | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { groupId, sk: META }, ConsistentRead: true }),
    );
    return Item ? metaFrom(Item) : undefined;
  }

  async member(groupId: string, userId: string): Promise<GroupMember | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: memberKey(groupId, userId), ConsistentRead: true }),
    );
    return Item ? memberFrom(Item) : undefined;
  }

  async membersAmong(groupId: string, userIds: readonly string[]): Promise<GroupMember[]> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      userIds.map((userId) => memberKey(groupId, userId)),
      { consistentRead: true },
    );
    return items.map((item) => memberFrom(item));
  }

  async whole(
    groupId: string,
  ): Promise<{ meta?: GroupMeta; members: GroupMember[]; invitations: GroupInvitation[] }> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'groupId = :groupId',
      ExpressionAttributeValues: { ':groupId': groupId },
      ConsistentRead: true,
    });
    const metaItem = items.find((item) => item.sk === META);
    const meta = metaItem ? metaFrom(metaItem) : undefined;
    const members = items
      .filter((item) => typeof item.memberUserId === 'string')
      .map((item) => memberFrom(item, meta?.createdBy));
    const invitations = items
      .filter((item) => typeof item.invitedUserId === 'string')
      .map((item) => invitationFrom(item));
    return meta ? { meta, members, invitations } : { members, invitations };
  }

  reserveSlots(groupId: string, count: number, max: number): Promise<boolean> {
    return this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'ADD memberCount :count',
      ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(deleting) AND memberCount <= :most',
      ExpressionAttributeValues: { ':count': count, ':most': max - count },
    });
  }

  async releaseSlots(groupId: string, count: number): Promise<void> {
    if (count <= 0) return;
    await this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'ADD memberCount :count',
      ConditionExpression: 'attribute_exists(sk)',
      ExpressionAttributeValues: { ':count': -count },
    });
  }

  putMember(groupId: string, member: GroupMember): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...memberKey(groupId, member.userId),
            memberUserId: member.userId,
            role: member.role,
            joinedAt: member.joinedAt,
          },
          ConditionExpression: 'attribute_not_exists(sk)',
        }),
      ),
    );
  }

  deleteMember(groupId: string, userId: string, guard: MemberDeleteGuard): Promise<boolean> {
    const byMark = 'removingBy' in guard;
    return ignoringConditionFailure(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: memberKey(groupId, userId),
          ConditionExpression: byMark
            ? 'removingBy = :by'
            : 'attribute_exists(sk) AND (attribute_not_exists(#role) OR #role <> :owner)',
          ...(byMark ? {} : { ExpressionAttributeNames: { '#role': 'role' } }),
          ExpressionAttributeValues: byMark ? { ':by': guard.removingBy } : { ':owner': 'owner' },
        }),
      ),
    );
  }

  markRemoving(
    groupId: string,
    userId: string,
    by: string,
    at: string,
    staleBefore: string,
  ): Promise<boolean> {
    const self = by === userId;
    return this.updateIf({
      Key: memberKey(groupId, userId),
      UpdateExpression: 'SET removingBy = :by, removingAt = :at',
      ConditionExpression:
        'attribute_exists(sk) AND (attribute_not_exists(removingBy) OR removingAt < :stale) AND ' +
        (self ? '#role = :owner' : '(attribute_not_exists(#role) OR #role <> :owner)'),
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: { ':by': by, ':at': at, ':stale': staleBefore, ':owner': 'owner' },
    });
  }

  async clearRemoving(groupId: string, userId: string, by: string): Promise<void> {
    await this.updateIf({
      Key: memberKey(groupId, userId),
      UpdateExpression: 'REMOVE removingBy, removingAt',
      ConditionExpression: 'removingBy = :by',
      ExpressionAttributeValues: { ':by': by },
    });
  }

  setRole(groupId: string, userId: string, role: GroupRole, staleBefore: string): Promise<boolean> {
    const handOver = role === 'owner';
    return this.updateIf({
      Key: memberKey(groupId, userId),
      UpdateExpression: 'SET #role = :role',
      ConditionExpression: handOver
        ? 'attribute_exists(sk) AND (attribute_not_exists(removingBy) OR removingAt < :stale)'
        : 'attribute_exists(sk) AND (attribute_not_exists(#role) OR #role <> :owner)',
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: handOver
        ? { ':role': role, ':stale': staleBefore }
        : { ':role': role, ':owner': 'owner' },
    });
  }

  rename(groupId: string, groupName: string): Promise<boolean> {
    return this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'SET groupName = :name',
      ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(deleting)',
      ExpressionAttributeValues: { ':name': groupName },
    });
  }

  async setOwner(groupId: string, ownerId: string): Promise<void> {
    await this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'SET ownerId = :owner',
      ConditionExpression: 'attribute_exists(sk)',
      ExpressionAttributeValues: { ':owner': ownerId },
    });
  }

  markDeleting(groupId: string): Promise<boolean> {
    return this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'SET deleting = :yes',
      ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(deleting)',
      ExpressionAttributeValues: { ':yes': true },
    });
  }

  async deleteMembers(groupId: string, userIds: readonly string[]): Promise<string[]> {
    const removed: string[] = [];
    for (const userId of userIds) {
      const { Attributes } = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: memberKey(groupId, userId),
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes) removed.push(userId);
    }
    return removed;
  }

  async removeGroup(
    groupId: string,
    memberIds: readonly string[],
    inviteeIds: readonly string[] = [],
  ): Promise<void> {
    await batchWriteAll(this.client, this.tableName, [
      ...memberIds.map((userId) => ({ DeleteRequest: { Key: memberKey(groupId, userId) } })),
      ...inviteeIds.map((userId) => ({ DeleteRequest: { Key: inviteKey(groupId, userId) } })),
    ]);
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { groupId, sk: META } }));
  }

  reserveInvitations(groupId: string, count: number, max: number): Promise<boolean> {
    return this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: 'ADD memberCount :count, invitedCount :count',
      ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(deleting) AND memberCount <= :most',
      ExpressionAttributeValues: { ':count': count, ':most': max - count },
    });
  }

  async releaseInvitations(groupId: string, count: number, keepSlots: boolean): Promise<void> {
    if (count <= 0) return;
    await this.updateIf({
      Key: { groupId, sk: META },
      UpdateExpression: keepSlots ? 'ADD invitedCount :count' : 'ADD memberCount :count, invitedCount :count',
      ConditionExpression: 'attribute_exists(sk)',
      ExpressionAttributeValues: { ':count': -count },
    });
  }

  putInvitation(groupId: string, invitation: GroupInvitation): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: invitationItem(groupId, invitation),
          ConditionExpression: 'attribute_not_exists(sk)',
        }),
      ),
    );
  }

  async invitation(groupId: string, userId: string): Promise<GroupInvitation | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: inviteKey(groupId, userId), ConsistentRead: true }),
    );
    return Item ? invitationFrom(Item) : undefined;
  }

  async invitationsAmong(groupId: string, userIds: readonly string[]): Promise<GroupInvitation[]> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      userIds.map((userId) => inviteKey(groupId, userId)),
      { consistentRead: true },
    );
    return items.map((item) => invitationFrom(item));
  }

  deleteInvitation(groupId: string, userId: string): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: inviteKey(groupId, userId),
          ConditionExpression: 'attribute_exists(sk)',
        }),
      ),
    );
  }

  invitationsOf(userId: string, limit: number, after?: string): Promise<MembershipPage> {
    const startKey = after ? { invitedUserId: userId, ...inviteKey(after, userId) } : undefined;
    return this.groupIdsOfUser('byInvitee', userId, limit, startKey);
  }

  async invitationDetails(
    groupIds: readonly string[],
    userId: string,
  ): Promise<Map<string, { meta?: GroupMeta; invitation?: GroupInvitation }>> {
    const keys = groupIds.flatMap((groupId) => [{ groupId, sk: META }, inviteKey(groupId, userId)]);
    const items = await batchGetAll(this.client, this.tableName, keys, { consistentRead: true });
    const found = new Map<string, { meta?: GroupMeta; invitation?: GroupInvitation }>();
    for (const item of items) {
      const groupId = String(item.groupId);
      const entry = found.get(groupId) ?? {};
      if (item.sk === META) found.set(groupId, { ...entry, meta: metaFrom(item) });
      else found.set(groupId, { ...entry, invitation: invitationFrom(item) });
    }
    return found;
  }

  memberships(userId: string, limit: number, after?: string): Promise<MembershipPage> {
    const startKey = after ? { memberUserId: userId, ...memberKey(after, userId) } : undefined;
    return this.groupIdsOfUser('byMember', userId, limit, startKey);
  }

  /** A page of the group ids a keys-only user index (`byMember`, `byInvitee`) lists for a user, newest first. */
  private async groupIdsOfUser(
    indexName: keyof typeof USER_INDEX_KEYS,
    userId: string,
    limit: number,
    exclusiveStartKey: Record<string, string> | undefined,
  ): Promise<MembershipPage> {
    const page = await this.client.send(
      new QueryCommand({
        ...userIndexQuery(this.tableName, indexName, userId),
        ScanIndexForward: false,
        Limit: limit,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    const groupIds = (page.Items ?? []).map((item) => item.groupId).filter((id) => typeof id === 'string');
    const last = groupIds.at(-1);
    return page.LastEvaluatedKey && last ? { groupIds, after: last } : { groupIds };
  }

  async details(
    groupIds: readonly string[],
    userId: string,
  ): Promise<Map<string, { meta?: GroupMeta; member?: GroupMember }>> {
    const keys = groupIds.flatMap((groupId) => [{ groupId, sk: META }, memberKey(groupId, userId)]);
    const items = await batchGetAll(this.client, this.tableName, keys, { consistentRead: true });
    const found = new Map<string, { meta?: GroupMeta; member?: GroupMember }>();
    for (const item of items) {
      const groupId = String(item.groupId);
      const entry = found.get(groupId) ?? {};
      if (item.sk === META) found.set(groupId, { ...entry, meta: metaFrom(item) });
      else found.set(groupId, { ...entry, member: memberFrom(item) });
    }
    // Legacy member items without a role: the creator owns the group.
    for (const [groupId, entry] of found) {
      if (
        entry.meta &&
        entry.member &&
        entry.member.role === 'member' &&
        entry.meta.ownerId === entry.member.userId
      ) {
        found.set(groupId, { ...entry, member: { ...entry.member, role: 'owner' } });
      }
    }
    return found;
  }
}

/** Per-user counters (`groupId = user#<userId>`, `sk = limits`): groups owned and belonged to. */
export class DynamoUserGroupLimits {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private key(userId: string) {
    return { groupId: `user#${userId}`, sk: 'limits' };
  }

  reserve(userId: string, counter: 'owned' | 'memberOf', max: number): Promise<boolean> {
    return ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'ADD #counter :one',
          ConditionExpression: 'attribute_not_exists(#counter) OR #counter < :max',
          ExpressionAttributeNames: { '#counter': counter },
          ExpressionAttributeValues: { ':one': 1, ':max': max },
        }),
      ),
    );
  }

  async release(userId: string, counter: 'owned' | 'memberOf'): Promise<void> {
    await ignoringConditionFailure(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'ADD #counter :minusOne',
          ConditionExpression: '#counter > :zero',
          ExpressionAttributeNames: { '#counter': counter },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      ),
    );
  }

  async add(userId: string, counter: 'owned' | 'memberOf'): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(userId),
        UpdateExpression: 'ADD #counter :one',
        ExpressionAttributeNames: { '#counter': counter },
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }
}
