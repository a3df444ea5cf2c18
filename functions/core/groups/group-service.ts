/**
 * The group life cycle: create, list, read, add and remove members, leave, rename, change
 * roles, delete. Roles: `owner` (one per group), `admin`, `member`. Every change is made
 * of conditional single-item writes (group-ports.ts), ordered so that racing commands
 * leave consistent data; `group_updated` tells the members (and whoever left) at once.
 */

import { type BlockStore, blockedByInvitees } from '../blocks/blocks.ts';
import { type EventPublisher, groupCreated, groupUpdated } from '../events/app-events.ts';
import { connectionsOf, type DeliveryDependencies, deliver } from '../fan-out/delivery.ts';
import { checkRateLimit } from '../guards/guards.ts';
import type { Sender } from '../messaging/chat-service.ts';
import type { CreateGroupInput } from '../messaging/commands.ts';
import type { ConversationIndex } from '../receipts/conversations.ts';
import { UNREAD_CAP } from '../receipts/conversations.ts';
import { mapConcurrent } from '../shared/concurrency.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { newGroupId } from '../shared/ids.ts';
import type { GuardStore, PresenceStore, UserConnections } from '../shared/ports.ts';
import {
  type AddGroupMembersInput,
  decodeGroupCursor,
  encodeGroupCursor,
  type GroupIdInput,
  type GroupInviteMode,
  type GroupMemberInput,
  LIST_GROUPS_DEFAULT_LIMIT,
  type ListGroupInvitesInput,
  type ListGroupsInput,
  type SetGroupRoleInput,
  type UpdateGroupInput,
} from './group-commands.ts';
import { GroupInvitations } from './group-invites.ts';
import type {
  GroupDirectory,
  GroupInvitation,
  GroupMember,
  GroupMeta,
  GroupRole,
  UserGroupLimits,
} from './group-ports.ts';
import type { OnlineGroupMarks } from './online-members.ts';

export interface GroupSettings {
  /** Members a group may have (`MAX_GROUP_MEMBERS`). */
  readonly maxGroupMembers: number;
  /** Groups a user may own: the creation limit (`MAX_GROUPS_PER_USER`). */
  readonly maxGroupsPerUser: number;
  /**
   * Groups a user may belong to, however they got there (`MAX_GROUP_MEMBERSHIPS_PER_USER`);
   * 0: no limit (and no per-member counter write).
   */
  readonly maxGroupMembershipsPerUser: number;
  /** `create_group` per user per minute (`GROUP_CREATES_PER_MINUTE`); 0 = off. */
  readonly groupCreatesPerMinute: number;
  /** `GROUP_INVITES`: `required` invites the users a create or an add names; unset: `off`. */
  readonly invites?: GroupInviteMode;
}

export interface GroupServiceDependencies extends DeliveryDependencies {
  readonly directory: GroupDirectory;
  /** Block rows: users who blocked the caller cannot be put into a group by them (1403); unset: no blocks. */
  readonly blocks?: Pick<BlockStore, 'blockersAmong'>;
  readonly limits: UserGroupLimits;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  /**
   * Members who join while online get their new row marked with their session's token at
   * once, and `group_updated` goes to the online members only (their marked rows, the
   * `byOnlineGroup` index: functions/core/groups/online-members.ts); unset: no marks, and
   * every member's presence is read.
   */
  readonly onlineGroups?: Pick<OnlineGroupMarks, 'mark' | 'onlineMemberIds'>;
  readonly settings: GroupSettings;
  /** The rate-limit windows (guards table); unset: `create_group` is not rate limited. */
  readonly rateStore?: Pick<GuardStore, 'countHit'>;
  /** Unread counts for `list_groups`; unset: 0. */
  readonly unread?: {
    readonly conversations: Pick<ConversationIndex, 'countUnread'>;
    /** The reader's positions in these conversations (one BatchGetItem). */
    readonly readState: {
      positionsIn(userId: string, roomIds: readonly string[]): Promise<Map<string, string>>;
    };
  };
  /** `group.created`, and `group.updated` with every `group_updated` push to the members; unset: none. */
  readonly events?: EventPublisher;
  readonly now?: () => Date;
}

/** A presence read already made for `userIds` (those of them online are `online`). */
export interface PresenceRead {
  readonly userIds: readonly string[];
  readonly online: readonly UserConnections[];
}

const NOTHING_READ: PresenceRead = { userIds: [], online: [] };

