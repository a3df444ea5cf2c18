/** What the conversation list needs from storage; DynamoDB implements it in functions/stores/conversation-list.ts. */
import type { StoredMessage } from '../shared/ports.ts';

/** One private chat of a user: the other participant and the chat's newest message. */
export interface PrivateConversation {
  readonly roomId: string;
  readonly peerId: string;
  readonly lastMessageId: string;
}

export interface PrivateConversationPage {
  /** Most recent first. */
  readonly rows: PrivateConversation[];
  /** The read stopped at its limit: older rows may follow the last one. */
  readonly more: boolean;
}

/** A group as the list shows it: from its meta item. */
export interface GroupSummary {
  readonly groupId: string;
  readonly groupName: string;
  readonly createdAt: string;
  /** The group's newest message; absent until the first one. */
  readonly lastMessageId?: string;
}

export interface MessageKey {
  readonly roomId: string;
  readonly messageId: string;
}

export interface ConversationListStore {
  /**
   * The user's private chats, most recent activity first, at most `limit`, only those whose
   * newest message id is at most `atOrBefore` when given (one Query of `byActivity`).
   */
  privateConversations(userId: string, limit: number, atOrBefore?: string): Promise<PrivateConversationPage>;
  /** The meta items of these groups (BatchGetItem); missing (deleted) groups are left out. */
  groupSummaries(groupIds: readonly string[]): Promise<GroupSummary[]>;
  /** These messages as stored now (recalled, edited), expired ones left out (BatchGetItem). */
  messages(keys: readonly MessageKey[]): Promise<StoredMessage[]>;
  /** The user's read positions in these conversations (BatchGetItem of read-state). */
  readPositions(userId: string, roomIds: readonly string[]): Promise<Map<string, string>>;
}
