/**
 * What the group life cycle needs from storage. A group is a meta item plus one item per
 * member under one partition (functions/stores/groups.ts); per-user counters bound how many
 * groups a user owns and belongs to. Every change is a conditional single-item write, so
 * racing commands leave consistent data without transactions (docs/architecture.md).
 */

export type GroupRole = 'owner' | 'admin' | 'member';

export interface GroupMember {
  readonly userId: string;
  readonly role: GroupRole;
  readonly joinedAt: string;
  /**
   * A removal (or an owner's leave) in progress: who started it and when. A member so
   * marked cannot act as an admin, be promoted, or be removed by someone else until it is
   * done or stale.
   */
  readonly removingBy?: string;
  readonly removingAt?: string;
}

export interface GroupMeta {
  readonly groupId: string;
  readonly groupName: string;
  readonly ownerId: string;
  readonly createdBy: string;
  readonly createdAt: string;
  /** Members (the item's slot count less the pending invitations). */
  readonly memberCount: number;
  /** Pending invitations (`GROUP_INVITES=required`); they hold slots too. */
  readonly invitedCount: number;
  /** `delete_group` (or the last member leaving) has started: the group accepts nothing. */
  readonly deleting: boolean;
  /** The newest message (written by `send_group_message`), when known. */
  readonly lastMessageId?: string;
}

export interface NewGroup {
  readonly groupId: string;
  readonly groupName: string;
  readonly ownerId: string;
  readonly createdAt: string;
}

/** A pending invitation (`GROUP_INVITES=required`): the user is not a member until they accept. */
export interface GroupInvitation {
  readonly userId: string;
  readonly invitedBy: string;
  readonly invitedAt: string;
}

/** Invitations, stored beside the members of each group (`invite#<userId>`). */
export interface InvitationDirectory {
  /**
   * Adds `count` invitations' slots to the meta item if the group is live and stays within
   * `max` (members and invitations together); false when it would not.
   */
  reserveInvitations(groupId: string, count: number, max: number): Promise<boolean>;
  /**
   * Takes `count` off the pending invitations; `keepSlots` (an accepted invitation: its
   * slot is the new member's) leaves the slot count as it is.
   */
  releaseInvitations(groupId: string, count: number, keepSlots: boolean): Promise<void>;
  /** Puts an invitation unless there is one; false when there was. */
  putInvitation(groupId: string, invitation: GroupInvitation): Promise<boolean>;
  invitation(groupId: string, userId: string): Promise<GroupInvitation | undefined>;
  /** The listed users' pending invitations (BatchGetItem, strongly consistent). */
  invitationsAmong(groupId: string, userIds: readonly string[]): Promise<GroupInvitation[]>;
  /** Deletes an invitation if it is there; false when it was not (accepted, declined or gone). */
  deleteInvitation(groupId: string, userId: string): Promise<boolean>;
  /** A page of the user's invitations (`byInvitee`), newest group first, after the group id `after`. */
  invitationsOf(userId: string, limit: number, after?: string): Promise<MembershipPage>;
  /** For each group id, its meta and the user's invitation (BatchGetItem, consistent). */
  invitationDetails(
    groupIds: readonly string[],
    userId: string,
  ): Promise<Map<string, { meta?: GroupMeta; invitation?: GroupInvitation }>>;
}

/** What guards a member item's delete. */
export type MemberDeleteGuard =
  /** Anyone but the owner (a member leaving; the owner's own leave uses `removingBy`). */
  | { readonly notOwner: true }
  /** Only when the removal marked by `removingBy` is still in place. */
  | { readonly removingBy: string };

export interface MembershipPage {
  /** Group ids, newest group first. */
  readonly groupIds: readonly string[];
  /** Where the next page starts (the last group id of this page); absent on the last page. */
  readonly after?: string;
}

