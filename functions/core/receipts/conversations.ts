/**
 * What read receipts, unread counts and presence pushes need from storage: read positions,
 * and bounded Queries over the messages and groups tables (never a Scan). DynamoDB
 * implements these in `functions/stores/read-state.ts` and `functions/stores/conversations.ts`.
 */
import type { GroupMembershipIndex, StoredMessage } from '../shared/ports.ts';

/** Unread counts stop here; a count of `UNREAD_CAP` means "this many or more". */
export const UNREAD_CAP = 100;

export type ConversationKind = 'private' | 'group';

export interface UnreadQuery {
  readonly roomId: string;
  readonly readerId: string;
  readonly kind: ConversationKind;
  /** The reader's position: only messages with a greater id count. Absent: from the start. */
  readonly after?: string;
  /** Counting stops once it reaches this. */
  readonly cap: number;
}

export interface UnreadCount {
  /** Unread messages, at most the cap. */
  readonly count: number;
  /** The newest unread message, when there is one. */
  readonly newestMessageId?: string;
}

/** Also the user's groups (`groupIdsOf`), which presence pushes and unread counts bound. */
export interface ConversationIndex extends GroupMembershipIndex {
  /** The message `messageId` of `roomId`, or undefined (also when it expired). */
  message(roomId: string, messageId: string): Promise<StoredMessage | undefined>;
  /**
   * Messages after the position that count as unread for the reader: in a private room
   * those addressed to the reader by someone else, in a group those not sent by the reader.
   * One Query on the room's partition (key condition `messageId > position`), paginated,
   * stopping at the cap or after a bounded number of evaluated items.
   */
  countUnread(query: UnreadQuery): Promise<UnreadCount>;
  /** The members of a group; empty when it does not exist. */
  groupMemberIds(groupId: string): Promise<string[]>;
  /**
   * Where the user's own newest `limit` messages went (`byOutbox` only, newest first):
   * the distinct recipients of their private messages and the groups they posted in.
   * What others sent them is not looked at: an unsolicited message makes nobody a peer.
   */
  recentSends(userId: string, limit: number): Promise<{ users: string[]; groupIds: string[] }>;
  /**
   * Private rooms among the user's newest `limit` incoming messages (`byInbox`), each with
   * its newest message addressed to the user by someone else, and that message's sender.
   */
  incomingPrivateRooms(userId: string, limit: number): Promise<Map<string, IncomingPrivateRoom>>;
}

export interface IncomingPrivateRoom {
  /** The newest message addressed to the user by someone else. */
  readonly newestMessageId: string;
  /** Its sender: the user's peer in that room (the room id cannot be split reliably). */
  readonly peerId: string;
}

export interface ReadAdvance {
  /** The stored position after the call. */
  readonly position: string;
  /** Whether this call moved it. */
  readonly advanced: boolean;
}

/** Each user's read position per conversation; positions only move forward. */
export interface ReadStateStore {
  /** Stores `messageId` unless the stored position is already at or past it. */
  advance(userId: string, roomId: string, messageId: string, at: string): Promise<ReadAdvance>;
  /** Every position of the user, by room id. */
  positions(userId: string): Promise<Map<string, string>>;
}
