/** What the page shows: conversations (1:1, group, room) and their messages, without the DOM. */
import type { ConversationSummary, GroupMember, GroupRole } from '../../client/src/index.ts';

export type ConversationKind = 'private' | 'group' | 'room';

export interface ChatLine {
  /** The message id; `~pending:<client_msg_id>` while the server has not answered. */
  readonly id: string;
  readonly from: string;
  readonly content: string;
  readonly time: string;
  readonly deleted?: boolean;
  /** Typed here and not yet stored: `sending` (or waiting for a connection), `failed`. */
  readonly pending?: 'sending' | 'failed';
}

/** How this user stopped being in a group (the page keeps its past messages on screen). */
export type GroupEnd = 'removed' | 'left' | 'deleted' | 'gone';

export interface Conversation {
  readonly key: string;
  readonly kind: ConversationKind;
  /** Peer user id, group id or room id. */
  readonly id: string;
  title: string;
  /** Oldest first (message ids are ULIDs: they sort by time; pending lines last). */
  readonly lines: ChatLine[];
  unread: number;
  /** The server's newest message (`list_conversations`), until the lines show newer ones. */
  lastMessage?: { id: string; from: string; content: string; time: string; deleted?: boolean };
  /** Groups: this user's role and the members, from `list_groups` / `group_info`. */
  role?: GroupRole;
  members?: readonly GroupMember[];
  memberCount?: number;
  /** Groups this user is no longer in, and who ended it. */
  ended?: { readonly how: GroupEnd; readonly by?: string };
  /** Read positions of the other participants (`message_read`), by user id. */
  readonly readBy: Map<string, string>;
  /** The last position this page sent with `mark_read`. */
  markedId?: string;
}

export const conversationKey = (kind: ConversationKind, id: string): string => `${kind}:${id}`;

export const PENDING_PREFIX = '~pending:';
export const isPending = (line: ChatLine): boolean => line.id.startsWith(PENDING_PREFIX);

/** The server's id of a 1:1 conversation: `private_{smaller}_{larger}` (string order). */
export function privateRoomId(a: string, b: string): string {
  return a < b ? `private_${a}_${b}` : `private_${b}_${a}`;
}

/** The id `mark_read`, `message_read` and `unread_count` use for a conversation (rooms have none). */
export function roomIdOf(conversation: Conversation, me: string): string | undefined {
  if (conversation.kind === 'group') return conversation.id;
  if (conversation.kind === 'private') return privateRoomId(me, conversation.id);
  return undefined;
}

/** The newest stored message id the page knows of (the sort key of the conversation list). */
export function lastActivity(conversation: Conversation): string {
  let last = conversation.lastMessage?.id ?? '';
  for (let i = conversation.lines.length - 1; i >= 0; i--) {
    const line = conversation.lines[i];
    if (line && !isPending(line)) {
      if (line.id > last) last = line.id;
      break;
    }
  }
  return last;
}

export class Conversations {
  private readonly byKey = new Map<string, Conversation>();
  activeKey: string | undefined;

  get active(): Conversation | undefined {
    return this.activeKey ? this.byKey.get(this.activeKey) : undefined;
  }

  get(kind: ConversationKind, id: string): Conversation | undefined {
    return this.byKey.get(conversationKey(kind, id));
  }

  /** Most recent activity first; a message being sent counts as the most recent. */
  list(): Conversation[] {
    const key = (c: Conversation) => (c.lines.some(isPending) ? '~' : lastActivity(c));
    return [...this.byKey.values()].sort((a, b) => (key(b) > key(a) ? 1 : key(b) < key(a) ? -1 : 0));
  }

  ensure(kind: ConversationKind, id: string, title?: string): Conversation {
    const key = conversationKey(kind, id);
    let conversation = this.byKey.get(key);
    if (!conversation) {
      conversation = { key, kind, id, title: title ?? id, lines: [], unread: 0, readBy: new Map() };
      this.byKey.set(key, conversation);
    } else if (title) {
      conversation.title = title;
    }
    return conversation;
  }

