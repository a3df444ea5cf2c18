/**
 * Pending group invitations (`GROUP_INVITES=required`): the invitee accepts (becomes a
 * member), declines, or lists them. Whoever deletes the invitation item first wins (an
 * accept, a decline or the group's delete), so racing commands cannot both succeed. An
 * invitee is not a member: no messages, history, group_info or list_groups entry.
 */
import type { Sender } from '../messaging/chat-service.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { GROUP_ID } from '../shared/ids.ts';
import {
  decodeGroupCursor,
  encodeGroupCursor,
  type GroupIdInput,
  LIST_GROUPS_DEFAULT_LIMIT,
  type ListGroupInvitesInput,
} from './group-commands.ts';
import type { GroupDirectory, GroupMeta } from './group-ports.ts';
import type { GroupService } from './group-service.ts';

export interface GroupInviteAccepted {
  readonly type: 'group_invite_accepted';
  readonly group_id: string;
  readonly group_name: string;
  readonly role: 'member';
}

export interface GroupInviteDeclined {
  readonly type: 'group_invite_declined';
  readonly group_id: string;
}

export interface GroupInvitesPage {
  readonly type: 'group_invites';
  readonly invites: readonly GroupInviteSummary[];
  /** Absent on the last page. */
  readonly next_cursor?: string;
}

export interface GroupInviteSummary {
  readonly group_id: string;
  readonly group_name: string;
  readonly invited_by: string;
  readonly invited_at: string;
  /** Members now (pending invitations not counted). */
  readonly member_count: number;
}

const noInvitation = (why: string) =>
  new ChatError(ErrorCode.groupInviteNotFound, `no pending invitation to this group: ${why}`);

function assertGroupId(groupId: string): void {
  if (!GROUP_ID.test(groupId)) {
    throw new ChatError(ErrorCode.groupIdInvalid, 'group_id must match ^group_[A-Za-z0-9_-]{1,64}$');
  }
}

const isLive = (meta: GroupMeta | undefined): meta is GroupMeta => meta !== undefined && !meta.deleting;

export class GroupInvitations {
  constructor(
    private readonly deps: { readonly directory: GroupDirectory },
    private readonly groups: GroupService,
  ) {}

  /**
   * The invitee becomes a member: their membership limit is counted, the invitation item
   * deleted (conditional: it must still be there), the member item put, and the slot the
   * invitation held becomes theirs. A delete that started meanwhile is seen afterwards and
   * the join undone. Members are told `members_added`.
   */
  async accept(
    sender: Sender,
    input: GroupIdInput,
    originConnectionId?: string,
  ): Promise<GroupInviteAccepted> {
    const { directory } = this.deps;
    const groupId = input.group_id;
    assertGroupId(groupId);
    const now = this.groups.now();
    const [meta, invitation] = await Promise.all([
      directory.meta(groupId),
      directory.invitation(groupId, sender.userId),
    ]);
    if (!invitation) throw noInvitation('never invited, already answered, or the group was deleted');
    if (!isLive(meta)) throw noInvitation('the group was deleted');
    if (!(await this.groups.joinCounted(sender.userId))) {
      throw new ChatError(ErrorCode.groupInvalid, 'you are in as many groups as this deployment allows');
    }
    if (!(await directory.deleteInvitation(groupId, sender.userId))) {
      await this.groups.leaveCounted([sender.userId]);
      throw noInvitation('it was answered or withdrawn meanwhile');
    }
    const joined = await directory.putMember(groupId, {
      userId: sender.userId,
      role: 'member',
      joinedAt: now.toISOString(),
    });
    // Already a member (an add raced the invitation): the invitation's slot is not needed.
    await directory.releaseInvitations(groupId, 1, joined);
    if (!joined) await this.groups.leaveCounted([sender.userId]);
    const after = await directory.meta(groupId);
    if (!isLive(after)) {
      if (joined) {
        const undone = await directory.deleteMembers(groupId, [sender.userId]);
        await this.groups.leaveCounted(undone);
      }
      throw noInvitation('the group was deleted');
    }
    if (joined) {
      const read = await this.groups.markOnlineMembers(groupId, [sender.userId]);
      await this.groups.tellMembers(
        groupId,
        this.groups.update(after, 'members_added', [sender.userId], sender.userId, now),
        [sender.userId],
        originConnectionId,
        read,
      );
    }
    return {
      type: 'group_invite_accepted',
      group_id: groupId,
      group_name: after.groupName,
      role: 'member',
    };
  }

  /**
   * The invitation goes (and its slot with it). The owner and admins are told
   * `invite_declined`, and so are the invitee's other devices; nobody else.
   */
  async decline(
    sender: Sender,
    input: GroupIdInput,
    originConnectionId?: string,
  ): Promise<GroupInviteDeclined> {
    const { directory } = this.deps;
    const groupId = input.group_id;
    assertGroupId(groupId);
    const now = this.groups.now();
    if (!(await directory.deleteInvitation(groupId, sender.userId))) {
      throw noInvitation('never invited, already answered, or the group was deleted');
    }
    await directory.releaseInvitations(groupId, 1, false);
    const { meta, members } = await directory.whole(groupId);
    if (isLive(meta)) {
      const admins = members
        .filter(
          (member) => member.role === 'owner' || member.role === 'admin' || member.userId === meta.ownerId,
        )
        .map((member) => member.userId);
      await this.groups.tell(
        [...admins, sender.userId],
        this.groups.update(meta, 'invite_declined', [sender.userId], sender.userId, now),
        originConnectionId,
      );
    }
    return { type: 'group_invite_declined', group_id: groupId };
  }

  /**
   * The caller's pending invitations, newest group first: one `byInvitee` Query page and
   * one BatchGetItem of the page's meta and invitation items (only what the table
   * confirms is listed: the index may trail it, and a deleted group's invitations are gone).
   */
  async list(sender: Sender, input: ListGroupInvitesInput): Promise<GroupInvitesPage> {
    const { directory } = this.deps;
    const limit = input.limit ?? LIST_GROUPS_DEFAULT_LIMIT;
    const after = input.cursor === undefined ? undefined : decodeGroupCursor(input.cursor);
    const page = await directory.invitationsOf(sender.userId, limit, after);
    const details = await directory.invitationDetails(page.groupIds, sender.userId);
    const invites: GroupInviteSummary[] = [];
    for (const groupId of page.groupIds) {
      const { meta, invitation } = details.get(groupId) ?? {};
      if (!isLive(meta) || !invitation) continue;
      invites.push({
        group_id: groupId,
        group_name: meta.groupName,
        invited_by: invitation.invitedBy,
        invited_at: invitation.invitedAt,
        member_count: meta.memberCount,
      });
    }
    return {
      type: 'group_invites',
      invites,
      // Like every paged reply: `next_cursor` while more may follow, left out on the last page.
      ...(page.after !== undefined ? { next_cursor: encodeGroupCursor(page.after) } : {}),
    };
  }
}
