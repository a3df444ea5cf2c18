/**
 * The open group's panel: its members with their roles, and the management a user's role
 * allows (owner and admins add, remove and rename; the owner deletes; everyone may leave),
 * or, once this user is out of the group, a notice saying how and no compose box.
 */
import type { GroupRole } from '../../client/src/index.ts';
import type { Conversation, GroupEnd } from './conversations.ts';
import { byId, h } from './dom.ts';

const ui = {
  panel: byId<HTMLDetailsElement>('group-panel'),
  summary: byId('group-summary'),
  members: byId('group-member-list'),
  addForm: byId<HTMLFormElement>('add-members-form'),
  renameForm: byId<HTMLFormElement>('rename-form'),
  renameInput: byId<HTMLInputElement>('rename-group'),
  leave: byId<HTMLButtonElement>('leave-group'),
  delete: byId<HTMLButtonElement>('delete-group'),
  notice: byId('group-notice'),
};

const ROLE_LABEL: Record<GroupRole, string> = { owner: 'owner', admin: 'admin', member: '' };
const ROLE_ORDER: Record<GroupRole, number> = { owner: 0, admin: 1, member: 2 };

export const canManage = (role: GroupRole | undefined): boolean => role === 'owner' || role === 'admin';

/** What the page says in place of the compose box once the user is out of the group. */
export function endNotice(end: { how: GroupEnd; by?: string }, me: string): string {
  const by = end.by && end.by !== me ? ` by ${end.by}` : '';
  switch (end.how) {
    case 'removed':
      return `You were removed from this group${by}. You can read what was said while you were a member.`;
    case 'left':
      return 'You left this group. You can read what was said while you were a member.';
    case 'deleted':
      return `This group was deleted${by}.`;
    default:
      return 'You are not a member of this group any more.';
  }
}

export function hideGroupPanel(): void {
  ui.panel.hidden = true;
  ui.notice.hidden = true;
  ui.notice.textContent = '';
}

export interface MemberActions {
  remove(userId: string): void;
  setRole(userId: string, role: 'admin' | 'member'): void;
}

function actionButton(label: string, name: string, onClick: () => void): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'link', 'aria-label': label }, name);
  button.addEventListener('click', onClick);
  return button;
}

/** Shows the group panel for `conversation` (a group), with the actions this user's role allows. */
export function renderGroupPanel(conversation: Conversation, me: string, actions: MemberActions): void {
  if (conversation.ended) {
    ui.panel.hidden = true;
    ui.notice.hidden = false;
    ui.notice.textContent = endNotice(conversation.ended, me);
    return;
  }
  ui.notice.hidden = true;
  ui.panel.hidden = false;
  const { role } = conversation;
  const manage = canManage(role);
  const members = [...(conversation.members ?? [])].sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.user_id.localeCompare(b.user_id),
  );
  const count = conversation.members?.length ?? conversation.memberCount;
  ui.summary.textContent = count === undefined ? 'Members' : `Members (${count})`;
  ui.members.replaceChildren(
    ...members.map((member) => {
      const label = ROLE_LABEL[member.role];
      // Owner and admins remove members; nobody removes the owner; oneself leaves instead.
      const removable = manage && member.role !== 'owner' && member.user_id !== me;
      const remove =
        removable && actionButton(`Remove ${member.user_id}`, 'Remove', () => actions.remove(member.user_id));
      // Only the owner changes roles.
      const next = member.role === 'admin' ? 'member' : 'admin';
      const promote =
        role === 'owner' &&
        member.role !== 'owner' &&
        actionButton(
          `Make ${member.user_id} ${next === 'admin' ? 'an admin' : 'a member'}`,
          `Make ${next}`,
          () => actions.setRole(member.user_id, next),
        );
      return h(
        'li',
        {},
        h('span', {}, member.user_id === me ? `${member.user_id} (you)` : member.user_id),
        label && h('span', { class: 'role' }, label),
        promote,
        remove,
      );
    }),
  );
  ui.addForm.hidden = !manage;
  ui.renameForm.hidden = !manage;
  if (document.activeElement !== ui.renameInput) ui.renameInput.value = conversation.title;
  ui.delete.hidden = role !== 'owner';
  ui.leave.hidden = role === undefined;
}