  /** The conversation a `room_id` from the server names (private chats, groups). */
  byRoomId(roomId: string, me: string): Conversation | undefined {
    for (const conversation of this.byKey.values())
      if (roomIdOf(conversation, me) === roomId) return conversation;
    return undefined;
  }

  /** One page of `list_conversations`: titles, newest messages and the server's unread counts. */
  applyServerList(summaries: readonly ConversationSummary[]): void {
    for (const summary of summaries) {
      const conversation =
        summary.kind === 'group'
          ? this.ensure('group', summary.group_id, summary.group_name)
          : this.ensure('private', summary.peer_id);
      conversation.unread = conversation.key === this.activeKey ? 0 : summary.unread;
      const last = summary.last_message;
      if (last)
        conversation.lastMessage = {
          id: last.message_id,
          from: last.from_user_id,
          content: last.content,
          time: last.time,
          ...(last.deleted ? { deleted: true } : {}),
        };
    }
  }

  remove(kind: ConversationKind, id: string): void {
    const key = conversationKey(kind, id);
    this.byKey.delete(key);
    if (this.activeKey === key) this.activeKey = undefined;
  }

  activate(conversation: Conversation): void {
    this.activeKey = conversation.key;
    conversation.unread = 0;
  }

  /**
   * Adds a line in id order; false when it was already there (live pushes and catch-up can
   * both bring a message). `countUnread`: a live line from someone else in a conversation not
   * open (catch-up is counted by the server: the list is read again after it).
   */
  add(conversation: Conversation, line: ChatLine, countUnread: boolean): boolean {
    const { lines } = conversation;
    const existing = lines.findIndex((l) => l.id === line.id);
    if (existing >= 0) {
      if (line.deleted && !lines[existing]?.deleted) lines[existing] = line;
      return false;
    }
    let at = lines.length;
    while (at > 0 && (lines[at - 1]?.id ?? '') > line.id) at--;
    lines.splice(at, 0, line);
    if (countUnread && conversation.key !== this.activeKey) conversation.unread++;
    return true;
  }

  /** Replaces (or drops, without `line`) the pending line `pendingId`. */
  settlePending(conversation: Conversation, pendingId: string, line?: ChatLine): void {
    const index = conversation.lines.findIndex((l) => l.id === pendingId);
    if (index >= 0) conversation.lines.splice(index, 1);
    if (line) this.add(conversation, line, false);
  }

  /** Marks a message deleted (recalled) wherever it is. */
  markDeleted(messageId: string): Conversation | undefined {
    for (const conversation of this.byKey.values()) {
      if (conversation.lastMessage?.id === messageId)
        conversation.lastMessage = { ...conversation.lastMessage, content: '', deleted: true };
      const index = conversation.lines.findIndex((l) => l.id === messageId);
      const line = conversation.lines[index];
      if (line) {
        conversation.lines[index] = { ...line, content: '', deleted: true };
        return conversation;
      }
    }
    return undefined;
  }

  clear(): void {
    this.byKey.clear();
    this.activeKey = undefined;
  }
}

/** The conversation list's preview of the newest message. */
export function preview(
  conversation: Conversation,
  me: string,
): { from: string; text: string; time: string } | undefined {
  const line = conversation.lines.at(-1);
  const server = conversation.lastMessage;
  const useLine = line && (isPending(line) || !server || line.id >= server.id);
  const newest = useLine ? line : server;
  if (!newest) return undefined;
  const text = newest.deleted ? 'message deleted' : newest.content;
  return { from: newest.from === me ? 'You' : newest.from, text, time: newest.time };
}

/**
 * For each own line, who has read up to it, shown only on the newest own line each reader
 * reached (so "Read by bob" moves down as bob reads on).
 */
export function readMarks(conversation: Conversation, me: string): Map<string, string[]> {
  const marks = new Map<string, string[]>();
  const own = conversation.lines.filter((l) => l.from === me && !isPending(l));
  for (const [reader, position] of conversation.readBy) {
    if (reader === me) continue;
    let newest: string | undefined;
    for (const line of own) if (line.id <= position) newest = line.id;
    if (newest) marks.set(newest, [...(marks.get(newest) ?? []), reader]);
  }
  return marks;
}
