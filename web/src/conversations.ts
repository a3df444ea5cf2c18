/** What the page shows: conversations (1:1, group, room) and their messages, without the DOM. */
import type {
  Attachment,
  ConversationSummary,
  GroupMember,
  GroupRole,
  MessageEditedPush,
  ReactionPush,
  TypingState,
} from '../../client/src/index.ts';

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
  /** The message this one answers. */
  readonly replyTo?: string;
  /** Set once its sender edited it. */
  readonly editedAt?: string;
  /** Counts by emoji. */
  readonly reactions?: Readonly<Record<string, number>>;
  /** The emojis this user put on it (seen in this session: the server's counts do not say whose they are). */
  readonly mine?: readonly string[];
  /** Image or file: on own lines being sent, `url` is a local `blob:` URL of the picked file. */
  readonly attachment?: Attachment;
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
  /** Who is typing here, and until when (ms since the epoch) the indicator shows without a repeat. */
  readonly typing: Map<string, number>;
}

/** A `typing` start shows this long unless repeated (senders repeat every few seconds while typing). */
export const TYPING_SHOWN_MS = 7_000;

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

/** The `room_id` of edit, react and typing commands: private chats and groups as above, a room's own id. */
export function commandRoomId(conversation: Conversation, me: string): string | undefined {
  return roomIdOf(conversation, me) ?? (conversation.kind === 'room' ? conversation.id : undefined);
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
      conversation = {
        key,
        kind,
        id,
        title: title ?? id,
        lines: [],
        unread: 0,
        readBy: new Map(),
        typing: new Map(),
      };
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
    const known = lines[existing];
    if (known) {
      if (line.deleted && !known.deleted) lines[existing] = line;
      // History read later can be newer than what was seen (an edit missed while away).
      else if (line.editedAt && (!known.editedAt || line.editedAt > known.editedAt))
        lines[existing] = { ...known, content: line.content, editedAt: line.editedAt };
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

  /** A line by message id, wherever it is. */
  find(messageId: string): { conversation: Conversation; index: number; line: ChatLine } | undefined {
    for (const conversation of this.byKey.values()) {
      const index = conversation.lines.findIndex((l) => l.id === messageId);
      const line = conversation.lines[index];
      if (line) return { conversation, index, line };
    }
    return undefined;
  }

  /** An edit: the new text and the edited mark, on the line and on the list's preview. */
  applyEdit(push: MessageEditedPush): Conversation | undefined {
    let touched: Conversation | undefined;
    for (const conversation of this.byKey.values())
      if (conversation.lastMessage?.id === push.message_id) {
        conversation.lastMessage = { ...conversation.lastMessage, content: push.content };
        touched = conversation;
      }
    const found = this.find(push.message_id);
    if (!found) return touched;
    const { conversation, index, line } = found;
    if (!line.editedAt || push.edited_at >= line.editedAt)
      conversation.lines[index] = { ...line, content: push.content, editedAt: push.edited_at };
    return conversation;
  }

  /** A reaction: the message's new counts, and whether this user's own emoji is on it. */
  applyReaction(push: ReactionPush, me: string): Conversation | undefined {
    const found = this.find(push.message_id);
    if (!found) return undefined;
    const { conversation, index, line } = found;
    let mine = line.mine ?? [];
    if (push.user_id === me)
      mine =
        push.action === 'added'
          ? [...new Set([...mine, push.emoji])]
          : mine.filter((emoji) => emoji !== push.emoji);
    conversation.lines[index] = { ...line, reactions: push.counts, mine };
    return conversation;
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

/** What a reply quotes: the answered message's sender and the start of its text. */
export function quoteOf(
  conversation: Conversation,
  messageId: string,
  me: string,
): { from: string; text: string } | undefined {
  const line = conversation.lines.find((l) => l.id === messageId);
  if (!line) return undefined;
  const text = line.deleted ? 'message deleted' : line.content;
  return {
    from: line.from === me ? 'You' : line.from,
    text: text.length > 80 ? `${text.slice(0, 79)}…` : text,
  };
}

/** Emojis with a count, in a stable order (most used first). */
export function reactionList(line: ChatLine): Array<{ emoji: string; count: number; mine: boolean }> {
  return Object.entries(line.reactions ?? {})
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([emoji, count]) => ({ emoji, count, mine: line.mine?.includes(emoji) ?? false }));
}

/** Notes a `typing` push; `now` in ms since the epoch. */
export function noteTyping(conversation: Conversation, user: string, state: TypingState, now: number): void {
  if (state === 'start') conversation.typing.set(user, now + TYPING_SHOWN_MS);
  else conversation.typing.delete(user);
}

/** Who is typing now (expired starts are dropped). */
export function typingUsers(conversation: Conversation, now: number): string[] {
  for (const [user, until] of conversation.typing) if (until <= now) conversation.typing.delete(user);
  return [...conversation.typing.keys()].sort();
}

/** "bob is typing…", "bob and carol are typing…", "3 people are typing…". */
export function typingText(users: readonly string[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}