export type GroupChange =
  | 'renamed'
  | 'members_added'
  | 'member_removed'
  | 'member_left'
  | 'role_changed'
  | 'deleted'
  /** `GROUP_INVITES=required`: `user_ids` were invited by `by` (an invitee is told only of themselves). */
  | 'invited'
  /** `user_ids` declined their invitation (told to the owner and admins). */
  | 'invite_declined'
  /** An owner or admin withdrew the invitation of `user_ids` (`remove_group_member`). */
  | 'invite_withdrawn';

export interface GroupUpdated {
  readonly type: 'group_updated';
  readonly group_id: string;
  readonly change: GroupChange;
  readonly user_ids: readonly string[];
  readonly by: string;
  readonly group_name: string;
  /** Present when ownership moved (an owner left). */
  readonly owner_id?: string;
  /** Present with `role_changed`: the new role of `user_ids`. */
  readonly role?: GroupRole;
  readonly time: string;
}

export interface GroupCreated {
  readonly type: 'group_created';
  readonly group_id: string;
  readonly group_name: string;
  /** Who is in: the creator first, duplicates dropped, users at their membership limit left out. */
  readonly member_ids: readonly string[];
  /** `GROUP_INVITES=required`: the others, invited (not members until they accept). */
  readonly invited?: readonly string[];
  readonly role: 'owner';
}

export interface GroupMembersAdded {
  readonly type: 'group_members_added';
  readonly group_id: string;
  /** The users who became members (none under `GROUP_INVITES=required`). */
  readonly added: readonly string[];
  /** `GROUP_INVITES=required`: the users invited (members and pending invitees left out). */
  readonly invited?: readonly string[];
}

export interface GroupSummary {
  readonly group_id: string;
  readonly group_name: string;
  readonly role: GroupRole;
  readonly member_count: number;
  readonly last_message_id: string | null;
  readonly unread: number;
}

/** A removal mark older than this no longer blocks anything (its command died half-way). */
export const REMOVAL_MARK_STALE_MS = 30_000;
/** Parallel writes of one command (member items and counters of a large add or delete). */
const WRITE_CONCURRENCY = 16;

const groupIdError = () =>
  new ChatError(ErrorCode.groupIdInvalid, 'group_id must match ^group_[A-Za-z0-9_-]{1,64}$');
export const notMember = () => new ChatError(ErrorCode.forbidden, 'not a member of this group');
const conflict = () =>
  new ChatError(ErrorCode.forbidden, 'another change to this member is in progress; retry');

export function assertGroupIdFormat(groupId: string): void {
  if (!/^group_[A-Za-z0-9_-]{1,64}$/.test(groupId)) throw groupIdError();
}

const isMarked = (member: GroupMember, staleBefore: string) =>
  member.removingBy !== undefined && (member.removingAt ?? '') >= staleBefore;

export class GroupService {
  private readonly invitations: GroupInvitations;

  constructor(private readonly deps: GroupServiceDependencies) {
    this.invitations = new GroupInvitations(deps, this);
  }

  /** `accept_group_invite`, `decline_group_invite`, `list_group_invites`: see group-invites.ts. */
  acceptInvite(sender: Sender, input: GroupIdInput, originConnectionId?: string) {
    return this.invitations.accept(sender, input, originConnectionId);
  }

  declineInvite(sender: Sender, input: GroupIdInput, originConnectionId?: string) {
    return this.invitations.decline(sender, input, originConnectionId);
  }

  listInvites(sender: Sender, input: ListGroupInvitesInput) {
    return this.invitations.list(sender, input);
  }

  private get invitesRequired(): boolean {
    return this.deps.settings.invites === 'required';
  }

  now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private staleBefore(now: Date): string {
    return new Date(now.getTime() - REMOVAL_MARK_STALE_MS).toISOString();
  }

  /** The live group and the sender's membership; 1403 for a missing group or a non-member. */
  private async membership(groupId: string, userId: string): Promise<{ meta: GroupMeta; me: GroupMember }> {
    assertGroupIdFormat(groupId);
    const [meta, me] = await Promise.all([
      this.deps.directory.meta(groupId),
      this.deps.directory.member(groupId, userId),
    ]);
    if (!meta || meta.deleting || !me) throw notMember();
    return { meta, me: me.role === 'member' && meta.ownerId === userId ? { ...me, role: 'owner' } : me };
  }

  /** As `membership`, and the sender must hold one of `roles` and not be on their way out. */
  private async actor(groupId: string, userId: string, roles: readonly GroupRole[], now: Date) {
    const found = await this.membership(groupId, userId);
    if (!roles.includes(found.me.role)) {
      throw new ChatError(ErrorCode.forbidden, `only the group's ${roles.join(' or ')} may do this`);
    }
    if (isMarked(found.me, this.staleBefore(now))) throw conflict();
    return found;
  }