export interface GroupDirectory extends InvitationDirectory {
  /**
   * Writes the members and invitations, then the meta item (conditional: the id is new),
   * whose slots count both.
   */
  createGroup(
    group: NewGroup,
    members: readonly GroupMember[],
    invitations?: readonly GroupInvitation[],
  ): Promise<void>;
  /** Strongly consistent reads, so a change is seen by the very next command. */
  meta(groupId: string): Promise<GroupMeta | undefined>;
  member(groupId: string, userId: string): Promise<GroupMember | undefined>;
  /** The listed users' member items that exist (BatchGetItem, strongly consistent). */
  membersAmong(groupId: string, userIds: readonly string[]): Promise<GroupMember[]>;
  /** The meta item, every member and every invitation (one Query of the partition, strongly consistent). */
  whole(
    groupId: string,
  ): Promise<{ meta?: GroupMeta; members: GroupMember[]; invitations: GroupInvitation[] }>;
  /**
   * Adds `count` to the meta's member count if the group is live and stays within `max`;
   * false when it would not (full, deleted or deleting).
   */
  reserveSlots(groupId: string, count: number, max: number): Promise<boolean>;
  /** Takes `count` off the member count (never recreates a deleted meta item). */
  releaseSlots(groupId: string, count: number): Promise<void>;
  /** Puts a member item unless the user is already a member; false when they were. */
  putMember(groupId: string, member: GroupMember): Promise<boolean>;
  /** Deletes a member item under `guard`; false when the guard did not hold or it was gone. */
  deleteMember(groupId: string, userId: string, guard: MemberDeleteGuard): Promise<boolean>;
  /**
   * Marks a removal of `userId` started by `by` at `at`, unless another one newer than
   * `staleBefore` is in place. Someone else's mark needs a non-owner; one's own (an owner
   * leaving) needs the owner. False when the member is gone or the conditions fail.
   */
  markRemoving(
    groupId: string,
    userId: string,
    by: string,
    at: string,
    staleBefore: string,
  ): Promise<boolean>;
  /** Clears the mark `by` set (a refused removal). */
  clearRemoving(groupId: string, userId: string, by: string): Promise<void>;
  /**
   * Sets a member's role. `owner` (a hand-over) needs an unmarked member newer marks than
   * `staleBefore` count; other roles need a non-owner. False when the conditions fail.
   */
  setRole(groupId: string, userId: string, role: GroupRole, staleBefore: string): Promise<boolean>;
  /** Renames a live group; false when it is gone or being deleted. */
  rename(groupId: string, groupName: string): Promise<boolean>;
  setOwner(groupId: string, ownerId: string): Promise<void>;
  /** Marks the group as being deleted; false when it is gone or already being deleted. */
  markDeleting(groupId: string): Promise<boolean>;
  /** Deletes the listed member items one by one; returns those that were there. */
  deleteMembers(groupId: string, userIds: readonly string[]): Promise<string[]>;
  /** Deletes the listed member items and invitations, then the meta item. */
  removeGroup(groupId: string, memberIds: readonly string[], inviteeIds?: readonly string[]): Promise<void>;
  /** A page of the user's groups (`byMember`), newest first, after the group id `after`. */
  memberships(userId: string, limit: number, after?: string): Promise<MembershipPage>;
  /** For each group id, its meta and the user's member item (BatchGetItem, consistent). */
  details(
    groupIds: readonly string[],
    userId: string,
  ): Promise<Map<string, { meta?: GroupMeta; member?: GroupMember }>>;
}

export type UserGroupCounter = 'owned' | 'memberOf';

/**
 * Per-user counters: groups owned (the creation limit) and groups belonged to (the
 * membership limit). Conditional updates, so racing adds cannot pass a limit.
 */
export interface UserGroupLimits {
  /** Adds one unless the counter is already at `max`; false when it is. */
  reserve(userId: string, counter: UserGroupCounter, max: number): Promise<boolean>;
  /** Takes one off (not below zero). */
  release(userId: string, counter: UserGroupCounter): Promise<void>;
  /** Adds one whatever the limit (ownership handed on). */
  add(userId: string, counter: UserGroupCounter): Promise<void>;
}
