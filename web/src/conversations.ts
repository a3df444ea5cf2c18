/** What the page shows: conversations (1:1, group, room) and their messages, without the DOM. */

export type ConversationKind = 'private' | 'group' | 'room';

export interface ChatLine {
  readonly id: string;
  readonly from: string;
  readonly content: string;
  readonly time: string;
  readonly deleted?: boolean;
}

export interface Conversation {
  readonly key: string;
  readonly kind: ConversationKind;
  /** Peer user id, group id or room id. */
  readonly id: string;
  title: string;
  /** Oldest first (message ids are ULIDs: they sort by time). */
  readonly lines: ChatLine[];
  unread: number;
}

export const conversationKey = (kind: ConversationKind, id: string): string => `${kind}:${id}`;

export class Conversations {
  private readonly byKey = new Map<string, Conversation>();
  activeKey: string | undefined;

  get active(): Conversation | undefined {
    return this.activeKey ? this.byKey.get(this.activeKey) : undefined;
  }

  /** Most recent activity first. */
  list(): Conversation[] {
    const last = (c: Conversation) => c.lines.at(-1)?.id ?? '';
    return [...this.byKey.values()].sort((a, b) => (last(b) > last(a) ? 1 : last(b) < last(a) ? -1 : 0));
  }

  ensure(kind: ConversationKind, id: string, title?: string): Conversation {
    const key = conversationKey(kind, id);
    let conversation = this.byKey.get(key);
    if (!conversation) {
      conversation = { key, kind, id, title: title ?? id, lines: [], unread: 0 };
      this.byKey.set(key, conversation);
    } else if (title && conversation.title === conversation.id) {
      conversation.title = title;
    }
    return conversation;
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
   * both bring a message). `countUnread`: a line from someone else in a conversation not open.
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

  /** Marks a message deleted (recalled) wherever it is. */
  markDeleted(messageId: string): Conversation | undefined {
    for (const conversation of this.byKey.values()) {
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