  /**
   * Posts `update` to every connection of `userIds` but `originConnectionId` (which gets the
   * reply), and publishes it as `group.updated` (unless `announce` is false: the same change
   * told to someone else). Called once the change is stored. `known`: presence already read
   * for some of them (members just added), not read again.
   */
  async tell(
    userIds: readonly string[],
    update: GroupUpdated,
    originConnectionId?: string,
    announce = true,
    known: PresenceRead = NOTHING_READ,
  ) {
    if (announce) this.deps.events?.publish(groupUpdated(update));
    const knownIds = new Set(known.userIds);
    const toRead = [...new Set(userIds)].filter((userId) => !knownIds.has(userId));
    const requested = new Set(userIds);
    const online = [
      ...known.online.filter((user) => requested.has(user.userId)),
      ...(toRead.length > 0 ? await this.deps.presence.connectionsOf(toRead) : []),
    ];
    if (online.length === 0) return;
    await deliver(this.deps, connectionsOf(online, originConnectionId), update, { name: 'group_updated' });
  }

  /**
   * `group_updated` to the group's members, as far as they are online, and to `alsoUserIds`
   * (the actor's other devices; whom the change is about, whose row may be gone or not yet
   * in the index). With `onlineGroups` the members are the marked ones (one `byOnlineGroup`
   * Query), so only their presence is read: offline members get nothing pushed anyway
   * (`list_groups` and `group_info` show the change). Without it, every member's presence.
   */
  async tellMembers(
    groupId: string,
    update: GroupUpdated,
    alsoUserIds: readonly string[],
    originConnectionId?: string,
    known: PresenceRead = NOTHING_READ,
  ) {
    const marks = this.deps.onlineGroups;
    const memberIds = marks
      ? await marks.onlineMemberIds(groupId)
      : (await this.deps.directory.whole(groupId)).members.map((member) => member.userId);
    // A user read as offline just now but marked in the index since: read again.
    const marked = new Set(memberIds);
    const foundOnline = new Set(known.online.map((user) => user.userId));
    const stillKnown = {
      userIds: known.userIds.filter((userId) => !marked.has(userId) || foundOnline.has(userId)),
      online: known.online,
    };
    await this.tell([...memberIds, ...alsoUserIds], update, originConnectionId, true, stillKnown);
  }

  update(
    meta: Pick<GroupMeta, 'groupId' | 'groupName'>,
    change: GroupChange,
    userIds: readonly string[],
    by: string,
    now: Date,
    extra: Pick<GroupUpdated, 'owner_id' | 'role'> = {},
  ): GroupUpdated {
    return {
      type: 'group_updated',
      group_id: meta.groupId,
      change,
      user_ids: userIds,
      by,
      group_name: meta.groupName,
      ...extra,
      time: now.toISOString(),
    };
  }

  /**
   * Marks the new member rows of those of `userIds` who are online (one presence
   * BatchGetItem per 100, one UpdateItem per online user). After the rows are written: a
   * user whose online session began before this read is seen here, one who comes online
   * after it finds the rows in `byMember` when their connect marks them. Returns the
   * presence read, so the `members_added` push does not read it again.
   */
  async markOnlineMembers(groupId: string, userIds: readonly string[]): Promise<PresenceRead> {
    const marks = this.deps.onlineGroups;
    if (!marks || userIds.length === 0) return NOTHING_READ;
    const unique = [...new Set(userIds)];
    const online = await this.deps.presence.connectionsOf(unique);
    await mapConcurrent(online, WRITE_CONCURRENCY, async (user) => {
      if (user.onlineSince) await marks.mark(groupId, user.userId, user.onlineSince);
    });
    return { userIds: unique, online };
  }

  /** Counts one more group for `userId`; false at the membership limit (always true when off). */
  joinCounted(userId: string): Promise<boolean> {
    const max = this.deps.settings.maxGroupMembershipsPerUser;
    return max > 0 ? this.deps.limits.reserve(userId, 'memberOf', max) : Promise.resolve(true);
  }

  /** 1403, before anything is written, when some of `userIds` blocked `adderId` (one read of who blocked them). */
  private async refuseBlockers(userIds: readonly string[], adderId: string): Promise<void> {
    if (!this.deps.blocks || userIds.length === 0) return;
    const blockers = await this.deps.blocks.blockersAmong(userIds, adderId);
    if (blockers.size > 0) throw blockedByInvitees(userIds.filter((userId) => blockers.has(userId)));
  }

  async leaveCounted(userIds: readonly string[]): Promise<void> {
    if (this.deps.settings.maxGroupMembershipsPerUser <= 0) return;
    await mapConcurrent(userIds, WRITE_CONCURRENCY, (userId) => this.deps.limits.release(userId, 'memberOf'));
  }

  /**
   * Tells each invitee of their own invitation only (`user_ids` is just them): invitees do
   * not learn who else was asked.
   */
  private async tellInvitees(
    meta: Pick<GroupMeta, 'groupId' | 'groupName'>,
    inviteeIds: readonly string[],
    by: string,
    now: Date,
  ) {
    // One presence read for them all, then each online invitee's own frame.
    const online = await this.deps.presence.connectionsOf([...new Set(inviteeIds)]);
    await mapConcurrent(online, WRITE_CONCURRENCY, (user) =>
      deliver(this.deps, connectionsOf([user]), this.update(meta, 'invited', [user.userId], by, now), {
        name: 'group_updated',
      }),
    );
  }

  async createGroup(sender: Sender, input: CreateGroupInput): Promise<GroupCreated> {
    const { settings, limits, directory } = this.deps;
    const memberIds = [...new Set([sender.userId, ...input.member_ids])];
    if (memberIds.length > settings.maxGroupMembers) {
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a group has at most ${settings.maxGroupMembers} members; received ${memberIds.length}`,
      );
    }
    await this.refuseBlockers(memberIds.slice(1), sender.userId);
    const now = this.now();
    if (this.deps.rateStore) {
      await checkRateLimit(this.deps.rateStore, {
        key: (window) => `rate#create_group#${sender.userId}#${window}`,
        limit: settings.groupCreatesPerMinute,
        what: 'groups created',
        now,
      });
    }
    if (!(await limits.reserve(sender.userId, 'owned', settings.maxGroupsPerUser))) {
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a user may own at most ${settings.maxGroupsPerUser} groups`,
      );
    }
    if (!(await this.joinCounted(sender.userId))) {
      await limits.release(sender.userId, 'owned');
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a user may belong to at most ${settings.maxGroupMembershipsPerUser} groups`,
      );
    }
    const others = memberIds.slice(1);
    // Invitees are counted against their membership limit when they accept.
    const invitees = this.invitesRequired ? others : [];
    // Others at their membership limit are left out (the reply lists who is in).
    const admitted = this.invitesRequired
      ? []
      : await mapConcurrent(others, WRITE_CONCURRENCY, (userId) => this.joinCounted(userId));
    const members = [sender.userId, ...others.filter((_, i) => admitted[i])];
    const createdAt = now.toISOString();
    const groupId = newGroupId(now);
    const invitations: GroupInvitation[] = invitees.map((userId) => ({
      userId,
      invitedBy: sender.userId,
      invitedAt: createdAt,
    }));
    try {
      await directory.createGroup(
        { groupId, groupName: input.group_name, ownerId: sender.userId, createdAt },
        members.map((userId) => ({
          userId,
          role: userId === sender.userId ? 'owner' : 'member',
          joinedAt: createdAt,
        })),
        invitations,
      );
    } catch (error) {
      await Promise.allSettled([limits.release(sender.userId, 'owned'), this.leaveCounted(members)]);
      throw error;
    }
    await this.markOnlineMembers(groupId, members);
    if (invitees.length > 0) {
      await this.tellInvitees({ groupId, groupName: input.group_name }, invitees, sender.userId, now);
    }
    const created: GroupCreated = {
      type: 'group_created',
      group_id: groupId,
      group_name: input.group_name,
      member_ids: members,
      ...(this.invitesRequired ? { invited: invitees } : {}),
      role: 'owner',
    };
    this.deps.events?.publish(groupCreated(created, sender.userId, createdAt));
    return created;
  }

  /**
   * The caller's groups, newest first: one `byMember` Query page, one BatchGetItem of the
   * page's meta and member items, one read-position BatchGetItem and one bounded unread
   * count per group: the cost grows with the page, not with the user's groups.
   */
  async listGroups(sender: Sender, input: ListGroupsInput) {
    const limit = input.limit ?? LIST_GROUPS_DEFAULT_LIMIT;
    const after = input.cursor === undefined ? undefined : decodeGroupCursor(input.cursor);
    const page = await this.deps.directory.memberships(sender.userId, limit, after);
    const [details, unread] = await Promise.all([
      this.deps.directory.details(page.groupIds, sender.userId),
      this.unreadIn(sender.userId, page.groupIds),
    ]);
    const groups: GroupSummary[] = [];
    for (const groupId of page.groupIds) {
      const found = details.get(groupId);
      // The index may trail the table for a moment: only what the table confirms is listed.
      if (!found?.meta || found.meta.deleting || !found.member) continue;
      groups.push({
        group_id: groupId,
        group_name: found.meta.groupName,
        role: found.meta.ownerId === sender.userId ? 'owner' : found.member.role,
        member_count: found.meta.memberCount,
        last_message_id: found.meta.lastMessageId ?? null,
        unread: unread.get(groupId) ?? 0,
      });
    }
    // Like every paged reply: `next_cursor` while more may follow, left out on the last page.
    return {
      type: 'groups' as const,
      groups,
      ...(page.after !== undefined ? { next_cursor: encodeGroupCursor(page.after) } : {}),
    };
  }

  private async unreadIn(userId: string, groupIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const unread = this.deps.unread;
    if (!unread || groupIds.length === 0) return counts;
    const positions = await unread.readState.positionsIn(userId, groupIds);
    await mapConcurrent(groupIds, 8, async (roomId) => {
      const { count } = await unread.conversations.countUnread({
        roomId,
        readerId: userId,
        kind: 'group',
        after: positions.get(roomId),
        cap: UNREAD_CAP,
      });
      counts.set(roomId, count);
    });
    return counts;
  }

  async groupInfo(sender: Sender, input: GroupIdInput) {
    assertGroupIdFormat(input.group_id);
    const { meta, members } = await this.deps.directory.whole(input.group_id);
    if (!meta || meta.deleting || !members.some((member) => member.userId === sender.userId))
      throw notMember();
    return {
      type: 'group_info' as const,
      group_id: meta.groupId,
      group_name: meta.groupName,
      owner_id: meta.ownerId,
      created_at: meta.createdAt,
      member_count: members.length,
      members: members.map((member) => ({
        user_id: member.userId,
        // Typed, or the literals widen to string and the client's GroupRole drifts unseen.
        role: (member.userId === meta.ownerId
          ? 'owner'
          : member.role === 'owner'
            ? 'admin'
            : member.role) satisfies GroupRole as GroupRole,
        joined_at: member.joinedAt,
      })),
    };
  }

  /**
   * Owner and admins. Ids are deduplicated; the caller, current members and users at their
   * membership limit are skipped; only those added are reported. Slots are reserved on the
   * meta item first (conditional on the group being live and staying within
   * MAX_GROUP_MEMBERS), so racing adds cannot overfill it; a delete that started meanwhile
   * is seen afterwards, and this add is then undone.
   */
  async addMembers(
    sender: Sender,
    input: AddGroupMembersInput,
    originConnectionId?: string,
  ): Promise<GroupMembersAdded> {
    const { directory, settings } = this.deps;
    const now = this.now();
    const { meta } = await this.actor(input.group_id, sender.userId, ['owner', 'admin'], now);
    const requested = [...new Set(input.member_ids)].filter((userId) => userId !== sender.userId);
    if (requested.length > settings.maxGroupMembers) {
      throw new ChatError(ErrorCode.groupInvalid, `a group has at most ${settings.maxGroupMembers} members`);
    }
    const already = new Set(
      (await directory.membersAmong(meta.groupId, requested)).map((member) => member.userId),
    );
    const candidates = requested.filter((userId) => !already.has(userId));
    if (this.invitesRequired) return this.invite(sender, meta, candidates, now, originConnectionId);
    if (candidates.length === 0) {
      return { type: 'group_members_added' as const, group_id: meta.groupId, added: [] as string[] };
    }
    await this.refuseBlockers(candidates, sender.userId);
    if (!(await directory.reserveSlots(meta.groupId, candidates.length, settings.maxGroupMembers))) {
      const current = await directory.meta(meta.groupId);
      if (!current || current.deleting) throw notMember();
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a group has at most ${settings.maxGroupMembers} members; it has ${current.memberCount}, ` +
          `${candidates.length} more were asked for`,
      );
    }
    const joinedAt = now.toISOString();
    const outcomes = await mapConcurrent(candidates, WRITE_CONCURRENCY, async (userId) => {
      if (!(await this.joinCounted(userId))) return false;
      if (await directory.putMember(meta.groupId, { userId, role: 'member', joinedAt })) return true;
      await this.leaveCounted([userId]); // became a member meanwhile
      return false;
    });
    const added = candidates.filter((_, i) => outcomes[i]);
    await directory.releaseSlots(meta.groupId, candidates.length - added.length);
    // A delete that began after the slots were reserved may have missed these items.
    const after = await directory.meta(meta.groupId);
    if (!after || after.deleting) {
      // Only the items this undo removed: those the delete removed were counted off by it.
      const undone = await directory.deleteMembers(meta.groupId, added);
      await this.leaveCounted(undone);
      throw notMember();
    }
    if (added.length > 0) {
      const read = await this.markOnlineMembers(meta.groupId, added);
      const update = this.update(after, 'members_added', added, sender.userId, now);
      // The added themselves whether or not the index shows their new rows yet.
      await this.tellMembers(meta.groupId, update, [sender.userId, ...added], originConnectionId, read);
    }
    return { type: 'group_members_added' as const, group_id: meta.groupId, added };
  }

  /**
   * `add_group_members` under `GROUP_INVITES=required`: invitations instead of members.
   * Users already invited are skipped; invitations take slots as members do (the reserve
   * comes first), so inviting cannot pass MAX_GROUP_MEMBERS. Members are told `invited`
   * with every new invitee; each invitee of their own invitation.
   */
  private async invite(
    sender: Sender,
    meta: GroupMeta,
    nonMembers: readonly string[],
    now: Date,
    originConnectionId?: string,
  ): Promise<GroupMembersAdded> {
    const { directory, settings } = this.deps;
    const pending = new Set(
      (await directory.invitationsAmong(meta.groupId, nonMembers)).map((invitation) => invitation.userId),
    );
    const candidates = nonMembers.filter((userId) => !pending.has(userId));
    const reply = { type: 'group_members_added' as const, group_id: meta.groupId, added: [] };
    if (candidates.length === 0) return { ...reply, invited: [] };
    await this.refuseBlockers(candidates, sender.userId);
    if (!(await directory.reserveInvitations(meta.groupId, candidates.length, settings.maxGroupMembers))) {
      const current = await directory.meta(meta.groupId);
      if (!current || current.deleting) throw notMember();
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a group has at most ${settings.maxGroupMembers} members, pending invitations included; it has ` +
          `${current.memberCount} members and ${current.invitedCount} invitations, ${candidates.length} more were asked for`,
      );
    }
    const invitedAt = now.toISOString();
    const outcomes = await mapConcurrent(candidates, WRITE_CONCURRENCY, (userId) =>
      directory.putInvitation(meta.groupId, { userId, invitedBy: sender.userId, invitedAt }),
    );
    const invited = candidates.filter((_, i) => outcomes[i]);
    await directory.releaseInvitations(meta.groupId, candidates.length - invited.length, false);
    // A delete that began after the slots were reserved may have missed these items.
    const after = await directory.meta(meta.groupId);
    if (!after || after.deleting) {
      await mapConcurrent(invited, WRITE_CONCURRENCY, (userId) =>
        directory.deleteInvitation(meta.groupId, userId),
      );
      throw notMember();
    }
    if (invited.length > 0) {
      await Promise.all([
        this.tellMembers(
          meta.groupId,
          this.update(after, 'invited', invited, sender.userId, now),
          [sender.userId],
          originConnectionId,
        ),
        this.tellInvitees(after, invited, sender.userId, now),
      ]);
    }
    return { ...reply, invited };
  }

  /**
   * Owner and admins remove anyone but the owner and themselves (`leave_group` is for that).
   * The target is marked first, then the remover's own standing is re-read: of two admins
   * removing each other at once, at most one succeeds (both may be refused: retry).
   */
  async removeMember(sender: Sender, input: GroupMemberInput, originConnectionId?: string) {
    const { directory } = this.deps;
    const now = this.now();
    const groupId = input.group_id;
    if (input.user_id === sender.userId) {
      assertGroupIdFormat(groupId);
      throw new ChatError(ErrorCode.badRequest, 'use leave_group to leave a group');
    }
    const { meta } = await this.actor(groupId, sender.userId, ['owner', 'admin'], now);
    const target = await directory.member(groupId, input.user_id);
    if (!target) {
      if (await this.withdrawInvitation(sender, meta, input.user_id, now, originConnectionId)) {
        return { type: 'group_member_removed' as const, group_id: groupId, user_id: input.user_id };
      }
      throw new ChatError(ErrorCode.groupInvalid, 'user_id is not a member of this group');
    }
    if (target.role === 'owner' || target.userId === meta.ownerId) {
      throw new ChatError(ErrorCode.forbidden, 'the owner cannot be removed');
    }
    const at = now.toISOString();
    const staleBefore = this.staleBefore(now);
    if (!(await directory.markRemoving(groupId, target.userId, sender.userId, at, staleBefore))) {
      const again = await directory.member(groupId, target.userId);
      if (!again) throw new ChatError(ErrorCode.groupInvalid, 'user_id is not a member of this group');
      if (again.role === 'owner') throw new ChatError(ErrorCode.forbidden, 'the owner cannot be removed');
      throw conflict();
    }
    const me = await directory.member(groupId, sender.userId);
    if (!me || (me.role !== 'owner' && me.role !== 'admin') || isMarked(me, staleBefore)) {
      await directory.clearRemoving(groupId, target.userId, sender.userId);
      throw me
        ? new ChatError(ErrorCode.forbidden, 'no longer an owner or admin of this group')
        : notMember();
    }
    if (!(await directory.deleteMember(groupId, target.userId, { removingBy: sender.userId }))) {
      // The target left (or was promoted) meanwhile.
      await directory.clearRemoving(groupId, target.userId, sender.userId);
      throw new ChatError(ErrorCode.groupInvalid, 'user_id is not a member of this group');
    }
    await Promise.all([directory.releaseSlots(groupId, 1), this.leaveCounted([target.userId])]);
    await this.tellMembersAnd(
      groupId,
      target.userId,
      meta,
      'member_removed',
      sender.userId,
      now,
      originConnectionId,
    );
    return { type: 'group_member_removed' as const, group_id: groupId, user_id: target.userId };
  }

  /**
   * `remove_group_member` naming a pending invitee: the invitation goes (conditional delete:
   * of a withdrawal and the invitee's answer, one wins) and frees its place; the members and
   * the invitee are told `invite_withdrawn`. False when there was no invitation.
   */
  private async withdrawInvitation(
    sender: Sender,
    meta: GroupMeta,
    userId: string,
    now: Date,
    originConnectionId?: string,
  ): Promise<boolean> {
    const { directory } = this.deps;
    // No pending invitations (always so with GROUP_INVITES=off): no write to try.
    if (meta.invitedCount <= 0) return false;
    if (!(await directory.deleteInvitation(meta.groupId, userId))) return false;
    await directory.releaseInvitations(meta.groupId, 1, false);
    await this.tellMembersAnd(
      meta.groupId,
      userId,
      meta,
      'invite_withdrawn',
      sender.userId,
      now,
      originConnectionId,
    );
    return true;
  }

  /** Pushes `change` about `userId` to the members left and to `userId`. */
  private async tellMembersAnd(
    groupId: string,
    userId: string,
    meta: GroupMeta,
    change: GroupChange,
    by: string,
    now: Date,
    originConnectionId?: string,
    extra: Pick<GroupUpdated, 'owner_id'> = {},
  ) {
    // `userId`'s row is gone (or never was: an invitee); the index may still list it.
    await this.tellMembers(
      groupId,
      this.update(meta, change, [userId], by, now, extra),
      [userId, by],
      originConnectionId,
    );
  }

  /**
   * Any member may leave, always. An owner hands ownership to the longest-standing admin,
   * else the longest-standing member; the last member leaving deletes the group.
   */
  async leave(sender: Sender, input: GroupIdInput, originConnectionId?: string) {
    const { directory } = this.deps;
    const now = this.now();
    const groupId = input.group_id;
    const { meta, me } = await this.membership(groupId, sender.userId);
    const reply = { type: 'group_left' as const, group_id: groupId };
    if (me.role !== 'owner' && meta.ownerId !== sender.userId) {
      if (await directory.deleteMember(groupId, sender.userId, { notOwner: true })) {
        await Promise.all([directory.releaseSlots(groupId, 1), this.leaveCounted([sender.userId])]);
        await this.tellMembersAnd(
          groupId,
          sender.userId,
          meta,
          'member_left',
          sender.userId,
          now,
          originConnectionId,
        );
        return reply;
      }
      const again = await directory.member(groupId, sender.userId);
      if (!again) throw notMember();
      // Made owner meanwhile (the previous owner left): leave as the owner.
    }
    return this.leaveAsOwner(sender, meta, now, originConnectionId).then(() => reply);
  }

  private async leaveAsOwner(sender: Sender, meta: GroupMeta, now: Date, originConnectionId?: string) {
    const { directory, limits } = this.deps;
    const groupId = meta.groupId;
    const staleBefore = this.staleBefore(now);
    // Marked first: nobody hands ownership back to a leaving owner.
    if (
      !(await directory.markRemoving(groupId, sender.userId, sender.userId, now.toISOString(), staleBefore))
    ) {
      const again = await directory.member(groupId, sender.userId);
      if (!again) throw notMember();
      throw conflict();
    }
    const { members } = await directory.whole(groupId);
    const candidates = members
      .filter((member) => member.userId !== sender.userId && !isMarked(member, staleBefore))
      .sort(
        (a, b) =>
          Number(b.role === 'admin') - Number(a.role === 'admin') ||
          (a.joinedAt < b.joinedAt ? -1 : a.joinedAt > b.joinedAt ? 1 : a.userId < b.userId ? -1 : 1),
      );
    let heir: string | undefined;
    for (const candidate of candidates) {
      if (await directory.setRole(groupId, candidate.userId, 'owner', staleBefore)) {
        heir = candidate.userId;
        break;
      }
    }
    if (heir === undefined) {
      // The last member: the group goes.
      await this.removeWholeGroup(meta, sender.userId, now, originConnectionId, 'member_left');
      return;
    }
    await directory.setOwner(groupId, heir);
    await directory.deleteMember(groupId, sender.userId, { removingBy: sender.userId });
    await Promise.all([
      directory.releaseSlots(groupId, 1),
      this.leaveCounted([sender.userId]),
      limits.release(sender.userId, 'owned'),
      limits.add(heir, 'owned'),
    ]);
    await this.tellMembersAnd(
      groupId,
      sender.userId,
      meta,
      'member_left',
      sender.userId,
      now,
      originConnectionId,
      {
        owner_id: heir,
      },
    );
  }

  /** Owner and admins. */
  async rename(sender: Sender, input: UpdateGroupInput, originConnectionId?: string) {
    const now = this.now();
    const { meta } = await this.actor(input.group_id, sender.userId, ['owner', 'admin'], now);
    if (!(await this.deps.directory.rename(meta.groupId, input.group_name))) throw notMember();
    const renamed = { ...meta, groupName: input.group_name };
    const update = this.update(renamed, 'renamed', [], sender.userId, now);
    await this.tellMembers(meta.groupId, update, [sender.userId], originConnectionId);
    return update;
  }

  /** The owner makes a member an admin or an admin a member. */
  async setRole(sender: Sender, input: SetGroupRoleInput, originConnectionId?: string) {
    const now = this.now();
    const { meta } = await this.actor(input.group_id, sender.userId, ['owner'], now);
    if (input.user_id === sender.userId) {
      throw new ChatError(ErrorCode.forbidden, "the owner's role changes only by leaving the group");
    }
    if (!(await this.deps.directory.setRole(meta.groupId, input.user_id, input.role, ''))) {
      const target = await this.deps.directory.member(meta.groupId, input.user_id);
      if (!target) throw new ChatError(ErrorCode.groupInvalid, 'user_id is not a member of this group');
      throw new ChatError(ErrorCode.forbidden, "the owner's role changes only by leaving the group");
    }
    const update = this.update(meta, 'role_changed', [input.user_id], sender.userId, now, {
      role: input.role,
    });
    await this.tellMembers(meta.groupId, update, [sender.userId, input.user_id], originConnectionId);
    return {
      type: 'group_role_set' as const,
      group_id: meta.groupId,
      user_id: input.user_id,
      role: input.role,
    };
  }

  /** The owner only. */
  async deleteGroup(sender: Sender, input: GroupIdInput, originConnectionId?: string) {
    const now = this.now();
    const { meta } = await this.actor(input.group_id, sender.userId, ['owner'], now);
    await this.removeWholeGroup(meta, sender.userId, now, originConnectionId, 'deleted');
    return { type: 'group_deleted' as const, group_id: meta.groupId };
  }

  /**
   * Marks the meta item `deleting` (every add, rename and post refuses from then on), reads
   * the members, deletes them and then the meta item, and tells them all. The messages stay
   * until their retention ends; nobody can read them through the group any more.
   */
  private async removeWholeGroup(
    meta: GroupMeta,
    by: string,
    now: Date,
    originConnectionId: string | undefined,
    reason: 'deleted' | 'member_left',
  ) {
    const { directory, limits } = this.deps;
    if (!(await directory.markDeleting(meta.groupId))) throw notMember();
    // The online members are read before their rows (and marks) go.
    const [{ members, invitations }, onlineIds] = await Promise.all([
      directory.whole(meta.groupId),
      this.deps.onlineGroups?.onlineMemberIds(meta.groupId),
    ]);
    const memberIds = members.map((member) => member.userId);
    const inviteeIds = invitations.map((invitation) => invitation.userId);
    await directory.removeGroup(meta.groupId, memberIds, inviteeIds);
    await Promise.all([limits.release(meta.ownerId, 'owned'), this.leaveCounted(memberIds)]);
    const everyone = [...new Set([...memberIds, by])];
    await Promise.all([
      this.tell(
        // Offline members get nothing pushed anyway: only the online ones' presence is read.
        onlineIds ? [...onlineIds, by] : everyone,
        this.update(meta, 'deleted', reason === 'deleted' ? everyone : [by], by, now),
        originConnectionId,
      ),
      // Their invitations are gone with the group; they learn nothing of its members.
      this.tell(inviteeIds, this.update(meta, 'deleted', [], by, now), undefined, false),
    ]);
  }
}
